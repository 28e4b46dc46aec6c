//! `git`: which repository it works on (`-C`, `--git-dir`, `--work-tree`, `GIT_DIR`), which
//! paths it reads or writes, and which remotes it talks to. Configuration that makes git run
//! commands of its choosing (`-c core.sshCommand=…`, `ext::` URLs, `--upload-pack`) is
//! unanalyzable.

use std::path::{Path, PathBuf};

use super::walk::{Env, Stdin, Walker};
use super::words::Field;
use crate::target::Access;

/// Configuration keys (lower-case, `*` for a subsection) whose value git runs as a command or
/// that redirect where git connects or which hooks run.
const COMMAND_KEYS: &[&str] = &[
    "core.sshcommand",
    "core.fsmonitor",
    "core.pager",
    "core.editor",
    "core.askpass",
    "core.gitproxy",
    "core.hookspath",
    "core.alternaterefscommand",
    "sequence.editor",
    "diff.external",
    "diff.*.textconv",
    "diff.*.command",
    "filter.*.clean",
    "filter.*.smudge",
    "filter.*.process",
    "merge.*.driver",
    "credential.helper",
    "credential.*.helper",
    "alias.*",
    "protocol.allow",
    "protocol.*.allow",
    "uploadpack.packobjectshook",
    "remote.*.uploadpack",
    "remote.*.receivepack",
    "remote.*.proxy",
    "url.*.insteadof",
    "url.*.pushinsteadof",
    "http.proxy",
    "gpg.program",
    "gpg.*.program",
    "ssh.variant",
    "include.path",
    "includeif.*.path",
    "init.templatedir",
];

fn is_command_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let parts: Vec<&str> = key.split('.').collect();
    COMMAND_KEYS.iter().any(|pattern| {
        let p: Vec<&str> = pattern.split('.').collect();
        match (p.len(), parts.len()) {
            (2, n) if p[1] == "*" => n >= 2 && parts[0] == p[0],
            (2, 2) => parts == p,
            (3, n) if n >= 3 => parts[0] == p[0] && parts[n - 1] == p[2] && (p[1] == "*"),
            _ => false,
        }
    })
}

/// Subcommands that only read the repository.
const READ_ONLY: &[&str] = &[
    "status",
    "log",
    "show",
    "diff",
    "grep",
    "blame",
    "annotate",
    "ls-files",
    "ls-tree",
    "cat-file",
    "rev-parse",
    "describe",
    "shortlog",
    "reflog",
    "whatchanged",
    "name-rev",
    "for-each-ref",
    "count-objects",
    "fsck",
    "check-ignore",
    "check-attr",
    "merge-base",
    "range-diff",
    "help",
    "version",
    "var",
    "rev-list",
    "show-ref",
    "show-branch",
    "diff-tree",
    "diff-files",
    "diff-index",
    "cherry",
    "verify-commit",
    "verify-tag",
    "check-ref-format",
    "get-tar-commit-id",
    "help",
    "--version",
    "--help",
    "ls-remote",
];

/// Subcommands that change the repository or its working tree.
const WRITING: &[&str] = &[
    "add",
    "rm",
    "mv",
    "commit",
    "checkout",
    "switch",
    "restore",
    "reset",
    "stash",
    "apply",
    "am",
    "merge",
    "rebase",
    "cherry-pick",
    "revert",
    "pull",
    "clean",
    "init",
    "clone",
    "submodule",
    "worktree",
    "tag",
    "branch",
    "notes",
    "config",
    "gc",
    "prune",
    "update-index",
    "update-ref",
    "read-tree",
    "checkout-index",
    "commit-tree",
    "write-tree",
    "hash-object",
    "format-patch",
    "archive",
    "bundle",
    "sparse-checkout",
    "fetch",
    "push",
    "remote",
    "maintenance",
    "repack",
    "pack-refs",
    "symbolic-ref",
    "mktag",
    "mktree",
    "replace",
    "rerere",
    "bisect",
    "merge-file",
    "unpack-objects",
    "lfs",
    "restore",
    "backfill",
];

