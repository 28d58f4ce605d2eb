-- The quality loop and shipment release: electronic signatures, the defect catalogue,
-- inspection and test results with defects and measurements, verification of machine calls,
-- dispositions, NCRs and rework, scoped holds, first-article approvals, closed-loop quality
-- rules with their alerts, cartons and shipments.
--
-- Conventions: `quality_*` tables belong to src/modules/quality, `shipping_*` tables to
-- src/modules/shipping. Records that carry evidence (signatures, results, measurements,
-- dispositions, rework actions, alerts' evidence) are append-only or change only in the columns
-- that record a later decision (verification, state, release).

CREATE FUNCTION quality_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'MES:FORBIDDEN: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END $$;

-- ── electronic signatures (21 CFR Part 11) ───────────────────────────────────────────────
-- One row per signature: who signed (re-authenticated with the password at that moment), the
-- printed name, the meaning, the reason, when, and what was signed (entity + id + SHA-256 of
-- the signed content). Append-only.
CREATE TABLE quality_signatures (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  signer_id        bigint NOT NULL REFERENCES users(id),
  signer_username  text NOT NULL,
  signer_name      text NOT NULL,
  signer_role      text NOT NULL,
  meaning          text NOT NULL CHECK (meaning IN ('approved','rejected','released','closed','accepted','verified')),
  reason           text NOT NULL CHECK (length(btrim(reason)) BETWEEN 3 AND 2000),
  action           text NOT NULL,
  entity           text NOT NULL,
  entity_id        text NOT NULL,
  content_sha256   text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  signed_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX quality_signatures_entity_idx ON quality_signatures (entity, entity_id);
CREATE TRIGGER quality_signatures_no_change BEFORE UPDATE OR DELETE ON quality_signatures FOR EACH ROW EXECUTE FUNCTION quality_append_only();
CREATE TRIGGER quality_signatures_no_truncate BEFORE TRUNCATE ON quality_signatures FOR EACH STATEMENT EXECUTE FUNCTION quality_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON quality_signatures FROM PUBLIC;

-- ── defect catalogue ─────────────────────────────────────────────────────────────────────
CREATE TABLE quality_defect_categories (
  code         text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]{1,39}$'),
  name         text NOT NULL,
  description  text NOT NULL DEFAULT ''
);
INSERT INTO quality_defect_categories (code, name, description) VALUES
  ('bridging', 'Bridging', 'Solder bridge between conductors that should not be connected'),
  ('insufficient-solder', 'Insufficient solder', 'Too little solder; incomplete fillet'),
  ('excess-solder', 'Excess solder', 'Too much solder'),
  ('tombstone', 'Tombstone', 'Chip component standing on one end'),
  ('missing', 'Missing component', 'Component absent'),
  ('wrong-part', 'Wrong part', 'Another component than specified'),
  ('polarity', 'Polarity', 'Component rotated or reversed'),
  ('offset', 'Offset / shift', 'Component displaced from its pads'),
  ('lifted-lead', 'Lifted lead', 'Lead not in contact with its pad'),
  ('non-wetting', 'Non-wetting', 'Solder did not wet the pad or lead'),
  ('voiding', 'Voiding', 'Voids in the solder joint (X-ray)'),
  ('solder-balls', 'Solder balls', 'Loose or entrapped solder balls'),
  ('damage', 'Damage', 'Mechanical or thermal damage to component or board'),
  ('contamination', 'Contamination', 'Flux residue, foreign material'),
  ('paste', 'Solder paste deviation', 'SPI: volume, area, height or offset out of limits'),
  ('electrical-open', 'Open', 'Test: open circuit'),
  ('electrical-short', 'Short', 'Test: short circuit'),
  ('parametric', 'Parametric', 'Test: a value outside its limits'),
  ('functional', 'Functional', 'Test: function not as specified'),
  ('other', 'Other', 'Anything else');

CREATE TABLE quality_defect_codes (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code         text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$'),
  category     text NOT NULL REFERENCES quality_defect_categories(code),
  description  text NOT NULL DEFAULT '',
  active       boolean NOT NULL DEFAULT true
);
INSERT INTO quality_defect_codes (code, category, description) VALUES
  ('BRIDGE', 'bridging', 'Solder bridge'), ('INSUFF', 'insufficient-solder', 'Insufficient solder'), ('EXCESS', 'excess-solder', 'Excess solder'),
  ('TOMBSTONE', 'tombstone', 'Tombstone'), ('MISSING', 'missing', 'Missing component'), ('WRONG', 'wrong-part', 'Wrong component'),
  ('POLARITY', 'polarity', 'Wrong polarity / rotation'), ('SHIFT', 'offset', 'Component shifted'), ('LIFTED', 'lifted-lead', 'Lifted lead'),
  ('NONWET', 'non-wetting', 'Non-wetting'), ('VOID', 'voiding', 'Voiding above limit'), ('BALLS', 'solder-balls', 'Solder balls'),
  ('DAMAGE', 'damage', 'Damaged component or board'), ('CONTAM', 'contamination', 'Contamination'), ('PASTE', 'paste', 'Paste deposit out of limits'),
  ('OPEN', 'electrical-open', 'Open'), ('SHORT', 'electrical-short', 'Short'), ('PARAM', 'parametric', 'Value out of limits'),
  ('FUNC', 'functional', 'Functional failure'), ('OTHER', 'other', 'Other');

CREATE TRIGGER quality_defect_codes_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON quality_defect_codes FOR EACH STATEMENT EXECUTE FUNCTION notify_change();

-- ── inspection and test results ──────────────────────────────────────────────────────────
-- One row per unit per inspection / test. Ids are taken from the sequence by the inserting
-- statement itself (defects and measurements of a batch are inserted in the same statement).
CREATE TABLE quality_results (
  id                bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  unit_id           bigint NOT NULL REFERENCES units(id),
  work_order_id     bigint NOT NULL REFERENCES work_orders(id),
  panel_id          bigint REFERENCES panels(id),
  panel_position    integer,
  kind              text NOT NULL CHECK (kind IN ('inspection','test')),
  method            text NOT NULL CHECK (method IN ('spi','aoi','axi','visual','fai','ict','fct','flying-probe','boundary-scan','other')),
  station_id        bigint NOT NULL REFERENCES stations(id),
  -- The station's type when the result was recorded: what the quality plan's required steps name.
  station_type      text NOT NULL,
  equipment_id      bigint REFERENCES equipment(id),
  step_seq          integer,
  program_name      text,
  program_revision  text,
  operator          text,
  result            text NOT NULL CHECK (result IN ('pass','fail','error','aborted','skipped')),
  -- Set by the verification of the machine's calls: a failed result whose every call was a
  -- false call becomes pass; a confirmed call keeps it fail.
  verified_result   text CHECK (verified_result IN ('pass','fail')),
  retest            boolean NOT NULL DEFAULT false,
  retest_count      integer NOT NULL DEFAULT 0 CHECK (retest_count >= 0),
  fixture           text,
  defect_count      integer NOT NULL DEFAULT 0,
  failed_measurements integer NOT NULL DEFAULT 0,
  -- [{seq, test, name, value, unit, lower, upper, nominal, passed}] (see quality_measurements).
  measurements      jsonb NOT NULL DEFAULT '[]',
  started_at        timestamptz,
  completed_at      timestamptz NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor_name        text NOT NULL,
  source            text NOT NULL DEFAULT 'api',
  source_id         text,
  signature_id      bigint REFERENCES quality_signatures(id),
  notes             text
);
CREATE INDEX quality_results_unit_idx ON quality_results (unit_id);
CREATE INDEX quality_results_wo_idx ON quality_results (work_order_id, id);

CREATE TABLE quality_defects (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  result_id             bigint NOT NULL REFERENCES quality_results(id),
  unit_id               bigint NOT NULL,
  work_order_id         bigint NOT NULL,
  method                text NOT NULL,
  code                  text NOT NULL,
  category              text,
  refdes                text,
  part_number           text,
  image_ref             text,
  description           text,
  test_name             text,
  -- What the machine reported (CFX Verification), kept as sent.
  machine_verification  text,
  -- The operator's verdict on the machine's call.
  verification          text NOT NULL DEFAULT 'not_verified' CHECK (verification IN ('not_verified','confirmed','false_call','accepted','repaired')),
  verified_by           text,
  verified_at           timestamptz
);
CREATE INDEX quality_defects_result_idx ON quality_defects (result_id);
CREATE INDEX quality_defects_unit_idx ON quality_defects (unit_id);

-- Measurements (name, value, unit, limits, nominal, pass/fail; 20 or more per result) are kept
-- with their result as one JSON array (quality_results.measurements): one row per result instead
-- of one per measurement is what makes ingestion keep up with the line. The view
-- quality_measurements shows them as rows. Failed ones are also rows here, reachable by unit,
-- for the "same failed test / net on K units" rule.
CREATE TABLE quality_measurement_failures (
  result_id  bigint NOT NULL REFERENCES quality_results(id),
  unit_id    bigint NOT NULL,
  name       text NOT NULL
);
CREATE INDEX quality_measurement_failures_unit_idx ON quality_measurement_failures (unit_id, name);
CREATE INDEX quality_measurement_failures_result_idx ON quality_measurement_failures (result_id);

CREATE VIEW quality_measurements AS
  SELECT r.id AS result_id, r.unit_id, m.seq, m.test AS test_name, m.name, m.value, m.unit, m.lower AS lower_limit, m.upper AS upper_limit, m.nominal, m.passed
    FROM quality_results r CROSS JOIN LATERAL jsonb_to_recordset(r.measurements)
      AS m(seq integer, test text, name text, value double precision, unit text, lower double precision, upper double precision, nominal double precision, passed boolean);

-- Per work order, inspection method (and '*' for all methods) and unit: the unit's first and
-- last result. It makes "the last M units" of a work order an index range, for the rules.
CREATE TABLE quality_unit_methods (
  work_order_id    bigint NOT NULL,
  method           text NOT NULL,
  unit_id          bigint NOT NULL,
  first_result_id  bigint NOT NULL,
  first_pass       boolean NOT NULL,
  last_result_id   bigint NOT NULL,
  results          integer NOT NULL,
  PRIMARY KEY (work_order_id, method, unit_id)
);
CREATE INDEX quality_unit_methods_last_idx ON quality_unit_methods (work_order_id, method, last_result_id DESC);
CREATE INDEX quality_unit_methods_first_idx ON quality_unit_methods (work_order_id, method, first_result_id DESC);

-- ── NCRs, dispositions, rework ───────────────────────────────────────────────────────────
CREATE SEQUENCE quality_ncr_number_seq;
CREATE TABLE quality_ncrs (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number                text NOT NULL UNIQUE,
  title                 text NOT NULL CHECK (length(btrim(title)) BETWEEN 3 AND 200),
  subject_kind          text NOT NULL CHECK (subject_kind IN ('unit','lot','work_order','material_lot')),
  unit_id               bigint REFERENCES units(id),
  production_lot_id     bigint REFERENCES production_lots(id),
  work_order_id         bigint REFERENCES work_orders(id),
  material_lot_id       bigint REFERENCES material_lots(id),
  description           text NOT NULL DEFAULT '',
  containment           text NOT NULL DEFAULT '',
  root_cause            text NOT NULL DEFAULT '',
  corrective_action     text NOT NULL DEFAULT '',
  repair_instructions   text NOT NULL DEFAULT '',
  state                 text NOT NULL DEFAULT 'open' CHECK (state IN ('open','closed')),
  created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by            text NOT NULL,
  closed_at             timestamptz,
  closed_by             text,
  close_signature_id    bigint REFERENCES quality_signatures(id),
  CHECK ((subject_kind = 'unit') = (unit_id IS NOT NULL)),
  CHECK ((subject_kind = 'lot') = (production_lot_id IS NOT NULL)),
  CHECK ((subject_kind = 'material_lot') = (material_lot_id IS NOT NULL)),
  CHECK (subject_kind <> 'work_order' OR work_order_id IS NOT NULL),
  CHECK ((state = 'closed') = (close_signature_id IS NOT NULL AND closed_at IS NOT NULL))
);
CREATE INDEX quality_ncrs_open_idx ON quality_ncrs (subject_kind) WHERE state = 'open';

CREATE TABLE quality_ncr_units (
  ncr_id     bigint NOT NULL REFERENCES quality_ncrs(id),
  unit_id    bigint NOT NULL REFERENCES units(id),
  linked_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  linked_by  text NOT NULL,
  PRIMARY KEY (ncr_id, unit_id)
);
CREATE INDEX quality_ncr_units_unit_idx ON quality_ncr_units (unit_id);

-- What was decided for a failed unit. Append-only. `visit_at` is the unit's visit count at the
-- decision: a repair / retest is verified by a passing process record at `verify_step_seq`
-- with a later visit.
CREATE TABLE quality_dispositions (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id          bigint NOT NULL REFERENCES units(id),
  work_order_id    bigint NOT NULL REFERENCES work_orders(id),
  decision         text NOT NULL CHECK (decision IN ('repair','retest','scrap','use-as-is')),
  failed_step_seq  integer,
  verify_step_seq  integer,
  visit_at         integer NOT NULL,
  result_id        bigint REFERENCES quality_results(id),
  ncr_id           bigint REFERENCES quality_ncrs(id),
  reason           text NOT NULL CHECK (length(btrim(reason)) >= 3),
  instructions     text NOT NULL DEFAULT '',
  signature_id     bigint REFERENCES quality_signatures(id),
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by       text NOT NULL,
  CHECK (decision <> 'use-as-is' OR signature_id IS NOT NULL),
  CHECK (decision NOT IN ('repair','retest') OR verify_step_seq IS NOT NULL)
);
CREATE INDEX quality_dispositions_unit_idx ON quality_dispositions (unit_id);
CREATE INDEX quality_dispositions_ncr_idx ON quality_dispositions (ncr_id) WHERE ncr_id IS NOT NULL;
CREATE TRIGGER quality_dispositions_no_change BEFORE UPDATE OR DELETE ON quality_dispositions FOR EACH ROW EXECUTE FUNCTION quality_append_only();

-- One repair action on a unit. A replaced component records the removed and the new package:
-- the unit's material trace (where-used, material holds) includes the new package. Append-only.
CREATE TABLE quality_rework_actions (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id             bigint NOT NULL REFERENCES units(id),
  work_order_id       bigint NOT NULL REFERENCES work_orders(id),
  ncr_id              bigint REFERENCES quality_ncrs(id),
  disposition_id      bigint REFERENCES quality_dispositions(id),
  action              text NOT NULL CHECK (length(btrim(action)) >= 3),
  refdes              text,
  removed_package_id  bigint REFERENCES material_packages(id),
  new_package_id      bigint REFERENCES material_packages(id),
  defect_ids          bigint[] NOT NULL DEFAULT '{}',
  station_id          bigint REFERENCES stations(id),
  operator            text,
  verify_step_seq     integer NOT NULL,
  visit_at            integer NOT NULL,
  performed_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  recorded_by         text NOT NULL,
  notes               text NOT NULL DEFAULT '',
  CHECK (new_package_id IS NULL OR refdes IS NOT NULL)
);
CREATE INDEX quality_rework_unit_idx ON quality_rework_actions (unit_id);
CREATE INDEX quality_rework_new_package_idx ON quality_rework_actions (new_package_id) WHERE new_package_id IS NOT NULL;
CREATE INDEX quality_rework_ncr_idx ON quality_rework_actions (ncr_id) WHERE ncr_id IS NOT NULL;
CREATE TRIGGER quality_rework_no_change BEFORE UPDATE OR DELETE ON quality_rework_actions FOR EACH ROW EXECUTE FUNCTION quality_append_only();

-- ── holds ────────────────────────────────────────────────────────────────────────────────
CREATE TABLE quality_hold_reasons (
  code         text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,39}$'),
  description  text NOT NULL
);
INSERT INTO quality_hold_reasons (code, description) VALUES
  ('SUSPECT_MATERIAL', 'Material suspected defective or non-conforming'),
  ('PROCESS_DEVIATION', 'A process parameter or setup outside its approved range'),
  ('DEFECT_TREND', 'A recurring defect pattern'),
  ('TEST_FAILURES', 'Repeated test failures'),
  ('FIRST_ARTICLE_FAILED', 'First-article inspection failed'),
  ('EQUIPMENT_ISSUE', 'Equipment malfunction or calibration due'),
  ('CUSTOMER_COMPLAINT', 'Customer complaint or return'),
  ('RECALL', 'Recall containment'),
  ('DOCUMENTATION', 'Documentation or traceability gap'),
  ('QUALITY_RULE', 'Placed automatically by a quality rule'),
  ('OTHER', 'Other');

