-- The interlock data epoch: one counter that moves forward with every committed change to data
-- the interlock rules keep in memory (a statement trigger on each such table marks the
-- transaction; the counter moves when it commits).
-- tracking_load_units returns it with the units, in the same round trip, so a rule may reuse what
-- it loaded at the same epoch instead of querying again: a validate in steady production runs one
-- statement. It also says whether the calling transaction itself changed such data (it may still
-- roll back): such a transaction neither uses nor shares cached rule data.
--
-- Tables that feed the rules' caches: quality holds, hold unit lists, dispositions, rework
-- actions, first-article claims and approvals (quality rules); equipment, feeder setups,
-- programs, consumable mounts, stencils, paste jars, MSD events, package status, lot hold / expiry / MSL,
-- part MSL level, recipes reported by machines (materials setup rule).

CREATE TABLE interlock_epoch (
  one     boolean PRIMARY KEY DEFAULT true CHECK (one),
  epoch   bigint NOT NULL
);
INSERT INTO interlock_epoch (epoch) VALUES (1);

-- The counter moves at commit (a deferred trigger), so a transaction holds its lock only while it
-- commits: no waits or deadlocks between writers in the middle of their work. During the
-- transaction the setting mes.interlock_moved marks it as one that changed such data.
CREATE TABLE interlock_epoch_moves (txid bigint PRIMARY KEY);

CREATE FUNCTION interlock_epoch_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('mes.interlock_moved', true) IS DISTINCT FROM 'on' THEN
    PERFORM set_config('mes.interlock_moved', 'on', true);
    INSERT INTO interlock_epoch_moves (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION interlock_epoch_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE interlock_epoch SET epoch = epoch + 1;
  DELETE FROM interlock_epoch_moves WHERE txid = NEW.txid;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER interlock_epoch_moves_commit AFTER INSERT ON interlock_epoch_moves
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION interlock_epoch_commit();

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['quality_holds','quality_hold_units','quality_dispositions','quality_rework_actions','quality_first_articles','first_articles',
                           'equipment','programs','feeder_setups','consumable_mounts','stencils','paste_jars','msd_events','equipment_recipes'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION interlock_epoch_touch()', t || '_epoch', t);
  END LOOP;
END $$;
-- Only the columns the setup rule reads (quantities change with every booking and do not matter).
CREATE TRIGGER material_packages_epoch AFTER UPDATE OF status OR DELETE OR TRUNCATE ON material_packages FOR EACH STATEMENT EXECUTE FUNCTION interlock_epoch_touch();
CREATE TRIGGER material_lots_epoch AFTER UPDATE OF on_hold, expires_at, msl_level, msl_time_on_label_hours OR DELETE OR TRUNCATE ON material_lots FOR EACH STATEMENT EXECUTE FUNCTION interlock_epoch_touch();
CREATE TRIGGER parts_epoch AFTER UPDATE OF msl_level OR DELETE OR TRUNCATE ON parts FOR EACH STATEMENT EXECUTE FUNCTION interlock_epoch_touch();

-- The units loader, now also returning the epoch (and whether this transaction moved it).
DROP FUNCTION tracking_load_units(text[], bigint[], boolean);
CREATE FUNCTION tracking_load_units(p_identifiers text[], p_lines bigint[], p_lock boolean)
RETURNS TABLE (
  id bigint, serial text, status text, "onHold" boolean, "holdReason" text, "nextStepSeq" integer, "returnStepSeq" integer, "failedStepSeq" integer,
  visits integer, "passedSteps" integer[], "repairLoops" jsonb, "startedStepSeq" integer, "startedStationId" bigint, "startedStationCode" text,
  "startedAt" timestamptz, "panelId" bigint, "panelPosition" integer, "lotId" bigint, "woId" bigint, "woNumber" text, "woState" text, "woLineId" bigint,
  "basisId" bigint, "basisHash" text, "panelCode" text, "panelOnHold" boolean, "panelHoldReason" text, "lotCode" text, "lotOnHold" boolean,
  "lotHoldReason" text, "firstArticles" jsonb, "lineActive" jsonb, "epoch" bigint, "epochOwn" boolean
)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan SET jit = off AS $$
#variable_conflict use_column
DECLARE active jsonb; ids bigint[]; ep bigint; own boolean;
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
  SELECT e.epoch, current_setting('mes.interlock_moved', true) = 'on' INTO ep, own FROM interlock_epoch e;
  IF p_lock THEN
    PERFORM 1 FROM units u WHERE u.id = ANY(ids) ORDER BY u.id FOR UPDATE;
  END IF;
  RETURN QUERY
  SELECT u.id, u.serial, u.status, u.on_hold, u.hold_reason, u.next_step_seq, u.return_step_seq, u.failed_step_seq, u.visits, u.passed_steps, u.repair_loops,
         u.started_step_seq, u.started_station_id, ss.code, u.started_at, u.panel_id, u.panel_position, u.lot_id,
         w.id, w.number, w.state, w.line_id, w.basis_id, b.hash, p.code, p.on_hold, p.hold_reason, l.code, l.on_hold, l.hold_reason,
         (SELECT jsonb_object_agg(fa.step_seq, jsonb_build_array(fa.unit_id, fa.panel_id, fa.state)) FROM first_articles fa WHERE fa.work_order_id = w.id),
         active, ep, COALESCE(own, false)
    FROM unnest(ids) AS k(id)
    JOIN LATERAL (SELECT * FROM units u WHERE u.id = k.id LIMIT 1) u ON true
    JOIN LATERAL (SELECT w.id, w.number, w.state, w.line_id, w.basis_id FROM work_orders w WHERE w.id = u.work_order_id LIMIT 1) w ON true
    LEFT JOIN LATERAL (SELECT b.hash FROM build_bases b WHERE b.id = w.basis_id LIMIT 1) b ON true
    LEFT JOIN LATERAL (SELECT p.code, p.on_hold, p.hold_reason FROM panels p WHERE p.id = u.panel_id LIMIT 1) p ON true
    LEFT JOIN LATERAL (SELECT l.code, l.on_hold, l.hold_reason FROM production_lots l WHERE l.id = u.lot_id LIMIT 1) l ON true
    LEFT JOIN LATERAL (SELECT ss.code FROM stations ss WHERE ss.id = u.started_station_id LIMIT 1) ss ON true
   ORDER BY u.id;
END $$;


-- What the quality rules keep in memory is read per work order still in production.
CREATE INDEX quality_dispositions_wo_repair_idx ON quality_dispositions (work_order_id) WHERE decision IN ('repair','retest');
CREATE INDEX quality_rework_wo_idx ON quality_rework_actions (work_order_id);
