//! What a simple command does to paths, by command name.
//!
//! Wrappers are unwrapped first; shells, `eval` and interpreters recurse into the code they
//! run; known commands have their operands classified; an unknown command is assumed to
//! write every argument that looks like a path (it may), and an argument only known at run
//! time makes it unanalyzable.

use std::path::{Path, PathBuf};

use super::hookledger::{self, Effect};
use super::scripts;
use super::walk::{Env, Mark, PROCESS_SUBSTITUTION, Stdin, Walker};
use super::words::Field;
use crate::target::Access;

mod simple;

pub struct Call {
    pub argv: Vec<Field>,
    pub prefix_assignments: Vec<(String, Option<String>)>,
    pub suffix_assignments: Vec<(String, Option<String>)>,
    pub stdin: Stdin,
}

/// Runs `call` in `command_env` (the shell state plus its prefix assignments); changes that
/// persist in the shell (`cd`, `export`) go to `env`.
pub fn run(w: &mut Walker, env: &mut Env, command_env: &Env, call: Call) {
    for (name, value) in &call.prefix_assignments {
        let command = call
            .argv
            .first()
            .and_then(Field::lit)
            .unwrap_or("the command");
        w.check_special_variable(name, value.as_deref(), Some(command));
    }
    let mut cx = Cx {
        env: command_env.clone(),
        git_dir: call
            .prefix_assignments
            .iter()
            .find(|(n, _)| n == "GIT_DIR" || n == "GIT_WORK_TREE")
            .map(|(_, v)| v.clone()),
        stdin: call.stdin,
        suffix_assignments: call.suffix_assignments,
    };
    dispatch(w, env, &mut cx, call.argv);
}

struct Cx {
    env: Env,
    /// `GIT_DIR`/`GIT_WORK_TREE` from the environment of this command (value unknown: `Some(None)`).
    git_dir: Option<Option<String>>,
    stdin: Stdin,
    suffix_assignments: Vec<(String, Option<String>)>,
}

/// Options and operands of one command line, parsed the getopt way.
struct Parsed {
    /// (option as written without dashes' value, its argument).
    opts: Vec<(String, Option<Field>)>,
    operands: Vec<Field>,
}

impl Parsed {
    fn has(&self, names: &[&str]) -> bool {
        self.opts.iter().any(|(o, _)| names.contains(&o.as_str()))
    }
    fn values<'a>(&'a self, names: &'a [&str]) -> impl Iterator<Item = &'a Field> + 'a {
        self.opts
            .iter()
            .filter(move |(o, _)| names.contains(&o.as_str()))
            .filter_map(|(_, v)| v.as_ref())
    }
}

/// Splits `args` into options and operands. `with_value` lists options that take an argument,
/// short ones as `-x` and long ones as `--name`. Options are recognised anywhere before `--`,
/// as GNU tools do; each short option of a cluster is recorded on its own as `-x`.
fn parse(args: &[Field], with_value: &[&str]) -> Parsed {
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let text = match arg.lit() {
            Some(t) if !only_operands && t.starts_with('-') && t.len() > 1 => t,
            _ => {
                operands.push(arg.clone());
                continue;
            }
        };
        if text == "--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(lit(v))),
                None => (format!("--{long}"), None),
            };
            let value = if inline.is_some() {
                inline
            } else if with_value.contains(&name.as_str()) && i < args.len() {
                i += 1;
                Some(args[i - 1].clone())
            } else {
                None
            };
            opts.push((name, value));
            continue;
        }
        let chars: Vec<char> = text[1..].chars().collect();
        for (k, c) in chars.iter().enumerate() {
            let name = format!("-{c}");
            if with_value.contains(&name.as_str()) {
                let rest: String = chars[k + 1..].iter().collect();
                let value = if !rest.is_empty() {
                    Some(lit(&rest))
                } else if i < args.len() {
                    i += 1;
                    Some(args[i - 1].clone())
                } else {
                    None
                };
                opts.push((name, value));
                break;
            }
            opts.push((name, None));
        }
    }
    Parsed { opts, operands }
}

/// [`parse`] with two lists of options that take a value.
fn parse_with(args: &[Field], extra: &[&str], with_value: &[&str]) -> Parsed {
    let all: Vec<&str> = extra.iter().chain(with_value.iter()).copied().collect();
    parse(args, &all)
}

fn lit(text: &str) -> Field {
    Field::Lit {
        text: text.to_owned(),
        glob: None,
    }
}

/// The files a unified or git diff changes, with `strip` leading components removed (with
/// `basename_default`, as `patch` without `-p`: the last component only).
pub fn patch_targets(text: &str, strip: usize, basename_default: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let name = if let Some(rest) = line
            .strip_prefix("+++ ")
            .or_else(|| line.strip_prefix("--- "))
        {
            rest.split('\t').next().unwrap_or(rest).trim()
        } else if let Some(rest) = line
            .strip_prefix("rename to ")
            .or_else(|| line.strip_prefix("copy to "))
            .or_else(|| line.strip_prefix("rename from "))
        {
            // git's extended headers are already relative to the top.
            let rest = rest.trim();
            if !out.iter().any(|o| o == rest) {
                out.push(rest.to_owned());
            }
            continue;
        } else {
            continue;
        };
        if name == "/dev/null" || name.is_empty() {
            continue;
        }
        let name = name.trim_matches('"');
        let stripped: String = if basename_default {
            name.rsplit('/').next().unwrap_or(name).to_owned()
        } else {
            let parts: Vec<&str> = name.split('/').collect();
            if parts.len() <= strip {
                continue;
            }
            parts[strip..].join("/")
        };
        if !out.contains(&stripped) {
            out.push(stripped);
        }
    }
    out
}

/// A file whose first line is a `#!` for a Bourne-style shell.
fn is_shell_script(w: &mut Walker, env: &Env, field: &Field) -> bool {
    let Some(text) = field.lit() else {
        return false;
    };
    let Some(path) = w.resolve(env, text, "the program run").into_iter().next() else {
        return false;
    };
    let Ok(mut file) = std::fs::File::open(&path) else {
        return false;
    };
    let mut head = [0u8; 128];
    let n = std::io::Read::read(&mut file, &mut head).unwrap_or(0);
    let first_line = String::from_utf8_lossy(&head[..n]);
    let first_line = first_line.lines().next().unwrap_or("");
    first_line.starts_with("#!")
        && [
            "/sh", "/bash", "/dash", "/zsh", "/ksh", "env sh", "env bash", "env zsh",
        ]
        .iter()
        .any(|s| first_line.contains(s))
}

fn name_of(field: &Field) -> Option<String> {
    let text = field.lit()?;
    Some(
        Path::new(text)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| text.to_owned()),
    )
}