CREATE SEQUENCE quality_hold_number_seq;
-- A hold has exactly one scope. `units` is a list of units (e.g. the result of a where-used
-- query) in quality_hold_units. Coverage is computed when asked (interlock, packing,
-- clearance), so units processed after the hold was placed are covered too.
CREATE TABLE quality_holds (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number               text NOT NULL UNIQUE,
  scope                text NOT NULL CHECK (scope IN ('unit','units','panel','lot','work_order','product_revision','material_lot','package','station','station_window')),
  unit_id              bigint REFERENCES units(id),
  panel_id             bigint REFERENCES panels(id),
  production_lot_id    bigint REFERENCES production_lots(id),
  work_order_id        bigint REFERENCES work_orders(id),
  product_revision_id  bigint REFERENCES product_revisions(id),
  material_lot_id      bigint REFERENCES material_lots(id),
  package_id           bigint REFERENCES material_packages(id),
  station_id           bigint REFERENCES stations(id),
  window_from          timestamptz,
  window_to            timestamptz,
  -- For `units` holds: the query whose result was held (where-used), for the record.
  query                jsonb,
  reason_code          text NOT NULL REFERENCES quality_hold_reasons(code),
  reason               text NOT NULL CHECK (length(btrim(reason)) >= 3),
  source               text NOT NULL DEFAULT 'manual',
  alert_id             bigint,
  placed_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  placed_by            text NOT NULL,
  released_at          timestamptz,
  released_by          text,
  release_reason       text,
  release_signature_id bigint REFERENCES quality_signatures(id),
  CHECK ((scope = 'unit') = (unit_id IS NOT NULL)),
  CHECK ((scope = 'panel') = (panel_id IS NOT NULL)),
  CHECK ((scope = 'lot') = (production_lot_id IS NOT NULL)),
  CHECK ((scope = 'work_order') = (work_order_id IS NOT NULL)),
  CHECK ((scope = 'product_revision') = (product_revision_id IS NOT NULL)),
  CHECK ((scope = 'material_lot') = (material_lot_id IS NOT NULL)),
  CHECK ((scope = 'package') = (package_id IS NOT NULL)),
  CHECK ((scope IN ('station','station_window')) = (station_id IS NOT NULL)),
  CHECK ((scope = 'station_window') = (window_from IS NOT NULL AND window_to IS NOT NULL)),
  CHECK (window_to IS NULL OR window_to > window_from),
  CHECK ((released_at IS NULL) = (release_signature_id IS NULL))
);
CREATE INDEX quality_holds_active_idx ON quality_holds (scope) WHERE released_at IS NULL;
CREATE INDEX quality_holds_unit_idx ON quality_holds (unit_id) WHERE unit_id IS NOT NULL;

