-- Work orders with their frozen build basis, serialized units, panels, production lots, the
-- append-only process record of every passage, and the data the interlock reads.

CREATE TABLE work_orders (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number               text NOT NULL UNIQUE CHECK (number ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
  customer             text NOT NULL DEFAULT '',
  customer_po          text NOT NULL DEFAULT '',
  product_revision_id  bigint NOT NULL REFERENCES product_revisions(id),
  quantity             integer NOT NULL CHECK (quantity > 0),
  -- Allowed overrun: absolute units plus a percentage of the quantity (rounded down).
  overrun_units        integer NOT NULL DEFAULT 0 CHECK (overrun_units >= 0),
  overrun_percent      numeric(6,2) NOT NULL DEFAULT 0 CHECK (overrun_percent >= 0 AND overrun_percent <= 100),
  max_units            integer GENERATED ALWAYS AS (quantity + overrun_units + floor(quantity * overrun_percent / 100)::integer) STORED,
  due_date             date,
  line_id              bigint REFERENCES lines(id),
  state                text NOT NULL DEFAULT 'planned'
                       CHECK (state IN ('planned','released','in_progress','completed','closed','on_hold','cancelled')),
  -- The state a held work order returns to on resume.
  hold_return_state    text CHECK (hold_return_state IN ('planned','released','in_progress')),
  serial_pattern       text,
  -- Counters changed atomically (UPDATE ... WHERE units_created + n <= max) under the row lock.
  serial_seq           integer NOT NULL DEFAULT 0 CHECK (serial_seq >= 0),
  units_created        integer NOT NULL DEFAULT 0,
  basis_id             bigint,
  notes                text NOT NULL DEFAULT '',
  source               text NOT NULL DEFAULT 'api',
  created_at           timestamptz NOT NULL DEFAULT now(),
  created_by           text NOT NULL,
  released_at          timestamptz,
  released_by          text,
  completed_at         timestamptz,
  closed_at            timestamptz,
  -- Never more (non-skipped) units than ordered plus the allowed overrun.
  CONSTRAINT work_orders_quantity_limit CHECK (units_created >= 0 AND units_created <= quantity + overrun_units + floor(quantity * overrun_percent / 100)::integer),
  CONSTRAINT work_orders_hold_state CHECK ((state = 'on_hold') = (hold_return_state IS NOT NULL)),
  CONSTRAINT work_orders_released_basis CHECK (state IN ('planned','cancelled','on_hold') OR basis_id IS NOT NULL)
);
CREATE INDEX work_orders_state_idx ON work_orders (state);
CREATE INDEX work_orders_line_idx ON work_orders (line_id, state);
CREATE INDEX work_orders_revision_idx ON work_orders (product_revision_id);

-- The build basis frozen at release (and at each explicit re-basing): one JSONB snapshot and the
-- SHA-256 of its canonical JSON. Rows are never changed or removed.
CREATE TABLE build_bases (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  work_order_id  bigint NOT NULL REFERENCES work_orders(id),
  version        integer NOT NULL CHECK (version > 0),
  basis          jsonb NOT NULL,
  hash           text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  reason         text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text NOT NULL,
  UNIQUE (work_order_id, version)
);
ALTER TABLE work_orders ADD CONSTRAINT work_orders_basis_fk FOREIGN KEY (basis_id) REFERENCES build_bases(id);

CREATE FUNCTION build_basis_is_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'MES:BASIS_FROZEN: a build basis is frozen (% refused); re-base the work order instead', TG_OP;
END $$;
CREATE TRIGGER build_bases_no_change BEFORE UPDATE OR DELETE ON build_bases FOR EACH ROW EXECUTE FUNCTION build_basis_is_frozen();
CREATE TRIGGER build_bases_no_truncate BEFORE TRUNCATE ON build_bases FOR EACH STATEMENT EXECUTE FUNCTION build_basis_is_frozen();

-- The work order each line is running now (one per line). The interlock refuses units of
-- another work order on that line.
CREATE TABLE line_active_work_orders (
  line_id        bigint PRIMARY KEY REFERENCES lines(id),
  work_order_id  bigint NOT NULL UNIQUE REFERENCES work_orders(id),
  activated_at   timestamptz NOT NULL DEFAULT now(),
  activated_by   text NOT NULL
);

-- Serial-number pattern per product (a work order's own pattern wins).
CREATE TABLE product_serial_patterns (
  product_id  bigint PRIMARY KEY REFERENCES products(id),
  pattern     text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL
);

CREATE TABLE production_lots (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  work_order_id     bigint NOT NULL REFERENCES work_orders(id),
  code              text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
  planned_quantity  integer CHECK (planned_quantity > 0),
  on_hold           boolean NOT NULL DEFAULT false,
  hold_reason       text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  created_by        text NOT NULL,
  UNIQUE (id, work_order_id)
);
CREATE INDEX production_lots_wo_idx ON production_lots (work_order_id);

CREATE TABLE panels (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  work_order_id  bigint NOT NULL REFERENCES work_orders(id),
  code           text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._/+-]{0,79}$'),
  positions      integer NOT NULL CHECK (positions BETWEEN 1 AND 500),
  lot_id         bigint,
  on_hold        boolean NOT NULL DEFAULT false,
  hold_reason    text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text NOT NULL,
  UNIQUE (id, work_order_id),
  FOREIGN KEY (lot_id, work_order_id) REFERENCES production_lots (id, work_order_id)
);
CREATE INDEX panels_wo_idx ON panels (work_order_id);

-- One board. Its current state (next step, status, loop counts) lives here and changes only in
-- the transaction that appends the process record explaining the change.
CREATE TABLE units (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  serial              text NOT NULL UNIQUE CHECK (serial ~ '^[A-Za-z0-9][A-Za-z0-9._/+-]{0,79}$'),
  work_order_id       bigint NOT NULL REFERENCES work_orders(id),
  lot_id              bigint,
  panel_id            bigint,
  panel_position      integer CHECK (panel_position > 0),
  source              text NOT NULL DEFAULT 'generated' CHECK (source IN ('generated','registered')),
  status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','in_process','failed','completed','scrapped','skipped')),
  next_step_seq       integer,
  return_step_seq     integer,
  failed_step_seq     integer,
  visits              integer NOT NULL DEFAULT 0 CHECK (visits >= 0),
  passed_steps        integer[] NOT NULL DEFAULT '{}',
  repair_loops        jsonb NOT NULL DEFAULT '{}',
  on_hold             boolean NOT NULL DEFAULT false,
  hold_reason         text,
  started_step_seq    integer,
  started_station_id  bigint REFERENCES stations(id),
  started_at          timestamptz,
  started_by          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (panel_id, panel_position),
  CHECK ((panel_id IS NULL) = (panel_position IS NULL)),
  CHECK ((status = 'in_process') = (started_step_seq IS NOT NULL)),
  FOREIGN KEY (lot_id, work_order_id) REFERENCES production_lots (id, work_order_id),
  FOREIGN KEY (panel_id, work_order_id) REFERENCES panels (id, work_order_id)
) WITH (fillfactor = 85);
-- No index on the columns a passage changes (status, next step, visits): with free space on the
-- page (fillfactor) the per-passage UPDATE stays a HOT update and touches no index.
CREATE INDEX units_wo_idx ON units (work_order_id);
CREATE INDEX units_lot_idx ON units (lot_id) WHERE lot_id IS NOT NULL;
CREATE INDEX units_in_process_idx ON units (started_station_id) WHERE started_station_id IS NOT NULL;

-- First-article gate per work order and route step: the first unit (or panel) to reach a gated
-- step claims it; other units wait until it has passed. A setup change (later issue) resets it
-- by deleting the row.
CREATE TABLE first_articles (
  work_order_id  bigint NOT NULL REFERENCES work_orders(id),
  step_seq       integer NOT NULL,
  unit_id        bigint NOT NULL REFERENCES units(id),
  panel_id       bigint REFERENCES panels(id),
  state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','passed')),
  claimed_at     timestamptz NOT NULL DEFAULT now(),
  passed_at      timestamptz,
  PRIMARY KEY (work_order_id, step_seq)
);

-- One unit's passage through one route step. Append-only: UPDATE, DELETE and TRUNCATE are
-- refused. (unit_id, visit) is unique, so two stations can never record the same visit.
CREATE TABLE process_records (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id           bigint NOT NULL REFERENCES units(id),
  visit             integer NOT NULL CHECK (visit > 0),
  work_order_id     bigint NOT NULL REFERENCES work_orders(id),
  basis_id          bigint NOT NULL REFERENCES build_bases(id),
  step_seq          integer NOT NULL,
  step_name         text NOT NULL,
  station_id        bigint NOT NULL REFERENCES stations(id),
  equipment_id      bigint REFERENCES equipment(id),
  program_name      text,
  program_revision  text,
  operator          text,
  actor_kind        text NOT NULL,
  actor_name        text NOT NULL,
  panel_id          bigint REFERENCES panels(id),
  panel_position    integer,
  result            text NOT NULL CHECK (result IN ('pass','fail','scrap')),
  -- What the route made of the result: next, completed, repair, returned, hold, scrap, loops_exhausted.
  outcome           text NOT NULL,
  next_step_seq     integer,
  repair_loop       integer,
  started_at        timestamptz,
  completed_at      timestamptz NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  notes             text,
  UNIQUE (unit_id, visit)
);
CREATE INDEX process_records_station_idx ON process_records (station_id, completed_at);

CREATE FUNCTION process_records_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'MES:FORBIDDEN: process records are append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER process_records_no_update BEFORE UPDATE OR DELETE ON process_records FOR EACH ROW EXECUTE FUNCTION process_records_are_append_only();
CREATE TRIGGER process_records_no_truncate BEFORE TRUNCATE ON process_records FOR EACH STATEMENT EXECUTE FUNCTION process_records_are_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON process_records FROM PUBLIC;

-- Every interlock refusal, with its reason codes: "each refusal is recorded". Append-only.
CREATE TABLE interlock_refusals (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  phase          text NOT NULL CHECK (phase IN ('validate','start','complete')),
  station_id     bigint REFERENCES stations(id),
  identifier     text NOT NULL,
  unit_id        bigint REFERENCES units(id),
  work_order_id  bigint REFERENCES work_orders(id),
  codes          text[] NOT NULL,
  details        jsonb NOT NULL,
  actor_name     text NOT NULL
);
CREATE INDEX interlock_refusals_at_idx ON interlock_refusals (at);
CREATE INDEX interlock_refusals_unit_idx ON interlock_refusals (unit_id) WHERE unit_id IS NOT NULL;
CREATE TRIGGER interlock_refusals_no_update BEFORE UPDATE OR DELETE ON interlock_refusals FOR EACH ROW EXECUTE FUNCTION process_records_are_append_only();
