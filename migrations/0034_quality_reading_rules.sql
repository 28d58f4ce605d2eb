-- Quality rules on equipment readings (oven zone temperatures, dry-cabinet humidity, …): a rule
-- of kind `reading_out_of_limits` watches one reading name at one station (optionally one piece
-- of equipment) and fires when values fall outside its limits, evaluated as readings are stored.

ALTER TABLE quality_rules DROP CONSTRAINT quality_rules_kind_check;
ALTER TABLE quality_rules ADD CONSTRAINT quality_rules_kind_check
  CHECK (kind IN ('defect_repeat','fpy_below','test_repeat','parameter_out_of_range','reading_out_of_limits'));
ALTER TABLE quality_rules ADD COLUMN station_id bigint REFERENCES stations(id);
ALTER TABLE quality_rules ADD COLUMN equipment_id bigint REFERENCES equipment(id);
ALTER TABLE quality_rules ADD COLUMN reading_name text CHECK (reading_name IS NULL OR length(reading_name) BETWEEN 1 AND 200);
-- A reading rule names its station and reading; params hold min / max (at least one), and
-- optionally consecutive N, or count N within windowSeconds.
ALTER TABLE quality_rules ADD CONSTRAINT quality_rules_reading_target
  CHECK (kind <> 'reading_out_of_limits' OR (station_id IS NOT NULL AND reading_name IS NOT NULL));

-- A reading alert may fire while no work order runs at the station.
ALTER TABLE quality_alerts ALTER COLUMN work_order_id DROP NOT NULL;
DROP INDEX quality_alerts_open_key;
CREATE UNIQUE INDEX quality_alerts_open_key ON quality_alerts (rule_id, work_order_id, key) NULLS NOT DISTINCT WHERE state <> 'closed';

-- The latest values of one reading at one station (consecutive / window evaluation).
CREATE INDEX readings_station_name_at_idx ON readings (station_id, name, at);