CREATE TABLE quality_hold_units (
  hold_id  bigint NOT NULL REFERENCES quality_holds(id),
  unit_id  bigint NOT NULL REFERENCES units(id),
  PRIMARY KEY (hold_id, unit_id)
);
CREATE INDEX quality_hold_units_unit_idx ON quality_hold_units (unit_id);

-- ── first article ────────────────────────────────────────────────────────────────────────
-- The inspector's signed verdict on a first article. It counts for the first-article claim of
-- tracking (first_articles) it was made for: same unit, made after the claim.
CREATE TABLE quality_first_articles (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  work_order_id   bigint NOT NULL REFERENCES work_orders(id),
  step_seq        integer NOT NULL,
  unit_id         bigint NOT NULL REFERENCES units(id),
  claimed_at      timestamptz NOT NULL,
  decision        text NOT NULL CHECK (decision IN ('approved','rejected')),
  result_id       bigint NOT NULL REFERENCES quality_results(id),
  signature_id    bigint NOT NULL REFERENCES quality_signatures(id),
  decided_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  decided_by      text NOT NULL
);
CREATE INDEX quality_first_articles_wo_idx ON quality_first_articles (work_order_id, step_seq);
CREATE TRIGGER quality_first_articles_no_change BEFORE UPDATE OR DELETE ON quality_first_articles FOR EACH ROW EXECUTE FUNCTION quality_append_only();

