//! Package runners, build tools, git hook managers, schedulers, containers and Claude Code itself.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    let r =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Read, role);
    // A Makefile, justfile or package.json written earlier in this command is code it runs.
    scripts::project_files(w, &cx.env, name, args);
    match name {
        "npx" | "bunx" | "pnpx" => run_package_runner(w, env, cx, name, args),
        "husky" | "pre-commit" | "lefthook" | "simple-git-hooks" | "overcommit" | "git-hooks" => {
            hook_manager(w, cx, name, args)
        }
        "claude" => run_claude(w, cx, args),
        "gh" if matches!(
            (
                args.first().and_then(Field::lit),
                args.get(1).and_then(Field::lit)
            ),
            (
                Some("repo"),
                Some(
                    "create"
                        | "clone"
                        | "fork"
                        | "sync"
                        | "edit"
                        | "delete"
                        | "archive"
                        | "unarchive"
                        | "rename"
                )
            )
        ) =>
        {
            run_gh_repo(w, cx, args)
        }
        "gh" if args.first().and_then(Field::lit) == Some("api") => run_gh_api(w, cx, &args[1..]),
        "gh" if args.iter().any(|a| gh_repo_option(a).is_some()) => {
            // `-R/--repo` points any gh command at that repository (`gh pr create -R x/y`
            // opens a pull request there, `gh release upload -R` sends files to it).
            for (k, arg) in args.iter().enumerate() {
                let value = match gh_repo_option(arg) {
                    Some(Some(v)) => lit(&v),
                    Some(None) => match args.get(k + 1) {
                        Some(v) => v.clone(),
                        None => continue,
                    },
                    None => continue,
                };
                match value.lit() {
                    Some(text) => {
                        let url = if text.contains("://") || text.starts_with("git@") {
                            text.to_owned()
                        } else if text.matches('/').count() >= 2 {
                            format!("https://{text}")
                        } else {
                            format!("https://github.com/{text}")
                        };
                        w.remote(crate::repo::normalize_remote_url(&url), "gh --repo");
                    }
                    None => w.opaque("gh --repo names a repository computed at run time"),
                }
            }
            unknown_arguments(w, cx, name, args);
        }
        "npm" | "pnpm" | "yarn" | "bun"
            if args
                .first()
                .and_then(Field::lit)
                .is_some_and(|s| matches!(s, "exec" | "x" | "dlx")) =>
        {
            run_package_runner(w, env, cx, name, &args[1..])
        }
        "cargo"
            if args
                .first()
                .and_then(Field::lit)
                .is_some_and(|s| s == "run" || s == "r") =>
        {
            run_cargo(w, cx, &args[1..])
        }
        "at" | "batch" => {
            // The commands run later, from stdin or `-f FILE`, as a shell would run them.
            let p = parse(args, &["-f", "-q", "-t", "-m", "-M"]);
            if p.has(&["-l", "-d", "-r", "-c"]) {
                return true;
            }
            match p.values(&["-f"]).next().cloned() {
                Some(file) => {
                    r(w, cx, &file, name);
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
                // What it installs is still checked: a literal table's commands are walked.
                let source = p.operands.first().cloned().unwrap_or(lit("-"));
                match w.program_source(&cx.env, &source, &cx.stdin) {
                    Program::Literal(t) | Program::File(t) => {
                        scripts::check_crontab(w, &cx.env, &t)
                    }
                    Program::Nothing | Program::Unknown(_) => {}
                }
            }
            for f in &p.operands {
                if f.lit() != Some("-") {
                    r(w, cx, f, "crontab");
                }
            }
        }
        "docker" | "podman" | "nerdctl" => run_container(w, cx, name, args),
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
                    "--eval",
                ],
            );
            if matches!(name, "make" | "gmake") {
                // `--eval=TEXT` is makefile text; `NAME=VALUE` operands override variables
                // that recipes expand into shell lines, so their values may run as code.
                for text in p.values(&["--eval", "-E"]) {
                    match text.lit() {
                        Some(t) => {
                            if scripts::check_makefile(w, &cx.env, t) > 0 {
                                w.opaque(format!(
                                    "{name} runs recipes that use make's own variables"
                                ));
                            }
                        }
                        None => w.opaque(format!("{name} --eval of text computed at run time")),
                    }
                }
                for f in &p.operands {
                    match f.lit().and_then(|t| t.split_once('=')) {
                        Some((var, value))
                            if !var.is_empty()
                                && var.chars().all(|c| c.is_alphanumeric() || c == '_') =>
                        {
                            w.subshell_program(value, &cx.env);
                        }
                        _ => {}
                    }
                }
            }
            for f in p.values(&["-C", "--directory"]) {
                change_directory(w, &mut cx.env, Some(f), name);
                search_root_text(w, cx, ".", Access::Write, name);
            }
            let makefiles: Vec<Field> =
                p.values(&["-f", "--file", "--makefile"]).cloned().collect();
            for f in &makefiles {
                if f.lit() != Some("-") {
                    r(w, cx, f, name);
                }
                if !matches!(name, "make" | "gmake") {
                    continue;
                }
                // A makefile named here is a program to read: from the input (`-f -`, a
                // heredoc) it is as literal as the command line and what cannot be read in
                // it is unanalyzable; a file on disk is a program hookledger has not seen,
                // checked for what it names literally.
                match w.program_source(&cx.env, f, &cx.stdin) {
                    Program::Literal(t) => {
                        if scripts::check_makefile(w, &cx.env, &t) > 0 {
                            w.opaque(format!("{name} runs recipes that use make's own variables"));
                        }
                    }
                    Program::File(t) => {
                        let known = w.out.unanalyzable.len();
                        let beyond = w.out.opaque_beyond_reads;
                        scripts::check_makefile(w, &cx.env, &t);
                        w.out.unanalyzable.truncate(known);
                        w.out.opaque_beyond_reads = beyond;
                    }
                    Program::Nothing => {}
                    Program::Unknown(why) => w.opaque(format!("{name} runs {why}")),
                }
            }
            for f in p.values(&["-S"]) {
                search_root(w, cx, f, Access::Read, name);
            }
            for f in p.values(&["-B"]) {
                search_root(w, cx, f, Access::Write, name);
            }
            unknown_arguments(w, cx, name, &p.operands);
        }
        _ => return false,
    }
    true
}

