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
pub mod members;
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
/// More words than this (outside quoted heredoc bodies, a heredoc counting as
/// [`HEREDOC_WEIGHT`] words) are not parsed: the parser's time grows with them (about a
/// microsecond a word, several for a heredoc) and, unlike the walk, it cannot be stopped when
/// the budget is spent. Developers' commands stay far below; 60 KB of `echo a` does not.
pub const MAX_WORDS: usize = 8_000;
/// What one heredoc costs the parser, in words.
const HEREDOC_WEIGHT: usize = 5;
/// The walk visits at most this many nodes.
pub const MAX_NODES: usize = 20_000;
/// More paths than this in one command are not checked one by one.
pub const MAX_ACCESSES: usize = 2_000;
/// The walk stops (unanalyzable) this long after the parse began: the hook must answer within
/// 50 ms, and after the walk the policy still has to be applied to what was found (up to
/// [`MAX_ACCESSES`] paths against every rule: 7 ms with 200 rules on a loaded machine) and the
/// hook has its own work (start, ledger). [`World::budget`] decides; this is the hook's
/// ([`Budget::HOOK`]).
pub const ANALYSIS_BUDGET: std::time::Duration = std::time::Duration::from_millis(15);

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
    if let Some(why) = refused_shape(command) {
        return Analysis::opaque(format!("the command {why}"));
    }
    let _scope = crate::paths::DecisionScope::open();
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

/// Why the code is not parsed at all, when its shape would make the parser too slow: open
/// brackets nested deeper than [`MAX_BRACKET_NESTING`], or more than [`MAX_WORDS`] words. Says
/// it as the end of a sentence ("nests brackets 14 deep; …").
pub(crate) fn refused_shape(source: &str) -> Option<String> {
    let shape = shape(source);
    if shape.deepest > MAX_BRACKET_NESTING {
        return Some(format!(
            "nests brackets {} deep; more than {MAX_BRACKET_NESTING} is not analysed",
            shape.deepest
        ));
    }
    let weight = shape.words + shape.heredocs * HEREDOC_WEIGHT;
    (weight > MAX_WORDS).then(|| {
        format!(
            "has {} words and {} heredocs; more than {MAX_WORDS} words is not analysed",
            shape.words, shape.heredocs
        )
    })
}

/// What the parser's work depends on, counted without parsing.
#[derive(Debug, Default)]
struct Shape {
    /// The deepest run of open brackets.
    deepest: usize,
    /// Runs of non-blank bytes.
    words: usize,
    /// `<<` operators (heredocs and here-strings).
    heredocs: usize,
}

/// Counts [`Shape`] in one pass. Quote-unaware on purpose: it only has to bound the parser's
/// work, and legitimate commands stay far below the limits. The body of a heredoc with a
/// quoted delimiter is left out: the parser takes it as one piece of text and nothing expands
/// in it, so code written to a file (`cat > f.py <<'EOF'`) may be as long and nest as deep as
/// it likes. Finding those bodies follows quotes, substitutions, arithmetic and comments, so a
/// `<<` inside a string or a shift cannot hide code from the count; where the scan is unsure,
/// it counts.
fn shape(command: &str) -> Shape {
    let mut depth: usize = 0;
    let mut shape = Shape::default();
    let mut count = |text: &[u8]| {
        let mut blank = true;
        let mut previous = 0u8;
        for &b in text {
            match b {
                b'(' | b'{' => {
                    depth += 1;
                    shape.deepest = shape.deepest.max(depth);
                }
                b')' | b'}' => depth = depth.saturating_sub(1),
                b'<' if previous == b'<' => shape.heredocs += 1,
                _ => {}
            }
            let is_blank = b.is_ascii_whitespace();
            if blank && !is_blank {
                shape.words += 1;
            }
            blank = is_blank;
            // `<<<` is one operator, not two.
            previous = if previous == b'<' && b == b'<' { 0 } else { b };
        }
    };
    let bytes = command.as_bytes();
    let mut scan = Scan::default();
    let mut start = 0;
    while let Some(body) = scan.next_quoted_body(bytes) {
        count(&bytes[start..body.0]);
        start = body.1;
    }
    count(&bytes[start.min(bytes.len())..]);
    shape
}