-- Every explicit "first article required again" (setup change, changeover, quality rule).
CREATE TABLE quality_first_article_resets (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  work_order_id  bigint NOT NULL REFERENCES work_orders(id),
  steps          integer[] NOT NULL,
  reason         text NOT NULL,
  source         text NOT NULL DEFAULT 'manual',
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor_name     text NOT NULL
);

-- ── quality rules and alerts ─────────────────────────────────────────────────────────────
CREATE TABLE quality_rules (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name        text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('defect_repeat','fpy_below','test_repeat','parameter_out_of_range')),
  active      boolean NOT NULL DEFAULT true,
  -- Applies to one product only (NULL: all products).
  product_id  bigint REFERENCES products(id),
  -- Inspection / test method the rule watches (NULL: all methods; fpy_below needs one).
  method      text CHECK (method IN ('spi','aoi','axi','visual','fai','ict','fct','flying-probe','boundary-scan','other')),
  -- Thresholds: defect_repeat {count, window}, fpy_below {percent, window}, test_repeat {units, window}, parameter_out_of_range {}.
  params      jsonb NOT NULL DEFAULT '{}',
  actions     text[] NOT NULL DEFAULT '{alert}' CHECK (actions <@ ARRAY['alert','hold_work_order','hold_station','require_first_article']),
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (kind <> 'fpy_below' OR method IS NOT NULL)
);
CREATE TRIGGER quality_rules_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON quality_rules FOR EACH STATEMENT EXECUTE FUNCTION notify_change();