fn dispatch(w: &mut Walker, env: &mut Env, cx: &mut Cx, argv: Vec<Field>) {
    let Some(first) = argv.first() else {
        return;
    };
    let Some(name) = name_of(first) else {
        w.opaque(match first {
            Field::Dyn(why) => format!("the command to run is {why}"),
            Field::Lit { .. } => "the command name".into(),
        });
        return;
    };
    if first.lit().is_some_and(|t| t.contains('/')) {
        // Running a file reads it; a shell script is walked like `bash FILE`.
        w.access(&cx.env, first, Access::Read, "the program run");
        if is_shell_script(w, &cx.env, first) {
            unknown_arguments(w, cx, &name, &argv[1..]);
            let mut shell = cx.env.clone();
            w.script_file(&mut shell, first, false);
            return;
        }
    }
    if let Some(Field::Lit { glob: Some(_), .. }) = argv.first() {
        w.opaque("the command name is a glob");
        return;
    }
    let args = &argv[1..];
    if w.call_function(&name, env) {
        return;
    }
    if runs_hookledger(w, &cx.env, first, args) {
        run_hookledger(w, cx, args, first.lit().unwrap_or("hookledger"));
        return;
    }
    if let Some(simple) = simple::lookup(&name) {
        simple::run(w, env, cx, &name, simple, args);
        return;
    }
    let r =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Read, role);
    let wr =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Write, role);
    match name.as_str() {
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            let p = parse(args, &[]);
            if p.has(&["-n"]) {
                w.opaque(format!("{name} -n makes a name refer to another variable"));
            }
            for (var, value) in cx.suffix_assignments.drain(..) {
                w.check_special_variable(&var, value.as_deref(), None);
                env.vars.insert(var, value);
            }
        }
        "cd" | "pushd" | "chdir" => {
            let p = parse(args, &[]);
            let target = p.operands.first().cloned();
            if name == "pushd" {
                env.dir_stack.push(env.cwds.clone());
            }
            change_directory(w, env, target.as_ref(), &name);
        }
        "popd" => {
            env.cwds = env.dir_stack.pop().unwrap_or(None);
        }
        "alias" => {
            if args.iter().any(|a| a.lit().is_none_or(|t| t.contains('='))) {
                w.opaque("alias definitions change how later commands are read");
            }
        }
        "unalias" => {}
        "shopt" | "enable" => {
            let text: Vec<&str> = args.iter().filter_map(Field::lit).collect();
            if name == "shopt" && text.contains(&"dotglob") {
                w.dotglob = true;
            }
            if name == "enable" || text.contains(&"expand_aliases") {
                w.opaque(format!("{name} changes how later commands are read or run"));
            }
        }
        "trap" => {
            let p = parse(args, &[]);
            if let Some(code) = p.operands.first() {
                match code.lit() {
                    Some(c) if p.operands.len() > 1 => w.subshell_program(c, &cx.env),
                    Some(_) => {}
                    None => w.opaque("trap runs code computed at run time"),
                }
            }
        }
        "eval" => {
            let mut text = Vec::new();
            for a in args {
                match a.lit() {
                    Some(t) => text.push(t.to_owned()),
                    None => {
                        w.opaque("eval of text computed at run time");
                        return;
                    }
                }
            }
            // eval runs in the current shell: its directory changes persist.
            let mut current = cx.env.clone();
            w.program(&text.join(" "), &mut current);
            env.cwds = current.cwds;
        }
        "source" | "." => {
            if let Some(script) = args.first() {
                r(w, cx, script, &name.to_string());
                unknown_arguments(w, cx, &name, &args[1..]);
                let mut shell = cx.env.clone();
                w.script_file(&mut shell, script, true);
                env.cwds = shell.cwds;
            }
        }
        "exec" | "command" | "builtin" | "nohup" | "setsid" | "unbuffer" | "caffeinate" => {
            let p = parse_wrapper(args, &["-a"]);
            if name == "command" && p.0.iter().any(|o| o == "-v" || o == "-V") {
                return;
            }
            dispatch(w, env, cx, p.1);
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
                        return;
                    }
                    "-e" | "--edit" => {
                        for f in &rest {
                            wr(w, cx, f, "sudoedit");
                        }
                        return;
                    }
                    _ => {}
                }
            }
            dispatch(w, env, cx, rest);
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
            run_wrapper(w, env, cx, &name, args)
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
                dispatch(w, env, cx, rest);
            }
        }
        "mount" | "umount" => {
            // A bind mount is another name for a tree, an unmount takes one away.
            let p = parse(
                args,
                &[
                    "-t",
                    "-o",
                    "--options",
                    "--types",
                    "-L",
                    "-U",
                    "--source",
                    "--target",
                ],
            );
            for f in p.values(&["--source", "--target"]).chain(p.operands.iter()) {
                tree(w, cx, f, Access::Write, &name);
            }
        }
        "trash" | "trash-put" | "rmtrash" | "gio" => {
            let p = parse(args, &[]);
            let skip = usize::from(name == "gio");
            if name == "gio" && p.operands.first().and_then(Field::lit) != Some("trash") {
                unknown_arguments(w, cx, &name, args);
                return;
            }
            for f in p.operands.iter().skip(skip) {
                tree(w, cx, f, Access::Write, &name);
            }
        }
        "npx" | "bunx" | "pnpx" => run_package_runner(w, env, cx, &name, args),
        "husky" | "pre-commit" | "lefthook" | "simple-git-hooks" | "overcommit" | "git-hooks" => {
            hook_manager(w, cx, &name, args)
        }
        "claude" => run_claude(w, cx, args),
        "npm" | "pnpm" | "yarn" | "bun"
            if args
                .first()
                .and_then(Field::lit)
                .is_some_and(|s| matches!(s, "exec" | "x" | "dlx")) =>
        {
            run_package_runner(w, env, cx, &name, &args[1..])
        }
        "cargo"
            if args
                .first()
                .and_then(Field::lit)
                .is_some_and(|s| s == "run" || s == "r") =>
        {
            run_cargo(w, cx, &args[1..])
        }
        "su" | "runuser" => {
            let p = parse(
                args,
                &["-c", "--command", "-s", "--shell", "-g", "-G", "-w"],
            );
            if let Some(code) = p.values(&["-c", "--command"]).next() {
                run_code(w, cx, code, &name)
            }
        }
        "xargs" => run_xargs(w, env, cx, args),
        "parallel" => w.opaque("parallel builds commands from its input"),
        "busybox" | "toybox" => {
            if !args.is_empty() {
                dispatch(w, env, cx, args.to_vec());
            }
        }
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "yash" | "posh" | "fish"
        | "rbash" | "tcsh" | "csh" => run_shell(w, cx, &name, args),
        _ if scripts::interpreter(&name).is_some() => run_interpreter(w, cx, &name, args),
        "git" => {
            let git_dir = cx.git_dir.clone();
            let stdin = cx.stdin.clone();
            super::git_cmd::run(w, &cx.env, git_dir, &stdin, args)
        }
        "find" => run_find(w, env, cx, args),
        "grep" | "egrep" | "fgrep" | "rg" | "ag" | "ack" | "ripgrep" | "zgrep" | "git-grep"
        | "pcregrep" | "ugrep" | "sift" => run_grep(w, cx, &name, args),
        "jq" | "yq" | "gojq" | "jaq" => {
            let p = parse(
                args,
                &[
                    "-f",
                    "--from-file",
                    "--arg",
                    "--argjson",
                    "--slurpfile",
                    "--rawfile",
                    "--indent",
                    "--tab",
                    "-L",
                    "--args",
                    "--jsonargs",
                ],
            );
            for f in p.values(&["-f", "--from-file", "--slurpfile", "--rawfile"]) {
                r(w, cx, f, &name);
            }
            let skip = usize::from(!p.has(&["-f", "--from-file"]));
            for f in p.operands.iter().skip(skip) {
                r(w, cx, f, &name);
            }
            if p.has(&["-i", "--inplace"]) {
                for f in p.operands.iter().skip(skip) {
                    wr(w, cx, f, &name);
                }
            }
        }
        "sort" => {
            let p = parse(
                args,
                &[
                    "-o",
                    "--output",
                    "-k",
                    "--key",
                    "-t",
                    "--field-separator",
                    "-T",
                    "--temporary-directory",
                    "-S",
                    "--buffer-size",
                    "--parallel",
                    "--files0-from",
                    "--batch-size",
                    "--compress-program",
                    "--random-source",
                ],
            );
            if p.has(&["--compress-program"]) {
                w.opaque("sort --compress-program runs a program of its choosing");
            }
            for f in p.values(&["-o", "--output"]) {
                wr(w, cx, f, "sort -o");
            }
            for f in p.values(&["--files0-from", "--random-source"]) {
                r(w, cx, f, "sort");
            }
            for f in &p.operands {
                r(w, cx, f, "sort");
            }
        }
        "uniq" => {
            let p = parse(
                args,
                &[
                    "-f",
                    "-s",
                    "-w",
                    "--skip-fields",
                    "--skip-chars",
                    "--check-chars",
                ],
            );
            if let Some(f) = p.operands.first() {
                r(w, cx, f, "uniq");
            }
            if let Some(f) = p.operands.get(1) {
                wr(w, cx, f, "uniq");
            }
        }
        "awk" | "gawk" | "mawk" | "nawk" => run_awk(w, cx, &name, args),
        "sed" | "gsed" => run_sed(w, cx, &name, args),
        "perl-rename" | "rename" | "prename" => {
            let p = parse(args, &[]);
            for f in p.operands.iter().skip(1) {
                tree(w, cx, f, Access::Write, &name);
            }
        }
        "ln" | "link" => run_link(w, cx, &name, args),
        "cp" | "mv" | "install" | "rsync" | "scp" | "gcp" | "gmv" | "ditto" => {
            run_copy(w, cx, &name, args)
        }
        "dd" => {
            for a in args {
                match a.lit().and_then(|t| t.split_once('=')) {
                    Some(("if", v)) => r(w, cx, &lit(v), "dd if="),
                    Some(("of", v)) => wr(w, cx, &lit(v), "dd of="),
                    Some(_) => {}
                    None if a.lit().is_none() => {
                        w.opaque("dd with an operand computed at run time")
                    }
                    None => {}
                }
            }
        }
        "patch" => {
            let p = parse(
                args,
                &[
                    "-i",
                    "--input",
                    "-o",
                    "--output",
                    "-d",
                    "--directory",
                    "-p",
                    "--strip",
                    "-B",
                    "--prefix",
                    "-r",
                    "--reject-file",
                    "-z",
                    "--suffix",
                    "-D",
                    "--ifdef",
                    "-F",
                    "--fuzz",
                ],
            );
            for f in p.values(&["-d", "--directory"]) {
                change_directory(w, &mut cx.env, Some(f), "patch -d");
            }
            for f in p.values(&["-o", "--output", "-r", "--reject-file"]) {
                wr(w, cx, f, "patch");
            }
            let strip = p
                .values(&["-p", "--strip"])
                .next()
                .and_then(Field::lit)
                .and_then(|t| t.parse::<usize>().ok());
            if let Some(f) = p.operands.first() {
                // `patch FILE [PATCHFILE]`: the file named is the one written.
                wr(w, cx, f, "patch");
                for f in p.operands.iter().skip(1) {
                    r(w, cx, f, "patch");
                }
                return;
            }
            let input = match p.values(&["-i", "--input"]).next().cloned() {
                Some(f) => {
                    r(w, cx, &f, "patch -i");
                    f.lit().and_then(|t| w.small_file(&cx.env, t))
                }
                None => match w.stdin_text(&cx.env, &cx.stdin) {
                    Stdin::Literal(t) => Some(t),
                    _ => None,
                },
            };
            match input {
                Some(text) => {
                    let env_here = cx.env.clone();
                    for target in patch_targets(&text, strip.unwrap_or(0), strip.is_none()) {
                        w.access_text(&env_here, &target, Access::Write, false, "patch");
                    }
                }
                None => w.opaque("patch writes the files its patch names, which cannot be read"),
            }
        }
        "tar" | "bsdtar" | "gtar" => run_tar(w, cx, &name, args),
        "zip" | "7z" | "7za" | "7zr" | "unzip" | "jar" | "ar" | "cpio" | "pax" | "unrar"
        | "rar" => run_archive(w, cx, &name, args),
        "curl" | "wget" | "http" | "https" | "xh" | "aria2c" => run_download(w, cx, &name, args),
        "ssh" | "sftp" | "mosh" => {
            let p = parse(
                args,
                &[
                    "-i", "-F", "-E", "-S", "-o", "-p", "-l", "-L", "-R", "-D", "-J", "-W", "-b",
                    "-c", "-m", "-O", "-Q", "-w", "-B", "-e", "-I",
                ],
            );
            for f in p.values(&["-i", "-F"]) {
                r(w, cx, f, &name);
            }
            for f in p.values(&["-E"]) {
                wr(w, cx, f, &name);
            }
            for (o, v) in &p.opts {
                if o == "-o"
                    && let Some(v) = v.as_ref().and_then(Field::lit)
                {
                    let lower = v.to_ascii_lowercase();
                    if lower.starts_with("proxycommand")
                        || lower.starts_with("localcommand")
                        || lower.starts_with("permitlocalcommand")
                    {
                        w.opaque(format!("{name} -o {v} runs a local command"));
                    }
                }
            }
            // A command sent to this very machine runs here.
            if name == "ssh"
                && let Some(host) = p.operands.first().and_then(Field::lit)
                && is_this_host(host)
                && p.operands.len() > 1
            {
                shell_words(w, cx, &p.operands[1..], "ssh to this host");
            }
        }
        "at" | "batch" => {
            // The commands run later, from stdin or `-f FILE`, as a shell would run them.
            let p = parse(args, &["-f", "-q", "-t", "-m", "-M"]);
            if p.has(&["-l", "-d", "-r", "-c"]) {
                return;
            }
            match p.values(&["-f"]).next().cloned() {
                Some(file) => {
                    r(w, cx, &file, &name);
                    let mut shell = cx.env.clone();
                    w.script_file(&mut shell, &file, false);
                }
                None => match w.stdin_text(&cx.env, &cx.stdin) {
                    Stdin::Literal(text) => w.subshell_program(&text, &cx.env),
                    _ => w.opaque(format!("{name} runs commands read from its input later")),
                },
            }
        }
        "crontab" => {
            let p = parse(args, &["-u"]);
            if !p.has(&["-l", "-r"]) {
                w.opaque("crontab installs commands that run later");
            }
            for f in &p.operands {
                r(w, cx, f, "crontab");
            }
        }
        "docker" | "podman" | "nerdctl" => run_container(w, cx, &name, args),
        "make" | "gmake" | "cmake" | "ninja" | "meson" => {
            let p = parse(
                args,
                &[
                    "-C",
                    "--directory",
                    "-f",
                    "--file",
                    "--makefile",
                    "-I",
                    "--include-dir",
                    "-j",
                    "--jobs",
                    "-l",
                    "-o",
                    "-W",
                    "-S",
                    "-B",
                    "-G",
                    "-D",
                    "-U",
                    "-E",
                ],
            );
            for f in p.values(&["-C", "--directory"]) {
                change_directory(w, &mut cx.env, Some(f), &name);
                search_root_text(w, cx, ".", Access::Write, &name);
            }
            for f in p.values(&["-f", "--file", "--makefile"]) {
                r(w, cx, f, &name);
            }
            for f in p.values(&["-S"]) {
                search_root(w, cx, f, Access::Read, &name);
            }
            for f in p.values(&["-B"]) {
                search_root(w, cx, f, Access::Write, &name);
            }
            unknown_arguments(w, cx, &name, &p.operands);
        }
        _ => unknown_arguments(w, cx, &name, args),
    }
}

