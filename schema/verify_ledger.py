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
import time

try:
    from blake3 import blake3
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError as e:
    print(f"verify_ledger.py: {e} (pip install blake3 cryptography)", file=sys.stderr)
    sys.exit(2)

TAG = b"HKLREC01"
ZERO = bytes(32)
# A checkpoint signed more than this after the verifier's clock is implausible.
CLOCK_SKEW_NS = 300 * 10**9
BAD_JSON = (ValueError, KeyError, IndexError, TypeError, AttributeError, UnicodeError)


def frame_hash(ledger_id, seq, ts_ns, prev_hash, kind, payload):
    frame = (
        TAG
        + ledger_id
        + struct.pack(">Q", seq)
        + struct.pack(">q", ts_ns)
        + prev_hash
        + struct.pack(">H", len(kind))
        + kind
        + struct.pack(">I", len(payload))
        + payload
    )
    return blake3(frame).digest()


def signed_text(body, public_key):
    """The `signed` text of a checkpoint or prune payload whose signature verifies, or None."""
    if public_key is None:
        return None
    try:
        text = body["signed"]
        claimed = body["signature"].get("public_key")
        if claimed is not None and claimed != public_key[1]:
            return None
        public_key[0].verify(bytes.fromhex(body["signature"]["value"]), text.encode("utf-8"))
        return text
    except (InvalidSignature,) + BAD_JSON:
        return None


def checkpoint_claim(payload, public_key, ledger_id):
    """The (seq, head, time_ns) a checkpoint validly signs, or None."""
    try:
        body = json.loads(payload)
        text = signed_text(body, public_key)
        lines = text.split("\n")
        if lines[0] != "hookledger/checkpoint/v1" or lines[1] != f"ledger {ledger_id.hex()}":
            return None
        seq = int(lines[2].removeprefix("seq "))
        head = bytes.fromhex(lines[3].removeprefix("head "))
        time_ns = int(lines[4].removeprefix("time "))
        if body["covers"]["seq"] != seq or body["covers"]["head"] != head.hex():
            return None
        return seq, head, time_ns
    except BAD_JSON:
        return None


def prune_statement(payload, public_key, ledger_id):
    """(first, last, head, anchor, anchor_hash) a prune record validly signs, or None."""
    try:
        body = json.loads(payload)
        text = signed_text(body, public_key)
        names = ["ledger", "first", "last", "head", "anchor", "anchor-hash", "time"]
        lines = text.split("\n")
        if lines[0] != "hookledger/prune/v1" or len(lines) != len(names) + 2 or lines[-1] != "":
            return None
        fields = {}
        for name, line in zip(names, lines[1:]):
            if not line.startswith(name + " "):
                return None
            fields[name] = line[len(name) + 1:]
        first, last, anchor = int(fields["first"]), int(fields["last"]), int(fields["anchor"])
        head, anchor_hash = bytes.fromhex(fields["head"]), bytes.fromhex(fields["anchor-hash"])
        rendered = (f"hookledger/prune/v1\nledger {ledger_id.hex()}\nfirst {first}\nlast {last}\n"
                    f"head {head.hex()}\nanchor {anchor}\nanchor-hash {anchor_hash.hex()}\n"
                    f"time {int(fields['time'])}\n")
        if (text != rendered or len(head) != 32 or len(anchor_hash) != 32
                or (body["first_seq"], body["last_seq"], body["anchor_seq"]) != (first, last, anchor)
                or first < 2 or last < first or anchor != last + 1):
            return None
        return first, last, head, anchor, anchor_hash
    except BAD_JSON:
        return None


def claimed_range(payload):
    try:
        body = json.loads(payload)
        return body["first_seq"], body["last_seq"], body["anchor_seq"]
    except BAD_JSON:
        return None


def covering(statements, first, last):
    """Valid statements that together removed exactly first..last (back to back), or None."""
    chain = []
    while len(chain) <= len(statements):
        fitting = [s for s in statements if s[0] == first and s[1] <= last]
        if not fitting:
            return None
        step = max(fitting, key=lambda s: s[1])
        chain.append(step)
        if step[1] == last:
            return chain
        first = step[1] + 1
    return None


