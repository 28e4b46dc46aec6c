-- hookledger migration 0002: export cursors for at-least-once shipping.
-- Shipped migrations are never edited; a schema change is a new numbered file.

-- One row per named sink. `acked_seq` only moves when the receiver's acknowledgement is
-- recorded (`export --sink NAME --ack`); `pending_seq` is the end of the batch last written
-- and not yet acknowledged. A crash in between re-sends from `acked_seq + 1`: duplicates,
-- never gaps. Bookkeeping, not evidence: the chain itself is what receivers verify.
CREATE TABLE export_cursor (
    sink         TEXT    PRIMARY KEY,
    acked_seq    INTEGER NOT NULL CHECK (acked_seq >= 0),
    acked_hash   BLOB    CHECK (acked_hash IS NULL OR length(acked_hash) = 32),
    pending_seq  INTEGER CHECK (pending_seq IS NULL OR pending_seq >= acked_seq),
    updated_ns   INTEGER NOT NULL
) STRICT;
