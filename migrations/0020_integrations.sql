-- Machine integration (IPC-CFX over AMQP 1.0 / HTTP, MQTT telemetry) and equipment states.
--
-- Delivery guarantees live in three tables: every CFX message that could be decoded far enough
-- to have a UniqueID gets exactly one cfx_inbox row, written in the same transaction as the
-- message's effects (so a redelivered message finds its row and has no effect); what could not
-- be applied is kept whole in cfx_dead_letters (with the reason) or cfx_unassigned (unknown
-- sender handle), both replayable. Nothing is dropped.

CREATE TABLE cfx_inbox (
  -- Envelope UniqueID as sent: the de-duplication key.
  unique_id     text PRIMARY KEY CHECK (length(unique_id) BETWEEN 1 AND 200),
  -- Sender handle (Vendor.Model.Serial); null when the envelope had no Source.
  source        text,
  message_name  text NOT NULL,
  -- amqp (broker), amqp-p2p (our request listener), http, replay.
  transport     text NOT NULL,
  -- Envelope TimeStamp (event time).
  event_at      timestamptz,
  received_at   timestamptz NOT NULL DEFAULT now(),
  -- When the effects were committed (null for messages kept without effect).
  applied_at    timestamptz,
  -- applied: effects written; recorded: accepted and kept, not (yet) applied (body kept, see detail);
  -- unsupported: not interpreted by this MES (body kept); answered: a request, response kept;
  -- rejected: refused, see cfx_dead_letters; unassigned: unknown source handle, see cfx_unassigned;
  -- own: one of this MES's own messages echoed back by the broker.
  outcome       text NOT NULL CHECK (outcome IN ('applied','recorded','unsupported','answered','rejected','unassigned','own')),
  station_id    bigint REFERENCES stations(id),
  equipment_id  bigint REFERENCES equipment(id),
  detail        text,
  -- The normalised body, for outcomes that may be applied later (recorded, unsupported).
  body          jsonb,
  -- For requests: the response envelope sent, so a repeated request gets the same answer.
  response      jsonb
);
-- Inserted in time order: BRIN keeps the range scans of the statistics and of retention cheap.
CREATE INDEX cfx_inbox_received_brin ON cfx_inbox USING brin (received_at);
CREATE INDEX cfx_inbox_recorded_idx ON cfx_inbox (message_name, received_at) WHERE outcome IN ('recorded','unsupported');

CREATE TABLE cfx_dead_letters (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at       timestamptz NOT NULL DEFAULT now(),
  -- amqp, amqp-p2p, http, mqtt, replay.
  transport         text NOT NULL,
  -- The message bytes as received (the whole payload, or one element of a JSON array re-serialised).
  payload           bytea NOT NULL,
  content_encoding  text,
  -- What could be read of the message (null when it could not be decoded that far).
  unique_id         text,
  source            text,
  message_name      text,
  topic             text,
  -- Stable reason code (CFX_NOT_JSON, CFX_INVALID, INTERLOCK_REFUSED, ...), sentence and field.
  reason_code       text NOT NULL,
  reason            text NOT NULL,
  field             text,
  -- Every field error found, [{field, code, message}].
  errors            jsonb,
  replay_count      integer NOT NULL DEFAULT 0,
  replayed_at       timestamptz,
  replayed_by       text,
  -- The outcome of the last replay (an inbox outcome, or the reason code of a new refusal).
  replay_outcome    text,
  replay_detail     text
);
CREATE INDEX cfx_dead_letters_open_idx ON cfx_dead_letters (id) WHERE replayed_at IS NULL;
CREATE INDEX cfx_dead_letters_unique_idx ON cfx_dead_letters (unique_id) WHERE unique_id IS NOT NULL;

