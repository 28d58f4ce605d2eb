-- Records: the site signing keys (public halves; the private key stays in a file of the server's
-- data directory, see src/modules/records/README.md) and trace-package export jobs.

CREATE TABLE records_signing_keys (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site_id         bigint NOT NULL REFERENCES sites(id),
  -- First 16 hex digits of the SHA-256 of the raw 32-byte Ed25519 public key.
  key_id          text NOT NULL UNIQUE CHECK (key_id ~ '^[0-9a-f]{16}$'),
  algorithm       text NOT NULL DEFAULT 'Ed25519' CHECK (algorithm = 'Ed25519'),
  public_key_pem  text NOT NULL CHECK (public_key_pem LIKE '-----BEGIN PUBLIC KEY-----%'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text NOT NULL
);
CREATE INDEX records_signing_keys_site_idx ON records_signing_keys (site_id, id);
CREATE FUNCTION records_keys_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'MES:FORBIDDEN: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER records_signing_keys_no_change BEFORE UPDATE OR DELETE ON records_signing_keys FOR EACH ROW EXECUTE FUNCTION records_keys_append_only();

-- A trace package built in the background. A job whose instance stopped answering (no heartbeat
-- for a minute) is reported and recorded as failed: interrupted; start it again.
CREATE TABLE records_jobs (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind           text NOT NULL DEFAULT 'trace-package' CHECK (kind IN ('trace-package')),
  scope          text NOT NULL CHECK (scope IN ('work-order','lot','shipment')),
  ref            text NOT NULL,
  state          text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','running','done','failed')),
  progress       jsonb NOT NULL DEFAULT '{}',
  instance       text NOT NULL,
  heartbeat_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  file_path      text,
  size           bigint,
  sha256         text CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
  key_id         text,
  error          text,
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by     text NOT NULL,
  started_at     timestamptz,
  finished_at    timestamptz,
  CHECK ((state = 'done') = (file_path IS NOT NULL AND sha256 IS NOT NULL AND finished_at IS NOT NULL)),
  CHECK ((state = 'failed') = (error IS NOT NULL))
);
CREATE INDEX records_jobs_active_idx ON records_jobs (state) WHERE state IN ('queued','running');

