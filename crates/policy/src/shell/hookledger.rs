//! hookledger's own command line run by the agent: which invocations only read, and which
//! change hookledger's state (its hook registrations, git shims, export cursors, the ledger),
//! which no tool may do. A report made by the agent must never pass for a human review, so
//! `report` is refused too; so is anything whose subcommand is only known at run time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::words::Field;

/// What running hookledger with some arguments does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Reads only (log, show, verify, doctor, help …).
    ReadOnly,
    /// Writes files into a directory it is given (`man --out-dir DIR`).
    WritesInto(Field),
    /// Changes hookledger's state: the subcommand as written, and why that matters.
    Changes(String, &'static str),
}

const WHY_STATE: &str = "it changes hookledger's own hooks, settings, cursors or ledger";
const WHY_REPORT: &str = "a report made by the agent would count as a human review of the period";
const WHY_HOOK: &str = "it appends records of the agent's choosing to the ledger";
const WHY_UNKNOWN: &str = "hookledger cannot tell which subcommand it runs";

/// Subcommands that change state: a cheap test before looking a program up on `PATH`.
pub const STATE_SUBCOMMANDS: &[&str] = &[
    "install",
    "uninstall",
    "git",
    "export",
    "ship",
    "prune",
    "checkpoint",
    "report",
    "hook",
];

/// Classifies hookledger's arguments (everything after the program name).
pub fn classify(args: &[Field]) -> Effect {
    let mut positional: Vec<&Field> = Vec::new();
    let mut flags: Vec<&str> = Vec::new();
    let mut dynamic = false;
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        match arg.lit() {
            None => {
                dynamic = true;
                positional.push(arg);
            }
            Some("--") if !only_operands => only_operands = true,
            // The global option, anywhere on the line.
            Some("--ledger") if !only_operands => i += 1,
            Some(t) if !only_operands && t.starts_with("--ledger=") => {}
            Some(t) if !only_operands && t.starts_with('-') && t.len() > 1 => flags.push(t),
            Some(_) => positional.push(arg),
        }
    }
    let sub = match positional.first() {
        None => return Effect::ReadOnly,
        Some(f) => match f.lit() {
            Some(s) => s,
            None => return Effect::Changes("<computed>".into(), WHY_UNKNOWN),
        },
    };
    let help = flags.iter().any(|f| *f == "--help" || *f == "-h");
    if help && sub != "hook" {
        return Effect::ReadOnly;
    }
    let second = positional.get(1).map(|f| f.lit());
    let changes = |what: String, why| Effect::Changes(what, why);
    match sub {
        "log" | "show" | "verify" | "verify-export" | "doctor" | "blame" | "completions"
        | "help" => Effect::ReadOnly,
        "policy" => match second {
            None | Some(Some("check" | "explain" | "help")) => Effect::ReadOnly,
            Some(Some(other)) => changes(format!("policy {other}"), WHY_UNKNOWN),
            Some(None) => changes("policy <computed>".into(), WHY_UNKNOWN),
        },
        "git" => match second {
            None | Some(Some("status" | "verify" | "help")) => Effect::ReadOnly,
            Some(Some(other)) => changes(format!("git {other}"), WHY_STATE),
            Some(None) => changes("git <computed>".into(), WHY_UNKNOWN),
        },
        "man" => {
            if dynamic {
                return changes("man <computed>".into(), WHY_UNKNOWN);
            }
            out_dir(args).map_or(Effect::ReadOnly, Effect::WritesInto)
        }
        "export" => {
            let sink = flags.iter().any(|f| {
                ["--sink", "--ack", "--through", "--output", "--rotate"]
                    .iter()
                    .any(|o| f == o || f.starts_with(&format!("{o}=")))
                    || (f.starts_with("-o") && !f.starts_with("--"))
            });
            if sink || dynamic {
                changes("export --sink/--ack/-o/--rotate".into(), WHY_STATE)
            } else {
                Effect::ReadOnly
            }
        }
        "report" => changes("report".into(), WHY_REPORT),
        "hook" => changes("hook".into(), WHY_HOOK),
        "install" | "uninstall" | "ship" | "prune" | "checkpoint" => {
            changes(sub.to_owned(), WHY_STATE)
        }
        other => changes(other.to_owned(), WHY_UNKNOWN),
    }
}

