-- hookledger-server, migration 0001 (PostgreSQL, the production store). The same numbering
-- as 0001_init.sqlite.sql: one schema, two dialects. Never edit a shipped migration: add the
-- next number.

CREATE TABLE machines (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    token_hash    BYTEA NOT NULL UNIQUE,
    created_ns    BIGINT NOT NULL,
    revoked_ns    BIGINT,
    ledger_id     TEXT UNIQUE,
    public_key    TEXT,
    last_seen_ns  BIGINT
);

CREATE TABLE ledger_state (
    ledger_id   TEXT PRIMARY KEY,
    machine_id  BIGINT NOT NULL REFERENCES machines(id),
    state       JSONB NOT NULL,
    updated_ns  BIGINT NOT NULL
);

-- Verified records, partitioned by the month they were received (declarative range
-- partitioning; the server creates each month's partition before it is needed). The receipt
-- time, not the machine's clock, picks the partition: a machine cannot make the server create
-- partitions for arbitrary months. A partitioned table's keys must include the partition
-- column, so (ledger_id, seq) uniqueness is the verifier's job (it stores only seqs it has not
-- stored, under the machine's row lock); the index serves its look-ups.
-- `payload` is JSONB for queries; a payload JSONB cannot hold (a string with U+0000) goes to
-- `payload_raw` as the exact bytes instead.
CREATE TABLE records (
    ledger_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    ts_ns        BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    payload      JSONB,
    payload_raw  BYTEA,
    prev_hash    BYTEA NOT NULL,
    hash         BYTEA NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    CHECK (payload IS NOT NULL OR payload_raw IS NOT NULL)
) PARTITION BY RANGE (received_at);
CREATE INDEX records_by_ledger_seq ON records (ledger_id, seq);

CREATE TABLE findings (
    id          BIGSERIAL PRIMARY KEY,
    machine_id  BIGINT NOT NULL REFERENCES machines(id),
    ledger_id   TEXT,
    code        TEXT NOT NULL,
    first_seq   BIGINT,
    last_seq    BIGINT,
    detail      TEXT NOT NULL,
    found_ns    BIGINT NOT NULL,
    dedup       TEXT NOT NULL,
    UNIQUE (machine_id, dedup)
);
CREATE INDEX findings_by_machine ON findings (machine_id, found_ns);

-- Webhook deliveries, one row per attempt.
CREATE TABLE alert_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    finding_id  BIGINT REFERENCES findings(id),
    -- The webhook's origin and a BLAKE3 digest of its URL: a webhook URL can be a secret
    -- (Slack's are), and none is kept in clear at rest.
    webhook     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    sent_ns     BIGINT NOT NULL
);
