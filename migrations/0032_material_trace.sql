-- Material-to-board traceability.
--
-- M3 (exact): which package installed which reference designator on which unit, as reported by
-- the machine (CFX MaterialsInstalled) or through the REST API, and removals (CFX
-- MaterialsUninstalled). Applied materials (paste, adhesive, coating: MaterialsApplied) are rows
-- without a reference designator, with the applied quantity.
--
-- M2 (derived) needs no new rows: a unit's passage at a placement machine (process_records) ×
-- the feeder-setup intervals of that machine covering the passage gives the candidate packages
-- per slot, at query time. This migration adds the indexes those queries walk.

CREATE TABLE material_installs (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id         bigint NOT NULL REFERENCES units(id),
  -- installed: one reference designator; applied: paste / adhesive / coating against the unit.
  kind            text NOT NULL DEFAULT 'installed' CHECK (kind IN ('installed','applied')),
  refdes          text CHECK (refdes IS NULL OR length(refdes) BETWEEN 1 AND 64),
  package_id      bigint NOT NULL REFERENCES material_packages(id),
  equipment_id    bigint REFERENCES equipment(id),
  station_id      bigint REFERENCES stations(id),
  slot            text,
  -- Applied quantity (applied rows) in `quantity_unit`, e.g. 3.57 g.
  quantity        numeric(14,4),
  quantity_unit   text,
  installed_at    timestamptz NOT NULL,
  source          text NOT NULL CHECK (source IN ('cfx','rest','rework')),
  removed_at      timestamptz,
  removal_reason  text,
  recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  recorded_by     text NOT NULL,
  CHECK ((kind = 'installed') = (refdes IS NOT NULL)),
  CHECK (removed_at IS NULL OR removed_at >= installed_at),
  CHECK ((removed_at IS NULL) = (removal_reason IS NULL))
);
-- One installed package per reference designator of a unit at a time.
CREATE UNIQUE INDEX material_installs_active_refdes ON material_installs (unit_id, refdes) WHERE removed_at IS NULL AND kind = 'installed';
CREATE INDEX material_installs_unit_idx ON material_installs (unit_id);
CREATE INDEX material_installs_package_idx ON material_installs (package_id);

-- Rows are never deleted; only a removal may be recorded on an active row.
CREATE FUNCTION material_installs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'MES:FORBIDDEN: material_installs keeps every installation (DELETE refused)';
  END IF;
  IF OLD.removed_at IS NOT NULL OR NEW.removed_at IS NULL
     OR (NEW.unit_id, NEW.kind, NEW.refdes, NEW.package_id, NEW.equipment_id, NEW.station_id, NEW.slot, NEW.quantity, NEW.installed_at, NEW.source, NEW.recorded_at, NEW.recorded_by)
        IS DISTINCT FROM (OLD.unit_id, OLD.kind, OLD.refdes, OLD.package_id, OLD.equipment_id, OLD.station_id, OLD.slot, OLD.quantity, OLD.installed_at, OLD.source, OLD.recorded_at, OLD.recorded_by) THEN
    RAISE EXCEPTION 'MES:FORBIDDEN: an installation can only be marked removed, once';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER material_installs_guard BEFORE UPDATE OR DELETE ON material_installs FOR EACH ROW EXECUTE FUNCTION material_installs_guard();
CREATE TRIGGER material_installs_no_truncate BEFORE TRUNCATE ON material_installs FOR EACH STATEMENT EXECUTE FUNCTION materials_append_only();

-- M2 at query time: passages of a machine in a time range, and setups of a machine by load time.
-- Covering (INCLUDE): where-used reads unit, work order and start from the index alone.
CREATE INDEX process_records_equipment_idx ON process_records (equipment_id, completed_at) INCLUDE (started_at, unit_id, work_order_id) WHERE equipment_id IS NOT NULL;
-- Passages recorded at a station without naming the machine (few): by station and time.
CREATE INDEX process_records_station_no_equipment_idx ON process_records (station_id, completed_at) WHERE equipment_id IS NULL;
CREATE INDEX feeder_setups_equipment_loaded_idx ON feeder_setups (equipment_id, loaded_at);
-- The setup interlock reads a machine's active setups at every validate / start.
CREATE INDEX feeder_setups_active_idx ON feeder_setups (equipment_id, slot) WHERE unloaded_at IS NULL;
-- Where-used of a work order's material (usage log) and paste / stencil mounts by time.
CREATE INDEX feeder_setups_work_order_idx ON feeder_setups (work_order_id) WHERE work_order_id IS NOT NULL;

-- A package re-verified on the same slot against another program (changeover keeping the reel)
-- closes its interval and opens a new one: a new unload reason.
ALTER TABLE feeder_setups DROP CONSTRAINT feeder_setups_unload_reason_check;
ALTER TABLE feeder_setups ADD CONSTRAINT feeder_setups_unload_reason_check CHECK (unload_reason IN ('unloaded','replaced','emptied','scrapped','reverified'));

-- The work-order columns of migration 0010 and 0002 get their foreign keys now that work orders exist.
ALTER TABLE feeder_setups ADD CONSTRAINT feeder_setups_work_order_fk FOREIGN KEY (work_order_id) REFERENCES work_orders(id) NOT VALID;
ALTER TABLE feeder_setups VALIDATE CONSTRAINT feeder_setups_work_order_fk;
ALTER TABLE load_attempts ADD CONSTRAINT load_attempts_work_order_fk FOREIGN KEY (work_order_id) REFERENCES work_orders(id) NOT VALID;
ALTER TABLE load_attempts VALIDATE CONSTRAINT load_attempts_work_order_fk;
ALTER TABLE package_movements ADD CONSTRAINT package_movements_work_order_fk FOREIGN KEY (work_order_id) REFERENCES work_orders(id) NOT VALID;
ALTER TABLE package_movements VALIDATE CONSTRAINT package_movements_work_order_fk;
ALTER TABLE alternate_permissions ADD CONSTRAINT alternate_permissions_work_order_fk FOREIGN KEY (work_order_id) REFERENCES work_orders(id) NOT VALID;
ALTER TABLE alternate_permissions VALIDATE CONSTRAINT alternate_permissions_work_order_fk;