/// `cd DIR`: every possible current directory moves.
fn change_directory(w: &mut Walker, env: &mut Env, target: Option<&Field>, role: &str) {
    let Some(target) = target else {
        env.cwds = w.home.map(|h| vec![h.to_path_buf()]);
        return;
    };
    match target.lit() {
        Some("-") | None => env.cwds = None,
        Some(text) if text.starts_with('+') || (text.starts_with('-') && text.len() > 1) => {
            env.cwds = None
        }
        Some(text) => {
            let resolved = w.resolve(env, text, role);
            env.cwds = if resolved.is_empty() {
                None
            } else {
                Some(resolved)
            };
        }
    }
}

/// A wrapper's own options (flags only), and the command it runs.
fn parse_wrapper(args: &[Field], with_value: &[&str]) -> (Vec<String>, Vec<Field>) {
    let (opts, rest) = parse_wrapper_with_values(args, with_value);
    (opts.into_iter().map(|(o, _)| o).collect(), rest)
}

fn parse_wrapper_with_values(
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

fn run_env(w: &mut Walker, env: &mut Env, cx: &mut Cx, args: &[Field]) {
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
            w.check_special_variable(name, Some(value), Some("the command env runs"));
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
        dispatch(w, env, cx, rest);
    }
}

/// `env -S TEXT ARGS…`: TEXT is split like a shell line, and ARGS follow it.
fn split_string(w: &mut Walker, cx: &Cx, text: &str, rest: &[Field]) {
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

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn run_wrapper(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) {
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
        dispatch(w, env, cx, rest);
    }
}

/// Arguments that a wrapper joins into one shell command line.
fn shell_words(w: &mut Walker, cx: &Cx, words: &[Field], role: &str) {
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
    w.subshell_program(&line.join(" "), &cx.env);
}

fn run_code(w: &mut Walker, cx: &Cx, code: &Field, role: &str) {
    match code.lit() {
        Some(c) => w.subshell_program(c, &cx.env),
        None => w.opaque(format!("{role} runs code computed at run time")),
    }
}

