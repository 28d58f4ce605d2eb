-- Which unit holds come from a failed step (set by tracking's routing) rather than a person:
-- a disposition releases exactly those, without reading the hold's wording.
ALTER TABLE units ADD COLUMN failure_hold boolean NOT NULL DEFAULT false;
UPDATE units SET failure_hold = true WHERE on_hold AND status = 'failed' AND hold_reason LIKE 'failed at step %';
ALTER TABLE units ADD CONSTRAINT units_failure_hold_is_hold CHECK (NOT failure_hold OR on_hold);
