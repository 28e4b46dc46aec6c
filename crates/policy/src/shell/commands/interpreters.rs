//! Shells and language interpreters: the code they run is analysed in turn.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, _env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    match name {
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "yash" | "posh" | "fish"
        | "rbash" | "tcsh" | "csh" => run_shell(w, cx, name, args),
        _ if scripts::interpreter(name).is_some() => run_interpreter(w, cx, name, args),
        "osascript" => run_osascript(w, cx, args),
        "gdb" | "lldb" | "cgdb" => run_debugger(w, cx, name, args),
        "pwsh" | "powershell" | "pwsh-preview" | "powershell.exe" | "pwsh.exe" => {
            run_pwsh(w, cx, name, args)
        }
        "man" => run_man(w, cx, args),
        "sqlite3" | "sqlite" | "duckdb" | "psql" | "mysql" | "mariadb" => {
            run_sql_client(w, cx, name, args)
        }
        _ => return false,
    }
    true
}

/// Arguments that a wrapper joins into one shell command line.
pub(super) fn shell_words(w: &mut Walker, cx: &Cx, words: &[Field], role: &str) {
    let mut line = Vec::new();
    for f in words {
        match f.lit() {
            Some(t) => line.push(t.to_owned()),
            None => {
                w.opaque(format!("{role} runs a command line computed at run time"));
                return;
            }
        }
    }
    let stdin = cx.stdin.clone();
    w.with_input(stdin, |w| w.subshell_program(&line.join(" "), &cx.env));
}

pub(super) fn run_code(w: &mut Walker, cx: &Cx, code: &Field, role: &str) {
    match code.lit() {
        // The code reads the command's input (`sh -c 'source /dev/stdin' <<< CODE`).
        Some(c) => {
            let stdin = cx.stdin.clone();
            w.with_input(stdin, |w| w.subshell_program(c, &cx.env));
        }
        None => w.opaque(format!("{role} runs code computed at run time")),
    }
}

pub(super) fn run_shell(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
    let mut i = 0;
    let mut code: Option<&Field> = None;
    let mut reads_stdin = false;
    while i < args.len() {
        let Some(text) = args[i].lit() else { break };
        if text == "--" {
            i += 1;
            break;
        }
        if text == "-" {
            reads_stdin = true;
            i += 1;
            break;
        }
        if !(text.starts_with('-') || text.starts_with('+')) || text.len() == 1 {
            break;
        }
        i += 1;
        match text {
            "-o" | "+o" | "-O" | "+O" => i += 1,
            "--rcfile" | "--init-file" => {
                if let Some(f) = args.get(i) {
                    w.access(&cx.env, f, Access::Read, name);
                    // An interactive shell runs it first (`bash --rcfile <(echo CODE) -i`).
                    let program = w.program_source(&cx.env, f, &cx.stdin);
                    let mut shell = cx.env.clone();
                    w.run_shell_program(&mut shell, program, false, name);
                }
                i += 1;
            }
            _ if !text.starts_with("--") && text[1..].contains('c') => {
                code = args.get(i);
                i += 1;
                break;
            }
            _ if !text.starts_with("--") && text[1..].contains('s') => reads_stdin = true,
            _ => {}
        }
    }
    if let Some(code) = code {
        // `sh -c CODE NAME ARGS…`: NAME is `$0`, ARGS are `$1` … inside CODE.
        match code.lit() {
            Some(c) => {
                let mut inner = cx.env.clone();
                let rest = args.get(i..).unwrap_or(&[]);
                let zero = rest.first().cloned().unwrap_or(lit(name));
                bind_positional(&mut inner, Some(&zero), rest.get(1..).unwrap_or(&[]));
                let stdin = cx.stdin.clone();
                w.with_input(stdin, |w| w.subshell_program(c, &inner));
            }
            None => w.opaque(format!("{name} -c runs code computed at run time")),
        }
        return;
    }
    match args.get(i) {
        Some(script) if !reads_stdin => {
            w.access(
                &cx.env,
                script,
                Access::Read,
                &format!("the script {name} runs"),
            );
            // The script is a program hookledger has not seen: its arguments may be paths.
            unknown_arguments(w, cx, name, &args[i + 1..]);
            let program = w.program_source(&cx.env, script, &cx.stdin);
            let mut shell = cx.env.clone();
            // The script's `$0`, `$1` … are its name and these arguments, not the caller's.
            bind_positional(&mut shell, Some(script), &args[i + 1..]);
            let stdin = cx.stdin.clone();
            w.with_input(stdin, |w| {
                w.run_shell_program(&mut shell, program, false, name)
            });
        }
        _ => match w.stdin_text(&cx.env, &cx.stdin) {
            Stdin::Literal(text) => w.subshell_program(&text, &cx.env),
            Stdin::Inherited => {}
            _ => w.opaque(format!("a script piped into {name}")),
        },
    }
}