CREATE TABLE cfx_unassigned (
  unique_id       text PRIMARY KEY,
  source          text NOT NULL,
  message_name    text NOT NULL,
  transport       text NOT NULL,
  event_at        timestamptz,
  received_at     timestamptz NOT NULL DEFAULT now(),
  -- The envelope in CFX wire form, replayed once the handle is registered (equipment.cfx_handle).
  envelope        jsonb NOT NULL,
  replayed_at     timestamptz,
  replay_outcome  text,
  replay_detail   text
);
CREATE INDEX cfx_unassigned_open_idx ON cfx_unassigned (source, received_at) WHERE replayed_at IS NULL;

-- CFX production transactions (TransactionID of WorkStarted / WorkCompleted), so that a
-- WorkCompleted can find its units and time, and a late WorkStarted is recognised as stale.
CREATE TABLE cfx_transactions (
  transaction_id      text NOT NULL,
  equipment_id        bigint NOT NULL REFERENCES equipment(id),
  identifiers         text[] NOT NULL DEFAULT '{}',
  recipe_name         text,
  recipe_revision     text,
  started_at          timestamptz,
  started_message     text,
  completed_at        timestamptz,
  completed_message   text,
  -- A WorkCompleted that arrived before its WorkStarted and named no units: applied when the start arrives.
  parked_completion   jsonb,
  PRIMARY KEY (equipment_id, transaction_id)
);

-- Process values: CFX ReadingsRecorded / inspection measurements and MQTT telemetry. The table
-- grows fastest of all: rows are appended in time order, so a BRIN index on `at` serves time
-- range scans at a fraction of a B-tree's size and insert cost; per-station and per-unit queries
-- use the two B-trees. Retention (e.g. monthly range partitions) is an operational choice.
CREATE TABLE readings (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at               timestamptz NOT NULL,
  station_id       bigint NOT NULL REFERENCES stations(id),
  equipment_id     bigint REFERENCES equipment(id),
  unit_identifier  text,
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  value            double precision,
  text_value       text,
  unit             text,
  source           text NOT NULL CHECK (source IN ('cfx','mqtt')),
  -- The CFX UniqueID or the MQTT topic the value came from.
  origin           text,
  CHECK (value IS NOT NULL OR text_value IS NOT NULL)
);
CREATE INDEX readings_at_brin ON readings USING brin (at) WITH (pages_per_range = 32);
CREATE INDEX readings_station_at_idx ON readings (station_id, at);
CREATE INDEX readings_unit_idx ON readings (unit_identifier) WHERE unit_identifier IS NOT NULL;

-- Unit movements seen by machines (arrived, departed, identified): an event log, never a state.
CREATE TABLE unit_movements (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at            timestamptz NOT NULL,
  station_id    bigint NOT NULL REFERENCES stations(id),
  equipment_id  bigint REFERENCES equipment(id),
  kind          text NOT NULL CHECK (kind IN ('arrived','departed','identified')),
  identifier    text NOT NULL,
  position      integer,
  lane          integer,
  message_id    text
);
CREATE INDEX unit_movements_identifier_idx ON unit_movements (identifier, at);
CREATE INDEX unit_movements_at_brin ON unit_movements USING brin (at);

-- SEMI E10 state timeline per machine: [from_at, to_at) intervals, to_at null for the current
-- state. A change reported late is inserted at its event time and the neighbours' bounds adjusted.
CREATE TABLE station_states (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  station_id           bigint NOT NULL REFERENCES stations(id),
  equipment_id         bigint NOT NULL REFERENCES equipment(id),
  -- CFX ResourceState code (1100, 2201, 5300, ...).
  state_code           integer NOT NULL CHECK (state_code BETWEEN 1000 AND 6999),
  e10                  text NOT NULL CHECK (e10 IN ('Productive','Standby','Engineering','ScheduledDowntime','UnscheduledDowntime','NonScheduled')),
  from_at              timestamptz NOT NULL,
  to_at                timestamptz,
  -- Fault code and occurrence of StationStateChanged.RelatedFault, for downtime by fault code.
  fault_code           text,
  fault_occurrence_id  text,
  -- inferred: reconstructed from OldState / OldStateDuration of the first change seen.
  inferred             boolean NOT NULL DEFAULT false,
  message_id           text,
  CHECK (to_at IS NULL OR to_at >= from_at),
  UNIQUE (equipment_id, from_at)
);
CREATE UNIQUE INDEX station_states_current_idx ON station_states (equipment_id) WHERE to_at IS NULL;
CREATE INDEX station_states_station_idx ON station_states (station_id, from_at);

