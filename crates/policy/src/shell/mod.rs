/*!
What a shell command would read, write and push, found by parsing it.

`Bash` commands are parsed with brush-parser (see `docs/bash-parser-choice.md`) and walked: lists,
pipelines, subshells, compound commands, functions, substitutions and heredocs. Each simple
command is expanded the way the shell would (quotes, escapes, braces, `~`, literal variables),
unwrapped (`sudo`, `env`, `timeout` …) and matched against what hookledger knows of the
command: which operands it reads, which it writes, which directory it works in, which remote it
talks to. `cd`, `pushd`, `git -C` and friends move the directory later words are resolved
against.

The result is sound or says it is not: anything whose effect on paths cannot be determined
(a variable in a path position, `eval` of computed text, a script piped into a shell, an
interpreter one-liner that builds paths at run time) is listed in `unanalyzable`, and the
policy's `unanalyzable` setting decides. What *is* determined still counts, so a command that
is partly opaque but also writes a denied path is denied, not asked.

Pathological input is bounded before it reaches the parser (size, nesting) and the walk is
bounded by depth and node count.
*/

mod commands;
mod git_cmd;
pub mod hookledger;
mod powershell;
mod scripts;
mod walk;
pub mod words;

use std::path::{Path, PathBuf};

use crate::target::Access;
#[cfg(doc)]
use crate::world::Budget;
use crate::world::World;

/// Commands longer than this are not parsed: nobody types them, and the parser's cost grows
/// faster than linearly on some shapes.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Commands up to this long are parsed on the current stack (at most ~2.5 MB of it).
const SHORT_COMMAND_BYTES: usize = 4096;
/// Deeper nesting of substitutions, subshells or compound commands is not followed.
pub const MAX_DEPTH: usize = 32;
/// Open-bracket nesting beyond this (counted without regard to quotes) is refused before
/// parsing: the parser backtracks exponentially on long runs of unclosed `(`.
pub const MAX_BRACKET_NESTING: usize = 12;
/// The walk visits at most this many nodes.
pub const MAX_NODES: usize = 20_000;
/// More paths than this in one command are not checked one by one.
pub const MAX_ACCESSES: usize = 2_000;
/// The walk stops (unanalyzable) after this long: the hook must answer in milliseconds, and
/// the policy still has to be applied to what was found. [`World::budget`] decides; this is
/// the hook's ([`Budget::HOOK`]).
pub const ANALYSIS_BUDGET: std::time::Duration = std::time::Duration::from_millis(20);

/// One path a command touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathAccess {
    /// Resolved physically (see `policy::paths`).
    pub path: PathBuf,
    pub access: Access,
    /// The command reaches into what is under this directory (a glob's literal prefix, an
    /// extraction directory): rules that cover every child apply.
    pub search_root: bool,
    /// The command reads or writes the content of the whole tree under this directory
    /// (`grep -r`, `rm -r`, `cp -r`, `find -delete`): rules rooted at a directory inside it
    /// (`~/.ssh/**` under `~`, `.github/workflows/**` under the repository) apply too. For a
    /// write it also marks operations on the entry itself that take everything under it along
    /// (`mv`, `chmod`, `rm`): self-protection counts them on every protected path inside.
    pub recursive: bool,
    /// Where the name's final symlink sits, when it has one (`rm link` removes the link).
    pub link: Option<PathBuf>,
    /// A write whose effect hookledger judged itself (a `git config` of a known, harmless key):
    /// only the policy's path rules apply to it, not the rule on git configuration files.
    pub vetted: bool,
    /// The path a link being created points to (`ln -s TARGET NAME`): self-protection counts
    /// it as written (a new way to write it), path rules as read.
    pub link_target: bool,
}

impl PathAccess {
    pub fn new(path: PathBuf, access: Access, search_root: bool, recursive: bool) -> PathAccess {
        PathAccess {
            path,
            access,
            search_root,
            recursive,
            link: None,
            vetted: false,
            link_target: false,
        }
    }
}

/// A git remote a command talks to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteUse {
    /// As git would use it, normalized (`host/path`, or `file:<path>`).
    pub url: String,
    /// `git push`, `git clone` …, for the reason shown to the user.
    pub operation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub accesses: Vec<PathAccess>,
    pub remotes: Vec<RemoteUse>,
    /// Why some of the command's effect on paths is unknown. Empty when fully analysed.
    pub unanalyzable: Vec<String>,
    /// Something unknown could write or run, not only read (a computed command, a path of
    /// unknown value in a write position): what self-protection weighs for such commands.
    pub opaque_beyond_reads: bool,
    /// What the command would do to hookledger's hold that is refused whatever the paths:
    /// running hookledger's state-changing commands, switching git hooks off.
    pub refusals: Vec<String>,
}

impl Analysis {
    fn opaque(why: impl Into<String>) -> Analysis {
        Analysis {
            unanalyzable: vec![why.into()],
            opaque_beyond_reads: true,
            ..Default::default()
        }
    }
}