pub(super) fn run_interpreter(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
    let Some(lang) = scripts::interpreter(name) else {
        return;
    };
    // `deno eval CODE`, `deno run FILE`, `bun run FILE`: a subcommand before the usual
    // arguments.
    let owned: Vec<Field>;
    let args = match args
        .iter()
        .position(|a| a.lit().is_none_or(|t| !t.starts_with('-')))
        .filter(|_| matches!(name, "deno" | "bun"))
    {
        Some(k) => match args[k].lit() {
            Some("eval") => {
                owned = args
                    .iter()
                    .enumerate()
                    .map(|(j, a)| if j == k { lit("-e") } else { a.clone() })
                    .collect();
                &owned[..]
            }
            Some("run" | "test" | "bench" | "serve" | "repl") => {
                owned = args
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, a)| a.clone())
                    .collect();
                &owned[..]
            }
            _ => args,
        },
        None => args,
    };
    let spec = scripts::cli(lang);
    let mut i = 0;
    let mut code: Vec<Field> = Vec::new();
    let mut in_place = false;
    let mut module = false;
    while i < args.len() {
        let Some(text) = args[i].lit() else { break };
        if text == "--" {
            i += 1;
            break;
        }
        if text == "-" || !text.starts_with('-') || text.len() == 1 {
            break;
        }
        i += 1;
        if let Some((flag, inline)) = spec.code_flags.iter().find_map(|f| {
            if text == *f {
                Some((*f, None))
            } else if f.len() == 2 && text.starts_with(f) && !text.starts_with("--") {
                Some((*f, Some(&text[2..])))
            } else {
                text.strip_prefix(&format!("{f}="))
                    .filter(|_| f.starts_with("--"))
                    .map(|v| (*f, Some(v)))
            }
        }) {
            let _ = flag;
            match inline {
                Some(v) if !v.is_empty() => code.push(lit(v)),
                _ => {
                    if let Some(c) = args.get(i) {
                        code.push(c.clone());
                    }
                    i += 1;
                }
            }
            continue;
        }
        // Perl and Ruby: clustered `-pie`, `-ne`, `-i.bak`.
        if matches!(lang, scripts::Lang::Perl | scripts::Lang::Ruby) && !text.starts_with("--") {
            let flags = &text[1..];
            if flags.contains('i') {
                in_place = true;
            }
            if let Some(pos) = flags.find(['e', 'E']) {
                let inline = &flags[pos + 1..];
                if inline.is_empty() {
                    if let Some(c) = args.get(i) {
                        code.push(c.clone());
                    }
                    i += 1;
                } else {
                    code.push(lit(inline));
                }
                continue;
            }
        }
        if spec.module_flags.contains(&text)
            || spec
                .module_flags
                .iter()
                .any(|f| f.len() == 2 && text.starts_with(f) && text.len() > 2)
        {
            module = true;
            if !spec
                .module_flags
                .iter()
                .any(|f| text.starts_with(f) && text.len() > f.len())
            {
                i += 1;
            }
            break;
        }
        if spec.flags_with_value.contains(&text) {
            if let Some(v) = args.get(i)
                && spec.file_value_flags.contains(&text)
            {
                w.access(&cx.env, v, Access::Read, name);
            }
            i += 1;
        }
    }
    let rest = &args[i.min(args.len())..];
    if !code.is_empty() {
        for c in &code {
            match c.lit() {
                Some(text) => scripts::check_code(w, &cx.env, lang, text, name),
                None => w.opaque(format!("{name} runs code computed at run time")),
            }
        }
        let operands = rest;
        for f in operands {
            if in_place {
                w.access(&cx.env, f, Access::Write, &format!("{name} -i"));
            } else {
                w.access(&cx.env, f, Access::Read, name);
            }
        }
        return;
    }
    if module {
        unknown_arguments(w, cx, name, rest);
        return;
    }
    match rest.first() {
        Some(script) => {
            w.access(
                &cx.env,
                script,
                Access::Read,
                &format!("the script {name} runs"),
            );
            unknown_arguments(w, cx, name, &rest[1..]);
            match w.program_source(&cx.env, script, &cx.stdin) {
                Program::Literal(text) => scripts::check_code(w, &cx.env, lang, &text, name),
                Program::File(text) => {
                    let known = w.out.unanalyzable.len();
                    let beyond = w.out.opaque_beyond_reads;
                    scripts::check_script_commands(w, &cx.env, lang, &text);
                    w.out.unanalyzable.truncate(known);
                    w.out.opaque_beyond_reads = beyond;
                }
                Program::Nothing => {}
                // A program file not on disk yet (or not readable) is as opaque as any
                // program hookledger has not seen; only one it cannot see the text of while
                // it is handed over right here is unanalyzable.
                Program::Unknown(why) if script.lit().is_some_and(|t| !is_stdin_or_pipe(t)) => {
                    let _ = why;
                }
                Program::Unknown(why) => w.opaque(format!("{name} runs {why}")),
            }
        }
        _ => match w.stdin_text(&cx.env, &cx.stdin) {
            Stdin::Literal(text) => scripts::check_code(w, &cx.env, lang, &text, name),
            Stdin::Inherited => {}
            _ => w.opaque(format!("a program piped into {name}")),
        },
    }
}

