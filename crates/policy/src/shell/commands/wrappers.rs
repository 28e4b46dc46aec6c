//! Commands that run another command: privilege and environment wrappers (`sudo`, `env`, `nice`, `timeout` …), namespaces, `xargs`, `busybox`.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    let wr =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Write, role);
    match name {
        "exec" | "command" | "builtin" | "nohup" | "setsid" | "unbuffer" | "caffeinate" => {
            let p = parse_wrapper(args, &["-a"]);
            if name == "command" && p.0.iter().any(|o| o == "-v" || o == "-V") {
                return true;
            }
            super::dispatch(w, env, cx, p.1);
        }
        "sudo" | "doas" | "run0" | "pkexec" => {
            let (opts, rest) = parse_wrapper_with_values(
                args,
                &[
                    "-u",
                    "-g",
                    "-h",
                    "-p",
                    "-C",
                    "-D",
                    "-r",
                    "-t",
                    "-U",
                    "-T",
                    "-R",
                    "--user",
                    "--group",
                    "--host",
                    "--prompt",
                    "--chdir",
                    "--role",
                    "--type",
                    "--other-user",
                    "--close-from",
                    "--command-timeout",
                    "--chroot",
                ],
            );
            for (opt, value) in &opts {
                match opt.as_str() {
                    "-D" | "--chdir" => {
                        change_directory(w, &mut cx.env, value.as_ref(), "sudo --chdir")
                    }
                    "-R" | "--chroot" => w.opaque("sudo --chroot changes the root directory"),
                    "-s" | "-i" | "--shell" | "--login" if !rest.is_empty() => {
                        shell_words(w, cx, &rest, "sudo --shell");
                        return true;
                    }
                    "-e" | "--edit" => {
                        for f in &rest {
                            wr(w, cx, f, "sudoedit");
                        }
                        return true;
                    }
                    _ => {}
                }
            }
            super::dispatch(w, env, cx, rest);
        }
        "sudoedit" => {
            for f in args {
                wr(w, cx, f, "sudoedit");
            }
        }
        "env" => run_env(w, env, cx, args),
        "nice" | "ionice" | "chrt" | "taskset" | "stdbuf" | "timeout" | "time" | "flock"
        | "strace" | "ltrace" | "watch" | "numactl" | "prlimit" | "cpulimit" | "systemd-run"
        | "firejail" | "torsocks" | "proxychains" | "proxychains4" | "tsp" | "retry" => {
            run_wrapper(w, env, cx, name, args)
        }
        "chroot" => w.opaque("chroot changes the root directory paths are resolved in"),
        "unshare" | "nsenter" | "bwrap" | "proot" | "fakechroot" => {
            w.opaque(format!(
                "{name} runs the command in other namespaces, where mounts and paths may differ"
            ));
            let (_, rest) = parse_wrapper(
                args,
                &[
                    "-t",
                    "--target",
                    "-S",
                    "-G",
                    "--setuid",
                    "--setgid",
                    "--bind",
                    "--ro-bind",
                    "-b",
                    "-r",
                ],
            );
            if !rest.is_empty() {
                super::dispatch(w, env, cx, rest);
            }
        }
        "su" | "runuser" => run_su(w, env, cx, name, args),
        "script" => run_script(w, cx, args),
        "xargs" => run_xargs(w, env, cx, args),
        "parallel" | "sem" => run_parallel(w, cx, name, args),
        "busybox" | "toybox" => {
            if !args.is_empty() {
                super::dispatch(w, env, cx, args.to_vec());
            }
        }
        "tmux" => run_tmux(w, cx, args),
        "screen" => run_screen(w, env, cx, args),
        _ if project_runner(name, args).is_some() => {
            let (skip, with_value) = project_runner(name, args).unwrap_or((0, &[]));
            let (opts, mut rest) = parse_wrapper_with_values(&args[skip..], with_value);
            for (opt, value) in &opts {
                match (opt.as_str(), value) {
                    // `uv run --env-file .env`, `dotenv -f .env`: the file is read.
                    ("--env-file" | "-f" | "-e", Some(v)) if matches!(name, "uv" | "dotenv") => {
                        w.access(&cx.env, v, Access::Read, name);
                    }
                    ("--directory" | "--cwd" | "--project" | "-C", Some(v)) => {
                        change_directory(w, &mut cx.env, Some(v), name)
                    }
                    // `nix-shell --run CODE`: shell code.
                    ("--run" | "--command", Some(code)) if name == "nix-shell" => {
                        run_code(w, cx, code, &format!("{name} {opt}"));
                        return true;
                    }
                    // `nix develop -c CMD ARGS…`: a command and its arguments.
                    ("-c" | "--command", Some(command)) if name == "nix" => {
                        rest.insert(0, command.clone());
                    }
                    _ => {}
                }
            }
            if name == "dotenv" {
                // It loads `.env` (or the files named) into the command's environment.
                if !opts.iter().any(|(o, _)| matches!(o.as_str(), "-f" | "-e")) {
                    w.access(&cx.env, &lit(".env"), Access::Read, name);
                }
                if rest.first().and_then(Field::lit) == Some("run") {
                    rest.remove(0);
                }
            }
            // `uv run tool.py`: a Python file is run by Python.
            if rest
                .first()
                .and_then(Field::lit)
                .is_some_and(|t| t.ends_with(".py"))
            {
                rest.insert(0, lit("python"));
            }
            if !rest.is_empty() {
                super::dispatch(w, env, cx, rest);
            }
        }
        _ => return false,
    }
    true
}

