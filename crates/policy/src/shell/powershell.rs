//! The `PowerShell` tool. No Rust parser for PowerShell was found fit for a security gate
//! (see `docs/bash-parser-choice.md`), so only a few read-only cmdlets with literal
//! arguments are understood; anything else is unanalyzable.

use std::path::Path;

use super::{Analysis, PathAccess};
use crate::paths;
use crate::target::Access;
use crate::world::World;

/// Cmdlets (and their aliases) that only read the paths they are given.
const READERS: &[&str] = &[
    "get-childitem",
    "gci",
    "ls",
    "dir",
    "get-content",
    "gc",
    "cat",
    "type",
    "get-item",
    "gi",
    "test-path",
    "get-itemproperty",
    "gp",
    "select-string",
    "sls",
    "resolve-path",
    "rvpa",
    "get-filehash",
    "measure-object",
    "get-acl",
];
/// Cmdlets that name no path.
const NEUTRAL: &[&str] = &[
    "get-location",
    "gl",
    "pwd",
    "get-date",
    "get-process",
    "ps",
    "write-output",
    "echo",
    "write-host",
    "get-command",
    "gcm",
    "get-help",
    "get-variable",
    "get-host",
];

pub fn analyze(command: &str, cwd: &Path, home: Option<&Path>, world: &dyn World) -> Analysis {
    let mut out = Analysis::default();
    let trimmed = command.trim();
    if trimmed.chars().any(|c| {
        matches!(
            c,
            ';' | '|'
                | '&'
                | '$'
                | '('
                | ')'
                | '{'
                | '}'
                | '`'
                | '@'
                | '>'
                | '<'
                | '\n'
                | '"'
                | '['
                | ']'
                | '%'
        )
    }) {
        out.opaque_beyond_reads = true;
        out.unanalyzable.push(
            "PowerShell commands with pipelines, variables, subexpressions or redirections are not analysed".into(),
        );
        return out;
    }
    let words = match split_words(trimmed) {
        Some(w) if !w.is_empty() => w,
        _ => {
            out.opaque_beyond_reads = true;
            out.unanalyzable
                .push("a PowerShell command that cannot be read".into());
            return out;
        }
    };
    let cmdlet = words[0].to_ascii_lowercase();
    if NEUTRAL.contains(&cmdlet.as_str()) {
        return out;
    }
    if !READERS.contains(&cmdlet.as_str()) {
        out.opaque_beyond_reads = true;
        out.unanalyzable.push(format!(
            "the PowerShell cmdlet {} is not one hookledger analyses",
            words[0]
        ));
        return out;
    }
    let mut i = 1;
    let mut any_path = false;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if let Some(param) = w.strip_prefix('-') {
            let param = param.to_ascii_lowercase();
            if matches!(param.as_str(), "path" | "literalpath" | "lp" | "pspath") {
                if let Some(p) = words.get(i) {
                    push(&mut out, p, cwd, home, world);
                    any_path = true;
                }
                i += 1;
            } else if matches!(
                param.as_str(),
                "pattern"
                    | "filter"
                    | "include"
                    | "exclude"
                    | "encoding"
                    | "first"
                    | "last"
                    | "tail"
                    | "totalcount"
                    | "head"
                    | "algorithm"
                    | "depth"
                    | "delimiter"
                    | "readcount"
            ) {
                i += 1;
            }
            continue;
        }
        if cmdlet == "select-string" || cmdlet == "sls" {
            // The first positional argument is the pattern.
            if !any_path
                && words[1..i - 1]
                    .iter()
                    .all(|x| !x.eq_ignore_ascii_case("-pattern"))
            {
                any_path = true;
                continue;
            }
        }
        push(&mut out, w, cwd, home, world);
        any_path = true;
    }
    if !any_path && matches!(cmdlet.as_str(), "get-childitem" | "gci" | "ls" | "dir") {
        out.accesses.push(PathAccess::new(
            paths::resolve_in(".", cwd, home, world),
            Access::Read,
            true,
            false,
        ));
    }
    out
}

fn push(out: &mut Analysis, raw: &str, cwd: &Path, home: Option<&Path>, world: &dyn World) {
    if raw.contains(['*', '?']) {
        let dir = raw.rsplit_once(['/', '\\']).map_or(".", |(d, _)| d);
        out.accesses.push(PathAccess::new(
            paths::resolve_in(dir, cwd, home, world),
            Access::Read,
            true,
            false,
        ));
        return;
    }
    out.accesses.push(PathAccess::new(
        paths::resolve_in(&raw.replace('\\', "/"), cwd, home, world),
        Access::Read,
        false,
        false,
    ));
}

/// Whitespace-separated words with single-quoted strings (`''` is a quote inside one).
fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            current.push('\'');
                        }
                        '\'' => break,
                        other => current.push(other),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                current.push(other);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Some(words)
}
