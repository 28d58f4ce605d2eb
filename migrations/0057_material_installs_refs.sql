-- M3 rows are written hundreds per board (one per reference designator). Their four references
-- (unit, package, equipment, station) were foreign keys, checked row by row: a lookup and a KEY
-- SHARE lock of the parent per row and key, about 7 µs each, more than half of the cost of writing
-- the row. A board's rows name two units, a few dozen packages and one machine, so the references
-- are now checked once per statement instead: the distinct keys of the inserted rows, each parent
-- probed by primary key and locked FOR KEY SHARE (as a foreign key check locks it, so a concurrent
-- delete of the parent waits for this transaction). A delete of a parent still referenced is
-- refused as a foreign key would refuse it (SQLSTATE 23503, "is still referenced"). Rows cannot
-- change their references after insertion (material_installs_guard), so updates need no check.

ALTER TABLE material_installs DROP CONSTRAINT material_installs_unit_id_fkey;
ALTER TABLE material_installs DROP CONSTRAINT material_installs_package_id_fkey;
ALTER TABLE material_installs DROP CONSTRAINT material_installs_equipment_id_fkey;
ALTER TABLE material_installs DROP CONSTRAINT material_installs_station_id_fkey;

CREATE FUNCTION material_installs_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[];
  found int;
  missing bigint;
BEGIN
  -- Units. Each probe is a primary-key lookup whatever the planner's statistics (LATERAL per key).
  SELECT array_agg(DISTINCT unit_id) INTO ids FROM new_rows;
  SELECT count(*) INTO found FROM unnest(ids) k(id) CROSS JOIN LATERAL (SELECT 1 FROM units u WHERE u.id = k.id FOR KEY SHARE) x;
  IF found < cardinality(ids) THEN
    SELECT k.id INTO missing FROM unnest(ids) k(id) WHERE NOT EXISTS (SELECT 1 FROM units u WHERE u.id = k.id) LIMIT 1;
    RAISE EXCEPTION 'insert or update on table "material_installs" violates foreign key constraint "material_installs_unit_id_fkey"'
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'material_installs_unit_id_fkey', TABLE = 'material_installs',
            DETAIL = format('Key (unit_id)=(%s) is not present in table "units".', missing);
  END IF;
  -- Packages.
  SELECT array_agg(DISTINCT package_id) INTO ids FROM new_rows;
  SELECT count(*) INTO found FROM unnest(ids) k(id) CROSS JOIN LATERAL (SELECT 1 FROM material_packages p WHERE p.id = k.id FOR KEY SHARE) x;
  IF found < cardinality(ids) THEN
    SELECT k.id INTO missing FROM unnest(ids) k(id) WHERE NOT EXISTS (SELECT 1 FROM material_packages p WHERE p.id = k.id) LIMIT 1;
    RAISE EXCEPTION 'insert or update on table "material_installs" violates foreign key constraint "material_installs_package_id_fkey"'
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'material_installs_package_id_fkey', TABLE = 'material_installs',
            DETAIL = format('Key (package_id)=(%s) is not present in table "material_packages".', missing);
  END IF;
  -- Equipment (optional reference).
  SELECT array_agg(DISTINCT equipment_id) INTO ids FROM new_rows WHERE equipment_id IS NOT NULL;
  IF ids IS NOT NULL THEN
    SELECT count(*) INTO found FROM unnest(ids) k(id) CROSS JOIN LATERAL (SELECT 1 FROM equipment e WHERE e.id = k.id FOR KEY SHARE) x;
    IF found < cardinality(ids) THEN
      SELECT k.id INTO missing FROM unnest(ids) k(id) WHERE NOT EXISTS (SELECT 1 FROM equipment e WHERE e.id = k.id) LIMIT 1;
      RAISE EXCEPTION 'insert or update on table "material_installs" violates foreign key constraint "material_installs_equipment_id_fkey"'
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'material_installs_equipment_id_fkey', TABLE = 'material_installs',
              DETAIL = format('Key (equipment_id)=(%s) is not present in table "equipment".', missing);
    END IF;
  END IF;
  -- Stations (optional reference).
  SELECT array_agg(DISTINCT station_id) INTO ids FROM new_rows WHERE station_id IS NOT NULL;
  IF ids IS NOT NULL THEN
    SELECT count(*) INTO found FROM unnest(ids) k(id) CROSS JOIN LATERAL (SELECT 1 FROM stations s WHERE s.id = k.id FOR KEY SHARE) x;
    IF found < cardinality(ids) THEN
      SELECT k.id INTO missing FROM unnest(ids) k(id) WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = k.id) LIMIT 1;
      RAISE EXCEPTION 'insert or update on table "material_installs" violates foreign key constraint "material_installs_station_id_fkey"'
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'material_installs_station_id_fkey', TABLE = 'material_installs',
              DETAIL = format('Key (station_id)=(%s) is not present in table "stations".', missing);
    END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER material_installs_refs AFTER INSERT ON material_installs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION material_installs_check_refs();

-- The other half of a foreign key: a parent still referenced by an installation is not deleted.
-- (Units and packages are looked up by index; equipment and stations, deleted only as master-data
-- corrections before they are used, by a scan that stops at the first reference.)
CREATE FUNCTION material_installs_restrict_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  referenced boolean;
BEGIN
  referenced := CASE TG_TABLE_NAME
    WHEN 'units' THEN EXISTS (SELECT 1 FROM material_installs WHERE unit_id = OLD.id)
    WHEN 'material_packages' THEN EXISTS (SELECT 1 FROM material_installs WHERE package_id = OLD.id)
    WHEN 'equipment' THEN EXISTS (SELECT 1 FROM material_installs WHERE equipment_id = OLD.id)
    WHEN 'stations' THEN EXISTS (SELECT 1 FROM material_installs WHERE station_id = OLD.id)
  END;
  IF referenced THEN
    RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint on table "material_installs"', TG_TABLE_NAME
      USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME,
            DETAIL = format('Key (id)=(%s) is still referenced from table "material_installs".', OLD.id);
  END IF;
  RETURN OLD;
END $$;

CREATE TRIGGER units_installs_restrict BEFORE DELETE ON units FOR EACH ROW EXECUTE FUNCTION material_installs_restrict_delete();
CREATE TRIGGER material_packages_installs_restrict BEFORE DELETE ON material_packages FOR EACH ROW EXECUTE FUNCTION material_installs_restrict_delete();
CREATE TRIGGER equipment_installs_restrict BEFORE DELETE ON equipment FOR EACH ROW EXECUTE FUNCTION material_installs_restrict_delete();
CREATE TRIGGER stations_installs_restrict BEFORE DELETE ON stations FOR EACH ROW EXECUTE FUNCTION material_installs_restrict_delete();
