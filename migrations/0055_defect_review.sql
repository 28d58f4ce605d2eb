-- Defect lists filtered on the server: the review queue (calls not verified yet, oldest first)
-- and a work order's defects, without reading the whole defect table.
CREATE INDEX quality_defects_unverified_idx ON quality_defects (id) WHERE verification = 'not_verified';
CREATE INDEX quality_defects_wo_idx ON quality_defects (work_order_id, id);