/// git's global options (`-C`, `--git-dir`, `--work-tree`, `-c` …), up to the subcommand:
/// the shell state with `-C` applied, the git dir and work tree named, and where the
/// subcommand is. `None` when the rest cannot be followed (said so already).
fn global_options(
    w: &mut Walker,
    env: &Env,
    git_dir_env: Option<Option<String>>,
    args: &[Field],
) -> Option<Globals> {
    let mut env = env.clone();
    let mut git_dir: Option<String> = None;
    let mut work_tree: Option<String> = None;
    if let Some(value) = git_dir_env {
        match value {
            Some(v) => git_dir = Some(v),
            None => {
                w.opaque("GIT_DIR or GIT_WORK_TREE is set to a value computed at run time");
                return None;
            }
        }
    }
    let mut i = 0;
    while i < args.len() {
        let Some(text) = args[i].lit() else {
            w.opaque("git with an option computed at run time");
            return None;
        };
        if !text.starts_with('-') {
            break;
        }
        i += 1;
        let value = |i: &mut usize, inline: Option<&str>| -> Option<Field> {
            match inline {
                Some(v) => Some(Field::Lit {
                    text: v.to_owned(),
                    glob: None,
                }),
                None => {
                    *i += 1;
                    args.get(*i - 1).cloned()
                }
            }
        };
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (text, None),
        };
        match name {
            "-C" => {
                let dir = value(&mut i, inline);
                match dir.as_ref().and_then(Field::lit) {
                    Some("") => {}
                    Some(d) => {
                        let resolved = w.resolve(&env, d, "git -C");
                        env.cwds = (!resolved.is_empty()).then_some(resolved);
                    }
                    None => {
                        w.opaque("git -C names a directory computed at run time");
                        return None;
                    }
                }
            }
            "--git-dir" | "--work-tree" => {
                match value(&mut i, inline).as_ref().and_then(Field::lit) {
                    Some(v) => {
                        if name == "--git-dir" {
                            git_dir = Some(v.to_owned());
                        } else {
                            work_tree = Some(v.to_owned());
                        }
                    }
                    None => {
                        w.opaque(format!("git {name} names a directory computed at run time"));
                        return None;
                    }
                }
            }
            "-c" | "--config-env" => match value(&mut i, inline).as_ref().and_then(Field::lit) {
                Some(kv) => {
                    let key = kv.split_once('=').map_or(kv, |(k, _)| k);
                    let value = kv.split_once('=').map(|(_, v)| v);
                    // `--config-env=KEY=VAR` takes the value from the environment variable VAR.
                    let value: Option<Option<String>> = if name == "--config-env" {
                        value.map(|var| env.vars.get(var).cloned().flatten())
                    } else {
                        value.map(|v| Some(v.to_owned()))
                    };
                    config_remote(w, &env, name, key, value.clone());
                    let value = value.flatten();
                    let value = value.as_deref();
                    if crate::gitconfig::is_hook_dotted_key(key)
                        || (key.to_ascii_lowercase().starts_with("alias.") && skips_hooks(value))
                    {
                        w.refuse(format!(
                            "`git {name} {key}=…` changes which git hooks run (hookledger's commit-time provenance runs from them)"
                        ));
                    } else if is_command_key(key) {
                        // A literal command (`core.pager=cat .env`, `alias.x=!cmd`) is walked
                        // too, so that what it names is judged; git may still run it with
                        // arguments of its own.
                        if let Some(code) = value {
                            w.subshell_program(code.trim_start_matches('!'), &env);
                        }
                        w.opaque(format!(
                            "git -c {key} makes git run a command or connect where it chooses"
                        ));
                    }
                }
                None => {
                    w.refuse(format!(
                        "`git {name}` with a setting computed at run time could set core.hooksPath and switch hookledger's git hooks off"
                    ));
                    return None;
                }
            },
            "--exec-path" if inline.is_some() => {
                w.opaque("git --exec-path runs git commands from another directory");
            }
            "--namespace" | "--super-prefix" | "--list-cmds" | "--attr-source" => {
                value(&mut i, inline);
            }
            _ => {}
        }
    }
    Some(Globals {
        env,
        git_dir,
        work_tree,
        sub: i,
    })
}

/// A configuration override (`git -c`, `--config-env`) that changes where git connects: a
/// remote's URL, or a URL rewrite (`url.BASE.insteadOf`, whose BASE is where git then goes).
/// The URL is checked like one on the command line; one of unknown value is unanalyzable.
fn config_remote(
    w: &mut Walker,
    env: &Env,
    option: &str,
    key: &str,
    value: Option<Option<String>>,
) {
    let lower = key.to_ascii_lowercase();
    let operation = format!("git {option} {key}");
    if lower.starts_with("remote.") && (lower.ends_with(".url") || lower.ends_with(".pushurl")) {
        match value {
            Some(Some(url)) => remote_url(
                w,
                env,
                &Field::Lit {
                    text: url,
                    glob: None,
                },
                &operation,
            ),
            Some(None) => w.opaque(format!(
                "{operation} sets a remote URL computed at run time"
            )),
            None => {}
        }
    } else if lower.starts_with("url.")
        && (lower.ends_with(".insteadof") || lower.ends_with(".pushinsteadof"))
    {
        // `url.BASE.insteadOf`: BASE may itself contain dots; `url.insteadOf` has none.
        let base = key.get(4..key.rfind('.').unwrap_or(0)).unwrap_or("");
        if base.is_empty() {
            return;
        }
        remote_url(
            w,
            env,
            &Field::Lit {
                text: base.to_owned(),
                glob: None,
            },
            &operation,
        );
    }
}

/// What [`global_options`] found.
struct Globals {
    env: Env,
    git_dir: Option<String>,
    work_tree: Option<String>,
    /// The index of the subcommand in the arguments.
    sub: usize,
}

/// One git invocation after its global options: what the subcommands' handlers need.
struct Git<'a> {
    /// The shell state the command runs in (after `-C`).
    env: Env,
    /// The same, in the repository's directories.
    work_env: Env,
    repo_dirs: Vec<PathBuf>,
    sub: &'a str,
    rest: &'a [Field],
    /// `git SUB`, for reasons.
    operation: String,
    stdin: &'a Stdin,
}

