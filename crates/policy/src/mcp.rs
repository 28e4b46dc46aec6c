//! MCP tools: whether a tool reads or writes, and which of its arguments name paths.
//!
//! hookledger cannot know what an MCP server does; it reads the tool's name and its arguments.
//! The name is split into words (`__`, `_`, `-`, `.`, spaces and camelCase), and the words are
//! looked up as verbs: a substring test read `write_spreadsheet` as a read ("read" is in
//! "spreadsheet"). When no verb is known, or the name has verbs of both kinds (`read_and_update`),
//! the tool is judged as both a read and a write of every path it names: the stricter rule wins.
//!
//! Arguments are walked at any depth (bounded): every string that looks like a path is one, and
//! under a key that names a path (`path`, `relative_path`, `outputFile`, arrays under `paths`) a
//! bare name (`.env`) is one too. `file://` URIs are decoded to their path; other URLs and prose
//! are not paths.

use crate::target::Access;
use serde_json::Value;

/// What a tool's name says it does to the paths it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Read,
    Write,
    /// No verb, or verbs of both kinds: judged as a read and as a write.
    Both,
}

impl Class {
    /// The accesses to judge each path as.
    pub fn accesses(self) -> &'static [Access] {
        match self {
            Class::Read => &[Access::Read],
            Class::Write => &[Access::Write],
            Class::Both => &[Access::Read, Access::Write],
        }
    }
}

const READ_VERBS: &[&str] = &[
    "read",
    "get",
    "list",
    "search",
    "fetch",
    "view",
    "show",
    "find",
    "query",
    "stat",
    "cat",
    "head",
    "tail",
    "ls",
    "grep",
    "glob",
    "inspect",
    "describe",
    "lookup",
    "browse",
    "preview",
    "count",
    "diff",
    "check",
    "info",
    "open",
    "load",
    "exists",
    "tree",
    "peek",
    "scan",
    "watch",
    "select",
    "retrieve",
    "resolve",
    "explain",
    "print",
    "summarize",
    "analyze",
];

const WRITE_VERBS: &[&str] = &[
    "write",
    "create",
    "update",
    "edit",
    "delete",
    "remove",
    "move",
    "rename",
    "put",
    "set",
    "save",
    "patch",
    "insert",
    "append",
    "exec",
    "execute",
    "run",
    "push",
    "commit",
    "apply",
    "add",
    "modify",
    "replace",
    "overwrite",
    "truncate",
    "touch",
    "mkdir",
    "rmdir",
    "rm",
    "mv",
    "chmod",
    "chown",
    "unlink",
    "trash",
    "clear",
    "reset",
    "drop",
    "store",
    "post",
    "send",
    "install",
    "uninstall",
    "generate",
    "fix",
    "merge",
    "revert",
    "restore",
    "upsert",
    "change",
    "kill",
    "spawn",
    "eval",
    "shell",
    "bash",
    "invoke",
    "deploy",
    "publish",
    "upload",
    "import",
    "extract",
    "unzip",
    "untar",
    "compress",
    "zip",
    "archive",
    "mutate",
    "submit",
    "assign",
    "symlink",
    "mount",
    "sync",
    "copy",
    "cp",
    "download",
    "export",
    "backup",
    "clone",
    "checkout",
    "pull",
    "fork",
];

/// Verbs that read one path and write another, or move data both ways: judged as both even
/// alone (`download_file(url, path)` writes `path`; `upload(path)` reads it).
const BOTH_VERBS: &[&str] = &[
    "copy", "cp", "download", "upload", "export", "import", "sync", "backup", "clone", "extract",
    "unzip", "untar", "dump", "convert",
];

/// Verbs whose operation takes everything under the path along (`mv`, `rm -r`, `chmod -R`).
pub const WHOLE_ENTRY_VERBS: &[&str] = &[
    "move", "rename", "delete", "remove", "unlink", "trash", "chmod", "chown", "mv", "rm", "rmdir",
];

/// Verbs whose operation reads the whole tree under the path (`search_files`, `grep`,
/// `directory_tree`): rules rooted inside it apply, as for the Grep tool.
const TREE_READ_VERBS: &[&str] = &[
    "search", "grep", "find", "glob", "tree", "walk", "scan", "index", "crawl",
];

/// Whether the name's verbs read the whole tree under the path; see [`TREE_READ_VERBS`].
pub fn names_tree_read(name: &str) -> bool {
    words(tool_part(name))
        .iter()
        .any(|w| is_verb(w, TREE_READ_VERBS))
}