fn out_dir(args: &[Field]) -> Option<Field> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.lit() {
            Some("--out-dir") => return iter.next().cloned(),
            Some(t) if t.starts_with("--out-dir=") => {
                return Some(Field::Lit {
                    text: t["--out-dir=".len()..].to_owned(),
                    glob: None,
                });
            }
            _ => {}
        }
    }
    None
}

/// The running hookledger binary, to recognise it under another name or path.
#[derive(Debug)]
pub struct Binary {
    pub path: PathBuf,
    id: Option<(u64, u64)>,
    size: u64,
}

/// The binary this process runs (the hook, or `policy explain`).
pub fn running_binary() -> Option<&'static Binary> {
    static BINARY: OnceLock<Option<Binary>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().ok()?;
            let path = std::fs::canonicalize(&exe).unwrap_or(exe);
            let meta = std::fs::metadata(&path).ok()?;
            Some(Binary {
                id: identity(&meta),
                size: meta.len(),
                path,
            })
        })
        .as_ref()
}

/// Whether the file at `path` (resolved physically) is the running binary: the same path, the
/// same file (a hard link), or a byte-identical copy.
pub fn is_running_binary(path: &Path) -> bool {
    let Some(binary) = running_binary() else {
        return false;
    };
    if path == binary.path {
        return true;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() != binary.size {
        return false;
    }
    if identity(&meta).is_some() && identity(&meta) == binary.id {
        return true;
    }
    same_bytes(path, &binary.path)
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 1 << 16];
    let mut bb = vec![0u8; 1 << 16];
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        match (na, nb) {
            (Some(0), Some(0)) => return true,
            (Some(x), Some(y)) if x == y && ba[..x] == bb[..y] => continue,
            _ => return false,
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> Option<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(_) => return None,
        }
    }
    Some(filled)
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Field> {
        words
            .iter()
            .map(|w| Field::Lit {
                text: (*w).to_owned(),
                glob: None,
            })
            .collect()
    }

    fn refused(words: &[&str]) -> bool {
        matches!(classify(&args(words)), Effect::Changes(..))
    }

    #[test]
    fn state_changing_subcommands_are_told_apart() {
        for line in [
            &["uninstall"][..],
            &["install", "--managed"],
            &["--ledger", "x.db", "uninstall"],
            &["git", "uninstall"],
            &["git", "install", "--repo", "."],
            &["git", "post-commit"],
            &["git", "carry", "--from", "a..b", "c"],
            &["export", "--sink", "siem", "--ack", "--through", "9"],
            &["export", "-o", "out.ndjson"],
            &["export", "--rotate=dir"],
            &["ship", "--url", "https://x"],
            &["prune", "--before", "90d", "--dry-run"],
            &["checkpoint"],
            &["report", "-o", "r.html"],
            &["hook", "--event", "PreToolUse"],
            &["hook", "--help"],
            &["policy", "edit"],
            &["frobnicate"],
        ] {
            assert!(refused(line), "{line:?} must be refused");
        }
        for line in [
            &[][..],
            &["log", "--decision", "deny"],
            &["--ledger=x.db", "verify", "--json"],
            &["show", "3"],
            &["verify-export", "dir/"],
            &[
                "policy",
                "explain",
                "--tool",
                "Bash",
                "--command",
                "uninstall",
            ],
            &["policy", "check"],
            &["doctor", "--json"],
            &["blame", "src/x.rs"],
            &["git", "status"],
            &["git", "verify", "HEAD~3..HEAD"],
            &["export"],
            &["export", "--format", "ecs"],
            &["--help"],
            &["--version"],
            &["uninstall", "--help"],
            &["completions", "bash"],
            &["man"],
        ] {
            assert!(!refused(line), "{line:?} must stay allowed");
        }
        assert!(matches!(
            classify(&args(&["man", "--out-dir", "/tmp/m"])),
            Effect::WritesInto(_)
        ));
        let computed = vec![Field::Dyn("the variable $X".into())];
        assert!(matches!(classify(&computed), Effect::Changes(..)));
    }
}
