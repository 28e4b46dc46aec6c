//! Code in other languages that a command line carries: interpreter one-liners and
//! heredoc-fed programs (python, node, perl, ruby, php …), awk programs and sed scripts.
//!
//! These are not parsed. Their string literals that look like paths are checked (as writes
//! when the code can write files at all), and code that computes paths, reaches for the
//! environment or runs other programs is unanalyzable. That is a heuristic with a known
//! direction of error: it may ask about harmless code, and it documents what it cannot see.

use super::commands::looks_like_path;
use super::walk::{Env, Walker};
use super::words::Field;
use crate::target::Access;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    Node,
    Perl,
    Ruby,
    Php,
    Lua,
    R,
    Tcl,
}

pub fn interpreter(name: &str) -> Option<Lang> {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match base {
        "python" | "pypy" | "ipython" | "uv-run-python" => Lang::Python,
        "node" | "nodejs" | "bun" | "deno" | "tsx" | "ts-node" => Lang::Node,
        "perl" => Lang::Perl,
        "ruby" | "jruby" => Lang::Ruby,
        "php" => Lang::Php,
        "lua" | "luajit" => Lang::Lua,
        "Rscript" => Lang::R,
        "tclsh" | "wish" | "expect" | "jimsh" => Lang::Tcl,
        _ => return None,
    })
}

pub struct Cli {
    pub code_flags: &'static [&'static str],
    pub module_flags: &'static [&'static str],
    pub flags_with_value: &'static [&'static str],
    pub file_value_flags: &'static [&'static str],
}

pub fn cli(lang: Lang) -> Cli {
    match lang {
        Lang::Python => Cli {
            code_flags: &["-c"],
            module_flags: &["-m"],
            flags_with_value: &["-W", "-X", "--check-hash-based-pycs"],
            file_value_flags: &[],
        },
        Lang::Node => Cli {
            code_flags: &["-e", "--eval", "-p", "--print"],
            module_flags: &[],
            flags_with_value: &[
                "-r",
                "--require",
                "--import",
                "--loader",
                "--experimental-loader",
                "--env-file",
                "--input-type",
                "-C",
                "--conditions",
                "--stack-size",
                "--max-old-space-size",
            ],
            file_value_flags: &[
                "-r",
                "--require",
                "--import",
                "--loader",
                "--experimental-loader",
                "--env-file",
            ],
        },
        Lang::Perl => Cli {
            code_flags: &["-e", "-E"],
            module_flags: &[],
            flags_with_value: &["-I", "-M", "-m", "-x"],
            file_value_flags: &[],
        },
        Lang::Ruby => Cli {
            code_flags: &["-e"],
            module_flags: &[],
            flags_with_value: &["-I", "-r", "-C", "-E", "--encoding"],
            file_value_flags: &["-r"],
        },
        Lang::Php => Cli {
            code_flags: &["-r", "-B", "-R", "-E"],
            module_flags: &[],
            flags_with_value: &["-c", "-d", "-f", "-z", "-t", "-S"],
            file_value_flags: &["-c", "-f"],
        },
        Lang::Lua => Cli {
            code_flags: &["-e"],
            module_flags: &[],
            flags_with_value: &["-l"],
            file_value_flags: &[],
        },
        Lang::R => Cli {
            code_flags: &["-e", "--expr"],
            module_flags: &[],
            flags_with_value: &[],
            file_value_flags: &[],
        },
        Lang::Tcl => Cli {
            // expect's; tclsh has none.
            code_flags: &["-c"],
            module_flags: &[],
            flags_with_value: &[],
            file_value_flags: &[],
        },
    }
}