pub fn run(
    w: &mut Walker,
    env: &Env,
    git_dir_env: Option<Option<String>>,
    stdin: &Stdin,
    args: &[Field],
) {
    let Some(Globals {
        env,
        git_dir,
        work_tree,
        sub: i,
    }) = global_options(w, env, git_dir_env, args)
    else {
        return;
    };
    let Some(sub) = args.get(i) else {
        return;
    };
    let Some(sub) = sub.lit() else {
        w.opaque("git subcommand computed at run time");
        return;
    };
    let rest = &args[i + 1..];
    // The repository the command works on: the work tree, the directory holding the git dir,
    // or the current directory.
    let repo_text: Option<String> = work_tree.clone().or_else(|| {
        git_dir.as_ref().map(|g| {
            let p = Path::new(g);
            if p.file_name().is_some_and(|n| n == ".git") {
                p.parent().map_or(".".into(), |q| {
                    let s = q.to_string_lossy().into_owned();
                    if s.is_empty() { ".".into() } else { s }
                })
            } else {
                g.clone()
            }
        })
    });
    let repo_dirs: Vec<PathBuf> = match &repo_text {
        Some(t) => w.resolve(&env, t, "git"),
        None => env.cwds.clone().unwrap_or_default(),
    };
    if repo_dirs.is_empty() && sub != "clone" {
        w.opaque("git runs in a directory that cannot be followed");
        return;
    }
    if let Some(g) = &git_dir {
        // Writing through another git dir writes its hooks and config.
        w.access_text(&env, g, Access::Read, true, "git --git-dir");
    }
    let access = if READ_ONLY.contains(&sub) {
        Access::Read
    } else if WRITING.contains(&sub) {
        Access::Write
    } else {
        w.opaque(format!(
            "git {sub} is an alias or extension hookledger does not know"
        ));
        Access::Write
    };
    if sub != "clone" && sub != "init" {
        for dir in &repo_dirs {
            let text = dir.to_string_lossy().into_owned();
            w.access_text(&env, &text, access, false, &format!("git {sub}"));
        }
    }
    let mut work_env = env.clone();
    if !repo_dirs.is_empty() {
        work_env.cwds = Some(repo_dirs.clone());
    }
    let operation = format!("git {sub}");
    if matches!(
        sub,
        "commit" | "merge" | "cherry-pick" | "revert" | "rebase" | "am" | "pull"
    ) {
        skipped_commit_hooks(w, &env, &repo_dirs, sub, rest);
    }
    let g = Git {
        env,
        work_env,
        repo_dirs,
        sub,
        rest,
        operation,
        stdin,
    };
    match sub {
        "push" | "fetch" | "pull" | "ls-remote" => transfer(w, &g),
        "clone" => clone(w, &g),
        "remote" => remote(w, &g),
        "submodule" => submodule(w, &g),
        "config" => git_config(w, &g.env, &g.work_env, &g.repo_dirs, rest),
        "filter-branch" | "difftool" | "mergetool" => {
            w.opaque(format!("git {sub} runs commands of its choosing"))
        }
        "bisect" if rest.first().and_then(Field::lit) == Some("run") => {
            w.opaque("git bisect run runs a command")
        }
        "rebase" | "cherry-pick" | "merge" | "commit" | "revert" | "pull-request" => history(w, &g),
        "apply" | "am" => apply(w, &g),
        "add" | "rm" | "mv" | "restore" | "checkout" | "switch" | "reset" | "stash" | "clean"
        | "checkout-index" | "update-index" | "sparse-checkout" => working_tree(w, &g),
        "show" | "cat-file" | "diff" | "log" | "blame" | "grep" | "annotate" | "ls-files"
        | "ls-tree" | "shortlog" | "whatchanged" | "diff-tree" | "format-patch" | "archive"
        | "bundle" | "worktree" | "notes" | "hash-object" => readers(w, &g),
        _ => {}
    }
}

/// `push`, `fetch`, `pull`, `ls-remote`: the remote talked to, and options that run commands.
fn transfer(w: &mut Walker, g: &Git) {
    let work_env = &g.work_env;
    let repo_dirs = g.repo_dirs.as_slice();
    let sub = g.sub;
    let rest = g.rest;
    let operation = g.operation.as_str();
    let p = options(
        rest,
        &[
            "--upload-pack",
            "--receive-pack",
            "--exec",
            "-o",
            "--push-option",
            "--repo",
            "--depth",
            "--deepen",
            "--shallow-since",
            "--shallow-exclude",
            "-j",
            "--jobs",
            "--negotiation-tip",
            "--refmap",
            "--server-option",
            "--recurse-submodules-default",
            "-s",
            "--strategy",
            "-X",
            "--strategy-option",
            "--sort",
        ],
    );
    // `-u` is --upload-pack only for ls-remote; for push it is --set-upstream and for
    // fetch --update-head-ok.
    if p.0.iter().any(|o| {
        matches!(o.as_str(), "--upload-pack" | "--receive-pack" | "--exec")
            || (o == "-u" && sub == "ls-remote")
    }) {
        w.opaque(format!(
            "{operation} --upload-pack/--receive-pack runs a command of its choosing"
        ));
    }
    let remote = p.1.first().cloned().or_else(|| p.2.clone());
    remote_operand(
        w,
        work_env,
        repo_dirs,
        remote.as_ref(),
        operation,
        sub == "push",
    );
    // `push --repo=URL` names the remote when no operand does; checked either way, so that
    // the order of precedence cannot route around the allowlist.
    let repos: Vec<Field> =
        p.3.iter()
            .filter(|(o, _)| o == "--repo")
            .filter_map(|(_, v)| v.clone())
            .collect();
    for repo in &repos {
        remote_operand(w, work_env, repo_dirs, Some(repo), operation, sub == "push");
    }
}

/// `clone`: the URL, the directory written, and options that run or install commands.
fn clone(w: &mut Walker, g: &Git) {
    let env = &g.env;
    let rest = g.rest;
    let operation = g.operation.as_str();
    let p = options(
        rest,
        &[
            "-o",
            "--origin",
            "-b",
            "--branch",
            "-u",
            "--upload-pack",
            "--reference",
            "--reference-if-able",
            "--separate-git-dir",
            "--depth",
            "--shallow-since",
            "--shallow-exclude",
            "-j",
            "--jobs",
            "--template",
            "-c",
            "--config",
            "--filter",
            "--server-option",
            "--bundle-uri",
            "--ref-format",
        ],
    );
    if p.0
        .iter()
        .any(|o| matches!(o.as_str(), "-u" | "--upload-pack" | "--template"))
    {
        w.opaque("git clone --upload-pack/--template runs or installs commands of its choosing");
    }
    for (o, v) in &p.3 {
        if matches!(o.as_str(), "-c" | "--config")
            && let Some(key) = v
                .as_ref()
                .and_then(Field::lit)
                .map(|kv| kv.split_once('=').map_or(kv, |(k, _)| k).to_owned())
            && is_command_key(&key)
        {
            w.opaque(format!("git clone -c {key} makes git run a command"));
        }
        if matches!(o.as_str(), "--separate-git-dir")
            && let Some(v) = v
        {
            w.access(env, v, Access::Write, "git clone --separate-git-dir");
        }
    }
    let Some(url) = p.1.first() else {
        return;
    };
    remote_url(w, env, url, operation);
    let dest: Option<String> = match p.1.get(1) {
        Some(d) => match d.lit() {
            Some(t) => Some(t.to_owned()),
            None => {
                w.opaque("git clone into a directory computed at run time");
                None
            }
        },
        None => url.lit().map(|u| {
            let trimmed = u.trim_end_matches('/').trim_end_matches(".git");
            trimmed
                .rsplit(['/', ':'])
                .next()
                .unwrap_or(trimmed)
                .to_owned()
        }),
    };
    if let Some(d) = dest {
        w.access_text(env, &d, Access::Write, true, "git clone");
    }
}

