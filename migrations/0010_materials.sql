-- Materials: supplier lots and physical packages (reels, trays, tubes, bulk, paste jars), their
-- append-only quantity / movement log, moisture-sensitive-device (MSD, J-STD-033) events and
-- bake records, solder paste and stencils, and feeder setups over time with every loading
-- attempt kept.
--
-- Columns named work_order_id have no foreign key yet: the work-order tables come from another
-- migration, which adds the constraints (NOT VALID + VALIDATE) when it lands.

-- A supplier lot: one manufacturer part, received for one internal part (the MPN is on that
-- part's AVL). Packages of the same lot share lot code, date code, expiry and holds.
CREATE TABLE material_lots (
  id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  part_id                  bigint NOT NULL REFERENCES parts(id),
  manufacturer_part_id     bigint NOT NULL REFERENCES manufacturer_parts(id),
  supplier                 text CHECK (supplier IS NULL OR length(supplier) BETWEEN 1 AND 200),
  lot_code                 text CHECK (lot_code IS NULL OR length(lot_code) BETWEEN 1 AND 80),
  date_code                text CHECK (date_code IS NULL OR length(date_code) BETWEEN 1 AND 16),
  received_at              timestamptz NOT NULL,
  expires_at               timestamptz,
  -- RoHS compliance as declared by the supplier; NULL = not declared.
  rohs                     boolean,
  country_of_origin        text CHECK (country_of_origin IS NULL OR country_of_origin ~ '^[A-Z]{2}$'),
  notes                    text NOT NULL DEFAULT '',
  -- The MSL printed on this lot's dry pack when it differs from the part's; NULL = the part's level.
  msl_level                text CHECK (msl_level IS NULL OR msl_level IN ('1','2','2a','3','4','5','5a','6')),
  -- MSL 6 only: hours of floor life after a bake, from the caution label.
  msl_time_on_label_hours  numeric(8,2) CHECK (msl_time_on_label_hours IS NULL OR msl_time_on_label_hours > 0),
  -- A simple hold: loading refuses packages of a lot on hold. (The quality module generalises holds.)
  on_hold                  boolean NOT NULL DEFAULT false,
  hold_reason              text,
  held_at                  timestamptz,
  held_by                  text,
  created_at               timestamptz NOT NULL DEFAULT now(),
  created_by               text NOT NULL,
  CHECK (NOT on_hold OR (hold_reason IS NOT NULL AND held_at IS NOT NULL AND held_by IS NOT NULL))
);
-- Receiving a second reel of the same lot reuses the lot (only when the label names a lot code).
CREATE UNIQUE INDEX material_lots_match_key ON material_lots (part_id, manufacturer_part_id, lot_code, (COALESCE(date_code, ''))) WHERE lot_code IS NOT NULL;
CREATE INDEX material_lots_part_idx ON material_lots (part_id);
CREATE INDEX material_lots_mp_idx ON material_lots (manufacturer_part_id);
CREATE INDEX material_lots_expiry_idx ON material_lots (expires_at) WHERE expires_at IS NOT NULL;

-- The MES's own package IDs when none is given: PK00000001, PK00000002, …
CREATE SEQUENCE material_package_code_seq;

-- One physical package with a unique ID (the Data Matrix on the MES label).
-- Location: in a store (optionally a place such as a shelf), at a line, or in a machine slot
-- (set only by a verified load; the feeder setup keeps the history).
CREATE TABLE material_packages (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code               text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._/:+-]{0,79}$'),
  material_lot_id    bigint NOT NULL REFERENCES material_lots(id),
  kind               text NOT NULL CHECK (kind IN ('reel','tray','tube','bulk','paste-jar')),
  quantity           integer NOT NULL CHECK (quantity >= 0),
  initial_quantity   integer NOT NULL CHECK (initial_quantity > 0),
  status             text NOT NULL DEFAULT 'available' CHECK (status IN ('available','in-use','blocked','quarantined','empty','scrapped')),
  status_reason      text,
  location_kind      text NOT NULL DEFAULT 'store' CHECK (location_kind IN ('store','line','equipment')),
  store_place        text CHECK (store_place IS NULL OR length(store_place) BETWEEN 1 AND 100),
  line_id            bigint REFERENCES lines(id),
  equipment_id       bigint REFERENCES equipment(id),
  slot               text,
  -- The package this one was split from.
  parent_package_id  bigint REFERENCES material_packages(id),
  -- The supplier's own package serial (3S / S on the reel label), to detect a label received twice.
  supplier_serial    text,
  -- The parsed manufacturer label it was received from (NULL when entered by hand).
  source_label       jsonb,
  received_at        timestamptz NOT NULL,
  created_by         text NOT NULL,
  CHECK (status <> 'empty' OR quantity = 0),
  CHECK ((location_kind = 'store' AND line_id IS NULL AND equipment_id IS NULL AND slot IS NULL)
      OR (location_kind = 'line' AND line_id IS NOT NULL AND equipment_id IS NULL AND slot IS NULL AND store_place IS NULL)
      OR (location_kind = 'equipment' AND equipment_id IS NOT NULL AND slot IS NOT NULL AND line_id IS NULL AND store_place IS NULL))
);
CREATE INDEX material_packages_lot_idx ON material_packages (material_lot_id);
CREATE INDEX material_packages_parent_idx ON material_packages (parent_package_id) WHERE parent_package_id IS NOT NULL;
CREATE INDEX material_packages_serial_idx ON material_packages (supplier_serial) WHERE supplier_serial IS NOT NULL;
CREATE INDEX material_packages_line_idx ON material_packages (line_id) WHERE line_id IS NOT NULL;
CREATE INDEX material_packages_equipment_idx ON material_packages (equipment_id, slot) WHERE equipment_id IS NOT NULL;
CREATE INDEX material_packages_status_idx ON material_packages (status) WHERE status NOT IN ('empty','scrapped');

