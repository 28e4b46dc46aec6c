-- hookledger git index: lookups for git provenance (pre-commit, verify, blame), kept in a
-- file of its own beside the ledger (`<ledger>.git-index`), attached by the git commands only.
-- It is not in the ledger because every table there is schema each hook process parses on
-- every tool call. It can be deleted at any time: it is rebuilt from the chained records.

-- Where each `edit` record landed: repository root and repository-relative path, with the
-- content hashes before and after. Derived from the chained records by the git commands
-- (never by the Claude Code hooks, whose hot path stays as it was) and rebuilt from them at
-- will: bookkeeping, not evidence. Roots are stored canonicalized when they still exist.
CREATE TABLE IF NOT EXISTS gitidx.git_edit_index (
    seq            INTEGER PRIMARY KEY,
    root           TEXT    NOT NULL,
    path           TEXT    NOT NULL,
    before_blake3  TEXT,
    after_blake3   TEXT,
    ts_ns          INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS gitidx.git_edit_index_by_path ON git_edit_index (root, path, seq);
CREATE INDEX IF NOT EXISTS gitidx.git_edit_index_by_after ON git_edit_index (root, after_blake3);

-- How far the index and the pre-commit chain check have got. `verified_*` names the newest
-- record a full or incremental check found intact; a later check starts there, after
-- confirming that record still has the same hash (a changed hash means history was rewritten).
CREATE TABLE IF NOT EXISTS gitidx.git_state (
    singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
    indexed_through  INTEGER NOT NULL CHECK (indexed_through >= 0),
    verified_seq     INTEGER CHECK (verified_seq IS NULL OR verified_seq >= 1),
    verified_hash    BLOB    CHECK (verified_hash IS NULL OR length(verified_hash) = 32),
    updated_ns       INTEGER NOT NULL
) STRICT;
