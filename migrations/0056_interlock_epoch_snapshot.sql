-- The interlock data epoch is read in the same statement (the same snapshot) as the units it
-- comes with. Read in an earlier statement of the function, as in 0043, a call that waited for a
-- unit's row lock could see the unit as changed by the transaction it waited for (a disposition,
-- say) but the epoch from before that transaction's commit, and so reuse rule data older than
-- the unit. Same signature and result as 0043.
CREATE OR REPLACE FUNCTION tracking_load_units(p_identifiers text[], p_lines bigint[], p_lock boolean)
RETURNS TABLE (
  id bigint, serial text, status text, "onHold" boolean, "holdReason" text, "nextStepSeq" integer, "returnStepSeq" integer, "failedStepSeq" integer,
  visits integer, "passedSteps" integer[], "repairLoops" jsonb, "startedStepSeq" integer, "startedStationId" bigint, "startedStationCode" text,
  "startedAt" timestamptz, "panelId" bigint, "panelPosition" integer, "lotId" bigint, "woId" bigint, "woNumber" text, "woState" text, "woLineId" bigint,
  "basisId" bigint, "basisHash" text, "panelCode" text, "panelOnHold" boolean, "panelHoldReason" text, "lotCode" text, "lotOnHold" boolean,
  "lotHoldReason" text, "firstArticles" jsonb, "lineActive" jsonb, "epoch" bigint, "epochOwn" boolean
)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan SET jit = off AS $$
#variable_conflict use_column
DECLARE active jsonb; ids bigint[];
BEGIN
  SELECT jsonb_object_agg(a.line_id::text, jsonb_build_object('workOrderId', aw.id, 'number', aw.number, 'productRevisionId', aw.product_revision_id,
                                                               'productCode', ap.code, 'revision', ar.revision))
    INTO active
    FROM line_active_work_orders a JOIN work_orders aw ON aw.id = a.work_order_id JOIN product_revisions ar ON ar.id = aw.product_revision_id
    JOIN products ap ON ap.id = ar.product_id
   WHERE a.line_id = ANY(p_lines);
  SELECT array_agg(x.id ORDER BY x.id) INTO ids FROM (
    SELECT u.id FROM units u WHERE u.serial = ANY(p_identifiers)
    UNION
    SELECT u.id FROM panels p JOIN units u ON u.panel_id = p.id WHERE p.code = ANY(p_identifiers)
  ) x;
  IF ids IS NULL THEN RETURN; END IF;
  IF p_lock THEN
    PERFORM 1 FROM units u WHERE u.id = ANY(ids) ORDER BY u.id FOR UPDATE;
  END IF;
  RETURN QUERY
  SELECT u.id, u.serial, u.status, u.on_hold, u.hold_reason, u.next_step_seq, u.return_step_seq, u.failed_step_seq, u.visits, u.passed_steps, u.repair_loops,
         u.started_step_seq, u.started_station_id, ss.code, u.started_at, u.panel_id, u.panel_position, u.lot_id,
         w.id, w.number, w.state, w.line_id, w.basis_id, b.hash, p.code, p.on_hold, p.hold_reason, l.code, l.on_hold, l.hold_reason,
         (SELECT jsonb_object_agg(fa.step_seq, jsonb_build_array(fa.unit_id, fa.panel_id, fa.state)) FROM first_articles fa WHERE fa.work_order_id = w.id),
         active, (SELECT e.epoch FROM interlock_epoch e), COALESCE(current_setting('mes.interlock_moved', true) = 'on', false)
    FROM unnest(ids) AS k(id)
    JOIN LATERAL (SELECT * FROM units u WHERE u.id = k.id LIMIT 1) u ON true
    JOIN LATERAL (SELECT w.id, w.number, w.state, w.line_id, w.basis_id FROM work_orders w WHERE w.id = u.work_order_id LIMIT 1) w ON true
    LEFT JOIN LATERAL (SELECT b.hash FROM build_bases b WHERE b.id = w.basis_id LIMIT 1) b ON true
    LEFT JOIN LATERAL (SELECT p.code, p.on_hold, p.hold_reason FROM panels p WHERE p.id = u.panel_id LIMIT 1) p ON true
    LEFT JOIN LATERAL (SELECT l.code, l.on_hold, l.hold_reason FROM production_lots l WHERE l.id = u.lot_id LIMIT 1) l ON true
    LEFT JOIN LATERAL (SELECT ss.code FROM stations ss WHERE ss.id = u.started_station_id LIMIT 1) ss ON true
   ORDER BY u.id;
END $$;
