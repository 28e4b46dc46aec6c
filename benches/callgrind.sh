#!/bin/sh
# Instructions of one hook process per event (valgrind's callgrind), for the four payloads the
# hook_latency bench uses (Claude Code 2.1.328: UserPromptSubmit, PreToolUse Edit, PostToolUse
# Edit, PreToolUse Bash), against a ledger made by one earlier run. Deterministic where wall
# time on a shared machine is not: compare two builds with it.
#   benches/callgrind.sh target/release/hookledger [payloads.jsonl]
set -eu
bin=$(realpath "$1")
payloads=${2:-/work/shared/reference/claude-code-2.1.328-payloads.jsonl}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
proj="$work/proj"
mkdir -p "$proj/.git" "$proj/src"
printf 'ref: refs/heads/main\n' > "$proj/.git/HEAD"
export HOOKLEDGER_HOME="$work/hl" HOOKLEDGER_MANAGED_DIR="$work/managed"
mkdir -p "$HOOKLEDGER_MANAGED_DIR"
# The payloads name /home/dev/proj; point them at the fixture (the edited file exists there).
sed "s#/home/dev/proj#$proj#g; s#/home/dev/.claude#$work/claude#g" "$payloads" > "$work/p.jsonl"
python3 - "$work/p.jsonl" "$proj" <<'PY'
import json, sys, os
for line in open(sys.argv[1]):
    d = json.loads(line)
    f = d.get("tool_input", {}).get("file_path")
    if f and f.startswith(sys.argv[2]):
        os.makedirs(os.path.dirname(f), exist_ok=True)
        open(f, "w").write("fn main() {\n    println!(\"hello, world\");\n}\n")
PY
sed -n 1p "$work/p.jsonl" | "$bin" hook --event SessionStart > /dev/null
for n in 2 3 4 5; do
    line=$(sed -n "${n}p" "$work/p.jsonl")
    event=$(printf '%s' "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["hook_event_name"], d.get("tool_name") or "")')
    printf '%s' "$line" | valgrind --tool=callgrind --callgrind-out-file="$work/cg.$n" \
        "$bin" hook --event "${event%% *}" > /dev/null 2> "$work/vg.$n" || true
    ir=$(grep -m1 '^summary:' "$work/cg.$n" | awk '{print $2}')
    printf '%-28s %s\n' "$event" "$ir"
done