-- Legal status changes. A new package starts available, blocked or quarantined; scrapped is final.
CREATE FUNCTION material_package_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status NOT IN ('available','blocked','quarantined') THEN
      RAISE EXCEPTION 'MES:STATE_CONFLICT: a new package cannot start as %', NEW.status;
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'available'   AND NEW.status IN ('in-use','blocked','quarantined','empty','scrapped'))
    OR (OLD.status = 'in-use'      AND NEW.status IN ('available','blocked','quarantined','empty','scrapped'))
    OR (OLD.status = 'blocked'     AND NEW.status IN ('available','in-use','quarantined','empty','scrapped'))
    OR (OLD.status = 'quarantined' AND NEW.status IN ('available','in-use','blocked','empty','scrapped'))
    OR (OLD.status = 'empty'       AND NEW.status IN ('available','scrapped'))
  ) THEN
    RAISE EXCEPTION 'MES:STATE_CONFLICT: package % cannot go from % to %', OLD.code, OLD.status, NEW.status;
  END IF;
  IF OLD.code <> NEW.code OR OLD.material_lot_id <> NEW.material_lot_id OR OLD.initial_quantity <> NEW.initial_quantity THEN
    RAISE EXCEPTION 'MES:STATE_CONFLICT: the ID, lot and initial quantity of package % never change', OLD.code;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER material_packages_status_guard BEFORE INSERT OR UPDATE ON material_packages
  FOR EACH ROW EXECUTE FUNCTION material_package_status_guard();

-- Append-only records of this module: UPDATE, DELETE and TRUNCATE refused for every role.
CREATE FUNCTION materials_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'MES:FORBIDDEN: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END $$;

