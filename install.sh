#!/bin/sh
# hookledger installer (POSIX sh; Linux and macOS; Windows: see docs/deployment.md).
#
# Builds a release binary (or takes one with --binary), installs it, and registers its hooks
# in Claude Code's settings through `hookledger install`, which merges, backs up, and changes
# nothing on a second run. Safe to re-run for upgrades: the binary is replaced by a rename, so
# a hook running the old one finishes undisturbed.
set -eu

SCOPE=user
PREFIX=""
ROOT=""
BINARY=""
SETTINGS=""
LOCK_HOOKS=0
SANDBOX=0
SKILL_SHELL=0
MANAGED_FILE=0
REGISTER=1
UNINSTALL=0

usage() {
    cat <<'USAGE'
usage: ./install.sh [--user | --managed] [options]

  --user            install for this user (default): ~/.local/bin/hookledger, hooks in
                    ~/.claude/settings.json (or $CLAUDE_CONFIG_DIR/settings.json)
  --managed         install for every user (run as root): /usr/local/bin/hookledger, hooks in
                    Claude Code's managed settings (a managed-settings.d drop-in), and a
                    record-only managed policy if none exists
  --lock-hooks      with --managed: only managed hooks and mods run, no side-loaded or
                    command-sourced plugins (allowManagedHooksOnly, allowManagedModsOnly,
                    disableSideloadFlags, disableCommandPluginSources)
  --sandbox         with --managed: turn on Claude Code's OS sandbox for Bash with no way out,
                    the managed policy's path rules and hookledger's self-protection compiled
                    into it (needs bubblewrap and socat on Linux; see docs/deployment.md)
  --disable-skill-shell
                    with --managed: skills' inline `!` commands become placeholders (for
                    Claude Code older than 2.1.332, where they reach no hook)
  --managed-file    with --managed: merge into managed-settings.json instead of a drop-in
  --prefix DIR      install the binary to DIR/bin (default ~/.local, or /usr/local with --managed)
  --root DIR        with --managed: treat DIR as the filesystem root for every system path
                    (tests, trying a layout; the hooks registered there run DIR/usr/local/bin/hookledger)
  --binary FILE     install this prebuilt hookledger instead of building one with cargo
  --settings FILE   the Claude Code settings file to register hooks in (user installs)
  --no-register     install the binary only; leave Claude Code's settings alone
  --uninstall       remove the hook registrations and the binary (the ledger is kept)
  -h, --help        show this help
USAGE
}

die() {
    echo "install.sh: $*" >&2
    exit 1
}

need_value() {
    [ $# -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --user) SCOPE=user; shift ;;
        --managed) SCOPE=managed; shift ;;
        --lock-hooks) LOCK_HOOKS=1; shift ;;
        --sandbox) SANDBOX=1; shift ;;
        --disable-skill-shell) SKILL_SHELL=1; shift ;;
        --managed-file) MANAGED_FILE=1; shift ;;
        --prefix) need_value "$@"; PREFIX="$2"; shift 2 ;;
        --prefix=*) PREFIX="${1#*=}"; shift ;;
        --root) need_value "$@"; ROOT="$2"; shift 2 ;;
        --root=*) ROOT="${1#*=}"; shift ;;
        --binary) need_value "$@"; BINARY="$2"; shift 2 ;;
        --binary=*) BINARY="${1#*=}"; shift ;;
        --settings) need_value "$@"; SETTINGS="$2"; shift 2 ;;
        --settings=*) SETTINGS="${1#*=}"; shift ;;
        --no-register) REGISTER=0; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

case "$(uname -s 2>/dev/null || echo unknown)" in
    MINGW*|MSYS*|CYGWIN*|Windows*)
        die "on Windows, follow the PowerShell steps in docs/deployment.md" ;;
esac

absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

if [ "$SCOPE" = managed ]; then
    [ -z "$SETTINGS" ] || die "--settings is for user installs; --managed writes Claude Code's managed settings"
    [ -n "$PREFIX" ] || PREFIX=/usr/local
    if [ -n "$ROOT" ]; then
        ROOT="$(absolute "$ROOT")"
    elif [ "$(id -u)" != 0 ]; then
        die "--managed writes system files: run it as root (sudo ./install.sh --managed)"
    fi
