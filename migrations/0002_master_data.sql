-- Master data: the factory (sites, lines, stations, equipment), parts and AVL, products and
-- revisions with their engineering package, BOM, route, programs and quality plan.

CREATE TABLE sites (
  id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code  text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name  text NOT NULL,
  timezone text NOT NULL DEFAULT 'UTC'
);

CREATE TABLE lines (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_id  bigint NOT NULL REFERENCES sites(id),
  code     text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name     text NOT NULL
);

CREATE TABLE stations (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  line_id  bigint REFERENCES lines(id),
  code     text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name     text NOT NULL,
  type     text NOT NULL CHECK (type IN ('printer','spi','placement','reflow','aoi','axi','ict','fct','flying-probe','visual','rework','depanel','coating','marking','packing','manual')),
  seq      integer NOT NULL DEFAULT 0
);
CREATE INDEX stations_line_idx ON stations (line_id, seq);

CREATE TABLE equipment (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  station_id    bigint NOT NULL REFERENCES stations(id),
  code          text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name          text NOT NULL,
  vendor        text,
  model         text,
  serial_number text,
  cfx_handle    text UNIQUE CHECK (cfx_handle IS NULL OR cfx_handle ~ '^[^\s]+\.[^\s]+$'),
  lanes         smallint NOT NULL DEFAULT 1 CHECK (lanes BETWEEN 1 AND 8)
);
CREATE INDEX equipment_station_idx ON equipment (station_id);

-- A machine token may be limited to some stations.
CREATE TABLE api_token_stations (
  token_id   bigint NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
  station_id bigint NOT NULL REFERENCES stations(id),
  PRIMARY KEY (token_id, station_id)
);

CREATE TABLE parts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ipn         text NOT NULL UNIQUE CHECK (length(ipn) BETWEEN 1 AND 64),
  description text NOT NULL DEFAULT '',
  package     text,
  msl_level   text NOT NULL DEFAULT '1' CHECK (msl_level IN ('1','2','2a','3','4','5','5a','6')),
  placed      boolean NOT NULL DEFAULT true
);

CREATE TABLE manufacturer_parts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  manufacturer text NOT NULL CHECK (length(manufacturer) BETWEEN 1 AND 100),
  mpn          text NOT NULL CHECK (length(mpn) BETWEEN 1 AND 100),
  description  text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX manufacturer_parts_key ON manufacturer_parts (lower(manufacturer), mpn);
CREATE INDEX manufacturer_parts_mpn_idx ON manufacturer_parts (mpn);

-- AVL: which manufacturer parts may be used for an internal part. Alternates may be used only
-- where an alternate permission (global, per product revision or per work order) exists.
CREATE TABLE avl_entries (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  part_id              bigint NOT NULL REFERENCES parts(id),
  manufacturer_part_id bigint NOT NULL REFERENCES manufacturer_parts(id),
  alternate            boolean NOT NULL DEFAULT false,
  active               boolean NOT NULL DEFAULT true,
  preference           smallint NOT NULL DEFAULT 1,
  notes                text NOT NULL DEFAULT '',
  UNIQUE (part_id, manufacturer_part_id)
);
CREATE INDEX avl_entries_mp_idx ON avl_entries (manufacturer_part_id);

CREATE TABLE products (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code      text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name      text NOT NULL,
  customer  text NOT NULL DEFAULT ''
);

