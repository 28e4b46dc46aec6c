#!/usr/bin/env python3
"""Reference verifier for hookledger ledgers, written only from schema/LEDGER-FORMAT.md.

Usage: verify_ledger.py LEDGER.db   (needs `pip install blake3 cryptography`)
Exit 0 intact, 1 broken (first bad seq printed), 2 could not run.
"""
import json
import sqlite3
import struct
import sys

try:
    from blake3 import blake3
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError as e:
    print(f"verify_ledger.py: {e} (pip install blake3 cryptography)", file=sys.stderr)
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


def checkpoint_claim(payload, public_key, ledger_id):
    """The (seq, head) a checkpoint validly signs, or None."""
    try:
        body = json.loads(payload)
        text = body["signed"]
        lines = text.split("\n")
        if lines[0] != "hookledger/checkpoint/v1" or lines[1] != f"ledger {ledger_id.hex()}":
            return None
        seq = int(lines[2].removeprefix("seq "))
        head = bytes.fromhex(lines[3].removeprefix("head "))
        if body["covers"]["seq"] != seq or body["covers"]["head"] != head.hex():
            return None
        public_key.verify(bytes.fromhex(body["signature"]["value"]), text.encode("utf-8"))
        return seq, head
    except (InvalidSignature, KeyError, ValueError, IndexError, TypeError, AttributeError):
        return None


def main(path):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        (app_id,) = db.execute("PRAGMA application_id").fetchone()
        if app_id != 0x484B4C31:
            print(f"{path}: not a hookledger ledger", file=sys.stderr)
            return 2
        (ledger_id,) = db.execute("SELECT ledger_id FROM ledger_meta WHERE singleton = 1").fetchone()
        pruned = {}
        for (payload,) in db.execute("SELECT payload FROM records WHERE kind = 'prune'"):
            try:
                claim = json.loads(bytes(payload))
                pruned[claim["first_seq"]] = (claim["last_seq"], claim["anchor_seq"])
            except (ValueError, KeyError, TypeError):
                pass
        rows = db.execute("SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records ORDER BY seq")
    except sqlite3.Error as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 2
    expected, prev, public_key = 1, ZERO, None
    for seq, ts_ns, kind, payload, prev_hash, stored in rows:
        payload = bytes(payload)
        if frame_hash(ledger_id, seq, ts_ns, prev_hash, kind, payload) != stored:
            print(f"BROKEN at seq {seq}: hash does not match contents")
            return 1
        if seq != expected:
            last, anchor = pruned.get(expected, (None, None))
            claim = checkpoint_claim(payload, public_key, ledger_id) if kind == "checkpoint" else None
            if last != seq - 1 or anchor != seq or claim != (seq - 1, prev_hash):
                print(f"BROKEN at seq {expected}: missing record(s)")
                return 1
        elif prev_hash != prev:
            print(f"BROKEN at seq {seq}: prev_hash does not match record {seq - 1}")
            return 1
        if seq == 1:
            genesis = json.loads(payload)
            if kind != "genesis" or prev_hash != ZERO or genesis.get("ledger_id") != ledger_id.hex():
                print("BROKEN at seq 1: bad genesis record")
                return 1
            public_key = Ed25519PublicKey.from_public_bytes(
                bytes.fromhex(genesis["signing_key"]["public_key"]))
        if kind == "checkpoint":
            claim = checkpoint_claim(payload, public_key, ledger_id)
            covered = claim and db.execute(
                "SELECT hash FROM records WHERE seq = ?", (claim[0],)).fetchone()
            if claim is None or claim[0] >= seq or (covered and covered[0] != claim[1]):
                print(f"BROKEN at seq {seq}: checkpoint signature or claim does not hold")
                return 1
        expected, prev = seq + 1, stored
    print(f"OK {expected - 1} records, head {prev.hex()}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