-- The quantity and movement log of every package: each row is one change with the quantity,
-- status and location after it. quantity_after always equals the previous row's plus delta
-- (checked on insert), so the log replays to the package's quantity.
CREATE TABLE package_movements (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  package_id          bigint NOT NULL REFERENCES material_packages(id),
  at                  timestamptz NOT NULL,
  kind                text NOT NULL CHECK (kind IN ('received','split-out','split-in','merge-out','merge-in','corrected','consumed','emptied',
                                                     'scrapped','moved','loaded','unloaded','status')),
  delta               integer NOT NULL DEFAULT 0,
  quantity_after      integer NOT NULL CHECK (quantity_after >= 0),
  status_after        text NOT NULL,
  location_kind       text NOT NULL,
  store_place         text,
  line_id             bigint REFERENCES lines(id),
  equipment_id        bigint REFERENCES equipment(id),
  slot                text,
  -- Split / merge: the other package.
  related_package_id  bigint REFERENCES material_packages(id),
  work_order_id       bigint,
  reason              text,
  actor_kind          text NOT NULL CHECK (actor_kind IN ('user','token','system')),
  actor_id            bigint,
  actor_name          text NOT NULL,
  CHECK (kind <> 'corrected' OR (reason IS NOT NULL AND length(btrim(reason)) >= 3)),
  CHECK (kind NOT IN ('received','split-in','merge-in') OR delta > 0),
  CHECK (kind NOT IN ('split-out','merge-out','consumed') OR delta < 0),
  CHECK (kind NOT IN ('split-out','split-in','merge-out','merge-in') OR related_package_id IS NOT NULL)
);
CREATE INDEX package_movements_package_idx ON package_movements (package_id, id);
CREATE INDEX package_movements_work_order_idx ON package_movements (work_order_id) WHERE work_order_id IS NOT NULL;

CREATE FUNCTION package_movement_consistent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE prev integer;
BEGIN
  SELECT quantity_after INTO prev FROM package_movements WHERE package_id = NEW.package_id ORDER BY id DESC LIMIT 1;
  IF COALESCE(prev, 0) + NEW.delta <> NEW.quantity_after THEN
    RAISE EXCEPTION 'MES:STATE_CONFLICT: movement of package % does not add up (% + % <> %)', NEW.package_id, COALESCE(prev, 0), NEW.delta, NEW.quantity_after;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER package_movements_consistent BEFORE INSERT ON package_movements FOR EACH ROW EXECUTE FUNCTION package_movement_consistent();
CREATE TRIGGER package_movements_no_update BEFORE UPDATE OR DELETE ON package_movements FOR EACH ROW EXECUTE FUNCTION materials_append_only();
CREATE TRIGGER package_movements_no_truncate BEFORE TRUNCATE ON package_movements FOR EACH STATEMENT EXECUTE FUNCTION materials_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON package_movements FROM PUBLIC;