/// Markers of code that runs other programs, evaluates computed code, decodes hidden text or
/// builds paths from the environment: past any of these, literals say nothing sound.
/// Matched against the lower-cased code.
const OPAQUE_MARKERS: &[(&str, &str)] = &[
    ("system(", "runs a shell command"),
    ("system ", "runs a shell command"),
    ("system\"", "runs a shell command"),
    ("system'", "runs a shell command"),
    ("subprocess", "runs other programs"),
    ("popen", "runs other programs"),
    ("spawn", "runs other programs"),
    ("execsync", "runs other programs"),
    ("execfile", "runs other programs"),
    ("child_process", "runs other programs"),
    ("os.exec", "runs other programs"),
    ("pty.", "runs other programs"),
    ("exec(", "evaluates computed code"),
    ("exec ", "evaluates computed code"),
    ("eval(", "evaluates computed code"),
    ("eval ", "evaluates computed code"),
    ("__import__", "loads code by computed name"),
    ("importlib", "loads code by computed name"),
    ("getattr", "calls functions by computed name"),
    ("new function", "builds code at run time"),
    ("base64", "decodes hidden text"),
    ("b64decode", "decodes hidden text"),
    ("atob(", "decodes hidden text"),
    ("fromcharcode", "builds text from character codes"),
    ("chr(", "builds text from character codes"),
    ("pack(", "builds text from bytes"),
    ("fromhex", "decodes hidden text"),
    ("decode(", "decodes hidden text"),
    ("codecs", "decodes hidden text"),
    ("rot13", "decodes hidden text"),
    ("[::-1]", "reverses text"),
    ("reverse(", "reverses text"),
    ("reversed(", "reverses text"),
    (".reverse", "reverses text"),
    ("environ", "reads paths from the environment"),
    ("getenv", "reads paths from the environment"),
    ("process.env", "reads paths from the environment"),
    ("env[", "reads paths from the environment"),
    ("$env{", "reads paths from the environment"),
    ("expanduser", "expands the home directory at run time"),
    ("homedir", "expands the home directory at run time"),
    ("path.home", "expands the home directory at run time"),
    ("dir.home", "expands the home directory at run time"),
    ("glob(", "lists files at run time"),
    ("glob.", "lists files at run time"),
    ("walk(", "lists files at run time"),
    ("listdir", "lists files at run time"),
    ("readdir", "lists files at run time"),
    ("scandir", "lists files at run time"),
    ("iterdir", "lists files at run time"),
    ("opendir", "lists files at run time"),
    ("path.join", "joins paths at run time"),
    ("joinpath", "joins paths at run time"),
    ("file.join", "joins paths at run time"),
    ("path.resolve", "joins paths at run time"),
    ("socket", "opens network connections"),
    ("ctypes", "calls native code"),
    ("dlopen", "calls native code"),
    ("syscall", "calls the kernel directly"),
    ("os.open", "opens files by low-level call"),
    ("chdir", "changes directory at run time"),
];

/// Markers that only mean "runs a shell command" in languages where backquotes and `qx`
/// are command substitution.
const SHELL_QUOTE_MARKERS: &[&str] = &["`", "qx(", "qx{", "qx/", "qx'", "%x("];

/// Calls that name a file. A first argument that is not a string literal names a file chosen
/// at run time.
const FILE_CALLS: &[&str] = &[
    "open(",
    "path(",
    "readfilesync(",
    "writefilesync(",
    "appendfilesync(",
    "readfile(",
    "writefile(",
    "appendfile(",
    "createreadstream(",
    "createwritestream(",
    "file.read(",
    "file.open(",
    "file.write(",
    "io.read(",
    "io.write(",
    "file_get_contents(",
    "file_put_contents(",
    "fopen(",
    "unlink(",
    "unlinksync(",
    "remove(",
    "rename(",
    "renamesync(",
    "copyfile(",
    "copyfilesync(",
    "rmtree(",
    "rmsync(",
    "readlines(",
    "read_text(",
    "write_text(",
    "load_file(",
    "readlink(",
    "symlink(",
    "truncate(",
];

/// Names that mean the code can change files; without them its path literals are reads.
const WRITE_MARKERS: &[&str] = &[
    "write",
    "remove",
    "unlink",
    "rmdir",
    "rmtree",
    "rename",
    "os.replace",
    "move",
    "copy",
    "mkdir",
    "makedirs",
    "chmod",
    "chown",
    "symlink",
    "link(",
    "truncate",
    "touch",
    "delete",
    "appendfile",
    "shutil",
    "fileutils",
    "put_contents",
    "rmsync",
    "rm(",
    "cp(",
    "sink(",
    "file.new",
    "unlink",
    // Databases opened by path (the ledger is SQLite) are written through SQL.
    "sqlite",
    "connect(",
    "execute(",
    "executescript",
];