/// Analyses a `Bash` tool command run from `cwd`; repository facts and the time budget come
/// from `world`.
pub fn analyze_bash(command: &str, cwd: &Path, home: Option<&Path>, world: &dyn World) -> Analysis {
    if command.len() > MAX_COMMAND_BYTES {
        return Analysis::opaque(format!(
            "the command is {} KiB long; commands over {} KiB are not analysed",
            command.len() / 1024,
            MAX_COMMAND_BYTES / 1024
        ));
    }
    if let Some(depth) = too_deeply_nested(command) {
        return Analysis::opaque(format!(
            "the command nests brackets {depth} deep; more than {MAX_BRACKET_NESTING} is not analysed"
        ));
    }
    // catch_unwind turns a parser bug into "unanalyzable" instead of a crash.
    let guarded = || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            walk::analyze(command, cwd, home, world)
        }))
        .unwrap_or_else(|_| Analysis::opaque("the shell parser failed on this command"))
    };
    // The parser recurses once per nesting level, roughly 600 bytes of stack per byte of the
    // most deeply nested input: a long command runs on a grown stack so that a deep but legal
    // one cannot overflow it (an abort, which would let the call through). Short ones fit the
    // main thread's stack, and finding its size costs more than parsing them.
    if command.len() <= SHORT_COMMAND_BYTES {
        guarded()
    } else {
        stacker::maybe_grow(
            command.len() * 600 + 1024 * 1024,
            256 * 1024 * 1024,
            guarded,
        )
    }
}

/// Analyses a `PowerShell` tool command: only a few read-only cmdlets are understood.
pub fn analyze_powershell(
    command: &str,
    cwd: &Path,
    home: Option<&Path>,
    world: &dyn World,
) -> Analysis {
    powershell::analyze(command, cwd, home, world)
}

/// The deepest run of open brackets, when it is over the limit. Quote-unaware on purpose: it
/// only has to bound the parser's work, and legitimate commands stay far below the limit.
/// The body of a heredoc with a quoted delimiter is left out: the parser takes it as one
/// piece of text and nothing expands in it, so code written to a file (`cat > f.py <<'EOF'`)
/// may nest as deep as it likes. Finding those bodies follows quotes and comments on the
/// command lines, so a `<<` inside a string cannot hide real code from the count.
fn too_deeply_nested(command: &str) -> Option<usize> {
    let mut depth: usize = 0;
    let mut deepest: usize = 0;
    let mut count = |line: &str| {
        for b in line.bytes() {
            match b {
                b'(' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b')' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    };
    let mut quote = Quote::None;
    // Heredocs opened on the current line: (delimiter, strip leading tabs, quoted).
    let mut pending: Vec<(String, bool, bool)> = Vec::new();
    let mut lines = command.split_inclusive('\n');
    while let Some(line) = lines.next() {
        count(line);
        quote = scan_line(line, quote, &mut pending);
        if quote != Quote::None {
            // A heredoc's body starts after the line its command ends on; inside a string
            // that spans lines, count everything.
            pending.clear();
            continue;
        }
        for (delimiter, strip_tabs, quoted) in pending.drain(..) {
            for body_line in lines.by_ref() {
                let text = body_line.trim_end_matches('\n');
                let text = if strip_tabs {
                    text.trim_start_matches('\t')
                } else {
                    text
                };
                if text == delimiter {
                    break;
                }
                if !quoted {
                    count(body_line);
                }
            }
        }
    }
    (deepest > MAX_BRACKET_NESTING).then_some(deepest)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
    AnsiC,
}

/// Follows quoting through one command line, noting the heredocs it opens; returns the
/// quoting state at its end.
fn scan_line(line: &str, mut quote: Quote, pending: &mut Vec<(String, bool, bool)>) -> Quote {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Quote::Single => {
                if b == b'\'' {
                    quote = Quote::None;
                }
            }
            Quote::AnsiC => match b {
                b'\\' => i += 1,
                b'\'' => quote = Quote::None,
                _ => {}
            },
            Quote::Double => match b {
                b'\\' => i += 1,
                b'"' => quote = Quote::None,
                _ => {}
            },
            Quote::None => match b {
                b'\\' => i += 1,
                b'\'' => quote = Quote::Single,
                b'"' => quote = Quote::Double,
                b'$' if bytes.get(i + 1) == Some(&b'\'') => {
                    quote = Quote::AnsiC;
                    i += 1;
                }
                b'#' if i == 0 || bytes[i - 1].is_ascii_whitespace() || bytes[i - 1] == b';' => {
                    return Quote::None;
                }
                b'<' if bytes.get(i + 1) == Some(&b'<') && bytes.get(i + 2) != Some(&b'<') => {
                    i += 2;
                    let strip_tabs = bytes.get(i) == Some(&b'-');
                    if strip_tabs {
                        i += 1;
                    }
                    while bytes.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
                        i += 1;
                    }
                    let (delimiter, quoted, next) = heredoc_delimiter(line, i);
                    if !delimiter.is_empty() {
                        pending.push((delimiter, strip_tabs, quoted));
                    }
                    i = next;
                    continue;
                }
                _ => {}
            },
        }
        i += 1;
    }
    quote
}

/// The delimiter word of a heredoc starting at `start`: its text after quote removal, whether
/// any of it was quoted (then the body is literal), and where the word ends.
fn heredoc_delimiter(line: &str, start: usize) -> (String, bool, usize) {
    let bytes = line.as_bytes();
    let mut text = Vec::new();
    let mut quoted = false;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let close = bytes[i];
                quoted = true;
                i += 1;
                while i < bytes.len() && bytes[i] != close {
                    text.push(bytes[i]);
                    i += 1;
                }
                i += 1;
            }
            b'\\' => {
                quoted = true;
                if let Some(c) = bytes.get(i + 1) {
                    text.push(*c);
                }
                i += 2;
            }
            c if c.is_ascii_whitespace() || b";|&<>()".contains(&c) => break,
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    (
        String::from_utf8_lossy(&text).into_owned(),
        quoted,
        i.min(bytes.len()),
    )
}