/// `remote add` and `remote set-url`: the URL configured.
fn remote(w: &mut Walker, g: &Git) {
    let env = &g.env;
    let rest = g.rest;
    let Some(action) = rest.first().and_then(Field::lit) else {
        return;
    };
    let p = options(&rest[1..], &["-t", "-m", "--mirror"]);
    // The operation names the remote, so that a later `git push NAME` in the same command
    // finds the URL it was given here (see `added_remote_urls`).
    let name = p.1.first().and_then(Field::lit).unwrap_or("");
    match action {
        "add" => {
            if let Some(url) = p.1.get(1) {
                remote_url(w, env, url, &format!("git remote add {name}"));
            }
        }
        "set-url" => {
            // `set-url NAME NEWURL [OLDURL]`, `--add`/`--push`/`--delete` being options.
            if let Some(url) = p.1.get(1) {
                remote_url(w, env, url, &format!("git remote set-url {name}"));
            }
        }
        _ => {}
    }
}

/// `submodule add` and `foreach`.
fn submodule(w: &mut Walker, g: &Git) {
    let work_env = &g.work_env;
    let rest = g.rest;
    let Some(action) = rest.first().and_then(Field::lit) else {
        return;
    };
    let p = options(
        &rest[1..],
        &[
            "-b",
            "--branch",
            "--name",
            "--reference",
            "--depth",
            "-j",
            "--jobs",
        ],
    );
    match action {
        "add" => {
            if let Some(url) = p.1.first() {
                remote_url(w, work_env, url, "git submodule add");
            }
            if let Some(path) = p.1.get(1) {
                w.access(work_env, path, Access::Write, "git submodule add");
            }
        }
        "foreach" => w.opaque("git submodule foreach runs a command"),
        // `set-url PATH URL` points the submodule at URL, where `update` then fetches from.
        "set-url" => {
            if let Some(url) = p.1.get(1) {
                remote_url(w, work_env, url, "git submodule set-url");
            }
        }
        "update" | "init" | "sync" => gitmodules_remotes(w, g, action),
        _ => {}
    }
}

/// `submodule update|init|sync` fetch from the URLs in `.gitmodules`: each is a remote. A
/// `.gitmodules` this same command writes holds URLs hookledger cannot read beforehand.
fn gitmodules_remotes(w: &mut Walker, g: &Git, action: &str) {
    let operation = format!("git submodule {action}");
    let written = w.out.accesses.iter().any(|a| {
        a.access == Access::Write
            && (a.path.file_name().is_some_and(|n| n == ".gitmodules")
                || g.repo_dirs
                    .iter()
                    .any(|d| d.starts_with(&a.path) && a.recursive))
    });
    if written {
        w.opaque(format!(
            "{operation} fetches from the URLs of a .gitmodules this command writes"
        ));
        return;
    }
    for dir in &g.repo_dirs {
        let root = repo_root_of(w.world, dir);
        let Ok(text) = std::fs::read_to_string(root.join(".gitmodules")) else {
            continue;
        };
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("url") {
                continue;
            }
            let url = value.trim().trim_matches('"');
            if url.starts_with("./") || url.starts_with("../") {
                // Relative to the superproject's default remote.
                let name = w
                    .world
                    .default_remote(&root, false)
                    .unwrap_or_else(|| "origin".into());
                let base = w.world.remote_urls(&root, Some(&name)).into_iter().next();
                match base {
                    Some(base) => w.remote(relative_remote(&base, url), &operation),
                    None => w.opaque(format!(
                        "{operation} fetches from {url:?}, relative to a remote hookledger cannot find"
                    )),
                }
                continue;
            }
            let field = Field::Lit {
                text: url.to_owned(),
                glob: None,
            };
            remote_url(w, &g.work_env, &field, &operation);
        }
    }
}

/// A submodule URL relative to the superproject's (normalized) remote: `../x.git` beside it.
fn relative_remote(base: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = base.trim_end_matches('/').split('/').collect();
    for segment in relative.split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                if parts.len() > 1 {
                    parts.pop();
                }
            }
            other => parts.push(other),
        }
    }
    crate::repo::normalize_remote_url(&parts.join("/"))
}

/// `commit`, `merge`, `rebase`, `cherry-pick`, `revert`: message and template files read, paths committed, `--exec`.
fn history(w: &mut Walker, g: &Git) {
    let env = &g.env;
    let sub = g.sub;
    let rest = g.rest;
    let operation = g.operation.as_str();
    let p = options(
        rest,
        &[
            "-x",
            "--exec",
            "-m",
            "--message",
            "-F",
            "--file",
            "-t",
            "--template",
            "-C",
            "--reuse-message",
            "-c",
            "--reedit-message",
            "--author",
            "--date",
            "-s",
            "--strategy",
            "-X",
            "--strategy-option",
            "--onto",
            "--fixup",
            "--squash",
            "--cleanup",
            "-S",
            "--gpg-sign",
            "--trailer",
            "--pathspec-from-file",
        ],
    );
    if p.3
        .iter()
        .any(|(o, _)| matches!(o.as_str(), "-x" | "--exec"))
        && sub == "rebase"
    {
        w.opaque("git rebase --exec runs a command");
    }
    for (o, v) in &p.3 {
        if matches!(
            o.as_str(),
            "-F" | "--file" | "-t" | "--template" | "--pathspec-from-file"
        ) && let Some(v) = v
            && v.lit() != Some("-")
        {
            w.access(env, v, Access::Read, operation);
        }
    }
    if sub == "commit" {
        path_operands(
            w,
            env,
            &p.1,
            p.2.is_some(),
            Access::Write,
            operation,
            false,
            false,
        );
    }
    if sub == "am" {
        for f in &p.1 {
            w.access(env, f, Access::Read, "git am");
        }
    }
}