pub fn check_code(w: &mut Walker, env: &Env, lang: Lang, code: &str, interpreter: &str) {
    let lower = code.to_ascii_lowercase();
    for (marker, why) in OPAQUE_MARKERS {
        if lower.contains(marker) {
            w.opaque(format!("the {interpreter} code {why} ({marker:?})"));
            break;
        }
    }
    if matches!(lang, Lang::Perl | Lang::Ruby | Lang::Php)
        && let Some(marker) = SHELL_QUOTE_MARKERS.iter().find(|m| lower.contains(**m))
    {
        w.opaque(format!(
            "the {interpreter} code runs a shell command ({marker:?})"
        ));
    }
    if lang == Lang::Perl && lower.contains("open") && (code.contains('|') || code.contains('$')) {
        w.opaque(format!(
            "the {interpreter} code opens a file or pipe named at run time"
        ));
    }
    for call in FILE_CALLS {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(call) {
            let after = lower[from + pos + call.len()..].trim_start();
            let literal = after.starts_with(['\'', '"', '`'])
                || after.starts_with("r'")
                || after.starts_with("r\"")
                || after.starts_with("b'")
                || after.starts_with("b\"")
                || after.starts_with(')');
            if !literal {
                w.opaque(format!(
                    "the {interpreter} code names a file chosen at run time ({})",
                    call.trim_end_matches('(')
                ));
            }
            from += pos + call.len();
        }
    }
    let mut literals = string_literals(code, lang);
    if lang == Lang::Tcl {
        literals.extend(tcl_bare_words(code));
    }
    run_literal_commands(w, env, lang, code, &literals);
    // Concatenation or interpolation next to a path fragment builds a path at run time.
    for lit in &literals {
        if lit.path_fragment() && (lit.joined || lit.interpolates) {
            w.opaque(format!(
                "the {interpreter} code builds a path at run time around {:?}",
                short(&lit.text)
            ));
        }
    }
    let mode_writes = literals.iter().any(|l| {
        let t = l.text.as_str();
        (!t.is_empty()
            && t.len() <= 4
            && t.chars().all(|c| "rwaxbtU+".contains(c))
            && t.contains(['w', 'a', 'x', '+']))
            || t.starts_with('>')
            || t.starts_with("+<")
    });
    let writes = mode_writes || WRITE_MARKERS.iter().any(|m| lower.contains(m));
    for lit in literals {
        let text = lit
            .text
            .trim_start_matches(['>', '<', '+', '&', ' '])
            .trim();
        if text.is_empty() || !looks_like_path(w.world, text, env) {
            continue;
        }
        let field = Field::Lit {
            text: text.to_owned(),
            glob: None,
        };
        let access = if writes { Access::Write } else { Access::Read };
        // A directory literal may be joined with more later: check what is under it.
        let world = w.world;
        let is_dir = w
            .resolve(env, text, interpreter)
            .iter()
            .any(|p| world.is_dir(p));
        let here = matches!(text.trim_end_matches('/'), "." | ".." | "");
        if is_dir && writes && !here {
            // Code that removes, moves or re-permissions a directory takes its tree along.
            w.access_tree(env, &field, access, &format!("the {interpreter} code"));
        } else if is_dir {
            w.access_text(env, text, access, true, &format!("the {interpreter} code"));
        } else {
            w.access(env, &field, access, &format!("the {interpreter} code"));
        }
    }
}

/// Calls that hand a string to a shell (or an argv list to a program).
const COMMAND_CALLS: &[&str] = &[
    "os.execute(",
    "io.popen(",
    "system(",
    "system",
    "popen(",
    "execsync(",
    "exec(",
    "check_output(",
    "check_call(",
    "run(",
    "call(",
    "getoutput(",
    "getstatusoutput(",
    "spawnsync(",
    "qx(",
    "%x(",
    "shell_exec(",
    "passthru(",
];

/// Commands an interpreter runs from literals (`os.system("cat .env")`,
/// `subprocess.run(["cat", ".env"])`, Perl and Ruby backquotes) are analysed as shell
/// commands, so their paths count like the command line's own. The code stays unanalyzable
/// for what it may do besides.
/// A program file an interpreter runs (`python3 tool.py`): the shell commands it runs from
/// literals are analysed like the command line's own, so a script written a moment ago cannot
/// run what the command line may not. What else it does stays unknown, as for any program.
pub fn check_script_commands(w: &mut Walker, env: &Env, lang: Lang, code: &str) {
    let literals = string_literals(code, lang);
    run_literal_commands(w, env, lang, code, &literals);
}

fn run_literal_commands(w: &mut Walker, env: &Env, lang: Lang, code: &str, literals: &[Literal]) {
    let mut k = 0;
    while k < literals.len() {
        let lit = &literals[k];
        let before = lit.before.trim_end();
        if COMMAND_CALLS.iter().any(|c| before.ends_with(c)) {
            w.subshell_program(&lit.text, env);
        } else if before.ends_with('[')
            && COMMAND_CALLS
                .iter()
                .any(|c| before.trim_end_matches('[').trim_end().ends_with(c))
        {
            // An argv list: this literal and those that follow it in the list.
            let mut argv = vec![lit.text.clone()];
            while k + 1 < literals.len() && literals[k + 1].before.trim_end().ends_with(',') {
                k += 1;
                argv.push(literals[k].text.clone());
            }
            let line: Vec<String> = argv
                .iter()
                .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
                .collect();
            w.subshell_program(&line.join(" "), env);
        }
        k += 1;
    }
    if lang == Lang::Tcl {
        // `exec cmd args`, `spawn cmd args` (expect), `open "|cmd"`: the words up to the end
        // of the command are a program and its arguments.
        for keyword in ["exec ", "spawn "] {
            let mut from = 0;
            while let Some(pos) = code[from..].find(keyword) {
                let start = from + pos + keyword.len();
                let end = code[start..]
                    .find([']', ';', '\n'])
                    .map_or(code.len(), |e| start + e);
                w.subshell_program(&code[start..end].replace(['{', '}'], "'"), env);
                from = end;
            }
        }
    }
    if matches!(lang, Lang::Perl | Lang::Ruby | Lang::Php) {
        let mut parts = code.split('`');
        parts.next();
        while let (Some(inner), Some(_)) = (parts.next(), parts.next()) {
            w.subshell_program(inner, env);
        }
    }
}