/// Tools that run a command in a project's environment (`uv run CMD`, `poetry run CMD`,
/// `bundle exec CMD`, `nix develop -c CMD` …): how many words name the subcommand, and the
/// options that take a value before the command. `None` for anything else they do.
fn project_runner(name: &str, args: &[Field]) -> Option<(usize, &'static [&'static str])> {
    let first = args.first().and_then(Field::lit);
    let second = args.get(1).and_then(Field::lit);
    const UV: &[&str] = &[
        "--with",
        "--with-requirements",
        "--with-editable",
        "--python",
        "-p",
        "--package",
        "--extra",
        "--group",
        "--env-file",
        "--directory",
        "--project",
        "--index",
        "--index-url",
        "--extra-index-url",
        "--from",
        "-w",
    ];
    const CONDA: &[&str] = &["-n", "--name", "-p", "--prefix", "--cwd"];
    const NONE: &[&str] = &[];
    match (name, first, second) {
        ("uv", Some("run"), _) => Some((1, UV)),
        ("uv", Some("tool"), Some("run")) => Some((2, UV)),
        ("uvx", _, _) => Some((0, UV)),
        (
            "poetry" | "pipenv" | "pdm" | "hatch" | "rye" | "pixi" | "devbox" | "mise" | "rtx",
            Some("run" | "exec" | "x"),
            _,
        ) => Some((1, &["-e", "--environment", "-C", "--cd"])),
        ("conda" | "mamba" | "micromamba", Some("run"), _) => Some((1, CONDA)),
        ("bundle" | "asdf" | "rbenv" | "pyenv" | "nodenv" | "opam", Some("exec"), _) => {
            Some((1, NONE))
        }
        ("direnv", Some("exec"), Some(_)) => Some((2, NONE)),
        ("nix", Some("develop" | "shell"), _) => Some((1, &["-c", "--command"])),
        ("nix-shell", _, _) => Some((0, &["--run", "--command", "-p", "-A", "-I"])),
        ("dotenv", _, _) => Some((0, &["-f", "-e", "-v"])),
        _ => None,
    }
}