/// `apply` and `am`: the files their patches change.
fn apply(w: &mut Walker, g: &Git) {
    let env = &g.env;
    let repo_dirs = g.repo_dirs.as_slice();
    let rest = g.rest;
    let operation = g.operation.as_str();
    let stdin = g.stdin;
    let p = options(
        rest,
        &[
            "--directory",
            "--exclude",
            "--include",
            "-p",
            "-C",
            "--whitespace",
            "--build-fake-ancestor",
        ],
    );
    let strip =
        p.3.iter()
            .find(|(o, _)| o == "-p")
            .and_then(|(_, v)| {
                v.as_ref()
                    .and_then(Field::lit)
                    .and_then(|t| t.parse::<usize>().ok())
            })
            .unwrap_or(1);
    let prefix =
        p.3.iter()
            .find(|(o, _)| o == "--directory")
            .and_then(|(_, v)| v.as_ref().and_then(Field::lit).map(str::to_owned));
    let check_only =
        p.0.iter()
            .any(|o| matches!(o.as_str(), "--check" | "--stat" | "--numstat" | "--summary"));
    let mut texts: Vec<Option<String>> = Vec::new();
    for f in &p.1 {
        w.access(env, f, Access::Read, operation);
        texts.push(f.lit().and_then(|t| w.small_file(env, t)));
    }
    if p.1.is_empty() {
        texts.push(match w.stdin_text(env, stdin) {
            Stdin::Literal(t) => Some(t),
            _ => None,
        });
    }
    if check_only {
        return;
    }
    for text in texts {
        match text {
            Some(text) => {
                for dir in repo_dirs {
                    let top = repo_root_of(w.world, dir);
                    for target in super::commands::patch_targets(&text, strip, false) {
                        let rel = match &prefix {
                            Some(pre) => format!("{}/{target}", pre.trim_end_matches('/')),
                            None => target,
                        };
                        let full = top.join(rel).to_string_lossy().into_owned();
                        w.access_text(env, &full, Access::Write, false, operation);
                    }
                }
            }
            None => w.opaque(format!(
                "{operation} changes the files its patch names, which cannot be read"
            )),
        }
    }
}

/// Commands that change the working tree or index (`add`, `rm`, `mv`, `checkout`, `reset`, `stash`, `clean` …).
fn working_tree(w: &mut Walker, g: &Git) {
    let env = &g.env;
    let repo_dirs = g.repo_dirs.as_slice();
    let sub = g.sub;
    let rest = g.rest;
    let operation = g.operation.as_str();
    let p = options(
        rest,
        &[
            "-s",
            "--source",
            "-b",
            "-B",
            "--orphan",
            "-m",
            "--message",
            "--pathspec-from-file",
            "--conflict",
            "--chmod",
            "--cacheinfo",
            "--index-info",
            "--prefix",
        ],
    );
    for (o, v) in &p.3 {
        if o == "--pathspec-from-file"
            && let Some(v) = v
            && v.lit() != Some("-")
        {
            w.access(env, v, Access::Read, operation);
        }
        if o == "--prefix"
            && let Some(v) = v
        {
            w.access(env, v, Access::Write, operation);
        }
    }
    let every = matches!(sub, "clean" | "stash" | "reset" | "switch")
        || (sub == "checkout" && p.2.is_none());
    if every {
        for dir in repo_dirs {
            let t = dir.to_string_lossy().into_owned();
            w.access_text(env, &t, Access::Write, true, operation);
        }
    }
    // Operands after `--` are paths; before it, those that exist are. What `git mv`
    // moves and `git rm -r` removes goes with everything under it.
    let cached = p.0.iter().any(|o| o == "--cached");
    let (whole, last): (&[Field], &[Field]) = match sub {
        "mv" => p.1.split_at(p.1.len().saturating_sub(1)),
        "rm" if !cached => (&p.1[..], &[]),
        // `rm --cached` only drops the entries from the index (in the git dir, checked as the
        // repository's write above): the files are neither read nor written, so untracking
        // a `.env` committed by mistake is not a use of it.
        "rm" => (&[], &[]),
        _ => (&[], &p.1[..]),
    };
    path_operands(
        w,
        env,
        whole,
        p.2.is_some(),
        Access::Write,
        operation,
        true,
        true,
    );
    path_operands(
        w,
        env,
        last,
        p.2.is_some(),
        Access::Write,
        operation,
        sub == "checkout" || sub == "reset" || sub == "switch" || sub == "stash",
        false,
    );
}