/// Tcl's words need no quotes (`open .env`, `file copy a.txt .github/workflows/x.yml`): every
/// bare word is a string literal. One glued to a substitution (`$dir/.env`, `[pwd]/x`) is
/// built at run time.
fn tcl_bare_words(code: &str) -> Vec<Literal> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        for word in line
            .split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '{' | '}' | ';' | '"'))
        {
            if word.is_empty() || word.starts_with('$') {
                continue;
            }
            out.push(Literal {
                text: word.to_owned(),
                joined: false,
                interpolates: word.contains('$'),
                before: String::new(),
            });
        }
    }
    out
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

struct Literal {
    text: String,
    /// Adjacent to a concatenation operator.
    joined: bool,
    /// Contains interpolation syntax (`${`, `#{`, `$var`, `%s`, `{}` in an f-string).
    interpolates: bool,
    /// The code just before the literal, lower-cased and without trailing space.
    before: String,
}

impl Literal {
    fn path_fragment(&self) -> bool {
        self.text.contains('/') || self.text.starts_with('.') || self.text.starts_with('~')
    }
}

/// String literals in `code`, with whether each is glued to other text at run time.
fn string_literals(code: &str, lang: Lang) -> Vec<Literal> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'#'
            && matches!(
                lang,
                Lang::Python | Lang::Ruby | Lang::Perl | Lang::R | Lang::Tcl
            )
        {
            // A comment runs to the end of the line.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let quote = c == b'\'' || c == b'"' || (c == b'`' && lang == Lang::Node);
        if !quote {
            i += 1;
            continue;
        }
        let prefix_f = i > 0 && matches!(bytes[i - 1], b'f' | b'F') && lang == Lang::Python;
        let start = i + 1;
        let mut j = start;
        let mut text = Vec::new();
        while j < bytes.len() && bytes[j] != c {
            if bytes[j] == b'\\' && j + 1 < bytes.len() {
                text.push(bytes[j + 1]);
                j += 2;
                continue;
            }
            text.push(bytes[j]);
            j += 1;
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        let before = code[..i].trim_end();
        let after = code
            .get((j + 1).min(code.len())..)
            .unwrap_or("")
            .trim_start();
        let joiners = ["+", ".", "..", "%", "<<", "*"];
        let joined = joiners
            .iter()
            .any(|op| before.ends_with(op) || after.starts_with(op))
            || before.ends_with('/')
            || after.starts_with('/')
            || after.starts_with(['\'', '"']);
        let interpolates = (prefix_f && text.contains('{'))
            || (c == b'"'
                && matches!(lang, Lang::Perl | Lang::Php | Lang::Ruby)
                && (text.contains('$') || text.contains("#{") || text.contains('@')))
            || text.contains("${")
            || (c == b'`' && text.contains('$'))
            || text.contains("%s")
            || text.contains("{}");
        let tail_start = before.char_indices().rev().nth(24).map_or(0, |(k, _)| k);
        out.push(Literal {
            text,
            joined,
            interpolates,
            before: before[tail_start..].to_ascii_lowercase(),
        });
        i = j + 1;
    }
    out
}