/// The words of a name: split on `_`, `-`, `.`, spaces and other punctuation, and at camelCase
/// boundaries (`readFile` → `read file`, `HTTPGet` → `http get`), lower-cased.
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
                });
            if boundary && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// A word as a verb: itself or without an inflection (`reads`, `writing`, `deleted`).
fn is_verb(word: &str, verbs: &[&str]) -> bool {
    if verbs.contains(&word) {
        return true;
    }
    ["s", "es", "ing", "ed", "d"].iter().any(|suffix| {
        word.strip_suffix(suffix)
            .is_some_and(|stem| stem.len() >= 2 && verbs.contains(&stem))
    })
}

/// The tool part of an MCP tool name (`mcp__server__tool` → `tool`): the server's name is
/// not a verb (`mcp__readwise__…`, `mcp__file-writer__list`).
pub fn tool_part(name: &str) -> &str {
    match name.strip_prefix("mcp__") {
        Some(rest) => rest.split_once("__").map_or(rest, |(_, tool)| tool),
        None => name,
    }
}

/// Read, write or both, from the verbs in the tool's name; see the module comment.
pub fn classify(name: &str) -> Class {
    let words = words(tool_part(name));
    let both = words.iter().any(|w| is_verb(w, BOTH_VERBS));
    let reads = words.iter().any(|w| is_verb(w, READ_VERBS));
    let writes = words.iter().any(|w| is_verb(w, WRITE_VERBS));
    match (reads, writes) {
        _ if both => Class::Both,
        (true, false) => Class::Read,
        (false, true) => Class::Write,
        _ => Class::Both,
    }
}

/// Whether the name's verbs take the whole entry along (`move_file`, `delete_directory`).
pub fn names_whole_entry(name: &str) -> bool {
    words(tool_part(name))
        .iter()
        .any(|w| is_verb(w, WHOLE_ENTRY_VERBS))
}

/// Whether an argument's key names a path: `path`, `file`, `relative_path`, `outputFile`,
/// `srcDir`, `paths`… (its last word, or the whole key, is a path word).
pub fn is_path_key(key: &str) -> bool {
    const WHOLE: &[&str] = &[
        "target",
        "dest",
        "destination",
        "source",
        "src",
        "dst",
        "cwd",
        "root",
        "location",
        "workdir",
        "notebook",
        "uri",
        "uris",
        "input",
        "output",
        "out",
        "outdir",
    ];
    const LAST: &[&str] = &[
        "path",
        "paths",
        "file",
        "files",
        "filename",
        "filenames",
        "filepath",
        "filepaths",
        "dir",
        "dirs",
        "directory",
        "directories",
        "folder",
        "folders",
        "uri",
        "uris",
        "pathname",
    ];
    let words = words(key);
    let Some(last) = words.last() else {
        return false;
    };
    LAST.contains(&last.as_str()) || (words.len() == 1 && WHOLE.contains(&last.as_str()))
}

/// The most strings and the deepest nesting walked in one call's arguments; past either, the
/// call is unanalyzable (a server can be handed anything, and the hook has a deadline).
pub const MAX_STRINGS: usize = 4096;
pub const MAX_DEPTH: usize = 32;
/// The most paths judged for one call: each is resolved and matched against every rule, so a
/// call naming thousands would take the hook past its deadline. The first ones are judged and
/// the call is unanalyzable.
pub const MAX_PATHS: usize = 64;

/// The path a string names, if it names one: a `file://` URI decoded, an absolute, home- or
/// dot-relative path, a relative path with a separator (spaces allowed inside a name), or, when
/// `keyed` (its key names a path), any bare name. `None` for URLs of other schemes, prose and
/// text with line breaks.
pub fn path_of(text: &str, keyed: bool) -> Option<String> {
    if text.is_empty() || text.len() > 4096 || text.contains(['\n', '\r', '\0']) {
        return None;
    }
    if let Some(rest) = strip_prefix_ignore_case(text, "file:") {
        return file_uri_path(rest);
    }
    if let Some(colon) = text.find("://") {
        // Another scheme (`https://…`); a `://` later in a path (`a/b://c`) does not make a URL.
        let scheme = &text[..colon];
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        {
            return None;
        }
    }
    let trimmed = text.trim();
    if trimmed != text || trimmed.is_empty() {
        return keyed.then(|| trimmed.to_owned()).filter(|t| !t.is_empty());
    }
    let anchored = text.starts_with('/')
        || text == "~"
        || text.starts_with("~/")
        || text == "."
        || text == ".."
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with("$HOME")
        || text.starts_with("${HOME}");
    if anchored && (!text.contains(' ') || looks_like_spaced_path(text)) {
        return Some(text.to_owned());
    }
    if keyed {
        return Some(text.to_owned());
    }
    (text.contains('/') && looks_like_spaced_path(text)).then(|| text.to_owned())
}