/// tmux runs shell commands for `new-session`, `new-window`, `split-window`, `respawn-pane`,
/// `run-shell`, `if-shell`, `display-popup` (its trailing words), and types keys into a shell
/// with `send-keys`; anything else it is told (`attach`, `ls`, `kill-session`) runs nothing.
fn run_tmux(w: &mut Walker, cx: &Cx, args: &[Field]) {
    let (_, rest) = parse_wrapper_with_values(args, &["-L", "-S", "-f", "-c", "-T"]);
    let Some(sub) = rest.first().and_then(Field::lit) else {
        if !rest.is_empty() {
            w.opaque("tmux is told to run something computed at run time");
        }
        return;
    };
    let rest = &rest[1..];
    match sub {
        "new-session" | "new" | "new-window" | "neww" | "split-window" | "splitw"
        | "respawn-pane" | "respawnp" | "respawn-window" | "respawnw" | "run-shell" | "run"
        | "display-popup" | "popup" | "if-shell" | "if" => {
            let (_, command) = parse_wrapper_with_values(
                rest,
                // Flags that take no value (`-d` detach, `-h` horizontal) are left out.
                &[
                    "-s", "-n", "-t", "-c", "-x", "-y", "-e", "-F", "-l", "-p", "-T", "-S",
                ],
            );
            if !command.is_empty() {
                shell_words(w, cx, &command, "tmux");
            }
        }
        "send-keys" | "send" => {
            let (_, keys) = parse_wrapper_with_values(rest, &["-t", "-N"]);
            let mut line = String::new();
            for k in &keys {
                match k.lit() {
                    Some("Enter" | "C-m" | "KPEnter") => line.push('\n'),
                    Some(t) => line.push_str(t),
                    None => {
                        w.opaque("tmux types keys computed at run time");
                        return;
                    }
                }
            }
            w.subshell_program(&line, &cx.env);
        }
        "source-file" | "source" => {
            w.opaque("tmux runs its commands from a file");
        }
        _ => {}
    }
}

/// `screen [-dmS NAME] CMD ARGS…` runs CMD; `screen -X stuff TEXT` types TEXT into a shell.
fn run_screen(w: &mut Walker, env: &mut Env, cx: &mut Cx, args: &[Field]) {
    let (opts, rest) = parse_wrapper_with_values(
        args,
        &["-S", "-c", "-e", "-h", "-p", "-s", "-t", "-T", "-X"],
    );
    for (opt, value) in &opts {
        if opt == "-X" {
            match value.as_ref().and_then(Field::lit) {
                Some("stuff") => {
                    let text: Option<Vec<&str>> = rest.iter().map(Field::lit).collect();
                    match text {
                        Some(t) => w.subshell_program(&t.join(" ").replace("^M", "\n"), &cx.env),
                        None => w.opaque("screen types text computed at run time"),
                    }
                }
                Some("exec" | "screen") => shell_words(w, cx, &rest, "screen"),
                Some(_) => {}
                None => w.opaque("screen is told to run something computed at run time"),
            }
            return;
        }
    }
    if !rest.is_empty() {
        super::dispatch(w, env, cx, rest);
    }
}

/// A wrapper's own options (flags only), and the command it runs.
pub(super) fn parse_wrapper(args: &[Field], with_value: &[&str]) -> (Vec<String>, Vec<Field>) {
    let (opts, rest) = parse_wrapper_with_values(args, with_value);
    (opts.into_iter().map(|(o, _)| o).collect(), rest)
}

pub(super) fn parse_wrapper_with_values(
    args: &[Field],
    with_value: &[&str],
) -> (Vec<(String, Option<Field>)>, Vec<Field>) {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Some(text) = args[i].lit() else { break };
        if text == "--" {
            i += 1;
            break;
        }
        if !text.starts_with('-') || text.len() == 1 {
            break;
        }
        i += 1;
        if let Some((name, value)) = text.split_once('=').filter(|_| text.starts_with("--")) {
            opts.push((name.to_owned(), Some(lit(value))));
            continue;
        }
        if with_value.contains(&text) {
            opts.push((text.to_owned(), args.get(i).cloned()));
            i += 1;
            continue;
        }
        if !text.starts_with("--") {
            // A cluster: the first option that takes a value ends it.
            let chars: Vec<char> = text[1..].chars().collect();
            for (k, c) in chars.iter().enumerate() {
                let name = format!("-{c}");
                if with_value.contains(&name.as_str()) {
                    let rest: String = chars[k + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        i += 1;
                        args.get(i - 1).cloned()
                    } else {
                        Some(lit(&rest))
                    };
                    opts.push((name, value));
                    break;
                }
                opts.push((name, None));
            }
            continue;
        }
        opts.push((text.to_owned(), None));
    }
    (opts, args[i.min(args.len())..].to_vec())
}