fn run_xargs(w: &mut Walker, env: &mut Env, cx: &mut Cx, args: &[Field]) {
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
    for (opt, value) in &opts {
        match opt.as_str() {
            "-a" | "--arg-file" => {
                if let Some(v) = value {
                    w.access(&cx.env, v, Access::Read, "xargs -a");
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
    let unknown = Field::Dyn("arguments xargs reads from its input".into());
    let mut argv: Vec<Field> = if rest.is_empty() {
        vec![lit("echo")]
    } else {
        rest
    };
    match &replace {
        Some(token) => {
            for f in argv.iter_mut().skip(1) {
                if f.lit().is_some_and(|t| t.contains(token.as_str())) {
                    *f = unknown.clone();
                }
            }
        }
        None => argv.push(unknown),
    }
    let mut inner = Cx {
        env: cx.env.clone(),
        git_dir: cx.git_dir.clone(),
        stdin: Stdin::Unknown,
        suffix_assignments: Vec::new(),
    };
    dispatch(w, env, &mut inner, argv);
}

fn run_shell(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
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
        run_code(w, cx, code, &format!("{name} -c"));
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
            let script = script.clone();
            let mut shell = cx.env.clone();
            w.script_file(&mut shell, &script, false);
        }
        _ => match w.stdin_text(&cx.env, &cx.stdin) {
            Stdin::Literal(text) => w.subshell_program(&text, &cx.env),
            Stdin::Inherited => {}
            _ => w.opaque(format!("a script piped into {name}")),
        },
    }
}

fn run_interpreter(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
    let Some(lang) = scripts::interpreter(name) else {
        return;
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
        Some(script) if script.lit() != Some("-") => {
            w.access(
                &cx.env,
                script,
                Access::Read,
                &format!("the script {name} runs"),
            );
            unknown_arguments(w, cx, name, &rest[1..]);
            if let Some(text) = script.lit().and_then(|t| w.small_file(&cx.env, t)) {
                let known = w.out.unanalyzable.len();
                let beyond = w.out.opaque_beyond_reads;
                scripts::check_script_commands(w, &cx.env, lang, &text);
                w.out.unanalyzable.truncate(known);
                w.out.opaque_beyond_reads = beyond;
            }
        }
        _ => match w.stdin_text(&cx.env, &cx.stdin) {
            Stdin::Literal(text) => scripts::check_code(w, &cx.env, lang, &text, name),
            Stdin::Inherited => {}
            _ => w.opaque(format!("a program piped into {name}")),
        },
    }
}

fn run_grep(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    // ripgrep's `-r` is --replace (takes a value); grep's `-r` is recursion (a flag).
    let is_rg = matches!(name, "rg" | "ripgrep" | "ag" | "ack" | "sift" | "ugrep");
    let rg_only: &[&str] = if is_rg {
        &[
            "-r",
            "-g",
            "--glob",
            "--iglob",
            "-t",
            "--type",
            "-T",
            "--type-not",
            "-j",
            "--threads",
            "-M",
            "--max-columns",
            "--max-depth",
            "--maxdepth",
            "--type-add",
            "-E",
            "--encoding",
            "--pre",
            "--pre-glob",
            "--ignore-file",
            "--replace",
            "--sort",
            "--sortr",
            "--path-separator",
            "--context-separator",
            "--field-match-separator",
            "--engine",
            "--max-filesize",
            "--dfa-size-limit",
            "--regex-size-limit",
            "-G",
            "--ignore-dir",
            "--file-search-regex",
        ]
    } else {
        &[]
    };
    let p = parse_with(
        args,
        rg_only,
        &[
            "-e",
            "--regexp",
            "-f",
            "--file",
            "-m",
            "--max-count",
            "-A",
            "-B",
            "-C",
            "--context",
            "--after-context",
            "--before-context",
            "--include",
            "--exclude",
            "--exclude-dir",
            "--exclude-from",
            "-d",
            "--directories",
            "-D",
            "--devices",
            "--label",
            "--color",
            "--colour",
        ],
    );

    if p.has(&["--pre"]) {
        w.opaque(format!("{name} --pre runs a program on every file"));
    }
    for f in p.values(&["-f", "--file", "--exclude-from", "--ignore-file"]) {
        w.access(&cx.env, f, Access::Read, name);
    }
    let pattern_given =
        p.has(&["-e", "--regexp", "-f", "--file"]) || (is_rg && p.has(&["--files", "--type-list"]));
    let files: Vec<&Field> = p
        .operands
        .iter()
        .skip(usize::from(!pattern_given))
        .collect();
    let recursive = is_rg || p.has(&["-r", "-R", "--recursive", "--dereference-recursive", "-d"]);
    if files.is_empty() && recursive {
        tree(w, cx, &lit("."), Access::Read, name);
    }
    for f in files {
        if recursive {
            tree(w, cx, f, Access::Read, name);
        } else {
            w.access(&cx.env, f, Access::Read, name);
        }
    }
}

fn run_awk(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let p = parse(
        args,
        &[
            "-f",
            "--file",
            "-v",
            "--assign",
            "-F",
            "--field-separator",
            "-i",
            "--include",
            "-l",
            "--load",
            "-E",
            "--exec",
        ],
    );
    let mut programs: Vec<String> = Vec::new();
    // gawk's `-i inplace` rewrites every file operand.
    let in_place = p
        .values(&["-i", "--include"])
        .filter_map(Field::lit)
        .any(|v| v.trim_end_matches(".awk") == "inplace");
    for f in p.values(&["-f", "--file", "-i", "--include", "-E", "--exec"]) {
        if f.lit()
            .is_some_and(|v| v.trim_end_matches(".awk") == "inplace")
        {
            continue;
        }
        w.access(&cx.env, f, Access::Read, name);
    }
    if p.has(&["-l", "--load"]) {
        w.opaque(format!("{name} -l loads a native extension"));
    }
    let from_file = p.has(&["-f", "--file", "-E", "--exec"]);
    let mut operands = p.operands.iter();
    if !from_file {
        match operands.next().map(Field::lit) {
            Some(Some(program)) => programs.push(program.to_owned()),
            Some(None) => w.opaque(format!("{name} runs a program computed at run time")),
            None => {}
        }
    }
    for program in &programs {
        scripts::check_awk(w, &cx.env, program, name);
    }
    for f in operands {
        // `var=value` operands are assignments, not files.
        if f.lit().is_some_and(|t| {
            t.split_once('=').is_some_and(|(n, _)| {
                !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
        }) {
            continue;
        }
        let access = if in_place {
            Access::Write
        } else {
            Access::Read
        };
        w.access(&cx.env, f, access, name);
    }
}

fn run_sed(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let p = parse(
        args,
        &[
            "-e",
            "--expression",
            "-f",
            "--file",
            "-l",
            "--line-length",
            "-i",
            "--in-place",
        ],
    );
    // `-i` takes an optional attached suffix only; a separate word after it is an operand.
    let mut in_place = false;
    let mut operands = p.operands.clone();
    let mut scripts_: Vec<Field> = Vec::new();
    for (opt, value) in &p.opts {
        match opt.as_str() {
            "-i" | "--in-place" => {
                in_place = true;
                if let Some(v) = value
                    && !args.iter().any(|a| {
                        a.lit().is_some_and(|t| t.starts_with("-i") && t.len() > 2)
                            || a.lit().is_some_and(|t| t.starts_with("--in-place="))
                    })
                {
                    operands.insert(0, v.clone());
                }
            }
            "-e" | "--expression" => scripts_.extend(value.clone()),
            "-f" | "--file" => {
                if let Some(v) = value {
                    w.access(&cx.env, v, Access::Read, name);
                }
            }
            _ => {}
        }
    }
    // Operands were collected in order, but a `-i` value taken from the next word was placed
    // first: the script (when not given by -e/-f) is the first non-option word.
    let script_from_operand = scripts_.is_empty() && !p.has(&["-f", "--file"]);
    if script_from_operand {
        let pos = operands.iter().position(|_| true);
        if let Some(pos) = pos {
            let script_word = first_operand_in_order(args, &operands);
            let removed = operands.remove(script_word.unwrap_or(pos).min(operands.len() - 1));
            scripts_.push(removed);
        }
    }
    for s in &scripts_ {
        match s.lit() {
            Some(text) => scripts::check_sed(w, &cx.env, text, name),
            None => w.opaque(format!("{name} runs a script computed at run time")),
        }
    }
    for f in &operands {
        w.access(
            &cx.env,
            f,
            if in_place {
                Access::Write
            } else {
                Access::Read
            },
            if in_place { "sed -i" } else { name },
        );
    }
}

/// Index in `operands` of the operand that came first on the command line.
fn first_operand_in_order(args: &[Field], operands: &[Field]) -> Option<usize> {
    let first = args.iter().find(|a| {
        operands.contains(a) && a.lit().is_none_or(|t| !t.starts_with('-') || t == "-")
    })?;
    operands.iter().position(|o| o == first)
}

fn run_copy(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let with_value: &[&str] = match name {
        "rsync" => &[
            "-e",
            "--rsh",
            "--exclude",
            "--include",
            "--exclude-from",
            "--include-from",
            "--files-from",
            "--filter",
            "-f",
            "--rsync-path",
            "--backup-dir",
            "--compare-dest",
            "--link-dest",
            "--copy-dest",
            "--chmod",
            "--log-file",
            "--password-file",
            "--temp-dir",
            "-T",
            "--partial-dir",
            "--port",
            "--config",
            "--suffix",
        ],
        "scp" => &["-i", "-F", "-l", "-c", "-o", "-P", "-S", "-J", "-D", "-X"],
        "install" => &[
            "-t",
            "--target-directory",
            "-S",
            "--suffix",
            "-m",
            "--mode",
            "-o",
            "--owner",
            "-g",
            "--group",
        ],
        _ => &["-t", "--target-directory", "-S", "--suffix"],
    };
    let p = parse(args, with_value);

    if p.has(&["-e", "--rsh", "--rsync-path"]) && name == "rsync" {
        w.opaque("rsync --rsh runs a command of its choosing");
    }
    if name == "scp"
        && p.values(&["-o"]).any(|v| {
            v.lit()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("proxycommand"))
        })
    {
        w.opaque("scp -o ProxyCommand runs a local command");
    }
    for f in p.values(&[
        "--exclude-from",
        "--include-from",
        "--files-from",
        "--password-file",
        "-F",
        "-i",
    ]) {
        w.access(&cx.env, f, Access::Read, name);
    }
    for f in p.values(&["--log-file", "--backup-dir"]) {
        w.access(&cx.env, f, Access::Write, name);
    }
    let remote = |f: &Field| -> bool {
        f.lit().is_some_and(|t| {
            t.contains("::")
                || t.contains("://")
                || t.split_once(':')
                    .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'))
        })
    };
    let recursive = p.has(&["-r", "-R", "-a", "--recursive", "--archive"]);
    let target_dirs: Vec<&Field> = p.values(&["-t", "--target-directory"]).collect();
    let (sources, dest): (Vec<&Field>, Option<&Field>) = if !target_dirs.is_empty() {
        (p.operands.iter().collect(), target_dirs.first().copied())
    } else if p.operands.len() >= 2 {
        let (last, rest) = p
            .operands
            .split_last()
            .map(|(l, r)| (l, r.iter().collect()))
            .unwrap_or((&p.operands[0], Vec::new()));
        (rest, Some(last))
    } else {
        (p.operands.iter().collect(), None)
    };
    let moves = matches!(name, "mv" | "gmv");
    // `cp -s` and `cp -l` make links: what they point to gets a new name to write through.
    let links = name == "cp" && p.has(&["-s", "--symbolic-link", "-l", "--link"]);
    let dest_text = dest.filter(|d| !remote(d)).and_then(Field::lit);
    let dest_dirs: Vec<PathBuf> = dest_text
        .map(|t| w.resolve(&cx.env, t, name))
        .unwrap_or_default();
    let dest_is_dir = !target_dirs.is_empty() || dest_dirs.iter().any(|d| d.is_dir());
    for s in &sources {
        if remote(s) || s.lit() == Some(PROCESS_SUBSTITUTION) {
            continue;
        }
        if moves {
            // mv takes the source away from where it was, with everything under it.
            tree(w, cx, s, Access::Write, name);
        } else if links {
            let mark = Mark {
                vetted: false,
                link_target: true,
            };
            w.access_marked(&cx.env, s, Access::Write, true, name, mark);
        } else if recursive {
            tree(w, cx, s, Access::Read, name);
        } else {
            w.access(&cx.env, s, Access::Read, name);
        }
        // A copy of hookledger under another name is still hookledger.
        if let (Some(src), Some(dest_text)) = (s.lit(), dest_text)
            && runs_hookledger(w, &cx.env, s, &[])
        {
            let base = Path::new(src)
                .file_name()
                .map(|b| b.to_string_lossy().into_owned());
            let copy = match base {
                Some(b) if dest_is_dir => format!("{}/{b}", dest_text.trim_end_matches('/')),
                _ => dest_text.to_owned(),
            };
            let copies = w.resolve(&cx.env, &copy, name);
            w.binary_aliases.extend(copies);
        }
    }
    let Some(dest) = dest.filter(|d| !remote(d)) else {
        return;
    };
    if !recursive {
        w.access(&cx.env, dest, Access::Write, name);
    }
    let Some(dest_text) = dest.lit() else {
        if recursive {
            tree(w, cx, dest, Access::Write, name);
        }
        return;
    };
    for s in &sources {
        let Some(src) = s.lit() else { continue };
        let base = Path::new(src)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned());
        // Into an existing directory, a copy lands under the source's name; rsync copies the
        // contents of a source written with a trailing slash into the destination itself.
        let into_dir = dest_is_dir && !(name == "rsync" && src.ends_with('/'));
        let written = match base {
            Some(b) if into_dir => format!("{}/{b}", dest_text.trim_end_matches('/')),
            _ => dest_text.to_owned(),
        };
        if recursive {
            let field = lit(&written);
            tree(w, cx, &field, Access::Write, name);
        } else if into_dir && written != dest_text {
            w.access_text(&cx.env, &written, Access::Write, false, name);
        }
    }
    if recursive && sources.is_empty() {
        tree(w, cx, dest, Access::Write, name);
    }
}

/// `ln [-s] TARGET… [LINK|DIR]` and `link TARGET LINK`: the link is written, and what it points
/// to gets a new name that later writes can go through, so self-protection counts it as
/// written. Symlinks made here are remembered for the rest of the command.
fn run_link(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let p = parse(args, &["-t", "--target-directory", "-S", "--suffix"]);
    let symbolic = name == "ln" && p.has(&["-s", "--symbolic"]);
    let relative = p.has(&["-r", "--relative"]);
    let target_dirs: Vec<&Field> = p.values(&["-t", "--target-directory"]).collect();
    let dot = lit(".");
    let (targets, dest): (Vec<&Field>, &Field) = if let Some(dir) = target_dirs.first() {
        (p.operands.iter().collect(), dir)
    } else if p.operands.len() >= 2 {
        let (last, rest) = p.operands.split_last().unwrap_or((&dot, &[]));
        (rest.iter().collect(), last)
    } else {
        (p.operands.iter().collect(), &dot)
    };
    let Some(dest_text) = dest.lit() else {
        w.opaque(format!(
            "{name} makes a link at a path computed at run time"
        ));
        for t in &targets {
            link_target(w, cx, t, None, relative || !symbolic, name);
        }
        return;
    };
    let no_target_dir = p.has(&["-T", "--no-target-directory"]);
    let dest_dirs = w.resolve(&cx.env, dest_text, name);
    let into_dir = !no_target_dir
        && (!target_dirs.is_empty() || targets.len() > 1 || dest_dirs.iter().any(|d| d.is_dir()));
    for t in &targets {
        let location = match (t.lit().and_then(|x| Path::new(x).file_name()), into_dir) {
            (Some(base), true) => {
                format!(
                    "{}/{}",
                    dest_text.trim_end_matches('/'),
                    base.to_string_lossy()
                )
            }
            _ => dest_text.to_owned(),
        };
        w.access_text(&cx.env, &location, Access::Write, false, name);
        let placed: Vec<PathBuf> = w
            .resolve_named(&cx.env, &location, name, Access::Write)
            .into_iter()
            .map(|n| n.link.unwrap_or(n.path))
            .collect();
        // A relative symlink target is read from the link's own directory.
        let base_dir = placed
            .first()
            .and_then(|l| l.parent())
            .map(Path::to_path_buf);
        let resolved = link_target(
            w,
            cx,
            t,
            base_dir.as_deref().filter(|_| symbolic && !relative),
            relative || !symbolic,
            name,
        );
        if let Some(target) = resolved {
            if symbolic {
                for link in &placed {
                    w.links.push((link.clone(), target.clone()));
                }
            }
            if hookledger::is_running_binary(&target) || w.binary_aliases.contains(&target) {
                w.binary_aliases.extend(placed.iter().cloned());
            }
        }
    }
}

/// Records what a link points to, resolved from `base_dir` (the link's directory) or from the
/// shell's directory; returns it when it is known.
fn link_target(
    w: &mut Walker,
    cx: &Cx,
    target: &Field,
    base_dir: Option<&Path>,
    from_cwd: bool,
    role: &str,
) -> Option<PathBuf> {
    let mark = Mark {
        vetted: false,
        link_target: true,
    };
    let text = match target {
        Field::Dyn(why) => {
            w.opaque(format!("{role} makes a link to a path through {why}"));
            return None;
        }
        Field::Lit { glob: Some(_), .. } => {
            w.access_marked(&cx.env, target, Access::Write, true, role, mark);
            return None;
        }
        Field::Lit { text, .. } => text.as_str(),
    };
    let absolute = Path::new(text).is_absolute() || text == "~" || text.starts_with("~/");
    let resolved = match base_dir {
        Some(dir) if !absolute && !from_cwd => crate::paths::resolve(text, dir, w.home),
        _ => w.resolve(&cx.env, text, role).into_iter().next()?,
    };
    let field = lit(&resolved.to_string_lossy());
    w.access_marked(&cx.env, &field, Access::Write, true, role, mark);
    Some(resolved)
}

fn run_tar(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    // The first word may be a dash-less cluster of options (`tar czf out.tgz dir`).
    let mut args: Vec<Field> = args.to_vec();
    if let Some(first) = args.first().and_then(Field::lit)
        && !first.starts_with('-')
        && first.chars().all(|c| c.is_ascii_alphabetic())
    {
        args[0] = lit(&format!("-{first}"));
    }
    let p = parse(
        &args,
        &[
            "-f",
            "--file",
            "-C",
            "--directory",
            "-T",
            "--files-from",
            "-X",
            "--exclude-from",
            "-I",
            "--use-compress-program",
            "--to-command",
            "--checkpoint-action",
            "--info-script",
            "--new-volume-script",
            "-F",
            "--rsh-command",
            "-b",
            "--blocking-factor",
            "-H",
            "--format",
            "--exclude",
            "-N",
            "--newer",
            "--owner",
            "--group",
            "--mode",
            "--transform",
            "--xform",
            "-K",
            "-L",
            "-V",
            "--label",
            "--strip-components",
        ],
    );
    if p.has(&[
        "-I",
        "--use-compress-program",
        "--to-command",
        "--checkpoint-action",
        "--info-script",
        "--new-volume-script",
        "-F",
        "--rsh-command",
    ]) {
        w.opaque(format!("{name} is told to run a program of its choosing"));
    }
    let create = p.has(&[
        "-c",
        "--create",
        "-r",
        "--append",
        "-u",
        "--update",
        "-A",
        "--catenate",
        "--concatenate",
        "--delete",
    ]);
    let extract = p.has(&["-x", "--extract", "--get"]);
    let mut cwd_env = cx.env.clone();
    for dir in p.values(&["-C", "--directory"]) {
        change_directory(w, &mut cwd_env, Some(dir), "tar -C");
    }
    for f in p.values(&["-T", "--files-from", "-X", "--exclude-from"]) {
        w.access(&cx.env, f, Access::Read, name);
    }
    for archive in p.values(&["-f", "--file"]) {
        if archive.lit() == Some("-") {
            continue;
        }
        w.access(
            &cx.env,
            archive,
            if create { Access::Write } else { Access::Read },
            name,
        );
    }
    if create {
        for f in &p.operands {
            w.access_tree(&cwd_env, f, Access::Read, name);
        }
    } else if extract {
        w.access_text(&cwd_env, ".", Access::Write, true, "tar -x");
        for f in &p.operands {
            w.access(&cwd_env, f, Access::Write, "tar -x");
        }
    }
}

fn run_archive(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    match name {
        "unzip" | "unrar" => {
            let p = parse(args, &["-d", "-x", "-P"]);
            let dest = p.values(&["-d"]).next().cloned();
            if p.has(&["-l", "-t", "-p", "-v", "-Z"]) {
                for f in &p.operands {
                    w.access(&cx.env, f, Access::Read, name);
                }
                return;
            }
            if let Some(archive) = p.operands.first() {
                w.access(&cx.env, archive, Access::Read, name);
            }
            match dest {
                Some(d) => search_root(w, cx, &d, Access::Write, name),
                None => search_root_text(w, cx, ".", Access::Write, name),
            }
        }
        "zip" | "jar" | "ar" | "rar" => {
            let p = parse(
                args,
                &[
                    "-x", "-i", "-b", "-n", "-t", "-tt", "-P", "-Z", "-O", "--out",
                ],
            );
            let mut ops = p.operands.iter();
            if name == "jar" || name == "ar" {
                ops.next();
            }
            if let Some(archive) = ops.next() {
                w.access(&cx.env, archive, Access::Write, name);
            }
            for f in ops {
                tree(w, cx, f, Access::Read, name);
            }
        }
        _ => w.opaque(format!("{name} is an archiver hookledger does not analyse")),
    }
}

fn run_download(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    // wget's `-O FILE` names the output; curl's `-O` is a flag (name from the URL).
    let wget_only: &[&str] = if name == "wget" {
        &["-O", "-a", "-i"]
    } else {
        &[]
    };
    let p = parse_with(
        args,
        wget_only,
        &[
            "-o",
            "--output",
            "--output-document",
            "-T",
            "--upload-file",
            "-d",
            "--data",
            "--data-binary",
            "--data-urlencode",
            "--data-ascii",
            "--json",
            "-F",
            "--form",
            "-K",
            "--config",
            "-c",
            "--cookie-jar",
            "-b",
            "--cookie",
            "-D",
            "--dump-header",
            "--trace",
            "--trace-ascii",
            "-E",
            "--cert",
            "--key",
            "--cacert",
            "--capath",
            "-H",
            "--header",
            "-X",
            "--request",
            "-u",
            "--user",
            "-A",
            "--user-agent",
            "-e",
            "--referer",
            "-m",
            "--max-time",
            "--connect-timeout",
            "-w",
            "--write-out",
            "-x",
            "--proxy",
            "-r",
            "--range",
            "-P",
            "--directory-prefix",
            "--append-output",
            "--input-file",
            "--output-dir",
            "--retry",
            "-U",
            "--proxy-user",
            "--resolve",
            "--stderr",
            "--netrc-file",
            "-z",
            "--time-cond",
            "--limit-rate",
            "-Y",
            "-y",
            "--max-filesize",
            "--tries",
            "-t",
            "--timeout",
            "--header-file",
            "--post-file",
            "--body-file",
            "--save-cookies",
            "--load-cookies",
            "--ca-certificate",
            "--certificate",
            "--private-key",
            "-Q",
            "--quote",
        ],
    );
    let curl = name == "curl";
    let writes: &[&str] = if curl {
        &[
            "-o",
            "--output",
            "-c",
            "--cookie-jar",
            "-D",
            "--dump-header",
            "--trace",
            "--trace-ascii",
            "--stderr",
        ]
    } else {
        &[
            "-O",
            "--output-document",
            "-o",
            "--output-file",
            "-a",
            "--append-output",
            "--save-cookies",
        ]
    };
    let reads: &[&str] = if curl {
        &[
            "-T",
            "--upload-file",
            "-K",
            "--config",
            "-E",
            "--cert",
            "--key",
            "--cacert",
            "--netrc-file",
        ]
    } else {
        &[
            "-i",
            "--input-file",
            "--post-file",
            "--body-file",
            "--load-cookies",
            "--ca-certificate",
            "--certificate",
            "--private-key",
            "--header-file",
        ]
    };
    for f in p.values(writes) {
        if f.lit() != Some("-") {
            w.access(&cx.env, f, Access::Write, name);
        }
    }
    for f in p.values(reads) {
        w.access(&cx.env, f, Access::Read, name);
    }
    if curl {
        // `-d @file`, `-F name=@file` / `name=<file` read files; `-b file` reads a cookie jar.
        for f in p.values(&[
            "-d",
            "--data",
            "--data-binary",
            "--data-urlencode",
            "--data-ascii",
            "--json",
        ]) {
            if let Some(t) = f.lit() {
                let file = t
                    .split_once('@')
                    .map(|(_, f)| f)
                    .filter(|_| t.starts_with('@') || t.contains("=@"));
                if let Some(file) = file.filter(|f| *f != "-") {
                    w.access(&cx.env, &lit(file), Access::Read, "curl --data @");
                }
            }
        }
        for f in p.values(&["-F", "--form"]) {
            if let Some((_, v)) = f.lit().and_then(|t| t.split_once('=')) {
                if let Some(file) = v.strip_prefix('@').or_else(|| v.strip_prefix('<')) {
                    let file = file.split(';').next().unwrap_or(file);
                    w.access(&cx.env, &lit(file), Access::Read, "curl --form");
                }
            } else if f.lit().is_none() {
                w.opaque("curl --form with a value computed at run time");
            }
        }
        for f in p.values(&["-b", "--cookie"]) {
            if f.lit().is_some_and(|t| !t.contains('=')) {
                w.access(&cx.env, f, Access::Read, "curl --cookie");
            }
        }
        if p.has(&["-O", "--remote-name", "--remote-name-all", "-J"]) {
            let dir = p
                .values(&["--output-dir"])
                .next()
                .and_then(Field::lit)
                .unwrap_or(".")
                .to_owned();
            remote_names(
                w,
                cx,
                &p.operands,
                &dir,
                p.has(&["-J", "--remote-header-name"]),
                "curl -O",
            );
        }
    } else if name == "wget" {
        let explicit = p.has(&["-O", "--output-document", "--spider"]);
        if !explicit {
            let dir = p
                .values(&["-P", "--directory-prefix"])
                .next()
                .and_then(Field::lit)
                .unwrap_or(".")
                .to_owned();
            let recursive = p.has(&["-r", "--recursive", "-m", "--mirror"]);
            remote_names(w, cx, &p.operands, &dir, recursive, "wget");
        }
    }
    // Operands are URLs; `file://` URLs read local files.
    for f in &p.operands {
        if let Some(path) = f.lit().and_then(|t| t.strip_prefix("file://")) {
            w.access(&cx.env, &lit(path), Access::Read, name);
        }
    }
}

/// Files a download names after its URL (`curl -O`, `wget`), in `dir`. When the server picks
/// the name (`-J`, recursive mirroring), anything in `dir` may be written.
fn remote_names(
    w: &mut Walker,
    cx: &Cx,
    urls: &[Field],
    dir: &str,
    server_named: bool,
    role: &str,
) {
    if server_named {
        search_root_text(w, cx, dir, Access::Write, role);
        return;
    }
    for url in urls {
        let Some(text) = url.lit() else {
            w.opaque(format!("{role} of a URL computed at run time"));
            continue;
        };
        let path = text.split(['?', '#']).next().unwrap_or(text);
        let name = path.rsplit('/').next().unwrap_or("");
        if name.is_empty() || !text.contains('/') {
            search_root_text(w, cx, dir, Access::Write, role);
        } else {
            let target = format!("{}/{name}", dir.trim_end_matches('/'));
            w.access_text(&cx.env, &target, Access::Write, false, role);
        }
    }
}

fn run_find(w: &mut Walker, env: &mut Env, cx: &mut Cx, args: &[Field]) {
    let mut i = 0;
    // Leading options (-H, -L, -P, -O3, -D debugopts).
    while let Some(t) = args.get(i).and_then(Field::lit) {
        if matches!(t, "-H" | "-L" | "-P") || t.starts_with("-O") {
            i += 1;
        } else if t == "-D" {
            i += 2;
        } else {
            break;
        }
    }
    let mut roots: Vec<Field> = Vec::new();
    while let Some(f) = args.get(i) {
        let t = f.lit();
        if t.is_some_and(|t| t.starts_with('-') || t == "(" || t == "!" || t == ")" || t == ",") {
            break;
        }
        roots.push(f.clone());
        i += 1;
    }
    if roots.is_empty() {
        roots.push(lit("."));
    }
    let expression = &args[i.min(args.len())..];
    let names: Vec<String> = expression
        .windows(2)
        .filter(|p| {
            matches!(
                p[0].lit(),
                Some("-name" | "-iname" | "-path" | "-ipath" | "-wholename" | "-iwholename")
            )
        })
        .filter_map(|p| p[1].lit().map(|t| t.trim_start_matches("./").to_owned()))
        .filter(|t| !t.contains(['*', '?', '[']))
        .collect();
    let deletes = expression.iter().any(|f| f.lit() == Some("-delete"));
    // `-delete` with only name filters removes what those names match: a whole-tree deletion
    // only when a filter could match something self-protection covers.
    let filtered = expression
        .iter()
        .any(|f| matches!(f.lit(), Some("-name" | "-iname")))
        && !expression.iter().any(|f| {
            matches!(
                f.lit(),
                Some(
                    "!" | "-not"
                        | "-o"
                        | "-or"
                        | ","
                        | "-path"
                        | "-ipath"
                        | "-wholename"
                        | "-regex"
                        | "-iregex"
                )
            ) || f.lit().is_none()
        });
    let name_patterns: Vec<String> = expression
        .windows(2)
        .filter(|p| matches!(p[0].lit(), Some("-name" | "-iname")))
        .filter_map(|p| p[1].lit().map(str::to_owned))
        .collect();
    let whole_tree_delete = deletes
        && (!filtered
            || name_patterns.iter().any(|pattern| {
                PROTECTED_NAMES
                    .iter()
                    .any(|n| fast_glob::glob_match(pattern.as_str(), n))
            }));
    let executes = expression
        .iter()
        .any(|f| matches!(f.lit(), Some("-exec" | "-execdir" | "-ok" | "-okdir")));
    for root in &roots {
        if whole_tree_delete {
            tree(w, cx, root, Access::Write, "find -delete");
        } else if deletes {
            w.access_text(
                &cx.env,
                root.lit().unwrap_or("."),
                Access::Write,
                true,
                "find -delete",
            );
        } else if executes {
            tree(w, cx, root, Access::Read, "find -exec");
        } else {
            // Listing reads names, not content.
            w.access(&cx.env, root, Access::Read, "find");
        }
        if deletes && let Some(root_text) = root.lit() {
            for n in &names {
                let p = format!("{}/{n}", root_text.trim_end_matches('/'));
                w.access_text(&cx.env, &p, Access::Write, false, "find -delete");
            }
        }
    }
    let mut k = 0;
    while k < expression.len() {
        let t = expression[k].lit();
        match t {
            Some("-exec" | "-execdir" | "-ok" | "-okdir") => {
                let start = k + 1;
                let mut end = start;
                while end < expression.len() && !matches!(expression[end].lit(), Some(";" | "+")) {
                    end += 1;
                }
                // Each `{}` stands for every file under the roots: a child of each root,
                // and each literal name the expression selects.
                for root in &roots {
                    let Some(root_text) = root.lit() else {
                        continue;
                    };
                    let root_text = root_text.trim_end_matches('/');
                    let mut stand_ins: Vec<String> =
                        names.iter().map(|n| format!("{root_text}/{n}")).collect();
                    stand_ins.push(format!("{root_text}/{}", crate::target::DIRECTORY_PROBE));
                    for stand_in in stand_ins {
                        let argv: Vec<Field> = expression[start..end]
                            .iter()
                            .map(|f| match f.lit() {
                                Some(t) if t.contains("{}") => lit(&t.replace("{}", &stand_in)),
                                _ => f.clone(),
                            })
                            .collect();
                        let mut inner = Cx {
                            env: cx.env.clone(),
                            git_dir: None,
                            stdin: Stdin::Inherited,
                            suffix_assignments: Vec::new(),
                        };
                        dispatch(w, env, &mut inner, argv);
                    }
                }
                k = end + 1;
            }
            Some("-fprint" | "-fprint0" | "-fprintf" | "-fls") => {
                if let Some(f) = expression.get(k + 1) {
                    w.access(&cx.env, f, Access::Write, "find -fprint");
                }
                k += 2;
            }
            _ => k += 1,
        }
    }
}

/// Names of what self-protection covers (and of files typical inside it), for telling whether
/// a name filter (`find -name '*.pyc' -delete`) could select any of it.
const PROTECTED_NAMES: &[&str] = &[
    ".git",
    ".claude",
    ".husky",
    ".claude.json",
    ".gitconfig",
    "hooks",
    "config",
    "settings.json",
    "settings.local.json",
    "pre-commit",
    "commit-msg",
    "post-commit",
    "post-rewrite",
    "pre-commit.hookledger-chained",
    "skills",
    "commands",
    "agents",
    "plugins",
    "dev-mods",
    "shell-snapshots",
    "projects",
    "SKILL.md",
    "command.md",
    "agent.md",
    "hook.sh",
    "mod.js",
    "plugin.json",
    "session.jsonl",
    "snapshot-bash.sh",
    "hookledger",
    "keys",
    "ledger.db",
    "ledger.db-wal",
    "ledger.db-shm",
    "ledger.spool",
    "policy.json",
    "key.ed25519",
    "managed-settings.json",
];

/// A directory the command works through recursively: rules that cover everything under it
/// apply, as do rules for the directory itself.
fn search_root(w: &mut Walker, cx: &Cx, f: &Field, access: Access, role: &str) {
    let env = &cx.env;
    match f {
        Field::Lit { text, glob: None } if !text.is_empty() => {
            w.access_text(env, text, access, true, role)
        }
        Field::Lit { text, .. } if text.is_empty() => w.access_text(env, ".", access, true, role),
        other => w.access(env, other, access, role),
    }
}

/// A directory whose whole tree the command reads or writes.
fn tree(w: &mut Walker, cx: &Cx, f: &Field, access: Access, role: &str) {
    w.access_tree(&cx.env, f, access, role)
}

fn search_root_text(w: &mut Walker, cx: &Cx, text: &str, access: Access, role: &str) {
    w.access_text(&cx.env, text, access, true, role)
}

/// A program hookledger does not know: any argument may be a path it writes, so those that
/// look like paths are checked as writes, and one only known at run time is unanalyzable.
pub fn unknown_arguments_env(w: &mut Walker, env: &Env, name: &str, args: &[Field]) {
    for f in args {
        let text = match f {
            Field::Dyn(why) => {
                w.opaque(format!(
                    "{name} is a program hookledger does not know, and an argument of it is {why}"
                ));
                continue;
            }
            Field::Lit { text, .. } => text.as_str(),
        };
        let value = if text.starts_with('-') {
            match text.split_once('=') {
                Some((_, v)) => v,
                None => continue,
            }
        } else {
            text
        };
        if looks_like_path(value, env) {
            w.access(env, &lit_like(f, value), Access::Write, name);
        }
    }
}

fn unknown_arguments(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    unknown_arguments_env(w, &cx.env, name, args)
}

fn lit_like(f: &Field, text: &str) -> Field {
    match f {
        Field::Lit { text: t, glob } if t == text => Field::Lit {
            text: t.clone(),
            glob: glob.clone(),
        },
        _ => lit(text),
    }
}

/// An argument that names a file: absolute, home- or dot-relative, with a separator, or an
/// existing entry of a current directory. URLs, `host:path` and prose are not paths.
pub fn looks_like_path(text: &str, env: &Env) -> bool {
    if text.is_empty() || text.len() > 4096 || text.contains("://") || text.contains('\n') {
        return false;
    }
    if text == PROCESS_SUBSTITUTION {
        return false;
    }
    if text.starts_with('/') || text.starts_with('~') || text.starts_with('.') {
        return true;
    }
    if text.contains('/') && !text.contains(' ') && !text.contains(':') && !text.starts_with('@') {
        return true;
    }
    if text.contains(' ') || text.len() > 255 {
        return false;
    }
    env.cwds
        .as_ref()
        .is_some_and(|cwds| cwds.iter().any(|c| existing(&c.join(text))))
}

fn existing(p: &PathBuf) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// Whether `program` runs hookledger: by name, through a path that is the running binary (a
/// symlink, a hard link, a copy), or a copy or link made earlier in this command. A program
/// found on `PATH` is looked up only when its arguments start like a state-changing
/// hookledger subcommand, which keeps `npm install` cheap.
fn runs_hookledger(w: &mut Walker, env: &Env, program: &Field, args: &[Field]) -> bool {
    let Some(text) = program.lit() else {
        return false;
    };
    let base = Path::new(text)
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if base == "hookledger" || base == "hookledger.exe" {
        return true;
    }
    let candidates: Vec<PathBuf> = if text.contains('/') {
        w.resolve(env, text, "the program run")
    } else if first_word(args).is_some_and(|s| hookledger::STATE_SUBCOMMANDS.contains(&s)) {
        path_lookup(text, w.home)
    } else {
        return false;
    };
    candidates
        .iter()
        .any(|p| w.binary_aliases.contains(p) || hookledger::is_running_binary(p))
}

/// The first argument that is not an option (hookledger's global `--ledger` skipped).
fn first_word(args: &[Field]) -> Option<&str> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.lit()? {
            "--ledger" => {
                iter.next();
            }
            t if t.starts_with('-') => {}
            t => return Some(t),
        }
    }
    None
}