def main(path):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        # Kinds are hashed as the bytes stored; never decode them (a kind need not be ASCII).
        db.text_factory = bytes
        (app_id,) = db.execute("PRAGMA application_id").fetchone()
        if app_id != 0x484B4C31:
            print(f"{path}: not a hookledger ledger", file=sys.stderr)
            return 2
        (ledger_id,) = db.execute("SELECT ledger_id FROM ledger_meta WHERE singleton = 1").fetchone()
        genesis = db.execute("SELECT payload FROM records WHERE seq = 1").fetchone()
        public_key = None
        try:
            hex_key = json.loads(bytes(genesis[0]))["signing_key"]["public_key"]
            public_key = (Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key)), hex_key)
        except BAD_JSON:
            pass
        prunes = db.execute("SELECT seq, payload FROM records WHERE kind = 'prune' ORDER BY seq").fetchall()
        rows = db.execute("SELECT seq, ts_ns, kind, payload, prev_hash, hash FROM records ORDER BY seq")
    except sqlite3.Error as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 2
    # Only a prune statement signed with the ledger's key excuses a gap.
    statements, unsigned = [], []
    for seq, payload in prunes:
        statement = prune_statement(bytes(payload), public_key, ledger_id)
        if statement is not None and seq > statement[3]:
            statements.append(statement)
        else:
            unsigned.append((seq, claimed_range(bytes(payload))))
    # Unsigned ones excuse nothing (a forgery, or a release before signed prunes), unless a valid
    # statement restates exactly their range.
    bad_prunes = {seq: claimed for seq, claimed in unsigned
                  if not any(s[:2] + (s[3],) == claimed for s in statements)}
    now_ns = time.time_ns()
    expected, prev = 1, ZERO
    for seq, ts_ns, kind, payload, prev_hash, stored in rows:
        try:
            payload, kind = bytes(payload), bytes(kind)
            intact = frame_hash(ledger_id, seq, ts_ns, prev_hash, kind, payload) == stored
        except (TypeError, ValueError, struct.error):
            intact = False
        if not intact:
            print(f"BROKEN at seq {seq}: hash does not match contents")
            return 1
        claim = checkpoint_claim(payload, public_key, ledger_id) if kind == b"checkpoint" else None
        if seq != expected:
            chain = covering(statements, expected, seq - 1)
            last = chain[-1] if chain else None
            if (last is None or last[3] != seq or last[2] != prev_hash or last[4] != stored
                    or claim is None or claim[:2] != (seq - 1, prev_hash)):
                claimed = any(c and c[0] == expected for c in bad_prunes.values())
                print(f"BROKEN at seq {expected}: missing record(s)"
                      + (" (an unsigned prune record claims them)" if claimed else ""))
                return 1
        elif prev_hash != prev:
            print(f"BROKEN at seq {seq}: prev_hash does not match record {seq - 1}")
            return 1
        if seq == 1:
            try:
                stated = json.loads(payload).get("ledger_id")
            except BAD_JSON:
                stated = None
            if kind != b"genesis" or prev_hash != ZERO or stated != ledger_id.hex():
                print("BROKEN at seq 1: bad genesis record")
                return 1
        if seq in bad_prunes:
            print(f"BROKEN at seq {seq}: prune record is not a statement signed with the ledger key")
            return 1
        if kind == b"checkpoint":
            covered = claim and db.execute(
                "SELECT hash FROM records WHERE seq = ?", (claim[0],)).fetchone()
            if claim is None or claim[0] >= seq or (covered and covered[0] != claim[1]):
                print(f"BROKEN at seq {seq}: checkpoint signature or claim does not hold")
                return 1
            if claim[2] > now_ns + CLOCK_SKEW_NS:
                print(f"BROKEN at seq {seq}: checkpoint is dated after this machine's clock")
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