CREATE TABLE faults (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  station_id      bigint NOT NULL REFERENCES stations(id),
  equipment_id    bigint NOT NULL REFERENCES equipment(id),
  occurrence_id   text NOT NULL,
  code            text,
  severity        text CHECK (severity IN ('Information','Warning','Error','Alarm')),
  cause           text,
  description     text,
  lane            integer,
  stage           text,
  kind            text,
  details         jsonb,
  -- Null only while a FaultCleared / FaultAcknowledged arrived before its FaultOccurred.
  occurred_at     timestamptz,
  cleared_at      timestamptz,
  cleared_by      text,
  acknowledged_at timestamptz,
  acknowledged_by text,
  UNIQUE (equipment_id, occurrence_id)
);
CREATE INDEX faults_station_idx ON faults (station_id, occurred_at);
CREATE INDEX faults_active_idx ON faults (equipment_id) WHERE cleared_at IS NULL;

-- Connectivity of each machine (StationOnline / StationOffline / Heartbeat / EndpointConnected).
CREATE TABLE equipment_status (
  equipment_id        bigint PRIMARY KEY REFERENCES equipment(id),
  online              boolean NOT NULL,
  changed_at          timestamptz NOT NULL,
  last_seen_at        timestamptz NOT NULL,
  heartbeat_ms        integer,
  request_uri         text,
  request_address     text
);

-- Recipes activated on each machine (CFX RecipeActivated): the ideal cycle time for OEE.
CREATE TABLE equipment_recipes (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  station_id            bigint NOT NULL REFERENCES stations(id),
  equipment_id          bigint NOT NULL REFERENCES equipment(id),
  recipe_name           text NOT NULL,
  revision              text,
  lane                  integer,
  activated_at          timestamptz NOT NULL,
  -- Seconds per unit as reported (ExpectedCycleTime; the SDK leaves the unit open, seconds in practice).
  expected_cycle_s      double precision CHECK (expected_cycle_s IS NULL OR expected_cycle_s > 0),
  units_per_transaction double precision,
  work_order            text,
  message_id            text,
  UNIQUE (equipment_id, activated_at, recipe_name)
);
CREATE INDEX equipment_recipes_station_idx ON equipment_recipes (station_id, activated_at);

-- Ideal cycle times as master data, when machines do not report ExpectedCycleTime.
-- recipe_name '' is the station's default.
CREATE TABLE ideal_cycle_times (
  station_id   bigint NOT NULL REFERENCES stations(id),
  recipe_name  text NOT NULL DEFAULT '',
  seconds      double precision NOT NULL CHECK (seconds > 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  updated_by   text NOT NULL,
  PRIMARY KEY (station_id, recipe_name)
);

-- Production counts as machines report them (WorkCompleted, UnitsDisqualified), for OEE
-- performance and quality. The tracking module's process records can replace them later.
CREATE TABLE production_counts (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  station_id    bigint NOT NULL REFERENCES stations(id),
  equipment_id  bigint REFERENCES equipment(id),
  at            timestamptz NOT NULL,
  -- completed: units finished good; failed: finished bad; disqualified: removed as defective later.
  kind          text NOT NULL CHECK (kind IN ('completed','failed','disqualified')),
  units         integer NOT NULL CHECK (units >= 0),
  recipe_name   text,
  message_id    text,
  -- A replayed message does not count twice.
  UNIQUE (message_id, kind)
);
CREATE INDEX production_counts_station_idx ON production_counts (station_id, at);
