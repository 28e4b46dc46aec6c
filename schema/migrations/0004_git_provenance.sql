-- hookledger migration 0004: lookups for git provenance (pre-commit, verify, blame).
-- Shipped migrations are never edited; a schema change is a new numbered file.

-- Where each `edit` record landed: repository root and repository-relative path, with the
-- content hashes before and after. Derived from the chained records by the git commands
-- (never by the Claude Code hooks, whose hot path stays as it was) and rebuilt from them at
-- will: bookkeeping, not evidence. Roots are stored canonicalized when they still exist.
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

-- How far the index and the pre-commit chain check have got. `verified_*` names the newest
-- record a full or incremental check found intact; a later check starts there, after
-- confirming that record still has the same hash (a changed hash means history was rewritten).
CREATE TABLE git_state (
    singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
    indexed_through  INTEGER NOT NULL CHECK (indexed_through >= 0),
    verified_seq     INTEGER CHECK (verified_seq IS NULL OR verified_seq >= 1),
    verified_hash    BLOB    CHECK (verified_hash IS NULL OR length(verified_hash) = 32),
    updated_ns       INTEGER NOT NULL
) STRICT;