CREATE TABLE quality_alerts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule_id          bigint NOT NULL REFERENCES quality_rules(id),
  kind             text NOT NULL,
  work_order_id    bigint NOT NULL REFERENCES work_orders(id),
  station_id       bigint REFERENCES stations(id),
  -- What fired, e.g. `BRIDGE@U7`, `fpy:aoi`, `NET_3V3`, `AOI-1:Vol`: one alert not yet closed per rule, work order and key.
  key              text NOT NULL,
  message          text NOT NULL,
  evidence         jsonb NOT NULL,
  actions_taken    jsonb NOT NULL DEFAULT '[]',
  state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open','acknowledged','closed')),
  fired_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  acknowledged_at  timestamptz,
  acknowledged_by  text,
  note             text
);
CREATE UNIQUE INDEX quality_alerts_open_key ON quality_alerts (rule_id, work_order_id, key) WHERE state <> 'closed';
CREATE INDEX quality_alerts_wo_idx ON quality_alerts (work_order_id, id);
-- A state change (acknowledge, close) tells every instance to forget which alerts it saw open.
CREATE TRIGGER quality_alerts_notify AFTER UPDATE OF state OR DELETE ON quality_alerts FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
ALTER TABLE quality_holds ADD CONSTRAINT quality_holds_alert_fk FOREIGN KEY (alert_id) REFERENCES quality_alerts(id);

