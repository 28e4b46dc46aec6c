-- hookledger migration 0003: retention. `hookledger prune` removes old records that every
-- sink has acknowledged; each removal is listed here so `verify` can tell it from a deletion.
-- Shipped migrations are never edited; a schema change is a new numbered file.

-- One row per prune: records first_seq..=last_seq were removed. The record at anchor_seq (the
-- first one kept after them) is a signed checkpoint whose claim covers last_seq with the very
-- hash the anchor links to, so the kept part verifies from it. A `prune` record in the chain
-- says the same. A row here without a valid anchor is reported as missing records.
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
