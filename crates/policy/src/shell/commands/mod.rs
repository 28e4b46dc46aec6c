//! What a simple command does to paths, by command name.
//!
//! Wrappers are unwrapped first; shells, `eval` and interpreters recurse into the code they
//! run; known commands have their operands classified; an unknown command is assumed to
//! write every argument that looks like a path (it may), and an argument only known at run
//! time makes it unanalyzable.
//!
//! [`simple`] is the table of simple commands (those that name no file, readers, writers);
//! each other module is a family of commands whose effect takes code: [`builtins`],
//! [`wrappers`], [`interpreters`], [`files`], [`text`], [`archives`], [`network`], [`tools`].
//! `git` is in `super::git_cmd`. What is shared (option parsing, directories, operands of
//! unknown commands, running hookledger) is here.

use std::path::{Path, PathBuf};

use super::hookledger::{self, Effect};
use super::scripts;
use super::walk::{Env, Mark, Program, Stdin, Walker, bind_positional, is_process_substitution};
use super::words::Field;
use crate::target::Access;
use crate::world::World;

mod archives;
mod builtins;
mod files;
mod interpreters;
mod network;
mod simple;
mod text;
mod tools;
mod wrappers;

pub use files::find_listing;
use interpreters::*;
use wrappers::*;

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
        w.check_special_variable(command_env, name, value.as_deref(), Some(command));
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
    // Through the World, like every program hookledger reads (a fake one in tests). A file
    // too large to be read as a program is not walked as one (a compiled binary usually).
    let Some(bytes) = w.world.read_bytes(&path, super::walk::MAX_PROGRAM_BYTES) else {
        return false;
    };
    let head = &bytes[..bytes.len().min(128)];
    let first_line = String::from_utf8_lossy(head);
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
        // What it is given still counts (`$EDITOR .env`): any program may read or write it.
        unknown_arguments(w, cx, "a command computed at run time", &argv[1..]);
        return;
    };
    let mut written_here: Vec<Option<String>> = Vec::new();
    if first.lit().is_some_and(|t| t.contains('/')) {
        // Running a file reads it; a shell script is walked like `bash FILE`.
        w.access(&cx.env, first, Access::Read, "the program run");
        // A program this command wrote a moment ago with literal text is that text.
        written_here = first
            .lit()
            .map(|t| {
                w.resolve(&cx.env, t, "the program run")
                    .iter()
                    .filter_map(|p| w.written.get(p).cloned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let literal = !written_here.is_empty() && written_here.iter().all(Option::is_some);
        if literal || is_shell_script(w, &cx.env, first) {
            unknown_arguments(w, cx, &name, &argv[1..]);
            let mut shell = cx.env.clone();
            bind_positional(&mut shell, Some(first), &argv[1..]);
            let stdin = cx.stdin.clone();
            w.with_input(stdin, |w| w.script_file(&mut shell, first, false));
            return;
        }
    }
    if let Some(Field::Lit { glob: Some(_), .. }) = argv.first() {
        w.opaque("the command name is a glob");
        unknown_arguments(w, cx, "a command named by a glob", &argv[1..]);
        return;
    }
    let args = &argv[1..];
    if w.call_function(&name, env, &cx.env, args, cx.stdin.clone()) {
        return;
    }
    if first.lit() == Some(name.as_str())
        && let Some(body) = w.aliases.remove(&name)
    {
        // The alias's body with this command's words after it, as bash reads it. The alias
        // is out of the table meanwhile, as bash does not expand an alias inside itself.
        let mut line = body.clone();
        for a in args {
            match a.lit() {
                Some(t) => {
                    line.push(' ');
                    line.push_str(&shell_quote(t));
                }
                None => {
                    w.opaque(format!(
                        "the alias {name} is run with an argument computed at run time"
                    ));
                    break;
                }
            }
        }
        let mut current = cx.env.clone();
        // With the command's own input (`c <<< CODE` where c is `bash`).
        let stdin = cx.stdin.clone();
        w.with_input(stdin, |w| w.program(&line, &mut current));
        w.aliases.insert(name, body);
        return;
    }
    if matches!(
        name.as_str(),
        "printf" | "read" | "test" | "[" | "unset" | "mapfile" | "readarray" | "wait" | "local"
    ) {
        builtins::subscripts(w, cx, args);
    }
    if matches!(name.as_str(), "set" | "shift" | "unset" | "read" | "printf")
        && builtins::shell_state(w, env, cx, &name, args)
    {
        return;
    }
    if runs_hookledger(w, &cx.env, first, args) {
        run_hookledger(w, cx, args, first.lit().unwrap_or("hookledger"));
        return;
    }
    if written_here.iter().any(Option::is_none) {
        w.opaque(format!(
            "{name} is a program this command changes, in a way hookledger cannot read, before running it"
        ));
        unknown_arguments(w, cx, &name, args);
        return;
    }
    if let Some(simple) = simple::lookup(&name) {
        simple::run(w, env, cx, &name, simple, args);
        return;
    }
    if name == "git" {
        let git_dir = cx.git_dir.clone();
        let stdin = cx.stdin.clone();
        super::git_cmd::run(w, &cx.env, git_dir, &stdin, args);
        return;
    }
    // By family; a family that does not know the name passes it on. The names are disjoint
    // but for one: package runners come before interpreters, so `bun x` runs a package and
    // `bun FILE` a script.
    let known = builtins::run(w, env, cx, &name, args)
        || wrappers::run(w, env, cx, &name, args)
        || tools::run(w, env, cx, &name, args)
        || interpreters::run(w, env, cx, &name, args)
        || files::run(w, env, cx, &name, args)
        || text::run(w, env, cx, &name, args)
        || archives::run(w, env, cx, &name, args)
        || network::run(w, env, cx, &name, args);
    if !known {
        unknown_arguments(w, cx, &name, args);
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

/// Index in `operands` of the operand that came first on the command line.
fn first_operand_in_order(args: &[Field], operands: &[Field]) -> Option<usize> {
    let first = args.iter().find(|a| {
        operands.contains(a) && a.lit().is_none_or(|t| !t.starts_with('-') || t == "-")
    })?;
    operands.iter().position(|o| o == first)
}

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
        if looks_like_path(w.world, value, env) {
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
pub fn looks_like_path(world: &dyn World, text: &str, env: &Env) -> bool {
    if text.is_empty() || text.len() > 4096 || text.contains("://") || text.contains('\n') {
        return false;
    }
    if is_process_substitution(text) {
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
    env.cwds.as_ref().is_some_and(|cwds| {
        cwds.iter()
            .any(|c| world.file_kind(&c.join(text)).is_some())
    })
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
        path_lookup(text, w.home, w.world)
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
fn path_lookup(name: &str, home: Option<&Path>, world: &dyn World) -> Vec<PathBuf> {
    let Some(path) = std::env::var_os("PATH") else {
        return Vec::new();
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .filter(|p| world.is_file(p))
        .map(|p| crate::paths::resolve_in(&p.to_string_lossy(), Path::new("/"), home, world))
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