/// An operand that names the program's input or a process substitution rather than a file.
pub(super) fn is_stdin_or_pipe(text: &str) -> bool {
    text == "-" || text.starts_with("/dev/") || text.starts_with("/proc/")
}

/// `osascript -e CODE… | FILE`: AppleScript is not analysed, but the shell scripts it runs
/// literally (`do shell script "…"`) are.
pub(super) fn run_osascript(w: &mut Walker, cx: &mut Cx, args: &[Field]) {
    let p = parse(args, &["-e", "-l", "-s"]);
    let mut codes: Vec<String> = Vec::new();
    for code in p.values(&["-e"]) {
        match code.lit() {
            Some(t) => codes.push(t.to_owned()),
            None => w.opaque("osascript runs code computed at run time"),
        }
    }
    if codes.is_empty() {
        let source = p.operands.first().cloned().unwrap_or(lit("-"));
        match w.program_source(&cx.env, &source, &cx.stdin) {
            Program::Literal(t) | Program::File(t) => codes.push(t),
            Program::Nothing => {}
            Program::Unknown(why) => w.opaque(format!("osascript runs {why}")),
        }
    }
    for code in &codes {
        w.opaque("osascript runs AppleScript, which hookledger does not analyse");
        let lower = code.to_ascii_lowercase();
        let mut from = 0;
        while let Some(pos) = lower[from..].find("do shell script") {
            let rest = &code[from + pos + "do shell script".len()..];
            if let Some(open) = rest.find('"')
                && let Some(close) = rest[open + 1..].find('"')
            {
                w.subshell_program(&rest[open + 1..open + 1 + close], &cx.env);
            }
            from += pos + 1;
        }
    }
}