/// Where a command name without a slash is found on `PATH`, resolved physically.
fn path_lookup(name: &str, home: Option<&Path>) -> Vec<PathBuf> {
    let Some(path) = std::env::var_os("PATH") else {
        return Vec::new();
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .filter(|p| p.is_file())
        .map(|p| crate::paths::resolve(&p.to_string_lossy(), Path::new("/"), home))
        .collect()
}

/// hookledger run by the agent: read-only subcommands pass; anything that changes its state is
/// a self-protection refusal.
fn run_hookledger(w: &mut Walker, cx: &Cx, args: &[Field], program: &str) {
    match hookledger::classify(args) {
        Effect::ReadOnly => {}
        Effect::WritesInto(dir) => tree(w, cx, &dir, Access::Write, "hookledger man --out-dir"),
        Effect::Changes(sub, why) => w.refuse(format!(
            "`{program} {sub}` runs hookledger's own state-changing command, which no tool may run: {why}; a person runs it outside Claude Code"
        )),
    }
}

/// `npx PKG ARGS`, `npm exec PKG`, `pnpm dlx PKG`, `bunx PKG` …: hookledger when the package
/// (or its binary) is named hookledger.
fn run_package_runner(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) {
    let (opts, rest) = parse_wrapper_with_values(
        args,
        &[
            "-p",
            "--package",
            "-c",
            "--call",
            "--node-options",
            "--registry",
            "--cache",
            "--prefix",
        ],
    );
    for (opt, value) in &opts {
        if matches!(opt.as_str(), "-c" | "--call")
            && let Some(code) = value
        {
            run_code(w, cx, code, &format!("{name} -c"));
        }
    }
    let Some(package) = rest.first() else {
        return;
    };
    let packages = opts
        .iter()
        .filter(|(o, _)| o == "-p" || o == "--package")
        .filter_map(|(_, v)| v.as_ref().and_then(Field::lit));
    let hookledger_package = |t: &str| {
        let bare = t.rsplit('/').next().unwrap_or(t);
        let bare = bare.split('@').next().unwrap_or(bare);
        bare.eq_ignore_ascii_case("hookledger")
    };
    match package.lit() {
        Some(t) if hookledger_package(t) || packages.clone().any(hookledger_package) => {
            run_hookledger(w, cx, &rest[1..], t);
        }
        Some(t) => {
            // The package's binary runs like a command of that name (`npx husky`).
            let bare = t.rsplit('/').next().unwrap_or(t);
            let bare = bare.split('@').next().unwrap_or(bare).to_owned();
            let mut argv = rest.clone();
            argv[0] = lit(&bare);
            dispatch(w, env, cx, argv);
        }
        None => w.opaque(format!("{name} runs a package computed at run time")),
    }
}

/// `cargo run [--bin hookledger | -p hookledger] [-- ARGS]`, or `cargo run` in hookledger's own
/// package: the binary it builds is hookledger.
fn run_cargo(w: &mut Walker, cx: &Cx, args: &[Field]) {
    let split = args.iter().position(|a| a.lit() == Some("--"));
    let (own, program_args) = match split {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &args[args.len()..]),
    };
    let p = parse(
        own,
        &[
            "--bin",
            "-p",
            "--package",
            "--manifest-path",
            "--example",
            "--features",
            "-F",
            "--target",
            "--target-dir",
            "--profile",
            "-j",
            "--jobs",
            "--color",
            "--config",
            "-Z",
        ],
    );
    let named = p
        .values(&["--bin", "-p", "--package"])
        .filter_map(Field::lit)
        .any(|v| v == "hookledger");
    let manifest = p
        .values(&["--manifest-path"])
        .next()
        .and_then(Field::lit)
        .map(str::to_owned);
    let own_package = named
        || match manifest {
            Some(m) => w
                .resolve(&cx.env, &m, "cargo --manifest-path")
                .iter()
                .any(|p| manifest_is_hookledger(p)),
            None => cx.env.cwds.iter().flatten().any(|d| {
                d.ancestors()
                    .any(|a| manifest_is_hookledger(&a.join("Cargo.toml")))
            }),
        };
    if own_package {
        run_hookledger(w, cx, program_args, "cargo run -- ");
    } else {
        if cx.env.cwds.is_none()
            && first_word(program_args).is_some_and(|s| hookledger::STATE_SUBCOMMANDS.contains(&s))
        {
            w.opaque("cargo run in a directory that cannot be followed may build hookledger");
        }
        unknown_arguments(w, cx, "cargo", args);
    }
}

