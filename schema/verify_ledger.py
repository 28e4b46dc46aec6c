#!/usr/bin/env python3
"""Reference verifier for hookledger ledgers, written only from schema/LEDGER-FORMAT.md.

Usage: verify_ledger.py LEDGER.db   (needs `pip install blake3`)
Exit 0 intact, 1 broken (first bad seq printed), 2 could not run.
"""
import json
import sqlite3
import struct
import sys

try:
    from blake3 import blake3
except ImportError:
    print("verify_ledger.py: needs the blake3 module (pip install blake3)", file=sys.stderr)
    sys.exit(2)

TAG = b"HKLREC01"
ZERO = bytes(32)


def frame_hash(ledger_id, seq, ts_ns, prev_hash, kind, payload):
    kind_bytes = kind.encode("ascii")
    frame = (
        TAG
        + ledger_id
        + struct.pack(">Q", seq)
        + struct.pack(">q", ts_ns)
        + prev_hash
        + struct.pack(">H", len(kind_bytes))
        + kind_bytes
        + struct.pack(">I", len(payload))
        + payload
    )
    return blake3(frame).digest()


def main(path):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        (app_id,) = db.execute("PRAGMA application_id").fetchone()
        if app_id != 0x484B4C31:
            print(f"{path}: not a hookledger ledger", file=sys.stderr)
            return 2
        (ledger_id,) = db.execute("SELECT ledger_id FROM ledger_meta WHERE singleton = 1").fetchone()
        rows = db.execute("SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records ORDER BY seq")
    except sqlite3.Error as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 2
    expected, prev = 1, ZERO
    for seq, ts_ns, kind, payload, prev_hash, stored in rows:
        payload = bytes(payload)
        if seq != expected:
            print(f"BROKEN at seq {expected}: missing record(s)")
            return 1
        if seq == 1:
            genesis = json.loads(payload)
            if kind != "genesis" or prev_hash != ZERO or genesis.get("ledger_id") != ledger_id.hex():
                print("BROKEN at seq 1: bad genesis record")
                return 1
        if prev_hash != prev:
            print(f"BROKEN at seq {seq}: prev_hash does not match record {seq - 1}")
            return 1
        if frame_hash(ledger_id, seq, ts_ns, prev_hash, kind, payload) != stored:
            print(f"BROKEN at seq {seq}: hash does not match contents")
            return 1
        expected, prev = seq + 1, stored
    print(f"OK {expected - 1} records, head {prev.hex()}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
