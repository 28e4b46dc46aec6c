-- hookledger-server, migration 0001 (SQLite, the embedded default store). The same numbering
-- as 0001_init.postgres.sql: one schema, two dialects. Never edit a shipped migration: add
-- the next number.

-- Enrolled machines. The token is stored only as its BLAKE3 hash; the ledger id and the
-- genesis public key are pinned at first contact.
CREATE TABLE machines (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    token_hash    BLOB NOT NULL UNIQUE,
    created_ns    INTEGER NOT NULL,
    revoked_ns    INTEGER,
    ledger_id     TEXT UNIQUE,
    public_key    TEXT,
    last_seen_ns  INTEGER
);

-- The incremental verifier's state per ledger (LedgerState as JSON), written in the same
-- transaction as the records it covers.
CREATE TABLE ledger_state (
    ledger_id   TEXT PRIMARY KEY,
    machine_id  INTEGER NOT NULL REFERENCES machines(id),
    state       TEXT NOT NULL,
    updated_ns  INTEGER NOT NULL
);

-- Verified records only, keyed as in the ledger. The payload is the exact canonical JSON the
-- hash covers.
CREATE TABLE records (
    ledger_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    ts_ns        INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL,
    received_ns  INTEGER NOT NULL,
    PRIMARY KEY (ledger_id, seq)
) WITHOUT ROWID;

-- Problems (receiver codes) and refusals (ingest codes) per machine. `dedup` makes a resent
-- batch's problems land once.
CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    machine_id  INTEGER NOT NULL REFERENCES machines(id),
    ledger_id   TEXT,
    code        TEXT NOT NULL,
    first_seq   INTEGER,
    last_seq    INTEGER,
    detail      TEXT NOT NULL,
    found_ns    INTEGER NOT NULL,
    dedup       TEXT NOT NULL,
    UNIQUE (machine_id, dedup)
);
CREATE INDEX findings_by_machine ON findings (machine_id, found_ns);

-- Webhook deliveries, one row per attempt.
CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY,
    finding_id  INTEGER REFERENCES findings(id),
    -- The webhook's origin and a BLAKE3 digest of its URL: a webhook URL can be a secret
    -- (Slack's are), and none is kept in clear at rest.
    webhook     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    sent_ns     INTEGER NOT NULL
);