else
    [ "$LOCK_HOOKS" = 0 ] || die "--lock-hooks needs --managed: Claude Code reads allowManagedHooksOnly only from managed settings"
    [ "$SANDBOX" = 0 ] || die "--sandbox needs --managed: a sandbox in user settings is the user's to turn off"
    [ "$SKILL_SHELL" = 0 ] || die "--disable-skill-shell needs --managed"
    [ "$MANAGED_FILE" = 0 ] || die "--managed-file needs --managed"
    [ -z "$ROOT" ] || die "--root needs --managed"
    if [ -z "$PREFIX" ]; then
        [ -n "${HOME:-}" ] || die "HOME is not set; pass --prefix"
        PREFIX="$HOME/.local"
    fi
fi
PREFIX="$(absolute "$PREFIX")"
BIN_DIR="$ROOT$PREFIX/bin"
BIN="$BIN_DIR/hookledger"

# Runs `hookledger install|uninstall` with this script's target options.
register() {
    hookledger="$1"
    action="$2"
    shift 2
    if [ "$SCOPE" = managed ]; then
        set -- "$@" --managed
        [ -z "$ROOT" ] || set -- "$@" --root "$ROOT"
        [ "$MANAGED_FILE" = 0 ] || set -- "$@" --managed-file
    elif [ -n "$SETTINGS" ]; then
        set -- "$@" --settings "$SETTINGS"
    fi
    "$hookledger" "$action" "$@"
}

if [ "$UNINSTALL" = 1 ]; then
    if [ -x "$BIN" ]; then
        HOOKLEDGER="$BIN"
    elif [ -n "$BINARY" ] && [ -x "$BINARY" ]; then
        HOOKLEDGER="$(absolute "$BINARY")"
    else
        die "$BIN is not installed; pass --binary with a hookledger to unregister the hooks with"
    fi
    if [ "$REGISTER" = 1 ]; then
        register "$HOOKLEDGER" uninstall
    fi
    rm -f "$BIN"
    echo "hookledger: removed $BIN; every ledger (\$HOOKLEDGER_HOME, or the user's data directory) is kept"
    exit 0
fi

if [ -z "$BINARY" ]; then
    command -v cargo >/dev/null 2>&1 || die "building needs the Rust toolchain (cargo, https://rustup.rs), or pass --binary"
    SOURCE="$(cd "$(dirname "$0")" && pwd)"
    (cd "$SOURCE" && cargo build --release --locked)
    BINARY="$SOURCE/target/release/hookledger"
fi
BINARY="$(absolute "$BINARY")"
[ -f "$BINARY" ] || die "$BINARY does not exist"
case "$("$BINARY" --version 2>/dev/null || true)" in
    "hookledger "*) ;;
    *) die "$BINARY is not a hookledger binary that runs here" ;;
esac

mkdir -p "$BIN_DIR" || die "cannot create $BIN_DIR"
if [ -f "$BIN" ] && cmp -s "$BINARY" "$BIN"; then
    echo "hookledger: $BIN is up to date ($("$BIN" --version))"
else
    # Copy beside the target, then rename over it: atomic, and a hook that is running the old
    # binary keeps its file until it exits.
    NEW="$BIN_DIR/.hookledger.new.$$"
    trap 'rm -f "$NEW"' EXIT
    cp "$BINARY" "$NEW"
    chmod 0755 "$NEW"
    "$NEW" --version >/dev/null 2>&1 || die "the copied binary does not run from $BIN_DIR (noexec mount?)"
    mv -f "$NEW" "$BIN"
    trap - EXIT
    echo "hookledger: installed $BIN ($("$BIN" --version))"
fi

if [ "$REGISTER" = 1 ]; then
    set -- install --binary "$BIN"
    [ "$LOCK_HOOKS" = 0 ] || set -- "$@" --lock-hooks
    [ "$SANDBOX" = 0 ] || set -- "$@" --sandbox
    [ "$SKILL_SHELL" = 0 ] || set -- "$@" --disable-skill-shell
    register "$BIN" "$@"
fi

if [ "$SCOPE" = user ]; then
    case ":${PATH}:" in
        *":$PREFIX/bin:"*) ;;
        *) echo "hookledger: note: $PREFIX/bin is not on your PATH" ;;
    esac
fi
echo "hookledger: run \`hookledger doctor\` to check the installation"