pub(super) fn run_env(w: &mut Walker, env: &mut Env, cx: &mut Cx, args: &[Field]) {
    let mut i = 0;
    while i < args.len() {
        let Some(text) = args[i].lit() else {
            w.opaque("env with an argument computed at run time");
            return;
        };
        if text == "--" {
            i += 1;
            break;
        }
        if let Some(split) = text
            .strip_prefix("--split-string=")
            .or_else(|| (text.starts_with("-S") && text.len() > 2).then(|| &text[2..]))
        {
            split_string(w, cx, split, &args[i + 1..]);
            return;
        }
        match text {
            "-S" | "--split-string" => {
                let Some(split) = args.get(i + 1).and_then(Field::lit) else {
                    w.opaque("env -S with text computed at run time");
                    return;
                };
                split_string(w, cx, split, &args[i + 2..]);
                return;
            }
            "-C" | "--chdir" => {
                let target = args.get(i + 1).cloned();
                change_directory(w, &mut cx.env, target.as_ref(), "env --chdir");
                i += 2;
                continue;
            }
            "-u" | "--unset" | "-a" | "--argv0" => {
                i += 2;
                continue;
            }
            _ => {}
        }
        if let Some(dir) = text.strip_prefix("--chdir=") {
            let target = lit(dir);
            change_directory(w, &mut cx.env, Some(&target), "env --chdir");
            i += 1;
            continue;
        }
        if let Some(dir) = text.strip_prefix("-C").filter(|d| !d.is_empty()) {
            let target = lit(dir);
            change_directory(w, &mut cx.env, Some(&target), "env -C");
            i += 1;
            continue;
        }
        if text.starts_with('-') {
            i += 1;
            continue;
        }
        if let Some((name, value)) = text.split_once('=')
            && !name.is_empty()
            && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        {
            w.check_special_variable(&cx.env, name, Some(value), Some("the command env runs"));
            if name == "GIT_DIR" || name == "GIT_WORK_TREE" {
                cx.git_dir = Some(Some(value.to_owned()));
            }
            cx.env.vars.insert(name.to_owned(), Some(value.to_owned()));
            i += 1;
            continue;
        }
        break;
    }
    let rest = args[i.min(args.len())..].to_vec();
    if !rest.is_empty() {
        super::dispatch(w, env, cx, rest);
    }
}

/// `env -S TEXT ARGS…`: TEXT is split like a shell line, and ARGS follow it.
pub(super) fn split_string(w: &mut Walker, cx: &Cx, text: &str, rest: &[Field]) {
    let mut line = text.to_owned();
    for arg in rest {
        match arg.lit() {
            Some(t) => {
                line.push(' ');
                line.push_str(&shell_quote(t));
            }
            None => {
                w.opaque("env -S with an argument computed at run time");
                return;
            }
        }
    }
    w.subshell_program(&line, &cx.env);
}

pub(super) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