fn manifest_is_hookledger(path: &Path) -> bool {
    crate::gitconfig::read_small(path).is_some_and(|text| {
        text.lines().any(|l| {
            let l = l.trim();
            l.starts_with("name") && l.contains("\"hookledger\"")
        })
    })
}

/// Tools that install, move or remove git hooks (`husky`, `pre-commit install`, `lefthook
/// install` …): they rewrite the hooks directory or `core.hooksPath`, where hookledger's shims
/// are, so their installing verbs are refused.
fn hook_manager(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let words: Vec<&str> = args.iter().filter_map(Field::lit).collect();
    let first = words.iter().find(|a| !a.starts_with('-')).copied();
    let help = words
        .iter()
        .any(|a| matches!(*a, "-h" | "--help" | "-v" | "-V" | "--version"));
    let rewrites = !help
        && (args.iter().any(|a| a.lit().is_none())
            || match name {
                "husky" => !matches!(first, Some("run")),
                "pre-commit" => matches!(first, Some("install" | "uninstall" | "init-templatedir")),
                "lefthook" => matches!(first, Some("install" | "uninstall" | "add")),
                "overcommit" => words
                    .iter()
                    .any(|a| matches!(*a, "--install" | "--uninstall" | "-i" | "-u")),
                _ => first.is_none() || matches!(first, Some("install" | "uninstall" | "init")),
            });
    if rewrites {
        w.refuse(format!(
            "`{}` installs or removes git hooks (or moves `core.hooksPath`), where hookledger's commit-time provenance runs; a person runs it outside Claude Code",
            std::iter::once(name).chain(words.iter().copied()).collect::<Vec<_>>().join(" ")
        ));
    } else {
        unknown_arguments(w, cx, name, args);
    }
}