/// Commands that read the repository (`show`, `diff`, `log`, `grep`, `blame` …), and the files some of their options write.
fn readers(w: &mut Walker, g: &Git) {
    let env = &g.env;
    let work_env = &g.work_env;
    let repo_dirs = g.repo_dirs.as_slice();
    let sub = g.sub;
    let rest = g.rest;
    let operation = g.operation.as_str();
    let p = options(
        rest,
        &[
            "-o",
            "--output",
            "--output-directory",
            "-e",
            "-f",
            "--file",
            "--format",
            "--pretty",
            "--since",
            "--until",
            "--author",
            "--grep",
            "-L",
            "-S",
            "-G",
            "--prefix",
            "--remote",
            "--exec",
            "-F",
            "--contents",
            "--ignore-revs-file",
            "--path",
        ],
    );
    for (o, v) in &p.3 {
        let Some(v) = v else { continue };
        match o.as_str() {
            "-o" | "--output" | "--output-directory" if sub != "grep" => {
                w.access(env, v, Access::Write, operation)
            }
            "-f" | "--file" | "--contents" | "--ignore-revs-file" | "-F"
                if v.lit() != Some("-") =>
            {
                w.access(env, v, Access::Read, operation)
            }
            "--remote" => remote_operand(
                w,
                work_env,
                repo_dirs,
                Some(v),
                "git archive --remote",
                false,
            ),
            "--exec" => w.opaque("git archive --exec runs a command"),
            _ => {}
        }
    }
    if sub == "worktree" {
        if let Some(Some("add")) = p.1.first().map(Field::lit)
            && let Some(path) = p.1.get(1)
        {
            w.access(env, path, Access::Write, "git worktree add");
        }
        return;
    }
    if sub == "bundle" {
        if let Some(Some("create")) = p.1.first().map(Field::lit)
            && let Some(path) = p.1.get(1)
        {
            w.access(env, path, Access::Write, "git bundle create");
        }
        return;
    }
    // `REV:path` names a file in the repository as committed.
    for f in &p.1 {
        if let Some((rev, path)) = f.lit().and_then(|t| t.split_once(':'))
            && !path.is_empty()
            && !rev.contains('/')
            && !path.contains("://")
        {
            for dir in repo_dirs {
                let full = if let Some(rel) = path.strip_prefix("./") {
                    env.cwds
                        .as_ref()
                        .and_then(|c| c.first())
                        .map(|c| c.join(rel))
                } else {
                    Some(repo_root_of(w.world, dir).join(path))
                };
                if let Some(full) = full {
                    let t = full.to_string_lossy().into_owned();
                    w.access_text(env, &t, Access::Read, false, operation);
                }
            }
        }
    }
    let skip_pattern = sub == "grep" && !p.3.iter().any(|(o, _)| o == "-e" || o == "-f");
    let operands: Vec<Field> =
        p.1.iter()
            .skip(usize::from(skip_pattern))
            .cloned()
            .collect();
    let no_index = p.0.iter().any(|o| o == "--no-index");
    path_operands(
        w,
        env,
        &operands,
        p.2.is_some() || no_index,
        Access::Read,
        operation,
        true,
        false,
    );
}

fn repo_root_of(world: &dyn crate::world::World, dir: &Path) -> PathBuf {
    world
        .repository_root(dir)
        .unwrap_or_else(|| dir.to_path_buf())
}

/// Parsed: (flags, operands before `--`, first operand after `--` if any, options with values).
type GitOptions = (
    Vec<String>,
    Vec<Field>,
    Option<Field>,
    Vec<(String, Option<Field>)>,
);

fn options(args: &[Field], with_value: &[&str]) -> GitOptions {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut after: Vec<Field> = Vec::new();
    let mut valued = Vec::new();
    let mut i = 0;
    let mut dashdash = false;
    while i < args.len() {
        let f = &args[i];
        i += 1;
        if dashdash {
            after.push(f.clone());
            continue;
        }
        match f.lit() {
            Some("--") => dashdash = true,
            Some(t) if t.starts_with('-') && t.len() > 1 => {
                let (name, inline) = match t.split_once('=') {
                    Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                    _ => (t.to_owned(), None),
                };
                // Short option with an attached value (`-mmsg`, `-ofile`).
                let (name, inline) =
                    if inline.is_none() && !name.starts_with("--") && name.len() > 2 {
                        let short = name[..2].to_owned();
                        if with_value.contains(&short.as_str()) {
                            (short, Some(name[2..].to_owned()))
                        } else {
                            (name, None)
                        }
                    } else {
                        (name, inline)
                    };
                flags.push(name.clone());
                if let Some(v) = inline {
                    valued.push((
                        name,
                        Some(Field::Lit {
                            text: v,
                            glob: None,
                        }),
                    ));
                } else if with_value.contains(&name.as_str()) {
                    valued.push((name, args.get(i).cloned()));
                    i += 1;
                }
            }
            _ => operands.push(f.clone()),
        }
    }
    let first_after = after.first().cloned();
    // Operands after `--` are appended to operands, flagged by `first_after`.
    operands.extend(after);
    (flags, operands, first_after, valued)
}

/// Path operands of a git command: all of them after `--`, and before it only those that
/// exist (the rest are revisions, branch names or patterns). `whole` marks operations that take
/// everything under a path along (`git mv`, `git rm`).
#[allow(clippy::too_many_arguments)]
fn path_operands(
    w: &mut Walker,
    env: &Env,
    operands: &[Field],
    has_dashdash: bool,
    access: Access,
    operation: &str,
    before_only_existing: bool,
    whole: bool,
) {
    let mark = super::walk::Mark::default();
    for f in operands {
        match f {
            Field::Dyn(_) if has_dashdash || !before_only_existing => {
                w.access_marked(env, f, access, whole, operation, mark)
            }
            Field::Dyn(_) => {}
            Field::Lit { text, glob } => {
                if glob.is_some() || has_dashdash || !before_only_existing {
                    w.access_marked(env, f, access, whole, operation, mark);
                    continue;
                }
                let there = |p: &Path| w.world.file_kind(p).is_some();
                let exists = env
                    .cwds
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|d| there(&d.join(text))))
                    || Path::new(text).is_absolute() && there(Path::new(text));
                if exists {
                    w.access_marked(env, f, access, whole, operation, mark);
                }
            }
        }
    }
}