-- A bake (J-STD-033): one oven run may bake several packages; each gets a 'baked' MSD event.
CREATE TABLE bake_records (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  oven              text NOT NULL CHECK (length(oven) BETWEEN 1 AND 100),
  temperature_c     numeric(5,1) NOT NULL CHECK (temperature_c BETWEEN 30 AND 250),
  duration_minutes  integer NOT NULL CHECK (duration_minutes > 0),
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz NOT NULL CHECK (finished_at >= started_at),
  notes             text NOT NULL DEFAULT '',
  actor_kind        text NOT NULL CHECK (actor_kind IN ('user','token','system')),
  actor_id          bigint,
  actor_name        text NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER bake_records_no_update BEFORE UPDATE OR DELETE ON bake_records FOR EACH ROW EXECUTE FUNCTION materials_append_only();
CREATE TRIGGER bake_records_no_truncate BEFORE TRUNCATE ON bake_records FOR EACH STATEMENT EXECUTE FUNCTION materials_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON bake_records FROM PUBLIC;

-- MSD history per package, in the event vocabulary of lib/msl.ts. The state at any instant is
-- mslStatus(level, events up to that instant, instant). Append-only.
CREATE TABLE msd_events (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  package_id            bigint NOT NULL REFERENCES material_packages(id),
  type                  text NOT NULL CHECK (type IN ('opened','dry-storage-in','dry-storage-out','resealed-dry-pack','baked','expired')),
  -- When it happened (may be earlier than recorded_at when entered late).
  at                    timestamptz NOT NULL,
  bake_record_id        bigint REFERENCES bake_records(id),
  -- Recorded by the MES itself (e.g. the dry pack counted as opened when the reel was loaded).
  implicit              boolean NOT NULL DEFAULT false,
  -- A split copies the parent's history to the new package.
  copied_from_event_id  bigint REFERENCES msd_events(id),
  note                  text NOT NULL DEFAULT '',
  actor_kind            text NOT NULL CHECK (actor_kind IN ('user','token','system')),
  actor_id              bigint,
  actor_name            text NOT NULL,
  recorded_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((type = 'baked') = (bake_record_id IS NOT NULL))
);
CREATE INDEX msd_events_package_idx ON msd_events (package_id, at, id);
CREATE TRIGGER msd_events_no_update BEFORE UPDATE OR DELETE ON msd_events FOR EACH ROW EXECUTE FUNCTION materials_append_only();
CREATE TRIGGER msd_events_no_truncate BEFORE TRUNCATE ON msd_events FOR EACH STATEMENT EXECUTE FUNCTION materials_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON msd_events FROM PUBLIC;

-- Solder paste: a package of kind paste-jar with its thaw / open times and limits.
CREATE TABLE paste_jars (
  package_id       bigint PRIMARY KEY REFERENCES material_packages(id),
  min_thaw_hours   numeric(6,2) NOT NULL CHECK (min_thaw_hours >= 0),
  max_open_hours   numeric(6,2) NOT NULL CHECK (max_open_hours > 0),
  thaw_started_at  timestamptz,
  opened_at        timestamptz
);

-- Stencils: made for one product revision; cleaned every cleaning_interval prints.
CREATE TABLE stencils (
  id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code                    text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._/:+-]{0,79}$'),
  product_revision_id     bigint NOT NULL REFERENCES product_revisions(id),
  thickness_um            integer CHECK (thickness_um IS NULL OR thickness_um BETWEEN 20 AND 1000),
  usage_count             integer NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
  cleaning_interval       integer NOT NULL CHECK (cleaning_interval > 0),
  usage_at_last_cleaning  integer NOT NULL DEFAULT 0 CHECK (usage_at_last_cleaning >= 0 AND usage_at_last_cleaning <= usage_count),
  last_cleaned_at         timestamptz,
  -- Prints after which the stencil is worn out; NULL = no limit.
  max_usage               integer CHECK (max_usage IS NULL OR max_usage > 0),
  status                  text NOT NULL DEFAULT 'active' CHECK (status IN ('active','retired')),
  notes                   text NOT NULL DEFAULT '',
  created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stencils_revision_idx ON stencils (product_revision_id);

-- Every loading attempt (scan of slot / feeder + package) with its verdict. Append-only.
CREATE TABLE load_attempts (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at                   timestamptz NOT NULL,
  equipment_id         bigint NOT NULL REFERENCES equipment(id),
  slot                 text NOT NULL CHECK (length(slot) BETWEEN 1 AND 32),
  feeder_id            text,
  -- NULL when the scanned package ID is unknown; package_code keeps what was scanned.
  package_id           bigint REFERENCES material_packages(id),
  package_code         text,
  program_id           bigint NOT NULL REFERENCES programs(id),
  product_revision_id  bigint REFERENCES product_revisions(id),
  work_order_id        bigint,
  splice               boolean NOT NULL DEFAULT false,
  accepted             boolean NOT NULL,
  -- The first refusal reason (stable code and integer, see LOAD_REFUSAL_REASONS) and all of them.
  reason_code          text,
  failure_code         integer,
  reasons              jsonb NOT NULL DEFAULT '[]',
  message              text NOT NULL,
  actor_kind           text NOT NULL CHECK (actor_kind IN ('user','token','system')),
  actor_id             bigint,
  actor_name           text NOT NULL,
  CHECK (accepted = (reason_code IS NULL)),
  CHECK ((reason_code IS NULL) = (failure_code IS NULL))
);
CREATE INDEX load_attempts_equipment_idx ON load_attempts (equipment_id, at);
CREATE INDEX load_attempts_package_idx ON load_attempts (package_id) WHERE package_id IS NOT NULL;
CREATE TRIGGER load_attempts_no_update BEFORE UPDATE OR DELETE ON load_attempts FOR EACH ROW EXECUTE FUNCTION materials_append_only();
CREATE TRIGGER load_attempts_no_truncate BEFORE TRUNCATE ON load_attempts FOR EACH STATEMENT EXECUTE FUNCTION materials_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON load_attempts FROM PUBLIC;

-- Feeder setups over time: package P sat in slot S (feeder F) of equipment E from loaded_at to
-- unloaded_at (NULL = still there), verified against a program. A slot has at most one feeding
-- package and at most one package spliced onto it; during a splice window both intervals are
-- open, so both are material candidates (IPC-1782 M2) for units placed meanwhile. When the old
-- package empties, its interval closes and the splice becomes the feeding package.
CREATE TABLE feeder_setups (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  equipment_id         bigint NOT NULL REFERENCES equipment(id),
  slot                 text NOT NULL CHECK (length(slot) BETWEEN 1 AND 32),
  feeder_id            text,
  package_id           bigint NOT NULL REFERENCES material_packages(id),
  program_id           bigint NOT NULL REFERENCES programs(id),
  product_revision_id  bigint REFERENCES product_revisions(id),
  work_order_id        bigint,
  attempt_id           bigint NOT NULL UNIQUE REFERENCES load_attempts(id),
  position             text NOT NULL CHECK (position IN ('feeding','spliced')),
  -- The interval this package was spliced onto (kept after the splice starts feeding).
  splice_of_id         bigint REFERENCES feeder_setups(id),
  loaded_at            timestamptz NOT NULL,
  loaded_by            text NOT NULL,
  unloaded_at          timestamptz,
  unloaded_by          text,
  unload_reason        text CHECK (unload_reason IN ('unloaded','replaced','emptied','scrapped')),
  CHECK (unloaded_at IS NULL OR unloaded_at >= loaded_at),
  CHECK ((unloaded_at IS NULL) = (unload_reason IS NULL) AND (unloaded_at IS NULL) = (unloaded_by IS NULL))
);
CREATE UNIQUE INDEX feeder_setups_one_feeding ON feeder_setups (equipment_id, slot) WHERE unloaded_at IS NULL AND position = 'feeding';
CREATE UNIQUE INDEX feeder_setups_one_splice ON feeder_setups (equipment_id, slot) WHERE unloaded_at IS NULL AND position = 'spliced';
CREATE UNIQUE INDEX feeder_setups_package_once ON feeder_setups (package_id) WHERE unloaded_at IS NULL;
CREATE INDEX feeder_setups_history_idx ON feeder_setups (equipment_id, slot, loaded_at);
CREATE INDEX feeder_setups_package_idx ON feeder_setups (package_id);

-- Which paste jar and which stencil are on a printer, over time.
CREATE TABLE consumable_mounts (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  equipment_id         bigint NOT NULL REFERENCES equipment(id),
  kind                 text NOT NULL CHECK (kind IN ('paste','stencil')),
  package_id           bigint REFERENCES material_packages(id),
  stencil_id           bigint REFERENCES stencils(id),
  product_revision_id  bigint REFERENCES product_revisions(id),
  mounted_at           timestamptz NOT NULL,
  mounted_by           text NOT NULL,
  unmounted_at         timestamptz,
  unmounted_by         text,
  CHECK ((kind = 'paste') = (package_id IS NOT NULL) AND (kind = 'stencil') = (stencil_id IS NOT NULL)),
  CHECK (unmounted_at IS NULL OR unmounted_at >= mounted_at)
);
CREATE UNIQUE INDEX consumable_mounts_one_active ON consumable_mounts (equipment_id, kind) WHERE unmounted_at IS NULL;
CREATE INDEX consumable_mounts_history_idx ON consumable_mounts (equipment_id, kind, mounted_at);
CREATE INDEX consumable_mounts_package_idx ON consumable_mounts (package_id) WHERE package_id IS NOT NULL;
CREATE INDEX consumable_mounts_stencil_idx ON consumable_mounts (stencil_id) WHERE stencil_id IS NOT NULL;