/// `npx PKG ARGS`, `npm exec PKG`, `pnpm dlx PKG`, `bunx PKG` …: hookledger when the package
/// (or its binary) is named hookledger.
pub(super) fn run_package_runner(
    w: &mut Walker,
    env: &mut Env,
    cx: &mut Cx,
    name: &str,
    args: &[Field],
) {
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
            super::dispatch(w, env, cx, argv);
        }
        None => w.opaque(format!("{name} runs a package computed at run time")),
    }
}

/// `cargo run [--bin hookledger | -p hookledger] [-- ARGS]`, or `cargo run` in hookledger's own
/// package: the binary it builds is hookledger.
pub(super) fn run_cargo(w: &mut Walker, cx: &Cx, args: &[Field]) {
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

pub(super) fn manifest_is_hookledger(path: &Path) -> bool {
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
pub(super) fn hook_manager(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
pub(super) fn run_claude(w: &mut Walker, cx: &Cx, args: &[Field]) {
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

/// `docker run -v SRC:DST`, `--mount source=SRC`: a bind mount hands the container (and what
/// runs in it) the source directory to write. It is checked as a write into the directory: a
/// protected directory, or one holding a protected file, is refused; a repository mounted for
/// a build is not.
pub(super) fn run_container(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    // `docker cp SRC CTR:DST` copies a local tree, every file of it, into a container;
    // `docker cp CTR:SRC DST` writes the tree DST.
    let cp_args = match (
        args.first().and_then(Field::lit),
        args.get(1).and_then(Field::lit),
    ) {
        (Some("cp"), _) => Some(&args[1..]),
        (Some("container"), Some("cp")) => Some(&args[2..]),
        _ => None,
    };
    if let Some(cp_args) = cp_args {
        let p = parse(cp_args, &[]);
        let in_container = |f: &Field| {
            f.lit().is_some_and(|t| {
                t.split_once(':')
                    .is_some_and(|(c, _)| !c.is_empty() && !c.contains('/'))
            })
        };
        if let [src, dest] = p.operands.as_slice() {
            if !in_container(src) && src.lit() != Some("-") {
                super::files::every_file(w, &cx.env, src, Access::Read, name);
            }
            if !in_container(dest) && dest.lit() != Some("-") {
                tree(w, cx, dest, Access::Write, name);
            }
        } else {
            w.opaque(format!(
                "{name} cp with other than a source and a destination"
            ));
        }
        return;
    }
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
                    if looks_like_path(w.world, &source, &cx.env) {
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
                    if let Some(source) = source.filter(|s| looks_like_path(w.world, s, &cx.env)) {
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

/// `gh api ENDPOINT`: a `repos/OWNER/REPO/…` endpoint reaches that repository (a `PUT` to
/// its contents writes code there), so it is a remote like any; `--input FILE` and
/// `-F key=@FILE` send a file.
fn run_gh_api(w: &mut Walker, cx: &Cx, args: &[Field]) {
    let p = parse(
        args,
        &[
            "-X",
            "--method",
            "-H",
            "--header",
            "-f",
            "--raw-field",
            "-F",
            "--field",
            "--input",
            "-q",
            "--jq",
            "-t",
            "--template",
            "--hostname",
            "-p",
            "--preview",
            "--cache",
        ],
    );
    for f in p.values(&["--input"]) {
        if f.lit() != Some("-") {
            w.access(&cx.env, f, Access::Read, "gh api --input");
        }
    }
    for f in p.values(&["-F", "--field"]) {
        match f.lit() {
            Some(t) => {
                if let Some((_, file)) = t.split_once("=@") {
                    w.access(&cx.env, &lit(file), Access::Read, "gh api --field");
                }
            }
            None => w.opaque("gh api --field with a value computed at run time"),
        }
    }
    let host = p
        .values(&["--hostname"])
        .next()
        .and_then(Field::lit)
        .unwrap_or("github.com")
        .to_owned();
    let Some(endpoint) = p.operands.first() else {
        return;
    };
    let Some(text) = endpoint.lit() else {
        w.opaque("gh api reaches an endpoint computed at run time");
        return;
    };
    let path = text.trim_start_matches('/');
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let mut parts = path.split('/');
    if parts.next() == Some("repos")
        && let (Some(owner), Some(repo)) = (parts.next(), parts.next())
    {
        if owner.starts_with('{') || repo.starts_with('{') {
            // `{owner}/{repo}` are the current repository's.
            return;
        }
        w.remote(
            crate::repo::normalize_remote_url(&format!("https://{host}/{owner}/{repo}")),
            "gh api",
        );
    }
}

/// `Some` when `arg` is gh's `-R`/`--repo` option: with its value when glued to it
/// (`--repo=x/y`, `-Rx/y`), `None` inside when the value is the next argument.
fn gh_repo_option(arg: &Field) -> Option<Option<String>> {
    let text = arg.lit()?;
    if text == "-R" || text == "--repo" {
        return Some(None);
    }
    text.strip_prefix("--repo=")
        .or_else(|| text.strip_prefix("-R").filter(|v| !v.is_empty()))
        .map(|v| Some(v.to_owned()))
}

/// `gh repo create|clone|fork`: the GitHub repository pushed to or cloned from is a remote like
/// one on a git command line. One named without its owner belongs to the signed-in account,
/// which hookledger cannot know: then pushing to it is unanalyzable.
fn run_gh_repo(w: &mut Walker, cx: &Cx, args: &[Field]) {
    let action = args.get(1).and_then(Field::lit).unwrap_or("");
    let operation = format!("gh repo {action}");
    let p = parse(
        &args[2..],
        &[
            "-s",
            "--source",
            "-r",
            "--remote",
            "-d",
            "--description",
            "-h",
            "--homepage",
            "-g",
            "--gitignore",
            "-l",
            "--license",
            "-t",
            "--team",
            "-p",
            "--template",
            "-u",
            "--upstream-remote-name",
            "--remote-name",
            "--org",
            "--fork-name",
        ],
    );
    let pushes = action == "create" && p.has(&["--push"]);
    let contacts = action != "create" || pushes;
    for dir in p.values(&["-s", "--source"]) {
        w.access(&cx.env, dir, Access::Write, &operation);
    }
    let org = p.values(&["--org"]).next().and_then(Field::lit);
    let Some(repo) = p.operands.first() else {
        if contacts {
            w.opaque(format!("{operation} with a repository chosen at run time"));
        }
        return;
    };
    let Some(text) = repo.lit() else {
        w.opaque(format!("{operation} to a repository computed at run time"));
        return;
    };
    if !contacts {
        return;
    }
    let url = if text.contains("://") || text.starts_with("git@") {
        Some(text.to_owned())
    } else if text.contains('/') {
        Some(format!("https://github.com/{text}"))
    } else {
        org.map(|o| format!("https://github.com/{o}/{text}"))
    };
    match url {
        Some(url) => w.remote(crate::repo::normalize_remote_url(&url), &operation),
        None => w.opaque(format!(
            "{operation} {text} names a repository of the signed-in GitHub account, which hookledger cannot know"
        )),
    }
    if action == "clone" {
        let dest = p.operands.get(1).cloned().or_else(|| {
            let base = text.trim_end_matches('/').trim_end_matches(".git");
            Some(lit(base.rsplit(['/', ':']).next().unwrap_or(base)))
        });
        if let Some(dest) = dest {
            tree(w, cx, &dest, Access::Write, &operation);
        }
    }
}
