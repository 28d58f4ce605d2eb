-- Operator sign-offs and the report index of results.
--
-- A route step's check may be a sign-off (`"signoff": true` in the step's checks): the passage
-- that completes the step must carry an electronic signature of it. One row per unit and visit
-- (the process record the passage writes has the same unit and visit), pointing at the
-- signature (quality_signatures) and naming the checks signed. The interlock rule
-- SIGNOFF_REQUIRED looks the row up when a unit completes such a step. Append-only.
CREATE TABLE quality_step_signoffs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id       bigint NOT NULL REFERENCES units(id),
  visit         integer NOT NULL CHECK (visit > 0),
  step_seq      integer NOT NULL,
  station_id    bigint NOT NULL REFERENCES stations(id),
  check_codes   text[] NOT NULL CHECK (cardinality(check_codes) > 0),
  signature_id  bigint NOT NULL REFERENCES quality_signatures(id),
  signed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (unit_id, visit)
);
CREATE INDEX quality_step_signoffs_signature_idx ON quality_step_signoffs (signature_id);
CREATE TRIGGER quality_step_signoffs_no_change BEFORE UPDATE OR DELETE ON quality_step_signoffs FOR EACH ROW EXECUTE FUNCTION quality_append_only();
CREATE TRIGGER quality_step_signoffs_no_truncate BEFORE TRUNCATE ON quality_step_signoffs FOR EACH STATEMENT EXECUTE FUNCTION quality_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON quality_step_signoffs FROM PUBLIC;

-- The report queries (first-pass yield, defect Pareto) select results by completion time; the
-- unit id rides along so "which units had a result in the window" is an index-only scan.
CREATE INDEX quality_results_completed_idx ON quality_results (completed_at) INCLUDE (unit_id);
