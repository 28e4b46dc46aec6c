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

-- Retention (migration 0003): one row per `hookledger prune`. Records first_seq..=last_seq
-- were removed; the record at anchor_seq is a signed checkpoint covering last_seq, from which
-- the kept part verifies. A row without a valid anchor is reported as missing records.
CREATE TABLE pruned_ranges (
    first_seq   INTEGER PRIMARY KEY CHECK (first_seq >= 2),
    last_seq    INTEGER NOT NULL CHECK (last_seq >= first_seq),
    anchor_seq  INTEGER NOT NULL CHECK (anchor_seq = last_seq + 1),
    before_ns   INTEGER NOT NULL,
    pruned_ns   INTEGER NOT NULL
) STRICT;
CREATE TRIGGER pruned_ranges_no_update BEFORE UPDATE ON pruned_ranges
BEGIN SELECT RAISE(ABORT, 'hookledger: prune bookkeeping is append-only'); END;
CREATE TRIGGER pruned_ranges_no_delete BEFORE DELETE ON pruned_ranges
BEGIN SELECT RAISE(ABORT, 'hookledger: prune bookkeeping is append-only'); END;

-- Git provenance lookups (migration 0004): where each `edit` record landed, derived from the
-- chain by the git commands, and how far that index and the pre-commit chain check have got.
CREATE TABLE git_edit_index (
    seq            INTEGER PRIMARY KEY,
    root           TEXT    NOT NULL,
    path           TEXT    NOT NULL,
    before_blake3  TEXT,
    after_blake3   TEXT,
    ts_ns          INTEGER NOT NULL
) STRICT;
CREATE INDEX git_edit_index_by_path ON git_edit_index (root, path, seq);
CREATE INDEX git_edit_index_by_after ON git_edit_index (root, after_blake3);

CREATE TABLE git_state (
    singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
    indexed_through  INTEGER NOT NULL CHECK (indexed_through >= 0),
    verified_seq     INTEGER CHECK (verified_seq IS NULL OR verified_seq >= 1),
    verified_hash    BLOB    CHECK (verified_hash IS NULL OR length(verified_hash) = 32),
    updated_ns       INTEGER NOT NULL
) STRICT;
