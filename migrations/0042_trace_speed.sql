-- Traceability read speed at factory scale (1,000,000 units).
--
-- A unit's material list walks each program slot's setup history backwards from the placement
-- passage (newest load first) and keeps the intervals still loaded when the passage started: with
-- unloaded_at and package_id in the index that walk is an index-only scan (one leaf page per
-- slot) instead of one heap page per interval looked at.
CREATE INDEX feeder_setups_history_cover_idx ON feeder_setups (equipment_id, slot, loaded_at) INCLUDE (unloaded_at, package_id);
DROP INDEX feeder_setups_history_idx;

-- Recall impact and where-used look up the carton of every affected unit (thousands at a time):
-- the carton id in the unit index makes that lookup index-only.
CREATE INDEX shipping_carton_units_unit_cover_idx ON shipping_carton_units (unit_id) INCLUDE (carton_id);