/// Where the scan is: code (at the top, in `$(…)` or in backquotes), a string, arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Code; `parens` open plain parentheses, `backquote` when closed by a backquote.
    Code {
        parens: usize,
        backquote: bool,
    },
    Single,
    AnsiC,
    Double,
    Arith {
        parens: usize,
    },
}

struct Scan {
    stack: Vec<Ctx>,
    /// Quoted heredoc bodies found and not yet handed out.
    ready: std::collections::VecDeque<(usize, usize)>,
    at: usize,
    /// Heredocs opened on the current line: (delimiter, strip leading tabs, quoted).
    pending: Vec<(Vec<u8>, bool, bool)>,
}

impl Default for Scan {
    fn default() -> Scan {
        Scan {
            stack: vec![Ctx::Code {
                parens: 0,
                backquote: false,
            }],
            ready: std::collections::VecDeque::new(),
            at: 0,
            pending: Vec::new(),
        }
    }
}

impl Scan {
    /// The next quoted heredoc's body as a byte range, scanning on from where it stopped.
    fn next_quoted_body(&mut self, bytes: &[u8]) -> Option<(usize, usize)> {
        if let Some(body) = self.ready.pop_front() {
            return Some(body);
        }
        while self.at < bytes.len() {
            let i = self.at;
            let b = bytes[i];
            let next = bytes.get(i + 1).copied();
            self.at += 1;
            let top = *self.stack.last()?;
            match top {
                Ctx::Single => {
                    if b == b'\'' {
                        self.stack.pop();
                    }
                }
                Ctx::AnsiC => match b {
                    b'\\' => self.at += 1,
                    b'\'' => {
                        self.stack.pop();
                    }
                    _ => {}
                },
                Ctx::Double => match b {
                    b'\\' => self.at += 1,
                    b'"' => {
                        self.stack.pop();
                    }
                    b'`' => self.stack.push(Ctx::Code {
                        parens: 0,
                        backquote: true,
                    }),
                    b'$' if next == Some(b'(') => self.open_substitution(bytes, i),
                    _ => {}
                },
                Ctx::Arith { parens } => match b {
                    b'(' => self.set_top(Ctx::Arith { parens: parens + 1 }),
                    b')' if parens > 0 => self.set_top(Ctx::Arith { parens: parens - 1 }),
                    b')' => {
                        if next == Some(b')') {
                            self.at += 1;
                        }
                        self.stack.pop();
                    }
                    _ => {}
                },
                Ctx::Code { parens, backquote } => match b {
                    b'\\' => self.at += 1,
                    b'\'' => self.stack.push(Ctx::Single),
                    b'"' => self.stack.push(Ctx::Double),
                    b'$' if next == Some(b'\'') => {
                        self.at += 1;
                        self.stack.push(Ctx::AnsiC);
                    }
                    b'$' if next == Some(b'(') => self.open_substitution(bytes, i),
                    b'`' if backquote => {
                        self.stack.pop();
                    }
                    b'`' => self.stack.push(Ctx::Code {
                        parens: 0,
                        backquote: true,
                    }),
                    b'(' if next == Some(b'(') => {
                        self.at += 1;
                        self.stack.push(Ctx::Arith { parens: 0 });
                    }
                    b'(' => self.set_top(Ctx::Code {
                        parens: parens + 1,
                        backquote,
                    }),
                    b')' if parens > 0 => self.set_top(Ctx::Code {
                        parens: parens - 1,
                        backquote,
                    }),
                    b')' if self.stack.len() > 1 && !backquote => {
                        self.stack.pop();
                    }
                    b'#' if i == 0
                        || bytes[i - 1].is_ascii_whitespace()
                        || bytes[i - 1] == b';' =>
                    {
                        while self.at < bytes.len() && bytes[self.at] != b'\n' {
                            self.at += 1;
                        }
                    }
                    b'<' if next == Some(b'<') && bytes.get(i + 2) != Some(&b'<') => {
                        self.at = i + 2;
                        let strip_tabs = bytes.get(self.at) == Some(&b'-');
                        if strip_tabs {
                            self.at += 1;
                        }
                        while bytes
                            .get(self.at)
                            .is_some_and(|c| *c == b' ' || *c == b'\t')
                        {
                            self.at += 1;
                        }
                        let (delimiter, quoted, end) = heredoc_delimiter(bytes, self.at);
                        if !delimiter.is_empty() {
                            self.pending.push((delimiter, strip_tabs, quoted));
                        }
                        self.at = end;
                    }
                    b'\n' if !self.pending.is_empty() => {
                        self.skip_bodies(bytes);
                        if let Some(body) = self.ready.pop_front() {
                            return Some(body);
                        }
                    }
                    _ => {}
                },
            }
        }
        None
    }