/// A relative path with separators, spaces allowed inside names (`My Docs/q1 report.pdf`):
/// prose with a slash (`see docs/ for details`, `and/or more`) has names that begin or end
/// with a space, a run of spaces, or many words.
fn looks_like_spaced_path(text: &str) -> bool {
    if !text.contains(' ') {
        return true;
    }
    let words = text.split(' ').count();
    !text.contains("  ")
        && words <= 8
        && text
            .split('/')
            .all(|segment| !segment.starts_with(' ') && !segment.ends_with(' '))
        && !text.ends_with('/')
        && !text.contains(". ")
        && !text.contains(", ")
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `file:///p`, `file://localhost/p`, `file:/p` → `/p`, percent-decoded. A URI naming another
/// host is a path on that host's share: still judged, as its path (stricter than skipping).
fn file_uri_path(rest: &str) -> Option<String> {
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => match authority_and_path.find('/') {
            Some(slash) => &authority_and_path[slash..],
            None => return None,
        },
        None => rest,
    };
    let decoded = percent_decode(path)?;
    (!decoded.is_empty()).then_some(decoded)
}

/// `%2e%65nv` → `.env`. Invalid escapes are kept as they are; bytes that do not decode to
/// UTF-8 give `None` (no such path can be judged by name).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Every path named in an MCP call's arguments, and whether the walk stopped at a bound.
pub fn argument_paths(input: &Value) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut seen = 0usize;
    let mut truncated = false;
    walk(input, false, 0, &mut seen, &mut truncated, &mut out);
    (out, truncated)
}

fn walk(
    value: &Value,
    keyed: bool,
    depth: usize,
    seen: &mut usize,
    truncated: &mut bool,
    out: &mut Vec<String>,
) {
    if *truncated {
        return;
    }
    if depth > MAX_DEPTH {
        *truncated = true;
        return;
    }
    match value {
        Value::String(s) => {
            *seen += 1;
            if *seen > MAX_STRINGS {
                *truncated = true;
                return;
            }
            if let Some(path) = path_of(s, keyed) {
                if out.len() >= MAX_PATHS {
                    *truncated = true;
                    return;
                }
                out.push(path);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, keyed, depth + 1, seen, truncated, out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                walk(item, is_path_key(key), depth + 1, seen, truncated, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("write_spreadsheet"), ["write", "spreadsheet"]);
        assert_eq!(words("readFile"), ["read", "file"]);
        assert_eq!(words("HTTPGetURL"), ["http", "get", "url"]);
        assert_eq!(words("fs.list-dir"), ["fs", "list", "dir"]);
    }

    #[test]
    fn classes_from_verbs() {
        for (name, class) in [
            ("mcp__sheets__write_spreadsheet", Class::Write),
            ("mcp__sheets__read_spreadsheet", Class::Read),
            ("mcp__fs__readFile", Class::Read),
            ("mcp__fs__spreadsheet", Class::Both),
            ("mcp__fs__read_and_update", Class::Both),
            ("mcp__readwise__list_highlights", Class::Read),
            ("mcp__fs__download_file", Class::Both),
            ("mcp__fs__deleteFiles", Class::Write),
            ("mcp__x__thread", Class::Both),
        ] {
            assert_eq!(classify(name), class, "{name}");
        }
    }

    #[test]
    fn paths_in_strings() {
        assert_eq!(
            path_of("file:///tmp/a%20b/.env", false).as_deref(),
            Some("/tmp/a b/.env")
        );
        assert_eq!(
            path_of("file://localhost/etc/x", false).as_deref(),
            Some("/etc/x")
        );
        assert_eq!(path_of("https://example.com/.env", true), None);
        assert_eq!(path_of(".env", true).as_deref(), Some(".env"));
        assert_eq!(path_of(".env", false), None);
        assert_eq!(
            path_of("My Docs/q1 report.pdf", false).as_deref(),
            Some("My Docs/q1 report.pdf")
        );
        assert_eq!(path_of("see docs/ for details and .env files", false), None);
        assert!(is_path_key("relative_path") && is_path_key("outputFile") && is_path_key("paths"));
        assert!(!is_path_key("content") && !is_path_key("profile"));
    }
}