/// Claude Code run by the agent: a nested session with other settings, another home or
/// another ledger could run without hookledger's hooks, and its settings commands change what
/// runs; those are refused. A plain nested session runs under the same hooks.
fn run_claude(w: &mut Walker, cx: &Cx, args: &[Field]) {
    const ENVIRONMENT: &[&str] = &["HOME", "CLAUDE_CONFIG_DIR", "XDG_CONFIG_HOME"];
    if let Some(var) = cx
        .env
        .vars
        .keys()
        .find(|k| ENVIRONMENT.contains(&k.as_str()) || k.starts_with("HOOKLEDGER_"))
    {
        w.refuse(format!(
            "`{var}=… claude` runs Claude Code with another configuration, where hookledger's hooks may not run or record"
        ));
        return;
    }
    let words: Vec<&str> = args.iter().filter_map(Field::lit).collect();
    let flag = words.iter().find(|a| {
        [
            "--settings",
            "--setting-sources",
            "--plugin-dir",
            "--mcp-config",
            "--agents",
        ]
        .iter()
        .any(|f| *a == f || a.starts_with(&format!("{f}=")))
    });
    if let Some(flag) = flag {
        w.refuse(format!(
            "`claude {flag}` runs Claude Code with settings of the agent's choosing, which could switch hookledger's hooks off"
        ));
        return;
    }
    let first = words.iter().find(|a| !a.starts_with('-')).copied();
    let second = words.iter().filter(|a| !a.starts_with('-')).nth(1).copied();
    let changes = match first {
        Some("config") => !matches!(second, Some("get" | "list") | None),
        Some("mcp") => !matches!(second, Some("list" | "get" | "serve") | None),
        Some("plugin" | "plugins") => !matches!(second, Some("list") | None),
        Some("install" | "update" | "migrate-installer") => true,
        _ => false,
    };
    if changes {
        w.refuse(format!(
            "`claude {}` changes Claude Code's configuration (what runs and which hooks), which no tool may do",
            words.join(" ")
        ));
        return;
    }
    unknown_arguments(w, cx, "claude", args);
}