pub(super) fn run_wrapper(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) {
    let with_value: &[&str] = match name {
        "nice" => &["-n", "--adjustment"],
        "ionice" => &["-c", "-n", "-p", "-t", "--class", "--classdata"],
        "stdbuf" => &["-i", "-o", "-e", "--input", "--output", "--error"],
        "timeout" => &["-s", "-k", "--signal", "--kill-after"],
        "time" => &["-f", "--format", "-o", "--output"],
        "flock" => &[
            "-w",
            "--timeout",
            "-E",
            "--conflict-exit-code",
            "-c",
            "--command",
        ],
        "strace" | "ltrace" => &[
            "-o", "-e", "-p", "-s", "-u", "-E", "-a", "-P", "-b", "-X", "-O", "-S", "-U",
        ],
        "watch" => &["-n", "--interval", "-d", "-q", "--equexit"],
        "numactl" => &["-C", "-N", "-m", "-i", "-p"],
        "prlimit" => &["-p", "--pid"],
        "systemd-run" => &[
            "-p",
            "--property",
            "-u",
            "--unit",
            "-E",
            "--setenv",
            "--working-directory",
            "-M",
            "--machine",
        ],
        "taskset" | "chrt" | "cpulimit" | "retry" => {
            &["-l", "-p", "-t", "--limit", "--pid", "--times", "--delay"]
        }
        _ => &[],
    };
    let (opts, mut rest) = parse_wrapper_with_values(args, with_value);
    for (opt, value) in &opts {
        match (name, opt.as_str()) {
            ("time" | "strace" | "ltrace", "-o" | "--output") => {
                if let Some(v) = value {
                    w.access(&cx.env, v, Access::Write, name);
                }
            }
            ("flock", "-c" | "--command") => {
                if let Some(code) = value {
                    run_code(w, cx, code, "flock -c");
                }
            }
            ("systemd-run", "--working-directory") => {
                change_directory(w, &mut cx.env, value.as_ref(), "systemd-run");
            }
            _ => {}
        }
    }
    match name {
        // Positional first operand before the command.
        "timeout" | "taskset" | "chrt" if !rest.is_empty() => {
            rest.remove(0);
        }
        "flock" => {
            if let Some(lockfile) = rest.first().cloned() {
                w.access(&cx.env, &lockfile, Access::Write, "flock");
                rest.remove(0);
            }
            if let Some(Some("-c")) = rest.first().map(Field::lit) {
                if let Some(code) = rest.get(1).cloned() {
                    run_code(w, cx, &code, "flock -c");
                }
                return;
            }
        }
        "watch" => {
            // watch joins its arguments and runs them with `sh -c`.
            shell_words(w, cx, &rest, "watch");
            return;
        }
        _ => {}
    }
    if !rest.is_empty() {
        super::dispatch(w, env, cx, rest);
    }
}

