#!/usr/bin/env python3
"""Reference verifier for hookledger ledgers, written only from schema/LEDGER-FORMAT.md.

Usage: verify_ledger.py LEDGER.db [--spool-keys KEYDIR]   (needs `pip install blake3 cryptography`)
With --spool-keys (the ledger's keys/ directory), also checks the MAC of every line waiting in
the spool (LEDGER.spool.d/ and LEDGER.spool).
Exit 0 intact, 1 broken (first bad seq printed) or a spool line fails its MAC, 2 could not run.
"""
import json
import os
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
    kind_bytes = kind.encode("utf-8", "surrogateescape")
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
        # Kinds are framed as their UTF-8 bytes; keep whatever bytes are stored, exactly.
        db.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
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


SPOOL_MAC_CONTEXT = "hookledger 2026-12-01 spool entry MAC v2"


def spool_lines(ledger_path):
    """(file name, line bytes) of every line waiting in the spool, files in name order."""
    base = os.path.splitext(ledger_path)[0]
    files = []
    spool_dir = base + ".spool.d"
    if os.path.isdir(spool_dir):
        files = [os.path.join(spool_dir, n) for n in sorted(os.listdir(spool_dir))]
    if os.path.isfile(base + ".spool"):
        files.append(base + ".spool")
    for path in files:
        if not os.path.isfile(path) or os.path.islink(path):
            yield os.path.basename(path), None
            continue
        name = os.path.basename(path)
        offset = int(name.rsplit("@", 1)[1]) if "@" in name and name.rsplit("@", 1)[1].isdigit() else 0
        with open(path, "rb") as f:
            f.seek(offset)
            for line in f:
                if line.strip():
                    yield name, line


def check_spool(ledger_path, key_dir):
    """Counts spool lines by what a merge would make of them; returns the number failing their MAC."""
    try:
        with open(os.path.join(key_dir, "spool.key"), "rb") as f:
            key = blake3(bytes.fromhex(f.read().decode("ascii").strip()), derive_key_context=SPOOL_MAC_CONTEXT).digest()
    except (OSError, ValueError) as e:
        print(f"spool: no spool key ({e}): lines cannot be authenticated")
        key = None
    counts = {"authenticated": 0, "bad-mac": 0, "unauthenticated": 0, "rejected": 0}
    for name, line in spool_lines(ledger_path):
        if line is None or not line.endswith(b"\n") or len(line) - 1 > 16 << 20:
            counts["rejected"] += 1
            continue
        line = line[:-1]
        if line.startswith(b"HLS2 "):
            mac, _, body = line[5:].partition(b" ")
            if mac == b"-" or key is None:
                counts["unauthenticated"] += 1
            elif blake3(body, key=key).hexdigest().encode("ascii") == mac:
                counts["authenticated"] += 1
            else:
                counts["bad-mac"] += 1
                print(f"SPOOL line in {name} fails its MAC (blake3 {blake3(line).hexdigest()})")
        elif len(line) > 65 and line[64:65] == b" " and blake3(line[65:]).hexdigest().encode("ascii") == line[:64]:
            counts["unauthenticated"] += 1
        else:
            counts["rejected"] += 1
    print("spool: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return counts["bad-mac"]


if __name__ == "__main__":
    args = sys.argv[1:]
    keys = None
    if len(args) == 3 and args[1] == "--spool-keys":
        keys = args[2]
        args = args[:1]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    status = main(args[0])
    if keys is not None and status != 2 and check_spool(args[0], keys) > 0:
        status = 1
    sys.exit(status)
