-- hookledger ledger schema: the state after every migration in schema/migrations/.
-- The migrations are what runs; a test checks that they produce exactly this schema.

-- One row: the identity of this ledger. The ledger id is part of every record frame.
CREATE TABLE ledger_meta (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    ledger_id   BLOB    NOT NULL CHECK (length(ledger_id) = 16),
    format      INTEGER NOT NULL,
    created_ns  INTEGER NOT NULL
) STRICT;

-- The hash chain. payload holds the exact RFC 8785 bytes that were framed and hashed.
CREATE TABLE records (
    seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
    ts_ns      INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    prev_hash  BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE INDEX records_by_kind ON records (kind, seq);
CREATE INDEX records_by_time ON records (ts_ns);

-- Guards against accidents and naive edits. They are not a security boundary: anyone with
-- write access can drop them, which is why `verify` recomputes the chain.
CREATE TRIGGER records_no_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'hookledger: the ledger is append-only'); END;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'hookledger: the ledger is append-only'); END;
CREATE TRIGGER ledger_meta_no_update BEFORE UPDATE ON ledger_meta
BEGIN SELECT RAISE(ABORT, 'hookledger: the ledger identity is immutable'); END;
CREATE TRIGGER ledger_meta_no_delete BEFORE DELETE ON ledger_meta
BEGIN SELECT RAISE(ABORT, 'hookledger: the ledger identity is immutable'); END;

-- Spool entries already merged into the chain, so a crash between the merge's commit and
-- the spool's truncation never merges an entry twice.
CREATE TABLE spool_merged (
    spool_id  TEXT    PRIMARY KEY,
    seq       INTEGER NOT NULL
) STRICT;
CREATE TRIGGER spool_merged_no_update BEFORE UPDATE ON spool_merged
BEGIN SELECT RAISE(ABORT, 'hookledger: spool bookkeeping is append-only'); END;
CREATE TRIGGER spool_merged_no_delete BEFORE DELETE ON spool_merged
BEGIN SELECT RAISE(ABORT, 'hookledger: spool bookkeeping is append-only'); END;

-- A cache, not evidence: the model a session reported at start, used when the transcript
-- cannot tell which model made a tool call. Mutable by design and outside the chain.
CREATE TABLE session_state (
    session_id   TEXT    PRIMARY KEY,
    model        TEXT,
    cli_version  TEXT,
    updated_ns   INTEGER NOT NULL
) STRICT;

-- Export cursors for at-least-once shipping (migration 0002). `acked_seq` moves only on an
-- acknowledgement; `pending_seq` ends the batch last written and not yet acknowledged.
CREATE TABLE export_cursor (
    sink         TEXT    PRIMARY KEY,
    acked_seq    INTEGER NOT NULL CHECK (acked_seq >= 0),
    acked_hash   BLOB    CHECK (acked_hash IS NULL OR length(acked_hash) = 32),
    pending_seq  INTEGER CHECK (pending_seq IS NULL OR pending_seq >= acked_seq),
    updated_ns   INTEGER NOT NULL
) STRICT;