/// awk: `system()`, pipes to commands and `getline` from commands are opaque; literal files
/// after `>`/`>>` are written, after `<` read.
pub fn check_awk(w: &mut Walker, env: &Env, program: &str, name: &str) {
    let lower = program.to_ascii_lowercase();
    if lower.contains("system")
        || program.contains("| ") && program.contains("getline")
        || program.contains("|&")
        || pipe_to_command(program)
    {
        w.opaque(format!("the {name} program runs a command"));
        // What it runs literally (`system("cmd")`, `"cmd" | getline`, `print | "cmd"`) is
        // walked, so a denied path named there is still denied.
        for command in awk_literal_commands(program) {
            w.subshell_program(&command, env);
        }
        return;
    }
    if program.contains("ARGV") {
        // `ARGV[1]=".env"`: awk reads the files ARGV names when the program starts, so the
        // program chooses its own input. Literal strings it puts there are read; anything
        // else is a file chosen at run time.
        let mut from = 0;
        while let Some(pos) = program[from..].find("ARGV[") {
            let at = from + pos;
            let after_subscript = program[at..].find(']').map(|e| at + e + 1);
            from = at + 5;
            let Some(after) = after_subscript else {
                continue;
            };
            let rest = program[after..].trim_start();
            if !rest.starts_with('=') || rest.starts_with("==") {
                continue;
            }
            let value = rest[1..].trim_start();
            if let Some(v) = value.strip_prefix('"')
                && let Some(end) = v.find('"')
            {
                let field = Field::Lit {
                    text: v[..end].to_owned(),
                    glob: None,
                };
                w.access(env, &field, Access::Read, &format!("the {name} program"));
            } else {
                w.opaque(format!(
                    "the {name} program sets the files it reads at run time (ARGV)"
                ));
            }
        }
    }
    let bytes = program.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            in_string = !in_string;
            i += 1;
            continue;
        }
        if in_string || !(c == b'>' || c == b'<') {
            i += 1;
            continue;
        }
        let access = if c == b'>' {
            Access::Write
        } else {
            Access::Read
        };
        let mut j = i + 1;
        if j < bytes.len() && bytes[j] == b'>' {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'"' {
            let end = program[j + 1..].find('"').map(|e| j + 1 + e);
            if let Some(end) = end {
                let file = &program[j + 1..end];
                let field = Field::Lit {
                    text: file.to_owned(),
                    glob: None,
                };
                w.access(env, &field, access, &format!("the {name} program"));
                // `".en" "v"`, `".ssh/" x`: awk joins adjacent values, so the name is only
                // the start of one built at run time.
                let after = program[end + 1..].trim_start_matches([' ', '\t']);
                if after.starts_with(['"', '$', '(', '_'])
                    || after.starts_with(|c: char| c.is_ascii_alphanumeric())
                {
                    awk_computed_file(w, name, access);
                }
                i = end + 1;
                continue;
            }
        } else if c == b'<'
            && j < bytes.len()
            && (bytes[j].is_ascii_alphabetic() || matches!(bytes[j], b'$' | b'(' | b'_'))
        {
            // `getline line < f`: a file named by a variable (`-v f=.env`, `f = ".en" "v"`).
            let statement_start = lower[..i].rfind([';', '{', '\n']).map_or(0, |p| p + 1);
            if lower[statement_start..i].contains("getline") {
                awk_computed_file(w, name, Access::Read);
            }
        } else if j < bytes.len()
            && (bytes[j].is_ascii_alphabetic() || bytes[j] == b'$' || bytes[j] == b'(')
            && c == b'>'
            && lower[..i].contains("print")
        {
            // `print > file` where file is a variable: a path computed at run time.
            let statement_start = lower[..i].rfind([';', '{', '\n']).map_or(0, |p| p + 1);
            if lower[statement_start..i].trim_start().starts_with("print") {
                w.opaque(format!(
                    "the {name} program writes to a file named at run time"
                ));
            }
        }
        i = j;
    }
}

fn awk_computed_file(w: &mut Walker, name: &str, access: Access) {
    let why = format!("the {name} program names a file it builds at run time");
    if access == Access::Read {
        w.opaque_read(why);
    } else {
        w.opaque(why);
    }
}

/// The string literals an awk program hands to a shell: `system("…")`, `"…" | getline`,
/// `print … | "…"`.
fn awk_literal_commands(program: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = program.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < bytes.len() && bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        let Some(text) = program.get(start..j.min(bytes.len())) else {
            break;
        };
        let before = program[..i].trim_end();
        let after = program.get(j + 1..).unwrap_or("").trim_start();
        if before.ends_with("system(")
            || before.ends_with("system (")
            || before.ends_with('|')
            || after.starts_with('|')
        {
            out.push(text.replace("\\\"", "\""));
        }
        i = j + 1;
    }
    out
}

fn pipe_to_command(program: &str) -> bool {
    // `print | "cmd"` or `"cmd" | getline`.
    let squeezed: String = program.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.contains("|\"") || squeezed.contains("\"|getline") || squeezed.contains(")|getline")
}

/// sed: `w`/`W` commands and the `w` flag write a file, `r`/`R` read one, `e` runs commands.
pub fn check_sed(w: &mut Walker, env: &Env, script: &str, name: &str) {
    for line in script.split(['\n', ';']) {
        let trimmed = line.trim_start();
        // Skip an address (`1`, `$`, `/re/`, `1,5`, `/a/,/b/`).
        let mut rest = trimmed;
        loop {
            let before = rest;
            rest = rest.trim_start_matches(|c: char| {
                c.is_ascii_digit()
                    || c == '$'
                    || c == ','
                    || c == '!'
                    || c == '~'
                    || c == ' '
                    || c == '{'
                    || c == '}'
            });
            if let Some(r) = rest.strip_prefix('/')
                && let Some(end) = r.find('/')
            {
                rest = &r[end + 1..];
            }
            if rest == before {
                break;
            }
        }
        let mut chars = rest.chars();
        match chars.next() {
            Some(c @ ('w' | 'W' | 'r' | 'R')) => {
                let file = chars.as_str().trim();
                if !file.is_empty() {
                    let access = if matches!(c, 'w' | 'W') {
                        Access::Write
                    } else {
                        Access::Read
                    };
                    let field = Field::Lit {
                        text: file.to_owned(),
                        glob: None,
                    };
                    w.access(env, &field, access, &format!("the {name} script"));
                }
            }
            Some('e') if chars.as_str().trim().is_empty() => {
                // `e` alone runs the pattern space: text from the input.
                w.opaque(format!("the {name} script runs a command (e)"));
            }
            Some('e') if chars.as_str().starts_with(' ') => {
                // `e COMMAND` runs COMMAND, as written.
                w.subshell_program(chars.as_str().trim(), env);
            }
            Some('s') => {
                let body = chars.as_str();
                let Some(delim) = body.chars().next() else {
                    continue;
                };
                let parts: Vec<&str> = body[delim.len_utf8()..].splitn(3, delim).collect();
                if parts.len() == 3 {
                    let flags = parts[2];
                    if let Some(pos) = flags.find('w') {
                        let file = flags[pos + 1..].trim();
                        if !file.is_empty() {
                            let field = Field::Lit {
                                text: file.to_owned(),
                                glob: None,
                            };
                            w.access(env, &field, Access::Write, &format!("the {name} script"));
                        }
                    }
                    let flag_letters: String = flags
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != 'w')
                        .collect();
                    if flag_letters.contains('e') {
                        w.opaque(format!("the {name} script runs a command (s///e)"));
                    }
                }
            }
            _ => {}
        }
    }
}