fn git_config(w: &mut Walker, env: &Env, work_env: &Env, repo_dirs: &[PathBuf], args: &[Field]) {
    let p = options(
        args,
        &[
            "-f",
            "--file",
            "--blob",
            "--type",
            "--default",
            "--comment",
            "--value",
            "--url",
        ],
    );
    let subcommand = p.1.first().and_then(Field::lit).filter(|s| {
        matches!(
            *s,
            "get"
                | "list"
                | "set"
                | "unset"
                | "rename-section"
                | "remove-section"
                | "edit"
                | "get-color"
                | "get-colorbool"
        )
    });
    let flag = |names: &[&str]| p.0.iter().any(|o| names.contains(&o.as_str()));
    let reading = flag(&[
        "--get",
        "--get-all",
        "--get-regexp",
        "--get-urlmatch",
        "--get-color",
        "--get-colorbool",
        "-l",
        "--list",
        "--show-origin",
        "--show-scope",
        "--name-only",
    ]) || matches!(
        subcommand,
        Some("get" | "list" | "get-color" | "get-colorbool")
    ) || (subcommand.is_none()
        && p.1.len() == 1
        && !flag(&[
            "--unset",
            "--unset-all",
            "--remove-section",
            "--rename-section",
            "--add",
            "--replace-all",
            "-e",
            "--edit",
        ]));
    if reading {
        return;
    }
    const WHY: &str =
        "which could set core.hooksPath or an include and switch hookledger's git hooks off";
    if flag(&["-e", "--edit"]) || subcommand == Some("edit") {
        w.refuse(format!(
            "`git config --edit` opens git's configuration in an editor, {WHY}"
        ));
        return;
    }
    let mut operands: Vec<Field> = p.1.clone();
    if subcommand.is_some() {
        operands.remove(0);
    }
    let Some(first) = operands.first() else {
        return;
    };
    let Some(name) = first.lit() else {
        w.refuse(format!("`git config` of a key computed at run time, {WHY}"));
        return;
    };
    let sections = flag(&["--remove-section", "--rename-section"])
        || matches!(subcommand, Some("rename-section" | "remove-section"));
    let lower = name.to_ascii_lowercase();
    if sections {
        if lower == "core" || lower == "include" || lower.starts_with("includeif") {
            w.refuse(format!(
                "`git config` removes or renames the section {name}, {WHY}"
            ));
        }
        if let Some(new_name) = operands.get(1) {
            match new_name.lit().map(str::to_ascii_lowercase) {
                Some(n) if n == "core" || n == "include" || n.starts_with("includeif") => {
                    w.refuse(format!("`git config` renames a section to {n}, {WHY}"))
                }
                Some(_) => {}
                None => w.refuse(format!(
                    "`git config` renames a section to a name computed at run time, {WHY}"
                )),
            }
        }
    } else if crate::gitconfig::is_hook_dotted_key(name) {
        w.refuse(format!(
            "`git config {name}` changes which git hooks run (hookledger's commit-time provenance runs from them)"
        ));
        return;
    } else if lower.starts_with("alias.") && operands.get(1).is_some_and(|v| skips_hooks(v.lit())) {
        w.refuse(format!(
            "`git config {name}` defines an alias that skips or moves the git hooks (hookledger's commit-time provenance runs from them)"
        ));
        return;
    }
    // The key is known and harmless to hooks: the file it lands in is written the ordinary way.
    let scope_file: Option<String> = if flag(&["--global"]) {
        w.home
            .map(|h| h.join(".gitconfig").to_string_lossy().into_owned())
    } else if flag(&["--system"]) {
        Some("/etc/gitconfig".into())
    } else {
        None
    };
    if let Some(file) = &scope_file {
        w.access_text_vetted(env, file, "git config");
    }
    for (o, v) in &p.3 {
        if matches!(o.as_str(), "-f" | "--file")
            && let Some(v) = v
        {
            match v.lit() {
                Some(text) if text != "-" => w.access_text_vetted(env, text, "git config --file"),
                Some(_) => {}
                None => w.opaque("git config --file names a path computed at run time"),
            }
        }
    }
    if sections {
        return;
    }
    let _ = (work_env, repo_dirs);
    // An alias that does not start with `!` runs a git subcommand, not a program.
    let plain_alias = lower.starts_with("alias.")
        && operands
            .get(1)
            .and_then(Field::lit)
            .is_some_and(|v| !v.trim_start().starts_with('!'));
    // `url.BASE.insteadOf PREFIX` sends every URL starting with PREFIX to BASE: BASE is a
    // remote like any, judged by the allowlist (a rewrite to an allowed host stays allowed).
    let rewrite = lower.starts_with("url.")
        && (lower.ends_with(".insteadof") || lower.ends_with(".pushinsteadof"));
    if rewrite {
        let base = name.get(4..name.rfind('.').unwrap_or(0)).unwrap_or("");
        if !base.is_empty() {
            remote_url(w, env, &lit_field(base), "git config url.*.insteadOf");
            return;
        }
    }
    if is_command_key(&lower)
        && !plain_alias
        && !(lower.starts_with("remote.")
            && (lower.ends_with(".url") || lower.ends_with(".pushurl")))
    {
        w.opaque(format!(
            "git config {name} makes git run a command or connect where it chooses"
        ));
        return;
    }
    if lower.starts_with("remote.")
        && (lower.ends_with(".url") || lower.ends_with(".pushurl"))
        && let Some(url) = operands.get(1)
    {
        remote_url(w, env, url, "git config remote URL");
    }
}

fn lit_field(text: &str) -> Field {
    Field::Lit {
        text: text.to_owned(),
        glob: None,
    }
}

/// A URL-shaped operand (as opposed to a configured remote's name).
fn url_like(text: &str) -> bool {
    text.contains("://")
        || text.contains("::")
        || text.starts_with('/')
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with('~')
        || text.ends_with(".git")
        || text
            .split_once(':')
            .is_some_and(|(host, _)| host.len() > 1 && !host.contains('/'))
}