CREATE TABLE product_revisions (
  id                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_id                 bigint NOT NULL REFERENCES products(id),
  revision                   text NOT NULL CHECK (revision ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
  state                      text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft','released','obsolete')),
  bom_revision               text NOT NULL DEFAULT '',
  gerber_revision            text NOT NULL DEFAULT '',
  assembly_drawing_revision  text NOT NULL DEFAULT '',
  centroid_revision          text NOT NULL DEFAULT '',
  derived_from_id            bigint REFERENCES product_revisions(id),
  change_reason              text,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  released_at                timestamptz,
  released_by                text,
  UNIQUE (product_id, revision)
);

CREATE TABLE alternate_permissions (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  avl_entry_id         bigint NOT NULL REFERENCES avl_entries(id),
  scope                text NOT NULL CHECK (scope IN ('global','product_revision','work_order')),
  product_revision_id  bigint REFERENCES product_revisions(id),
  work_order_id        bigint,
  reason               text NOT NULL,
  granted_by           text NOT NULL,
  granted_at           timestamptz NOT NULL DEFAULT now(),
  CHECK ((scope = 'global' AND product_revision_id IS NULL AND work_order_id IS NULL)
      OR (scope = 'product_revision' AND product_revision_id IS NOT NULL AND work_order_id IS NULL)
      OR (scope = 'work_order' AND work_order_id IS NOT NULL AND product_revision_id IS NULL))
);
CREATE INDEX alternate_permissions_entry_idx ON alternate_permissions (avl_entry_id);

-- The engineering package: gerber, assembly drawing, centroid, BOM source and other files.
CREATE TABLE revision_files (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_revision_id  bigint NOT NULL REFERENCES product_revisions(id),
  kind                 text NOT NULL CHECK (kind IN ('gerber','assembly-drawing','centroid','bom','schematic','other')),
  file_id              bigint NOT NULL REFERENCES files(id),
  UNIQUE (product_revision_id, kind, file_id)
);

CREATE TABLE bom_lines (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_revision_id  bigint NOT NULL REFERENCES product_revisions(id),
  line_no              integer NOT NULL CHECK (line_no > 0),
  part_id              bigint NOT NULL REFERENCES parts(id),
  quantity             numeric(12,4) NOT NULL CHECK (quantity > 0 OR (do_not_place AND quantity >= 0)),
  refdes               text[] NOT NULL DEFAULT '{}',
  side                 text NOT NULL DEFAULT 'top' CHECK (side IN ('top','bottom','both','none')),
  do_not_place         boolean NOT NULL DEFAULT false,
  placed               boolean NOT NULL DEFAULT true,
  notes                text NOT NULL DEFAULT '',
  UNIQUE (product_revision_id, line_no),
  -- Placed lines carry exactly one reference designator per unit of quantity.
  CONSTRAINT bom_lines_refdes_count CHECK (NOT placed OR do_not_place OR cardinality(refdes) = quantity)
);
CREATE INDEX bom_lines_part_idx ON bom_lines (part_id);

CREATE TABLE routes (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_revision_id  bigint NOT NULL UNIQUE REFERENCES product_revisions(id),
  name                 text NOT NULL
);

CREATE TABLE route_steps (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  route_id             bigint NOT NULL REFERENCES routes(id) ON DELETE CASCADE,
  seq                  integer NOT NULL CHECK (seq > 0),
  name                 text NOT NULL,
  station_type         text NOT NULL CHECK (station_type IN ('printer','spi','placement','reflow','aoi','axi','ict','fct','flying-probe','visual','rework','depanel','coating','marking','packing','manual')),
  -- Optional: pins the step to one station (e.g. the first of two placement machines).
  station_id           bigint REFERENCES stations(id),
  required             boolean NOT NULL DEFAULT true,
  -- A repair step is entered only through a failure elsewhere; it is not part of the main path.
  is_repair            boolean NOT NULL DEFAULT false,
  on_fail              text NOT NULL DEFAULT 'hold' CHECK (on_fail IN ('repair','hold','scrap')),
  repair_step_seq      integer,
  return_step_seq      integer,
  max_repair_loops     integer NOT NULL DEFAULT 3 CHECK (max_repair_loops >= 0),
  first_article_gate   boolean NOT NULL DEFAULT false,
  sampling_rate        numeric(5,4) NOT NULL DEFAULT 1 CHECK (sampling_rate > 0 AND sampling_rate <= 1),
  instructions         text NOT NULL DEFAULT '',
  checks               jsonb NOT NULL DEFAULT '[]',
  UNIQUE (route_id, seq),
  CHECK (on_fail <> 'repair' OR repair_step_seq IS NOT NULL)
);

CREATE TABLE route_step_attachments (
  route_step_id  bigint NOT NULL REFERENCES route_steps(id) ON DELETE CASCADE,
  file_id        bigint NOT NULL REFERENCES files(id),
  PRIMARY KEY (route_step_id, file_id)
);

CREATE TABLE programs (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  revision             text NOT NULL CHECK (length(revision) BETWEEN 1 AND 32),
  kind                 text NOT NULL CHECK (kind IN ('printer','spi','placement','reflow','aoi','axi','ict','fct','flying-probe','marking','coating','other')),
  checksum             text NOT NULL DEFAULT '',
  product_revision_id  bigint NOT NULL REFERENCES product_revisions(id),
  station_type         text NOT NULL CHECK (station_type IN ('printer','spi','placement','reflow','aoi','axi','ict','fct','flying-probe','visual','rework','depanel','coating','marking','packing','manual')),
  station_id           bigint REFERENCES stations(id),
  equipment_id         bigint REFERENCES equipment(id),
  state                text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft','released','obsolete')),
  -- Approved process-parameter ranges: [{name, unit, min, max}].
  parameter_ranges     jsonb NOT NULL DEFAULT '[]',
  created_at           timestamptz NOT NULL DEFAULT now(),
  released_at          timestamptz,
  UNIQUE (product_revision_id, name, revision)
);
CREATE INDEX programs_revision_idx ON programs (product_revision_id);

-- Feeder setup of a placement program: which part sits in which slot.
CREATE TABLE program_slots (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  program_id  bigint NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
  slot        text NOT NULL,
  part_id     bigint NOT NULL REFERENCES parts(id),
  refdes      text[] NOT NULL DEFAULT '{}',
  UNIQUE (program_id, slot)
);

CREATE TABLE quality_plans (
  product_revision_id  bigint PRIMARY KEY REFERENCES product_revisions(id),
  required_steps       text[] NOT NULL DEFAULT '{}',
  trace_depth          text NOT NULL DEFAULT 'unit' CHECK (trace_depth IN ('lot','panel','unit')),
  material_level       text NOT NULL DEFAULT 'M3' CHECK (material_level IN ('M1','M2','M3','M4')),
  process_level        text NOT NULL DEFAULT 'P2' CHECK (process_level IN ('P1','P2','P3','P4')),
  acceptance_class     smallint NOT NULL DEFAULT 2 CHECK (acceptance_class BETWEEN 1 AND 3),
  mixed_lots_allowed   boolean NOT NULL DEFAULT true,
  trace_package        text[] NOT NULL DEFAULT '{}',
  notes                text NOT NULL DEFAULT ''
);

-- A released (or obsolete) product revision is frozen: its BOM, route, steps, programs and
-- quality plan cannot change. Changes go into a new revision derived from it.
CREATE FUNCTION assert_revision_editable(rev_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE st text;
BEGIN
  SELECT state INTO st FROM product_revisions WHERE id = rev_id;
  IF st IS NOT NULL AND st <> 'draft' THEN
    RAISE EXCEPTION 'MES:REVISION_RELEASED: product revision % is % and cannot be changed; derive a new revision', rev_id, st;
  END IF;
END $$;

CREATE FUNCTION guard_revision_child() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE','DELETE') THEN PERFORM assert_revision_editable(OLD.product_revision_id); END IF;
  IF TG_OP IN ('INSERT','UPDATE') THEN PERFORM assert_revision_editable(NEW.product_revision_id); END IF;
  RETURN COALESCE(NEW, OLD);
END $$;

CREATE TRIGGER bom_lines_frozen BEFORE INSERT OR UPDATE OR DELETE ON bom_lines FOR EACH ROW EXECUTE FUNCTION guard_revision_child();
CREATE TRIGGER routes_frozen BEFORE INSERT OR UPDATE OR DELETE ON routes FOR EACH ROW EXECUTE FUNCTION guard_revision_child();
CREATE TRIGGER quality_plans_frozen BEFORE INSERT OR UPDATE OR DELETE ON quality_plans FOR EACH ROW EXECUTE FUNCTION guard_revision_child();
CREATE TRIGGER revision_files_frozen BEFORE INSERT OR UPDATE OR DELETE ON revision_files FOR EACH ROW EXECUTE FUNCTION guard_revision_child();

CREATE FUNCTION guard_route_step() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE rev bigint;
BEGIN
  SELECT product_revision_id INTO rev FROM routes WHERE id = COALESCE(NEW.route_id, OLD.route_id);
  PERFORM assert_revision_editable(rev);
  RETURN COALESCE(NEW, OLD);
END $$;
CREATE TRIGGER route_steps_frozen BEFORE INSERT OR UPDATE OR DELETE ON route_steps FOR EACH ROW EXECUTE FUNCTION guard_route_step();

-- A released program revision is frozen (a new revision is a new row); only its state may move on.
CREATE FUNCTION guard_program() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.state <> 'draft' THEN RAISE EXCEPTION 'MES:REVISION_RELEASED: program % revision % is % and cannot be deleted', OLD.name, OLD.revision, OLD.state; END IF;
    RETURN OLD;
  END IF;
  IF OLD.state <> 'draft' AND (to_jsonb(NEW) - 'state') <> (to_jsonb(OLD) - 'state') THEN
    RAISE EXCEPTION 'MES:REVISION_RELEASED: program % revision % is % and cannot be changed; create a new revision', OLD.name, OLD.revision, OLD.state;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER programs_frozen BEFORE UPDATE OR DELETE ON programs FOR EACH ROW EXECUTE FUNCTION guard_program();

CREATE FUNCTION guard_program_slot() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE st text; n text;
BEGIN
  SELECT state, name INTO st, n FROM programs WHERE id = COALESCE(NEW.program_id, OLD.program_id);
  IF st IS NOT NULL AND st <> 'draft' THEN
    RAISE EXCEPTION 'MES:REVISION_RELEASED: program % is % and its feeder setup cannot change', n, st;
  END IF;
  RETURN COALESCE(NEW, OLD);
END $$;
CREATE TRIGGER program_slots_frozen BEFORE INSERT OR UPDATE OR DELETE ON program_slots FOR EACH ROW EXECUTE FUNCTION guard_program_slot();

-- Change feed: master-data tables announce every committed change (NOTIFY is delivered at
-- commit), so MES instances can keep read caches without serving stale rows.
CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mes_changes', TG_TABLE_NAME);
  RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sites','lines','stations','equipment','parts','manufacturer_parts','avl_entries','alternate_permissions','products','product_revisions','programs','program_slots','bom_lines','routes','route_steps','quality_plans']
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION notify_change()', t || '_notify', t);
  END LOOP;
END $$;