pub(super) fn run_xargs(w: &mut Walker, env: &mut Env, cx: &mut Cx, args: &[Field]) {
    let (opts, rest) = parse_wrapper_with_values(
        args,
        &[
            "-I",
            "-i",
            "-n",
            "-P",
            "-L",
            "-l",
            "-s",
            "-d",
            "-E",
            "-e",
            "-a",
            "--arg-file",
            "--max-args",
            "--max-procs",
            "--delimiter",
            "--replace",
            "--max-lines",
            "--eof",
            "--process-slot-var",
            "--max-chars",
        ],
    );
    let mut replace: Option<String> = None;
    let mut input = cx.stdin.clone();
    // How the input is cut into items: at blanks and newlines (quotes honoured) by default; at
    // one character with `-d`/`-0`, where blanks and quotes are part of an item; at newlines
    // with `-I`, where an item is a whole line (`echo 'cat .env' | xargs -I{} sh -c {}` runs
    // `cat .env`).
    let mut delimiter: Option<char> = None;
    for (opt, value) in &opts {
        match opt.as_str() {
            "-0" | "--null" => delimiter = Some('\0'),
            "-d" | "--delimiter" => {
                delimiter = match value.as_ref().and_then(Field::lit) {
                    Some("\\n") => Some('\n'),
                    Some("\\t") => Some('\t'),
                    Some("\\0") => Some('\0'),
                    Some(d) if d.chars().count() == 1 => d.chars().next(),
                    // An escape or code hookledger does not decode: cut nowhere, so the
                    // whole input is one item at worst.
                    _ => Some('\u{10FFFF}'),
                };
            }
            _ => {}
        }
    }
    for (opt, value) in &opts {
        match opt.as_str() {
            "-a" | "--arg-file" => {
                if let Some(v) = value {
                    w.access(&cx.env, v, Access::Read, "xargs -a");
                    // The arguments come from the file instead of the input.
                    input = v
                        .lit()
                        .map_or(Stdin::Unknown, |t| Stdin::File(t.to_owned()));
                }
            }
            "-I" | "-i" | "--replace" => {
                replace = Some(
                    value
                        .as_ref()
                        .and_then(Field::lit)
                        .unwrap_or("{}")
                        .to_owned(),
                )
            }
            _ => {}
        }
    }
    let argv: Vec<Field> = if rest.is_empty() {
        vec![lit("echo")]
    } else {
        rest
    };
    // Input known now (a literal list, the files a `find` by name selects): the command is
    // run on those words. Otherwise its arguments are unknown.
    const MAX_ITEMS: usize = 256;
    let mut alternative: Option<Vec<String>> = None;
    let items: Option<Vec<String>> = match w.stdin_text(&cx.env, &input) {
        Stdin::Literal(text) => {
            // A listing hookledger made of what `find -print0` selects has one name a line:
            // with no NUL in it, both readings are run (the lines, and the whole text).
            if delimiter == Some('\0') && !text.contains('\0') && text.contains('\n') {
                let lines: Vec<String> = text
                    .lines()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                alternative = (lines.len() <= MAX_ITEMS).then_some(lines);
            }
            let items: Vec<String> = if let Some(d) = delimiter {
                text.split(d)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else if replace.is_some() {
                text.lines()
                    .map(|l| l.trim_start_matches([' ', '\t']))
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else {
                text.split(['\n', '\0', ' ', '\t'])
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            let quotes_matter = delimiter.is_none() && text.contains(['\'', '"', '\\']);
            (items.len() <= MAX_ITEMS && !quotes_matter).then_some(items)
        }
        _ => None,
    };
    let mut runs = xargs_runs(&argv, replace.as_deref(), items);
    if alternative.is_some() {
        runs.extend(xargs_runs(&argv, replace.as_deref(), alternative));
    }
    for run in runs {
        let mut inner = Cx {
            env: cx.env.clone(),
            git_dir: cx.git_dir.clone(),
            stdin: Stdin::Unknown,
            suffix_assignments: Vec::new(),
        };
        super::dispatch(w, env, &mut inner, run);
    }
}

/// The command lines xargs runs: `argv` with the items appended, or each item put in place of
/// the replace token; with the items unknown, what they fill is unknown.
fn xargs_runs(
    argv: &[Field],
    replace: Option<&str>,
    items: Option<Vec<String>>,
) -> Vec<Vec<Field>> {
    let unknown = Field::Dyn("arguments xargs reads from its input".into());
    match (replace, items) {
        (Some(token), Some(items)) => items
            .iter()
            .map(|item| {
                argv.iter()
                    .enumerate()
                    .map(|(k, f)| match f.lit() {
                        Some(t) if k > 0 && t.contains(token) => lit(&t.replace(token, item)),
                        _ => f.clone(),
                    })
                    .collect()
            })
            .collect(),
        (None, Some(items)) => {
            let mut all = argv.to_vec();
            all.extend(items.iter().map(|i| lit(i)));
            vec![all]
        }
        (Some(token), None) => vec![
            argv.iter()
                .enumerate()
                .map(|(k, f)| {
                    if k > 0 && f.lit().is_some_and(|t| t.contains(token)) {
                        unknown.clone()
                    } else {
                        f.clone()
                    }
                })
                .collect(),
        ],
        (None, None) => {
            let mut all = argv.to_vec();
            all.push(unknown);
            vec![all]
        }
    }
}

/// `su [-] [USER] [-c CODE] [ARGS…]`, `runuser -u USER -- CMD…`: with `-u`, the words after it
/// are a command; otherwise `-c` is shell code and other words are the shell's arguments (a
/// script to run and its arguments).
pub(super) fn run_su(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) {
    let p = parse(
        args,
        &[
            "-c",
            "--command",
            "--session-command",
            "-s",
            "--shell",
            "-g",
            "--group",
            "-G",
            "--supp-group",
            "-w",
            "--whitelist-environment",
            "-u",
            "--user",
        ],
    );
    if p.has(&["-u", "--user"]) {
        if !p.operands.is_empty() {
            super::dispatch(w, env, cx, p.operands.clone());
        }
        return;
    }
    for code in p.values(&["-c", "--command", "--session-command"]) {
        run_code(w, cx, code, name);
    }
    let mut operands: Vec<Field> = p.operands.clone();
    if operands.first().and_then(Field::lit) == Some("-") {
        operands.remove(0);
    }
    if operands.len() > 1 {
        // The user, then the shell's own arguments.
        run_shell(w, cx, "sh", &operands[1..]);
    }
}

/// `script [-c CODE] [FILE]`: runs CODE (or a shell) and writes what it shows to FILE
/// (`typescript` by default) and any log files.
pub(super) fn run_script(w: &mut Walker, cx: &Cx, args: &[Field]) {
    /// Options naming a log file `script` writes.
    const LOGS: &[&str] = &[
        "-O",
        "--log-out",
        "-I",
        "--log-in",
        "-B",
        "--log-io",
        "-T",
        "--log-timing",
    ];
    let with_value: Vec<&str> = ["-c", "--command"]
        .into_iter()
        .chain(LOGS.iter().copied())
        .chain(["-t", "--timing", "-E", "--echo", "-m", "--logging-format"])
        .collect();
    let p = parse(args, &with_value);
    for code in p.values(&["-c", "--command"]) {
        run_code(w, cx, code, "script -c");
    }
    for f in p.values(LOGS) {
        w.access(&cx.env, f, Access::Write, "script");
    }
    match p.operands.first() {
        Some(f) => w.access(&cx.env, f, Access::Write, "script"),
        None if !p.has(&["-O", "--log-out", "-B", "--log-io"]) => {
            w.access(&cx.env, &lit("typescript"), Access::Write, "script")
        }
        None => {}
    }
}

/// `parallel CMD ::: ARGS…`: CMD is run through a shell once per literal argument (`{}`
/// replaced, or the argument appended). Arguments read from its input or a file are unknown.
pub(super) fn run_parallel(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    const MAX_RUNS: usize = 16;
    let Some(split) = args.iter().position(|a| a.lit() == Some(":::")) else {
        w.opaque(format!("{name} builds commands from its input"));
        return;
    };
    if args
        .iter()
        .any(|a| matches!(a.lit(), Some("::::" | ":::+" | "::::+")))
    {
        w.opaque(format!("{name} builds commands from files of arguments"));
    }
    let (opts, command) = parse_wrapper_with_values(
        &args[..split],
        &[
            "-j",
            "--jobs",
            "-S",
            "--sshlogin",
            "--joblog",
            "--results",
            "-a",
            "--arg-file",
            "--colsep",
            "-N",
            "-n",
            "--delay",
            "--timeout",
            "--tmpdir",
            "-I",
            "--workdir",
            "--basefile",
            "--return",
        ],
    );
    for (opt, value) in &opts {
        if let Some(v) = value {
            match opt.as_str() {
                "--joblog" | "--results" => w.access(&cx.env, v, Access::Write, name),
                "-a" | "--arg-file" | "--basefile" => w.access(&cx.env, v, Access::Read, name),
                "-S" | "--sshlogin" => w.opaque(format!("{name} runs commands on other machines")),
                _ => {}
            }
        }
    }
    let inputs: Vec<&Field> = args[split + 1..]
        .iter()
        .filter(|a| a.lit() != Some(":::"))
        .collect();
    if inputs.len() > MAX_RUNS {
        w.opaque(format!(
            "{name} runs a command for more than {MAX_RUNS} arguments"
        ));
    }
    for input in inputs.into_iter().take(MAX_RUNS) {
        let Some(value) = input.lit() else {
            w.opaque(format!(
                "{name} runs a command on an argument computed at run time"
            ));
            continue;
        };
        let mut words: Vec<Field> = Vec::new();
        let mut replaced = false;
        for f in &command {
            match f.lit() {
                Some(t) if t.contains("{}") => {
                    replaced = true;
                    words.push(lit(&t.replace("{}", &shell_quote(value))));
                }
                _ => words.push(f.clone()),
            }
        }
        if !replaced {
            words.push(lit(&shell_quote(value)));
        }
        shell_words(w, cx, &words, name);
    }
}