/// gdb and lldb run the debugged program and their own commands: `shell CMD`/`!CMD` run a
/// shell command (walked); anything else they are told to run is opaque.
pub(super) fn run_debugger(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
    // gdb's long options take one dash as well as two.
    let args: Vec<Field> = args
        .iter()
        .map(|a| match a.lit() {
            Some(t)
                if t.len() > 2
                    && t.starts_with('-')
                    && !t.starts_with("--")
                    && matches!(
                        t.split('=').next().unwrap_or(t),
                        "-ex"
                            | "-iex"
                            | "-eval-command"
                            | "-command"
                            | "-batch"
                            | "-cd"
                            | "-pid"
                            | "-ix"
                            | "-directory"
                            | "-nx"
                            | "-quiet"
                    ) =>
            {
                lit(&format!("-{t}"))
            }
            _ => a.clone(),
        })
        .collect();
    let args = args.as_slice();
    let p = parse(
        args,
        &[
            "-ex",
            "--ex",
            "-eval-command",
            "--eval-command",
            "-iex",
            "-x",
            "--command",
            "-ix",
            "-o",
            "--one-line",
            "-O",
            "-s",
            "--source",
            "-S",
            "-p",
            "--pid",
            "-cd",
            "--cd",
            "-d",
            "--directory",
        ],
    );
    let mut commands: Vec<String> = Vec::new();
    for v in p.values(&[
        "-ex",
        "--ex",
        "-eval-command",
        "--eval-command",
        "-iex",
        "-o",
        "--one-line",
        "-O",
    ]) {
        match v.lit() {
            Some(t) => commands.push(t.to_owned()),
            None => w.opaque(format!("{name} runs commands computed at run time")),
        }
    }
    for f in p.values(&["-x", "--command", "-ix", "-s", "--source", "-S"]) {
        w.access(&cx.env, f, Access::Read, name);
        match w.program_source(&cx.env, f, &cx.stdin) {
            Program::Literal(t) | Program::File(t) => commands.extend(t.lines().map(str::to_owned)),
            Program::Nothing => {}
            Program::Unknown(why) => w.opaque(format!("{name} runs {why}")),
        }
    }
    for c in &commands {
        let c = c.trim();
        if let Some(shell) = c
            .strip_prefix("shell ")
            .or_else(|| c.strip_prefix("platform shell "))
            .or_else(|| c.strip_prefix('!'))
        {
            w.subshell_program(shell, &cx.env);
        } else {
            w.opaque(format!("{name} is told to run commands of its own"));
        }
    }
    for f in &p.operands {
        w.access(&cx.env, f, Access::Read, name);
    }
}

/// `pwsh -Command TEXT` / `-c`: the PowerShell analyser reads it; `-File`, `-EncodedCommand`
/// and code from the input are opaque.
pub(super) fn run_pwsh(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
    let mut i = 0;
    while i < args.len() {
        let Some(text) = args[i].lit() else {
            w.opaque(format!("{name} with an argument computed at run time"));
            return;
        };
        let lower = text.to_ascii_lowercase();
        i += 1;
        match lower.as_str() {
            "-command" | "-c" | "/c" | "-cmd" => {
                let mut words = Vec::new();
                for a in &args[i..] {
                    match a.lit() {
                        Some(t) => words.push(t.to_owned()),
                        None => {
                            w.opaque(format!("{name} runs code computed at run time"));
                            return;
                        }
                    }
                }
                let code = words.join(" ");
                if code.trim() == "-" {
                    pwsh_input(w, cx, name);
                    return;
                }
                pwsh_code(w, cx, name, &code);
                return;
            }
            "-file" | "-f" => {
                if let Some(f) = args.get(i) {
                    w.access(&cx.env, f, Access::Read, name);
                }
                w.opaque(format!(
                    "{name} runs a script file, which hookledger does not analyse"
                ));
                return;
            }
            // Base64 of UTF-16LE text: decoded, it is code like `-Command`'s.
            "-encodedcommand" | "-ec" | "-e" | "-en" | "-enc" => {
                match args.get(i).and_then(Field::lit).and_then(decode_pwsh) {
                    Some(code) => pwsh_code(w, cx, name, &code),
                    None => w.opaque(format!("{name} runs encoded code it cannot decode")),
                }
                return;
            }
            t if t.starts_with('-') || t.starts_with('/') => {
                if matches!(
                    t,
                    "-executionpolicy"
                        | "-ep"
                        | "-workingdirectory"
                        | "-wd"
                        | "-configurationname"
                        | "-outputformat"
                        | "-of"
                        | "-inputformat"
                        | "-if"
                        | "-windowstyle"
                        | "-settingsfile"
                ) {
                    i += 1;
                }
            }
            _ => {
                // A script path, then its arguments.
                w.access(&cx.env, &args[i - 1], Access::Read, name);
                w.opaque(format!(
                    "{name} runs a script file, which hookledger does not analyse"
                ));
                return;
            }
        }
    }
    pwsh_input(w, cx, name);
}

