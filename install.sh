#!/bin/sh
# hookledger installer: builds a release binary, installs it, and registers its hooks in
# Claude Code's user settings (merged, with a backup; re-running changes nothing).
set -eu

PREFIX="${HOME}/.local"
SETTINGS=""
REGISTER=1
UNINSTALL=0

usage() {
    cat <<'USAGE'
usage: ./install.sh [--prefix DIR] [--settings FILE] [--no-register] [--uninstall]

  --prefix DIR      install the binary to DIR/bin (default: ~/.local)
  --settings FILE   Claude Code settings file to register hooks in
                    (default: ~/.claude/settings.json, or $CLAUDE_CONFIG_DIR/settings.json)
  --no-register     install the binary only; leave Claude Code's settings alone
  --uninstall       remove the hook registrations and the binary (the ledger is kept)
USAGE
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --prefix=*) PREFIX="${1#*=}"; shift ;;
        --settings) SETTINGS="$2"; shift 2 ;;
        --settings=*) SETTINGS="${1#*=}"; shift ;;
        --no-register) REGISTER=0; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

case "$PREFIX" in
    /*) ;;
    *) PREFIX="$(pwd)/$PREFIX" ;;
esac
BIN="$PREFIX/bin/hookledger"

if [ "$UNINSTALL" = 1 ]; then
    if [ -x "$BIN" ]; then
        if [ -n "$SETTINGS" ]; then "$BIN" uninstall --settings "$SETTINGS"; else "$BIN" uninstall; fi
        rm -f "$BIN"
        echo "hookledger: removed $BIN (the ledger in \$HOOKLEDGER_HOME or ~/.local/share/hookledger is kept)"
    else
        echo "hookledger: $BIN is not installed" >&2
    fi
    exit 0
fi

command -v cargo >/dev/null 2>&1 || {
    echo "install.sh: needs the Rust toolchain (cargo); see https://rustup.rs" >&2
    exit 1
}
cd "$(dirname "$0")"
cargo build --release --locked
mkdir -p "$PREFIX/bin"
# Replace atomically: a hook may be running the old binary right now.
cp target/release/hookledger "$BIN.new"
chmod 0755 "$BIN.new"
mv -f "$BIN.new" "$BIN"
echo "hookledger: installed $BIN ($("$BIN" --version))"

if [ "$REGISTER" = 1 ]; then
    if [ -n "$SETTINGS" ]; then
        "$BIN" install --binary "$BIN" --settings "$SETTINGS"
    else
        "$BIN" install --binary "$BIN"
    fi
fi

case ":${PATH}:" in
    *":$PREFIX/bin:"*) ;;
    *) echo "hookledger: note: $PREFIX/bin is not on your PATH" ;;
esac