/// ed's commands: `w`/`W`/`wq FILE` write, `r`/`e`/`E FILE` read, `!cmd` and `w !cmd`/
/// `r !cmd` run a shell command (walked).
pub fn check_ed(w: &mut Walker, env: &Env, script: &str, name: &str) {
    for line in script.lines() {
        let mut rest = line.trim_start();
        // An address: numbers, `.`, `$`, `,`, `;`, `+`/`-` offsets, `/re/`, `?re?`, `'x`.
        loop {
            let before = rest;
            rest = rest.trim_start_matches(|c: char| {
                c.is_ascii_digit() || matches!(c, '.' | '$' | ',' | ';' | '+' | '-' | ' ')
            });
            for delim in ['/', '?'] {
                if let Some(r) = rest.strip_prefix(delim)
                    && let Some(end) = r.find(delim)
                {
                    rest = &r[end + 1..];
                }
            }
            if let Some(r) = rest.strip_prefix('\'') {
                rest = r.get(1..).unwrap_or("");
            }
            if rest == before {
                break;
            }
        }
        let mut chars = rest.chars();
        let Some(command) = chars.next() else {
            continue;
        };
        let mut arg = chars.as_str();
        if command == 'w' {
            arg = arg.strip_prefix('q').unwrap_or(arg);
        }
        let arg = arg.trim();
        let role = format!("the {name} script");
        match command {
            '!' => w.subshell_program(arg, env),
            'w' | 'W' | 'r' | 'e' | 'E' => {
                if let Some(code) = arg.strip_prefix('!') {
                    w.subshell_program(code, env);
                } else if !arg.is_empty() {
                    let access = if matches!(command, 'w' | 'W') {
                        Access::Write
                    } else {
                        Access::Read
                    };
                    let field = Field::Lit {
                        text: arg.to_owned(),
                        glob: None,
                    };
                    w.access(env, &field, access, &role);
                }
            }
            _ => {}
        }
    }
}

/// A makefile's recipes are shell code. A recipe line that uses make's own variables or
/// functions (`$(CC)`, `${X}`, `$@`) is only known once make expands it; `$$` is a dollar.
/// Returns how many recipe lines could not be read.
pub fn check_makefile(w: &mut Walker, env: &Env, text: &str) -> usize {
    let mut unknown = 0;
    let mut continued = String::new();
    for line in text.lines() {
        // `target: prerequisites ; recipe`: a recipe on the rule's own line.
        let inline = (continued.is_empty() && !line.starts_with('\t'))
            .then(|| inline_recipe(line))
            .flatten();
        let Some(recipe) = line
            .strip_prefix('\t')
            .or_else(|| (!continued.is_empty()).then_some(line))
            .or(inline)
        else {
            continue;
        };
        if let Some(head) = recipe.strip_suffix('\\') {
            continued.push_str(head);
            continue;
        }
        let mut full = std::mem::take(&mut continued);
        full.push_str(recipe);
        let full = full.trim_start_matches(['@', '-', '+', ' ']);
        let without_dollars = full.replace("$$", "");
        if without_dollars.contains('$') {
            unknown += 1;
            continue;
        }
        w.subshell_program(&full.replace("$$", "$"), env);
    }
    unknown
}

/// The recipe after `;` on a rule line (`all: ; cat x`), not in a variable assignment.
fn inline_recipe(line: &str) -> Option<&str> {
    let colon = line.find(':')?;
    let after = &line[colon + 1..];
    if after.starts_with('=') || after.starts_with(":=") || line[..colon].contains('=') {
        return None;
    }
    let semi = after.find(';')?;
    Some(&after[semi + 1..])
}