-- ── shipping: cartons and shipments ──────────────────────────────────────────────────────
CREATE SEQUENCE shipping_shipment_number_seq;
CREATE TABLE shipping_shipments (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number                text NOT NULL UNIQUE CHECK (number ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
  customer              text NOT NULL CHECK (length(btrim(customer)) >= 1),
  customer_po           text NOT NULL DEFAULT '',
  ship_to               text NOT NULL DEFAULT '',
  state                 text NOT NULL DEFAULT 'open' CHECK (state IN ('open','released','cancelled')),
  notes                 text NOT NULL DEFAULT '',
  created_at            timestamptz NOT NULL DEFAULT now(),
  created_by            text NOT NULL,
  released_at           timestamptz,
  released_by           text,
  release_signature_id  bigint REFERENCES quality_signatures(id),
  CHECK ((state = 'released') = (release_signature_id IS NOT NULL AND released_at IS NOT NULL))
);

CREATE SEQUENCE shipping_carton_number_seq;
CREATE TABLE shipping_cartons (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code                 text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
  work_order_id        bigint NOT NULL REFERENCES work_orders(id),
  product_revision_id  bigint NOT NULL REFERENCES product_revisions(id),
  capacity             integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
  -- With a quality plan that forbids mixing lots: the production lot of the carton's units.
  production_lot_id    bigint REFERENCES production_lots(id),
  station_id           bigint REFERENCES stations(id),
  state                text NOT NULL DEFAULT 'open' CHECK (state IN ('open','closed','shipped')),
  packed               integer NOT NULL DEFAULT 0 CHECK (packed >= 0),
  shipment_id          bigint REFERENCES shipping_shipments(id),
  created_at           timestamptz NOT NULL DEFAULT now(),
  created_by           text NOT NULL,
  closed_at            timestamptz,
  closed_by            text,
  CHECK (packed <= capacity)
);
CREATE INDEX shipping_cartons_shipment_idx ON shipping_cartons (shipment_id) WHERE shipment_id IS NOT NULL;
CREATE INDEX shipping_cartons_wo_idx ON shipping_cartons (work_order_id);

CREATE TABLE shipping_carton_units (
  carton_id  bigint NOT NULL REFERENCES shipping_cartons(id),
  unit_id    bigint NOT NULL UNIQUE REFERENCES units(id),
  packed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  packed_by  text NOT NULL,
  PRIMARY KEY (carton_id, unit_id)
);

-- Every packing refusal, with its reason codes ("each refusal is recorded"). Append-only.
CREATE TABLE shipping_pack_refusals (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  carton_id   bigint REFERENCES shipping_cartons(id),
  identifier  text NOT NULL,
  unit_id     bigint REFERENCES units(id),
  codes       text[] NOT NULL,
  details     jsonb NOT NULL,
  actor_name  text NOT NULL
);
CREATE TRIGGER shipping_pack_refusals_no_change BEFORE UPDATE OR DELETE ON shipping_pack_refusals FOR EACH ROW EXECUTE FUNCTION quality_append_only();

-- ── the interlock's data, one call per interlock call ────────────────────────────────────
-- Everything the quality interlock rules need for the units of one validate / start / complete:
-- matching active holds (H), unverified repairs (R: route repair loops, D: repair / retest
-- dispositions, W: rework actions) and first-article approvals of passed claims (F). A function
-- with a generic plan: planned once per connection instead of at every call (its many branches
-- would otherwise cost more to plan than to run). Branches for station-window and material
-- holds run only while such holds exist.
CREATE FUNCTION quality_interlock_data(p_units bigint[], p_panels bigint[], p_lots bigint[], p_wos bigint[], p_revs bigint[], p_station bigint,
                                       p_repaired bigint[], p_gated bigint[])
RETURNS TABLE (k text, id bigint, ref text, scope text, code text, reason text, unit_id bigint, key bigint, seq integer, ok boolean)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET jit = off AS $$
#variable_conflict use_column
DECLARE sw boolean; mat boolean;
BEGIN
  SELECT COALESCE(bool_or(h.scope = 'station_window'), false), COALESCE(bool_or(h.scope IN ('material_lot','package')), false) INTO sw, mat
    FROM quality_holds h WHERE h.released_at IS NULL AND h.scope IN ('station_window','material_lot','package');
  RETURN QUERY
  SELECT 'H'::text, h.id, h.number, h.scope, h.reason_code, h.reason, h.unit_id,
         COALESCE(h.panel_id, h.production_lot_id, h.work_order_id, h.product_revision_id, h.station_id), NULL::integer, NULL::boolean
    FROM quality_holds h
   WHERE h.released_at IS NULL AND h.scope IN ('unit','panel','lot','work_order','product_revision','station')
     AND ((h.scope = 'unit' AND h.unit_id = ANY(p_units)) OR (h.scope = 'panel' AND h.panel_id = ANY(p_panels))
       OR (h.scope = 'lot' AND h.production_lot_id = ANY(p_lots)) OR (h.scope = 'work_order' AND h.work_order_id = ANY(p_wos))
       OR (h.scope = 'product_revision' AND h.product_revision_id = ANY(p_revs)) OR (h.scope = 'station' AND h.station_id = p_station))
  UNION ALL
  SELECT 'H'::text, h.id, h.number, h.scope, h.reason_code, h.reason, hu.unit_id, NULL::bigint, NULL::integer, NULL::boolean
    FROM quality_hold_units hu JOIN quality_holds h ON h.id = hu.hold_id AND h.released_at IS NULL WHERE hu.unit_id = ANY(p_units)
  UNION ALL
  SELECT 'D'::text, d.id, d.decision, NULL::text, NULL::text, NULL::text, d.unit_id, NULL::bigint, d.verify_step_seq, NULL::boolean
    FROM quality_dispositions d WHERE d.unit_id = ANY(p_units) AND d.decision IN ('repair','retest')
     AND NOT EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = d.unit_id AND pr.visit > d.visit_at AND pr.step_seq = d.verify_step_seq AND pr.result = 'pass')
  UNION ALL
  SELECT 'W'::text, ra.id, 'rework'::text, NULL::text, NULL::text, NULL::text, ra.unit_id, NULL::bigint, ra.verify_step_seq, NULL::boolean
    FROM quality_rework_actions ra WHERE ra.unit_id = ANY(p_units)
     AND NOT EXISTS (SELECT 1 FROM process_records pr WHERE pr.unit_id = ra.unit_id AND pr.visit > ra.visit_at AND pr.step_seq = ra.verify_step_seq AND pr.result = 'pass');

  IF sw THEN
    RETURN QUERY
    SELECT DISTINCT 'H'::text, h.id, h.number, h.scope, h.reason_code, h.reason, pr.unit_id, NULL::bigint, NULL::integer, NULL::boolean
      FROM process_records pr JOIN quality_holds h ON h.scope = 'station_window' AND h.released_at IS NULL AND h.station_id = pr.station_id
       AND pr.completed_at >= h.window_from AND COALESCE(pr.started_at, pr.completed_at) < h.window_to
     WHERE pr.unit_id = ANY(p_units);
  END IF;
  IF mat THEN
    RETURN QUERY
    SELECT DISTINCT 'H'::text, h.id, h.number, h.scope, h.reason_code, h.reason, x.unit_id, NULL::bigint, NULL::integer, NULL::boolean
      FROM (SELECT pr.unit_id, fs.package_id FROM process_records pr JOIN equipment e ON e.station_id = pr.station_id AND (pr.equipment_id IS NULL OR pr.equipment_id = e.id)
              JOIN feeder_setups fs ON fs.equipment_id = e.id AND fs.loaded_at <= pr.completed_at AND (fs.unloaded_at IS NULL OR fs.unloaded_at > COALESCE(pr.started_at, pr.completed_at))
             WHERE pr.unit_id = ANY(p_units)
            UNION
            SELECT ra.unit_id, ra.new_package_id FROM quality_rework_actions ra WHERE ra.unit_id = ANY(p_units) AND ra.new_package_id IS NOT NULL) x
      JOIN material_packages pk ON pk.id = x.package_id
      JOIN quality_holds h ON h.released_at IS NULL AND ((h.scope = 'material_lot' AND h.material_lot_id = pk.material_lot_id) OR (h.scope = 'package' AND h.package_id = pk.id));
  END IF;
  IF cardinality(p_repaired) > 0 THEN
    RETURN QUERY
    SELECT 'R'::text, NULL::bigint, 'repair loop'::text, NULL::text, NULL::text, NULL::text, r.unit_id, NULL::bigint, r.next_step_seq, NULL::boolean
      FROM (SELECT DISTINCT ON (pr.unit_id) pr.unit_id, pr.visit, pr.next_step_seq FROM process_records pr
             WHERE pr.unit_id = ANY(p_repaired) AND pr.outcome = 'returned' ORDER BY pr.unit_id, pr.visit DESC) r
     WHERE r.next_step_seq IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM process_records p2 WHERE p2.unit_id = r.unit_id AND p2.visit > r.visit AND p2.step_seq = r.next_step_seq AND p2.result = 'pass');
  END IF;
  IF cardinality(p_gated) > 0 THEN
    RETURN QUERY
    SELECT 'F'::text, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text, fa.unit_id, fa.work_order_id, fa.step_seq,
           EXISTS (SELECT 1 FROM quality_first_articles a WHERE a.work_order_id = fa.work_order_id AND a.step_seq = fa.step_seq AND a.unit_id = fa.unit_id
                      AND a.claimed_at = fa.claimed_at AND a.decision = 'approved')
      FROM first_articles fa WHERE fa.work_order_id = ANY(p_gated) AND fa.state = 'passed';
  END IF;
END $$;