fn remote_url(w: &mut Walker, env: &Env, url: &Field, operation: &str) {
    let Some(text) = url.lit() else {
        w.opaque(format!("{operation} to a URL computed at run time"));
        return;
    };
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("ext::") || lower.starts_with("fd::") {
        w.opaque(format!(
            "{operation} through the {text:?} transport, which runs a command"
        ));
        // Also a remote, so that an allowlist refuses it outright (it can never be on one).
        w.remote(text.to_owned(), operation);
        return;
    }
    let normalized = if text.contains("://")
        || !(text.starts_with('/') || text.starts_with('.') || text.starts_with('~'))
            && url_like(text)
    {
        crate::repo::normalize_remote_url(text)
    } else {
        // A local path, resolved like any other.
        match w.resolve(env, text, operation).first() {
            Some(p) => crate::repo::normalize_remote_url(&p.to_string_lossy()),
            None => return,
        }
    };
    w.remote(normalized, operation);
}

/// The URLs an earlier `git remote add|set-url NAME URL` of this command gave `name`.
fn added_remote_urls(w: &Walker, name: &str) -> Vec<String> {
    let add = format!("git remote add {name}");
    let set = format!("git remote set-url {name}");
    w.out
        .remotes
        .iter()
        .filter(|r| r.operation == add || r.operation == set)
        .map(|r| r.url.clone())
        .collect()
}

/// The remote of a push/fetch/pull: a URL, a configured remote's name, or (none given) the
/// branch's default remote.
fn remote_operand(
    w: &mut Walker,
    env: &Env,
    repo_dirs: &[PathBuf],
    remote: Option<&Field>,
    operation: &str,
    push: bool,
) {
    let name: String = match remote {
        Some(f) => match f.lit() {
            Some(t) if url_like(t) => {
                remote_url(w, env, f, operation);
                return;
            }
            Some(t) => t.to_owned(),
            None => {
                w.opaque(format!("{operation} to a remote computed at run time"));
                return;
            }
        },
        None => String::new(),
    };
    for dir in repo_dirs {
        let root = repo_root_of(w.world, dir);
        let chosen = if name.is_empty() {
            w.world
                .default_remote(&root, push)
                .unwrap_or_else(|| "origin".into())
        } else {
            name.clone()
        };
        let urls = w.world.remote_urls(&root, Some(&chosen));
        if urls.is_empty() {
            let added = added_remote_urls(w, &chosen);
            if !added.is_empty() {
                for url in added {
                    w.remote(url, operation);
                }
                continue;
            }
            if !name.is_empty() {
                // Not a configured remote: git takes it as a path or URL.
                let field = Field::Lit {
                    text: name.clone(),
                    glob: None,
                };
                remote_url(w, env, &field, operation);
            }
            continue;
        }
        for url in urls {
            w.remote(url, operation);
        }
    }
}

/// Flags and variables that skip the commit hooks (`--no-verify`, `-n`, `HUSKY=0`): refused
/// where hookledger's commit gate is installed, since the commit would carry no provenance.
fn skipped_commit_hooks(
    w: &mut Walker,
    env: &Env,
    repo_dirs: &[PathBuf],
    sub: &str,
    rest: &[Field],
) {
    let mut no_verify = false;
    for arg in rest {
        let Some(t) = arg.lit() else { continue };
        if t == "--" {
            break;
        }
        if t == "--no-verify" && matches!(sub, "commit" | "merge" | "pull") {
            no_verify = true;
        }
        // `git commit -n` (also clustered: `-anm msg`); a value-taking letter ends the cluster.
        if sub == "commit" && t.starts_with('-') && !t.starts_with("--") {
            for c in t[1..].chars() {
                if c == 'n' {
                    no_verify = true;
                    break;
                }
                if "mFCctSu".contains(c) {
                    break;
                }
            }
        }
    }
    let husky_off = ["HUSKY", "HUSKY_SKIP_HOOKS", "SKIP_HOOKS"]
        .iter()
        .any(|name| {
            env.vars
                .get(*name)
                .is_some_and(|v| match (name, v.as_deref()) {
                    (&"HUSKY", Some(value)) => matches!(value, "0" | "false"),
                    _ => true,
                })
        });
    if !(no_verify || husky_off) {
        return;
    }
    for dir in repo_dirs {
        let root = repo_root_of(w.world, dir);
        if crate::protect::commit_gate_installed(&root, w.home) {
            let how = if no_verify {
                format!("git {sub} --no-verify")
            } else {
                format!("HUSKY=0 git {sub}")
            };
            w.refuse(format!(
                "`{how}` skips the git hooks of {}, where hookledger's commit gate is installed: the commit would carry no provenance",
                root.display()
            ));
            return;
        }
    }
}

/// An alias body that skips hooks or moves them (`commit --no-verify`, `-c core.hooksPath=…`);
/// an unknown body counts.
fn skips_hooks(value: Option<&str>) -> bool {
    let Some(value) = value else {
        return true;
    };
    let lower = value.to_ascii_lowercase();
    lower.contains("no-verify")
        || lower.contains("hookspath")
        || lower.contains("include")
        || (lower.contains("commit") && lower.split_whitespace().any(|w| w == "-n"))
}

#[cfg(test)]
mod gitmodules_tests {
    use super::relative_remote;

    #[test]
    fn relative_submodule_urls_resolve_beside_the_superproject() {
        assert_eq!(
            relative_remote("github.com/Acme/widgets", "../lib.git"),
            "github.com/Acme/lib"
        );
        assert_eq!(
            relative_remote("github.com/Acme/widgets", "../../evil/x.git"),
            "github.com/evil/x"
        );
    }
}