/// A crontab's lines (after five time fields or an `@` schedule) are shell commands.
pub fn check_crontab(w: &mut Walker, env: &Env, text: &str) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('=') && !first.starts_with('@') {
            continue;
        }
        let command = if first.starts_with('@') {
            line[first.len()..].trim_start()
        } else {
            let mut rest = line;
            for _ in 0..5 {
                rest = rest.trim_start();
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                rest = &rest[end..];
            }
            rest.trim_start()
        };
        w.subshell_program(command, env);
    }
}

/// The client commands and SQL of a database client (sqlite3, duckdb, psql, mysql): shell
/// escapes are walked, files named are read or written, what loads native code or opens an
/// editor is unanalyzable. See `commands::interpreters::run_sql_client`.
pub fn check_sql(w: &mut Walker, env: &Env, text: &str, name: &str) {
    let role = format!("the {name} commands");
    let file = |w: &mut Walker, path: &str, access: Access| {
        let path = path.trim().trim_matches(['\'', '"']);
        if !path.is_empty() {
            let field = Field::Lit {
                text: path.to_owned(),
                glob: None,
            };
            w.access(env, &field, access, &role);
        }
    };
    for line in text.lines() {
        let line = line.trim();
        let (command, rest) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(c, r)| (c, r.trim()));
        let lower = command.to_ascii_lowercase();
        match lower.as_str() {
            // sqlite3 and duckdb dot-commands.
            ".shell" | ".system" => w.subshell_program(rest, env),
            ".output" | ".once" | ".log" | ".save" | ".backup" | ".open" => {
                let target = rest
                    .split_whitespace()
                    .rfind(|a| !a.starts_with('-'))
                    .unwrap_or("");
                if let Some(code) = target.trim_matches(['\'', '"']).strip_prefix('|') {
                    w.subshell_program(code, env);
                } else if rest.split_whitespace().any(|a| matches!(a, "-e" | "-x")) {
                    w.opaque(format!("{name} opens the output in another program"));
                } else if !matches!(target, "" | "stdout" | ":memory:") {
                    file(w, target, Access::Write);
                }
            }
            ".read" | "\\i" | "\\ir" | "\\include" | "\\include_relative" | "source" | "\\." => {
                if let Some(code) = rest.strip_prefix('|') {
                    w.subshell_program(code, env);
                } else {
                    file(w, rest, Access::Read);
                    w.opaque(format!("{name} runs commands read from a file"));
                }
            }
            ".import" => {
                if let Some(src) = rest.split_whitespace().find(|a| !a.starts_with('-')) {
                    match src.trim_matches(['\'', '"']).strip_prefix('|') {
                        Some(code) => w.subshell_program(code, env),
                        None => file(w, src, Access::Read),
                    }
                }
            }
            ".load" | "\\e" | "\\edit" | "\\ef" | "\\ev" | "edit" | "\\setenv" => {
                w.opaque(format!("{name} loads code or runs an editor ({command})"))
            }
            // psql meta-commands and mysql client commands.
            "\\!" | "system" | "\\system" => w.subshell_program(rest, env),
            "\\o" | "\\out" | "\\w" | "\\write" | "\\g" | "tee" | "\\t" => {
                match rest.strip_prefix('|') {
                    Some(code) => w.subshell_program(code, env),
                    None if command == "\\t" => {}
                    None => file(w, rest, Access::Write),
                }
            }
            "pager" | "\\p" if !rest.is_empty() => w.subshell_program(rest, env),
            _ => {}
        }
        if let Some(code) = line.strip_prefix("\\!") {
            w.subshell_program(code, env);
        }
    }
    // SQL that reaches files or programs, with literal arguments.
    let lower = text.to_ascii_lowercase();
    let literal_after = |from: usize| -> Option<String> {
        let rest = text.get(from..)?.trim_start();
        let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
        let body = &rest[1..];
        body.find(quote).map(|end| body[..end].to_owned())
    };
    let markers: &[(&str, Option<Access>)] = &[
        ("readfile(", Some(Access::Read)),
        ("writefile(", Some(Access::Write)),
        ("read_csv(", Some(Access::Read)),
        ("read_csv_auto(", Some(Access::Read)),
        ("read_json(", Some(Access::Read)),
        ("read_json_auto(", Some(Access::Read)),
        ("read_parquet(", Some(Access::Read)),
        ("read_text(", Some(Access::Read)),
        ("read_blob(", Some(Access::Read)),
        ("pg_read_file(", Some(Access::Read)),
        ("pg_read_binary_file(", Some(Access::Read)),
        ("lo_import(", Some(Access::Read)),
        ("load_file(", Some(Access::Read)),
        ("infile", Some(Access::Read)),
        ("outfile", Some(Access::Write)),
        ("dumpfile", Some(Access::Write)),
        ("attach", Some(Access::Write)),
        ("attach database", Some(Access::Write)),
        ("to", Some(Access::Write)),
        ("from", Some(Access::Read)),
        ("program", None),
    ];
    for (marker, access) in markers {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(marker) {
            let at = from + pos;
            from = at + marker.len();
            // Whole words only (`to` in `into`, `from` in a column name).
            let before_ok = at == 0
                || !lower.as_bytes()[at - 1].is_ascii_alphanumeric()
                    && lower.as_bytes()[at - 1] != b'_';
            if !before_ok {
                continue;
            }
            let Some(value) = literal_after(from) else {
                if marker.ends_with('(') && access.is_some() {
                    w.opaque(format!(
                        "the {name} SQL names a file chosen at run time ({})",
                        marker.trim_end_matches('(')
                    ));
                }
                continue;
            };
            match access {
                // `COPY … FROM PROGRAM 'cmd'`, `TO PROGRAM 'cmd'`.
                None => w.subshell_program(&value, env),
                // `from 'x'`/`to 'x'` after PROGRAM was handled as a program.
                Some(_) if lower[..at].trim_end().ends_with("program") => {}
                Some(a) => file(w, &value, *a),
            }
        }
    }
    for marker in ["load_extension(", "load '", "install '", "lo_export("] {
        if lower.contains(marker) {
            w.opaque(format!(
                "the {name} SQL loads code or writes a large object ({})",
                marker.trim_end_matches(['(', '\''])
            ));
        }
    }
}