/// `localhost`, a loopback address, or this machine's name (optionally `user@`).
fn is_this_host(host: &str) -> bool {
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    matches!(
        host.as_str(),
        "localhost" | "127.0.0.1" | "::1" | "[::1]" | "0.0.0.0"
    ) || host.starts_with("127.")
        || host == hookledger_ledger::host::host_name().to_ascii_lowercase()
}

/// `docker run -v SRC:DST`, `--mount source=SRC`: a bind mount hands the container (and what
/// runs in it) the source directory to write. It is checked as a write into the directory: a
/// protected directory, or one holding a protected file, is refused; a repository mounted for
/// a build is not.
fn run_container(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let mut i = 0;
    while i < args.len() {
        let Some(text) = args[i].lit() else {
            i += 1;
            continue;
        };
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (text, None),
        };
        let value = |i: &mut usize| -> Option<String> {
            match &inline {
                Some(v) => Some(v.clone()),
                None => {
                    *i += 1;
                    args.get(*i).and_then(Field::lit).map(str::to_owned)
                }
            }
        };
        match flag {
            "-v" | "--volume" => {
                if let Some(spec) = value(&mut i) {
                    let source = spec.split(':').next().unwrap_or(&spec).to_owned();
                    let read_only = spec
                        .split(':')
                        .skip(2)
                        .any(|o| o.split(',').any(|x| x == "ro"));
                    if looks_like_path(&source, &cx.env) {
                        let access = if read_only {
                            Access::Read
                        } else {
                            Access::Write
                        };
                        search_root_text(w, cx, &source, access, name);
                    }
                }
            }
            "--mount" => {
                if let Some(spec) = value(&mut i) {
                    let mut source = None;
                    let mut read_only = false;
                    for part in spec.split(',') {
                        match part.split_once('=') {
                            Some(("source" | "src", v)) => source = Some(v.to_owned()),
                            Some(("readonly" | "ro", v)) => read_only = v != "false",
                            None if part == "readonly" || part == "ro" => read_only = true,
                            _ => {}
                        }
                    }
                    if let Some(source) = source.filter(|s| looks_like_path(s, &cx.env)) {
                        let access = if read_only {
                            Access::Read
                        } else {
                            Access::Write
                        };
                        search_root_text(w, cx, &source, access, name);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
}