    fn set_top(&mut self, ctx: Ctx) {
        if let Some(top) = self.stack.last_mut() {
            *top = ctx;
        }
    }

    /// At `$(` (index `i`): a command substitution, or arithmetic for `$((`.
    fn open_substitution(&mut self, bytes: &[u8], i: usize) {
        if bytes.get(i + 2) == Some(&b'(') {
            self.at = i + 3;
            self.stack.push(Ctx::Arith { parens: 0 });
        } else {
            self.at = i + 2;
            self.stack.push(Ctx::Code {
                parens: 0,
                backquote: false,
            });
        }
    }

    /// After the newline ending a line that opened heredocs: their bodies, in order. Unquoted
    /// ones are passed over but counted (their substitutions are parsed); quoted ones are
    /// queued to be left out.
    fn skip_bodies(&mut self, bytes: &[u8]) {
        while !self.pending.is_empty() {
            let (delimiter, strip_tabs, quoted) = self.pending.remove(0);
            let body_start = self.at;
            let mut end = bytes.len();
            let mut pos = self.at;
            while pos < bytes.len() {
                let line_end = bytes[pos..]
                    .iter()
                    .position(|c| *c == b'\n')
                    .map_or(bytes.len(), |n| pos + n);
                let mut line = &bytes[pos..line_end];
                if strip_tabs {
                    while let [b'\t', rest @ ..] = line {
                        line = rest;
                    }
                }
                if line == delimiter.as_slice() {
                    end = pos;
                    pos = (line_end + 1).min(bytes.len());
                    break;
                }
                pos = (line_end + 1).min(bytes.len());
            }
            self.at = pos;
            if quoted {
                self.ready.push_back((body_start, end));
            }
        }
    }
}

/// The delimiter word of a heredoc starting at `start`: its bytes after quote removal, whether
/// any of it was quoted (then the body is literal), and where the word ends.
fn heredoc_delimiter(bytes: &[u8], start: usize) -> (Vec<u8>, bool, usize) {
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
            c if c.is_ascii_whitespace() || b";|&<>()`".contains(&c) => break,
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    (text, quoted, i.min(bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_counts_words_heredocs_and_nesting_outside_quoted_bodies() {
        let s = shape("cat > f.py <<'EOF'\nx = ((((1))))\nmany words here\nEOF\necho a  b\t(c)");
        assert_eq!((s.deepest, s.words, s.heredocs), (1, 9, 1));
        // An unquoted body is code (its substitutions are parsed): it counts.
        let s = shape("cat <<EOF\n$(a b)\nEOF\n");
        assert_eq!((s.deepest, s.words, s.heredocs), (1, 5, 1));
        // A here-string is one operator.
        assert_eq!(shape("cat <<< word").heredocs, 1);
    }

    #[test]
    fn too_many_words_or_heredocs_are_refused_before_parsing_but_long_literal_bodies_are_not() {
        let words = format!("echo {}", "a ".repeat(MAX_WORDS));
        assert!(refused_shape(&words).is_some_and(|why| why.contains("words")));
        let heredocs = "cat <<E\nx\nE\n".repeat(MAX_WORDS / HEREDOC_WEIGHT);
        assert!(refused_shape(&heredocs).is_some());
        let body = format!(
            "cat > notes.md <<'EOF'\n{}\nEOF\n",
            "prose word ".repeat(MAX_WORDS)
        );
        assert_eq!(refused_shape(&body), None);
        let message = format!("git commit -m \"{}\"", "word ".repeat(500));
        assert_eq!(refused_shape(&message), None);
        let nested = format!("echo {}x{}", "$(".repeat(13), ")".repeat(13));
        assert!(refused_shape(&nested).is_some_and(|why| why.contains("13 deep")));
    }
}
