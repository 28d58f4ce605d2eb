-- Server-side filters of the package list (inventory, paste jars): the package-ID search is a
-- case-insensitive prefix match, the kind filter keeps to packages in stock. (IPN / MPN search
-- goes through parts and manufacturer_parts, small tables, then material_lots_part_idx /
-- material_lots_mp_idx and material_packages_lot_idx.)
CREATE INDEX material_packages_code_lower_idx ON material_packages (lower(code) text_pattern_ops);
CREATE INDEX material_packages_kind_idx ON material_packages (kind, id) WHERE status NOT IN ('empty','scrapped');