/// Files a build tool or package manager runs code from by default, when this command wrote
/// them a moment ago (`printf 'all:\n\tcat .env\n' > Makefile; make`, a `package.json`
/// echoed then `npm test`): their recipes and scripts are walked like the command line
/// (literal text), and one written in a way hookledger cannot read is unanalyzable. Files on
/// disk are left alone here: reading them on every build would cost every build, and a build
/// runs the project's code anyway.
pub fn project_files(w: &mut Walker, env: &Env, name: &str, args: &[Field]) {
    if w.written.is_empty() {
        return;
    }
    let (files, kind): (&[&str], &str) = match name {
        // `-f FILE` names the makefile instead (handled with the command).
        "make" | "gmake"
            if !args.iter().any(|a| {
                a.lit()
                    .is_some_and(|t| t.starts_with("-f") || t == "--file")
            }) =>
        {
            (&["GNUmakefile", "makefile", "Makefile"], "make")
        }
        "just" => (&["justfile", "Justfile", ".justfile"], "just"),
        // Any of them may run the scripts: `run`, `test`, `start`, and `install` runs the
        // lifecycle scripts.
        "npm" | "pnpm" | "yarn" | "bun" => (&["package.json"], "npm"),
        // pytest imports `conftest.py`; installing the project runs `setup.py`; cargo
        // compiles and runs `build.rs`; direnv runs `.envrc`.
        "pytest" | "py.test" => (&["conftest.py"], "python"),
        "pip" | "pip3" if args.first().and_then(Field::lit) == Some("install") => {
            (&["setup.py"], "python")
        }
        "cargo" => (&["build.rs"], "rust"),
        "direnv" => (&[".envrc"], "shell"),
        _ => return,
    };
    let Some(cwd) = env.single_cwd().map(std::path::Path::to_path_buf) else {
        return;
    };
    for file in files {
        let path = cwd.join(file);
        let Some(written) = w.written.get(&path).cloned() else {
            continue;
        };
        let Some(text) = written else {
            w.opaque(format!(
                "{name} runs {file}, which this command changes before running it"
            ));
            return;
        };
        match kind {
            "make" => {
                if check_makefile(w, env, &text) > 0 {
                    w.opaque(format!("{name} runs recipes that use make's own variables"));
                }
            }
            "just" => {
                for line in text.lines() {
                    if !line.starts_with([' ', '\t']) || line.trim().is_empty() {
                        continue;
                    }
                    let line = line.trim().trim_start_matches(['@', '-']);
                    if line.contains("{{") || line.starts_with("#!") {
                        w.opaque(format!("{name} runs recipes that use its own variables"));
                        continue;
                    }
                    w.subshell_program(line, env);
                }
            }
            "python" => check_code(w, env, Lang::Python, &text, name),
            // Rust's string literals are read like C-family ones: the paths and commands
            // it names literally count.
            "rust" => check_code(w, env, Lang::Node, &text, name),
            "shell" => w.subshell_program(&text, env),
            _ => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(json) => {
                    if let Some(scripts) = json.get("scripts").and_then(|v| v.as_object()) {
                        for script in scripts.values() {
                            match script.as_str() {
                                Some(code) => w.subshell_program(code, env),
                                None => w.opaque(format!("{name} runs a script it cannot read")),
                            }
                        }
                    }
                }
                Err(_) => w.opaque(format!("{name} reads a {file} it cannot parse")),
            },
        }
        return;
    }
}
