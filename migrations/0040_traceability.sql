-- Traceability (src/modules/traceability) owns no tables: it reads the records of tracking,
-- materials, quality and shipping. These indexes serve its questions that no other module asks.

-- Where-used from a program revision: the passages and the inspection / test results that ran it.
CREATE INDEX process_records_program_idx ON process_records (program_name, program_revision) WHERE program_name IS NOT NULL;
CREATE INDEX quality_results_program_idx ON quality_results (program_name, program_revision) WHERE program_name IS NOT NULL;

-- Where-used from an operator (optionally within a time window).
CREATE INDEX process_records_operator_idx ON process_records (operator, completed_at) WHERE operator IS NOT NULL;
CREATE INDEX quality_results_operator_idx ON quality_results (operator, completed_at) WHERE operator IS NOT NULL;
CREATE INDEX quality_rework_operator_idx ON quality_rework_actions (operator, performed_at) WHERE operator IS NOT NULL;

-- Genealogy: NCRs whose subject is the unit (linked units have quality_ncr_units_unit_idx).
CREATE INDEX quality_ncrs_unit_idx ON quality_ncrs (unit_id) WHERE unit_id IS NOT NULL;