/// PowerShell code given on the input (`pwsh -Command -`, or piped in): analysed when literal.
fn pwsh_input(w: &mut Walker, cx: &Cx, name: &str) {
    match w.stdin_text(&cx.env, &cx.stdin) {
        Stdin::Inherited => {}
        Stdin::Literal(code) => pwsh_code(w, cx, name, &code),
        _ => w.opaque(format!("{name} runs code read from its input")),
    }
}

/// PowerShell code, analysed by the PowerShell analyser from the shell's directory.
fn pwsh_code(w: &mut Walker, cx: &Cx, name: &str, code: &str) {
    let Some(cwd) = cx.env.single_cwd().map(Path::to_path_buf) else {
        w.opaque(format!(
            "{name} runs in a directory that cannot be followed"
        ));
        return;
    };
    let inner = super::super::powershell::analyze(code, &cwd, w.home, w.world);
    w.out.accesses.extend(inner.accesses);
    w.out.remotes.extend(inner.remotes);
    for why in inner.unanalyzable {
        w.opaque_read(why);
    }
    w.out.opaque_beyond_reads |= inner.opaque_beyond_reads;
    for why in inner.refusals {
        w.refuse(why);
    }
}

/// `-EncodedCommand`'s argument: base64 of UTF-16LE text.
fn decode_pwsh(text: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    if bytes.len() % 2 != 0 || bytes.len() > 64 * 1024 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// `man -P PAGER`: the pager is a shell command run on the page; `-H BROWSER` likewise.
pub(super) fn run_man(w: &mut Walker, cx: &mut Cx, args: &[Field]) {
    let p = parse(
        args,
        &[
            "-P",
            "--pager",
            "-H",
            "--html",
            "-C",
            "--config-file",
            "-M",
            "--manpath",
            "-L",
            "--locale",
            "-m",
            "-S",
            "-s",
            "--sections",
            "-e",
            "-R",
            "-E",
            "-p",
            "--preprocessor",
        ],
    );
    for v in p.values(&["-P", "--pager", "-H", "--html"]) {
        match v.lit() {
            Some(code) => w.subshell_program(code, &cx.env),
            None => w.opaque("man runs a pager computed at run time"),
        }
    }
    if p.has(&["-p", "--preprocessor"]) || p.has(&["-C", "--config-file"]) {
        w.opaque("man is told to run preprocessors or read another configuration");
    }
    if p.has(&["-l", "--local-file"]) {
        for f in &p.operands {
            w.access(&cx.env, f, Access::Read, "man -l");
        }
    }
}

/// SQL clients run shell commands and read and write files from their own commands
/// (`.shell`, `\\!`, `system`, `.output`, `\\o`, `tee`, `.read`, `\\i`, `source`) and from SQL
/// (`readfile`, `COPY … PROGRAM`, `LOAD DATA LOCAL INFILE` …): the text given with `-c`/`-e`/
/// `-cmd`, as operands (sqlite3, duckdb) or on the input is checked (see
/// [`scripts::check_sql`]); a database file named is written. Input hookledger cannot see is
/// unanalyzable.
pub(super) fn run_sql_client(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
    let sqlite = matches!(name, "sqlite3" | "sqlite" | "duckdb");
    let with_value: &[&str] = match name {
        "psql" => &[
            "-c",
            "--command",
            "-f",
            "--file",
            "-d",
            "--dbname",
            "-h",
            "--host",
            "-p",
            "--port",
            "-U",
            "--username",
            "-o",
            "--output",
            "-L",
            "--log-file",
            "-v",
            "--set",
            "--variable",
            "-F",
            "-R",
            "-P",
            "-T",
        ],
        "mysql" | "mariadb" => &[
            "-e",
            "--execute",
            "-h",
            "--host",
            "-P",
            "--port",
            "-u",
            "--user",
            "-D",
            "--database",
            "-S",
            "--socket",
            "--tee",
            "--pager",
            "--init-command",
        ],
        _ => &[
            "--cmd",
            "--init",
            "--separator",
            "--nullvalue",
            "--newline",
            "--mmap",
            "--vfs",
            "--lookaside",
            "--pagecache",
            "--heap",
            "--maxsize",
            "-c",
            "-s",
        ],
    };
    // sqlite3's long options take one dash (`-cmd`) or two: read as two.
    let normalized: Vec<Field> = args
        .iter()
        .map(|a| match a.lit() {
            Some(t) if sqlite && t.len() > 2 && t.starts_with('-') && !t.starts_with("--") => {
                lit(&format!("-{t}"))
            }
            _ => a.clone(),
        })
        .collect();
    let p = parse_with(&normalized, &[], with_value);
    let mut texts: Vec<String> = Vec::new();
    let mut unknown = false;
    for v in p.values(&[
        "-c",
        "--command",
        "-e",
        "--execute",
        "--cmd",
        "--init-command",
        "-s",
    ]) {
        match v.lit() {
            Some(t) => texts.push(t.to_owned()),
            None => unknown = true,
        }
    }
    for v in p.values(&["--pager"]) {
        run_code(w, cx, v, &format!("{name} --pager"));
    }
    for v in p.values(&["-o", "--output", "-L", "--log-file", "--tee"]) {
        w.access(&cx.env, v, Access::Write, name);
    }
    for v in p.values(&["-f", "--file", "--init"]) {
        w.access(&cx.env, v, Access::Read, name);
        match w.program_source(&cx.env, v, &cx.stdin) {
            Program::Literal(t) | Program::File(t) => texts.push(t),
            Program::Nothing => {}
            // A file not there now is a program hookledger has not seen, like any other.
            Program::Unknown(_) if v.lit().is_some_and(|t| !is_stdin_or_pipe(t)) => {}
            Program::Unknown(why) => w.opaque(format!("{name} runs {why}")),
        }
    }
    let mut operands = p.operands.iter();
    if sqlite {
        // The database file, then SQL.
        if let Some(db) = operands.next()
            && db.lit() != Some(":memory:")
        {
            w.access(&cx.env, db, Access::Write, name);
        }
        for f in operands {
            match f.lit() {
                Some(t) => texts.push(t.to_owned()),
                None => unknown = true,
            }
        }
    }
    if unknown {
        w.opaque(format!("{name} runs SQL computed at run time"));
    }
    let batch = !texts.is_empty();
    if !batch || sqlite {
        match w.stdin_text(&cx.env, &cx.stdin) {
            Stdin::Literal(t) => texts.push(t),
            Stdin::Inherited => {}
            _ if batch && !sqlite => {}
            _ => w.opaque(format!("{name} runs SQL and commands read from its input")),
        }
    }
    for text in &texts {
        scripts::check_sql(w, &cx.env, text, name);
    }
}
