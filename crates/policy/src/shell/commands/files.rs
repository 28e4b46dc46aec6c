//! File operations that need more than the table: copies, moves and links, `dd`, `patch`, mounts, trash, renames and `find`.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    let r =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Read, role);
    let wr =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Write, role);
    match name {
        "find" => run_find(w, env, cx, args),
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
                tree(w, cx, f, Access::Write, name);
            }
        }
        "trash" | "trash-put" | "rmtrash" | "gio" => {
            let p = parse(args, &[]);
            let skip = usize::from(name == "gio");
            if name == "gio" && p.operands.first().and_then(Field::lit) != Some("trash") {
                unknown_arguments(w, cx, name, args);
                return true;
            }
            for f in p.operands.iter().skip(skip) {
                tree(w, cx, f, Access::Write, name);
            }
        }
        "perl-rename" | "rename" | "prename" => {
            let p = parse(args, &[]);
            for f in p.operands.iter().skip(1) {
                tree(w, cx, f, Access::Write, name);
            }
        }
        "ln" | "link" => run_link(w, cx, name, args),
        "cp" | "mv" | "install" | "rsync" | "scp" | "gcp" | "gmv" | "ditto" => {
            run_copy(w, cx, name, args)
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
                return true;
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
        _ => return false,
    }
    true
}

pub(super) fn run_copy(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let mut taken = Vec::new();
    copy_paths(w, cx, name, args, &mut taken);
    for s in &taken {
        every_file(w, &cx.env, s, Access::Read, name);
    }
}

/// [`run_copy`] but for the trees copied recursively, which it leaves in `taken`.
fn copy_paths(w: &mut Walker, cx: &Cx, name: &str, args: &[Field], taken: &mut Vec<Field>) {
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
    // rsync copies the files its list names (relative to the source directory).
    if name == "rsync" {
        let lists: Vec<Field> = p.values(&["--files-from"]).cloned().collect();
        if !lists.is_empty() {
            let mut from = cx.env.clone();
            let source = p.operands.first().filter(|_| p.operands.len() >= 2);
            if let Some(source) = source {
                change_directory(w, &mut from, Some(source), "rsync --files-from");
            }
            for list in &lists {
                names_from_list(w, cx, &from, Some(list), "rsync --files-from");
            }
        }
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
    // ditto always copies whole trees.
    let recursive = name == "ditto" || p.has(&["-r", "-R", "-a", "--recursive", "--archive"]);
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
    let dest_is_dir = !target_dirs.is_empty() || dest_dirs.iter().any(|d| w.world.is_dir(d));
    for s in &sources {
        if remote(s) || s.lit().is_some_and(is_process_substitution) {
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
            // A copy takes every file's content along (`cp -r . backup/` takes `.env`): its
            // files are judged once the destination is (see `run_copy`).
            taken.push((*s).clone());
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
        // The link `cp -s`/`cp -l` leaves is followed by the words after it, as `ln`'s.
        if links
            && !recursive
            && let Some(target) = w.resolve(&cx.env, src, name).into_iter().next()
        {
            let placed: Vec<PathBuf> = w
                .resolve_named(&cx.env, &written, name, Access::Write)
                .into_iter()
                .map(|n| n.link.unwrap_or(n.path))
                .collect();
            for link in placed {
                w.add_link(link, target.clone());
            }
        }
    }
    if recursive && sources.is_empty() {
        tree(w, cx, dest, Access::Write, name);
    }
}

/// `ln [-s] TARGET… [LINK|DIR]` and `link TARGET LINK`: the link is written, and what it points
/// to gets a new name that later writes can go through, so self-protection counts it as
/// written. Symlinks made here are remembered for the rest of the command.
pub(super) fn run_link(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
        && (!target_dirs.is_empty()
            || targets.len() > 1
            || dest_dirs.iter().any(|d| w.world.is_dir(d)));
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
            // A hard link is the same file under a new name, so later words reach the target
            // through it just as through a symlink.
            for link in &placed {
                w.add_link(link.clone(), target.clone());
            }
            if hookledger::is_running_binary(&target) || w.binary_aliases.contains(&target) {
                w.binary_aliases.extend(placed.iter().cloned());
            }
        }
    }
}

/// Records what a link points to, resolved from `base_dir` (the link's directory) or from the
/// shell's directory; returns it when it is known.
pub(super) fn link_target(
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
        Some(dir) if !absolute && !from_cwd => crate::paths::resolve_in(text, dir, w.home, w.world),
        _ => w.resolve(&cx.env, text, role).into_iter().next()?,
    };
    let field = lit(&resolved.to_string_lossy());
    w.access_marked(&cx.env, &field, Access::Write, true, role, mark);
    Some(resolved)
}

/// What `find ROOT -name PATTERN… -delete` removes now: the entries under `root` whose name
/// matches every pattern, so a rule on a directory inside the root (`.github/workflows/**`)
/// sees the files it covers. A tree too large to list, or too many matches, gives the
/// directories that hold them instead (rules covering every child apply to those).
fn deleted_by_name(root: &Path, patterns: &[String], case_insensitive: bool) -> Vec<PathBuf> {
    listed_by_name(root, patterns, case_insensitive, 20_000)
}

/// [`deleted_by_name`] looking at no more than `max_entries` entries.
fn listed_by_name(
    root: &Path,
    patterns: &[String],
    case_insensitive: bool,
    max_entries: usize,
) -> Vec<PathBuf> {
    const MAX_HITS: usize = 256;
    let patterns: Vec<String> = patterns
        .iter()
        .map(|p| {
            if case_insensitive {
                p.to_lowercase()
            } else {
                p.clone()
            }
        })
        .collect();
    let mut hits: Vec<PathBuf> = Vec::new();
    let mut dirs_with_hits: Vec<PathBuf> = Vec::new();
    let complete = visit_tree(root, max_entries, |dir, entry, _| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let name = if case_insensitive {
            name.to_lowercase()
        } else {
            name
        };
        if patterns
            .iter()
            .all(|p| fast_glob::glob_match(p.as_str(), name.as_str()))
        {
            if hits.len() < MAX_HITS {
                hits.push(entry.path());
            }
            if !dirs_with_hits.iter().any(|d| d == dir) {
                dirs_with_hits.push(dir.to_path_buf());
            }
        }
        true
    });
    if !complete {
        return dirs_with_hits;
    }
    if hits.len() >= MAX_HITS {
        dirs_with_hits
    } else {
        hits
    }
}

pub(super) fn run_find(w: &mut Walker, env: &mut Env, cx: &mut Cx, args: &[Field]) {
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
    let selects_by_name = selects_by_name(expression);
    // What the walk selects now, for the commands it runs on each file.
    let selected: Vec<PathBuf> = if executes {
        roots
            .iter()
            .filter_map(Field::lit)
            .flat_map(|r| w.resolve(&cx.env, r, "find"))
            .flat_map(|dir| selected_files(&dir, expression).unwrap_or_default())
            .collect()
    } else {
        Vec::new()
    };
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
            if let Some(root_text) = root.lit() {
                let iname = expression.iter().any(|f| f.lit() == Some("-iname"));
                for dir in w.resolve(&cx.env, root_text, "find -delete") {
                    for hit in deleted_by_name(&dir, &name_patterns, iname) {
                        let text = hit.to_string_lossy().into_owned();
                        let search_root = hit.is_dir();
                        w.access_text(&cx.env, &text, Access::Write, search_root, "find -delete");
                    }
                }
            }
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
                // A search program run on every file (no name test) is a recursive search
                // of the root, judged as `grep -r` is (the tree read recorded above), not as
                // a read of each file: `find . -type f -exec grep -l X {} +` is
                // `grep -rl X .`. With a name test it reads what the names select.
                let searcher = !selects_by_name
                    && expression.get(start).and_then(Field::lit).is_some_and(|p| {
                        matches!(
                            p.rsplit('/').next().unwrap_or(p),
                            "grep" | "egrep" | "fgrep" | "rg" | "ag" | "ack" | "zgrep"
                        )
                    });
                // Each `{}` stands for every file under the roots: a child of each root,
                // and each literal name the expression selects.
                for root in &roots {
                    let Some(root_text) = root.lit() else {
                        continue;
                    };
                    let before = w.out.accesses.len();
                    let root_text = root_text.trim_end_matches('/');
                    let mut stand_ins: Vec<String> =
                        names.iter().map(|n| format!("{root_text}/{n}")).collect();
                    // A name each glob pattern matches (`.env*` → `.env`, `*.pem` → `.pem`),
                    // whether or not such a file exists now or the tree was too large to list.
                    stand_ins.extend(
                        sampled_names(expression)
                            .into_iter()
                            .map(|n| format!("{root_text}/{n}")),
                    );
                    if !searcher {
                        stand_ins.extend(selected.iter().map(|p| p.to_string_lossy().into_owned()));
                    }
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
                        super::dispatch(w, env, &mut inner, argv);
                    }
                    // Without a name test and with a tree too large to list, `{}` is every
                    // file under the root: what the command does to the stand-in, it does to
                    // each of them (`find . -type f -exec cat {} +` reads `./.env`).
                    if !selects_by_name && selected.is_empty() {
                        let kinds: Vec<Access> = w.out.accesses[before.min(w.out.accesses.len())..]
                            .iter()
                            .filter(|a| {
                                a.path.file_name().is_some_and(|n| {
                                    n.to_string_lossy() == crate::target::DIRECTORY_PROBE
                                })
                            })
                            .map(|a| a.access)
                            .collect();
                        for access in [Access::Read, Access::Write] {
                            if kinds.contains(&access) && !(searcher && access == Access::Read) {
                                every_file(w, &cx.env, root, access, "find -exec");
                            }
                        }
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

/// The files `find ROOT EXPRESSION` selects now by the names in its expression (`-name`,
/// `-iname`, `-path` and `-wholename` by their last component, every file for `-regex`), so
/// that the command it runs on each (`-exec cat {} +`) or what it prints to a pipe is judged
/// on them. `None` when the expression selects by no name (the walk is then a search of the
/// whole tree), negates or alternates in ways not followed, or selects too many to list.
pub(super) fn selected_files(root: &Path, expression: &[Field]) -> Option<Vec<PathBuf>> {
    const MAX_LISTED: usize = 256;
    let mut patterns: Vec<String> = Vec::new();
    // Names a `!`/`-not` excludes: every file but those is selected.
    let mut excluded: Vec<String> = Vec::new();
    let mut iname = false;
    let mut k = 0;
    while k < expression.len() {
        let t = expression[k].lit();
        if matches!(t, Some("!" | "-not"))
            && let Some(next) = expression.get(k + 1).and_then(Field::lit)
        {
            if matches!(next, "-name" | "-iname") {
                let value = expression.get(k + 2)?.lit()?;
                iname |= next == "-iname";
                excluded.push(value.to_owned());
                k += 3;
                continue;
            }
            if matches!(
                next,
                "-type" | "-empty" | "-newer" | "-size" | "-mtime" | "-perm"
            ) {
                // Excluding by something other than the name can leave any name.
                patterns.push("*".into());
                k += 2;
                continue;
            }
        }
        match t {
            Some("-name" | "-iname" | "-path" | "-ipath" | "-wholename" | "-iwholename") => {
                let value = expression.get(k + 1)?.lit()?;
                iname |= matches!(t, Some("-iname" | "-ipath" | "-iwholename"));
                let last = value.rsplit('/').next().unwrap_or(value);
                patterns.push(if last.is_empty() {
                    "*".into()
                } else {
                    last.to_owned()
                });
                k += 2;
            }
            Some("-regex" | "-iregex") => {
                patterns.push("*".into());
                k += 2;
            }
            Some("!" | "-not") => return None,
            Some("-exec" | "-execdir" | "-ok" | "-okdir") => {
                while k < expression.len() && !matches!(expression[k].lit(), Some(";" | "+")) {
                    k += 1;
                }
                k += 1;
            }
            None => return None,
            _ => k += 1,
        }
    }
    // No name test (`find . -type f`, or only exclusions): every entry is selected.
    if patterns.is_empty() {
        patterns.push("*".into());
    }
    let alternatives = expression
        .iter()
        .any(|f| matches!(f.lit(), Some("-o" | "-or" | ",")));
    // Smaller than -delete's limit: this runs for every `find -exec` and `find | xargs`, and
    // the hook's time budget is shared with the rest of the analysis. Past it, the callers
    // fall back to the root as a search and to names sampled from the patterns.
    const MAX_ENTRIES: usize = 5_000;
    let hits = if alternatives {
        let mut all = Vec::new();
        for p in &patterns {
            all.extend(listed_by_name(
                root,
                std::slice::from_ref(p),
                iname,
                MAX_ENTRIES,
            ));
        }
        all
    } else {
        listed_by_name(root, &patterns, iname, MAX_ENTRIES)
    };
    // Directories in place of files: too many to list.
    // `deleted_by_name` gives the directories holding the hits when there are too many.
    let named = |h: &PathBuf| {
        let name = h
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = if iname { name.to_lowercase() } else { name };
        patterns.iter().any(|p| {
            let p = if iname { p.to_lowercase() } else { p.clone() };
            fast_glob::glob_match(p.as_str(), name.as_str())
        })
    };
    if hits.len() >= MAX_LISTED || !hits.iter().all(named) {
        return None;
    }
    // `-type f`/`-type d` (not negated, not among alternatives) keeps files or directories
    // only, so that `find . -type d | xargs …` is not judged on every file's name.
    let kind = (!alternatives)
        .then(|| {
            expression.windows(2).enumerate().find_map(|(k, pair)| {
                let negated = k > 0 && matches!(expression[k - 1].lit(), Some("!" | "-not"));
                (pair[0].lit() == Some("-type") && !negated)
                    .then(|| pair[1].lit())
                    .flatten()
            })
        })
        .flatten();
    let hits: Vec<PathBuf> = hits
        .into_iter()
        .filter(|h| {
            let is_dir = h.symlink_metadata().is_ok_and(|m| m.is_dir());
            match kind {
                Some("f") => !is_dir,
                Some("d") => is_dir,
                _ => true,
            }
        })
        .collect();
    let hits = hits
        .into_iter()
        .filter(|h| {
            let name = h
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = if iname { name.to_lowercase() } else { name };
            !excluded.iter().any(|p| {
                let p = if iname { p.to_lowercase() } else { p.clone() };
                fast_glob::glob_match(p.as_str(), name.as_str())
            })
        })
        .collect();
    Some(hits)
}

/// For each glob a `-name`/`-iname`/`-path` in `expression` selects by, one name it matches:
/// `*` as nothing, `?` as `x`, a bracket class as its first character.
fn sampled_names(expression: &[Field]) -> Vec<String> {
    let mut out = Vec::new();
    for pair in expression.windows(2) {
        if !matches!(
            pair[0].lit(),
            Some("-name" | "-iname" | "-path" | "-ipath" | "-wholename" | "-iwholename")
        ) {
            continue;
        }
        let Some(pattern) = pair[1].lit() else {
            continue;
        };
        let last = pattern.rsplit('/').next().unwrap_or(pattern);
        if !last.contains(['*', '?', '[']) {
            continue;
        }
        let mut sample = String::new();
        let mut chars = last.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => {}
                '?' => sample.push('x'),
                '[' => {
                    let class: String = chars.by_ref().take_while(|c| *c != ']').collect();
                    match class.trim_start_matches(['!', '^']).chars().next() {
                        Some(first) if !class.starts_with(['!', '^']) => sample.push(first),
                        _ => sample.push('x'),
                    }
                }
                '\\' => sample.extend(chars.next()),
                c => sample.push(c),
            }
        }
        if !sample.is_empty() && !sample.contains('/') && !out.contains(&sample) {
            out.push(sample);
        }
    }
    out
}

/// Whether a find expression tests names (`-name`, `-path`, `-regex` …): without one, it
/// selects every entry under its roots.
fn selects_by_name(expression: &[Field]) -> bool {
    expression.iter().any(|f| {
        matches!(
            f.lit(),
            Some(
                "-name"
                    | "-iname"
                    | "-path"
                    | "-ipath"
                    | "-wholename"
                    | "-iwholename"
                    | "-regex"
                    | "-iregex"
                    | "-lname"
                    | "-ilname"
            )
        )
    })
}

/// What `find ARGS…` prints (one path a line), when it selects files by name and nothing
/// else it does has effects: the input `xargs` turns into arguments.
pub fn find_listing(w: &mut Walker, env: &Env, args: &[Field]) -> Option<String> {
    if args.iter().any(|a| {
        matches!(
            a.lit(),
            Some(
                "-exec"
                    | "-execdir"
                    | "-ok"
                    | "-okdir"
                    | "-delete"
                    | "-fprint"
                    | "-fprint0"
                    | "-fprintf"
                    | "-fls"
                    | "-printf"
            )
        )
    }) {
        return None;
    }
    let split = args
        .iter()
        .position(|a| {
            a.lit()
                .is_none_or(|t| t.starts_with('-') || matches!(t, "(" | "!" | ")"))
        })
        .unwrap_or(args.len());
    let roots: Vec<&str> = if split == 0 {
        vec!["."]
    } else {
        args[..split].iter().filter_map(Field::lit).collect()
    };
    // Every pipeline's stages are asked for their output, `find . -type f | wc -l` too: a
    // find without a name test is not listed (what reads its output is then unanalyzable).
    if !selects_by_name(&args[split..]) {
        return None;
    }
    let mut out = Vec::new();
    for root in roots {
        for dir in w.resolve(env, root, "find") {
            out.extend(selected_files(&dir, &args[split..])?);
        }
    }
    Some(
        out.iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Names of what self-protection covers (and of files typical inside it), for telling whether
/// a name filter (`find -name '*.pyc' -delete`) could select any of it.
pub(super) const PROTECTED_NAMES: &[&str] = &[
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

/// The most entries [`every_file`] looks at under one directory. A copy or archive of a tree
/// larger than this cannot be told apart from one that takes a denied file along, so it is
/// unanalyzable (the policy asks) rather than judged by its directory alone. Each file found
/// is a path to judge: the bound keeps a copy of a source tree within the analysis's
/// 15 ms budget and under `MAX_ACCESSES` (past which the whole command is unanalyzable).
const MAX_TREE_ENTRIES: usize = 1_000;

/// A command that reads (or writes) the content of every file under `f` (`cp -r`, `rsync -a`,
/// `tar -c`, `zip -r`, `find -exec cat {} +` without a name filter). Rules rooted inside the
/// tree apply to it as to any recursive access; and, unlike a search (whose
/// repository-wide use must stay allowed), each file it takes is judged like a read of that
/// file, so `cp -r . backup/` is a read of `./.env` under `**/.env`. Files are those on disk
/// now, listed within a bound; a tree past the bound is unanalyzable.
pub(super) fn every_file(w: &mut Walker, env: &Env, f: &Field, access: Access, role: &str) {
    w.access_tree(env, f, access, role);
    let roots: Vec<PathBuf> = match f {
        Field::Lit { text, glob: None } => {
            let text = if text.is_empty() { "." } else { text.as_str() };
            w.resolve(env, text, role)
        }
        Field::Lit {
            glob: Some(pattern),
            ..
        } => {
            let bases: Vec<PathBuf> = if Path::new(pattern).is_absolute() {
                vec![PathBuf::from(pattern)]
            } else {
                env.cwds.iter().flatten().map(|c| c.join(pattern)).collect()
            };
            let mut out = Vec::new();
            for base in bases {
                // Too many matches is already unanalyzable (`access_tree` said so).
                out.extend(
                    super::super::walk::glob_matches(&base, w.glob_options()).unwrap_or_default(),
                );
            }
            out
        }
        // Unknown: `access_tree` made it unanalyzable.
        Field::Dyn(_) => return,
    };
    for root in roots {
        if !w.world.is_dir(&root) {
            continue;
        }
        match files_under(&root, MAX_TREE_ENTRIES) {
            Some(files) => {
                for file in files {
                    if w.exhausted_now() {
                        return;
                    }
                    w.access_text(env, &file.to_string_lossy(), access, false, role);
                }
            }
            None => {
                let why = format!(
                    "{role} takes every file under {}, more than {MAX_TREE_ENTRIES} to look at",
                    root.display()
                );
                match access {
                    Access::Read => w.opaque_read(why),
                    Access::Write => w.opaque(why),
                }
            }
        }
    }
}

/// The files (and symlinks) under `root`, without following symlinked directories; `None`
/// past `max_entries` entries. A `.git` directory is not entered: its objects are named by
/// their hashes, which no path rule names, and `every_file`'s recursive access of the root
/// already covers rules rooted in it.
fn files_under(root: &Path, max_entries: usize) -> Option<Vec<PathBuf>> {
    let mut files = Vec::new();
    let complete = visit_tree(root, max_entries, |_, entry, is_dir| {
        if !is_dir {
            files.push(entry.path());
        }
        !is_dir || entry.file_name() != ".git"
    });
    complete.then_some(files)
}

/// Visits every entry under `root`, depth first, without following symlinked directories:
/// `visit(dir, entry, is_dir)` answers whether to enter a directory. `false` when it stopped
/// past `max_entries` entries.
fn visit_tree(
    root: &Path,
    max_entries: usize,
    mut visit: impl FnMut(&Path, &std::fs::DirEntry, bool) -> bool,
) -> bool {
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > max_entries {
                return false;
            }
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if visit(&dir, &entry, is_dir) && is_dir {
                stack.push(entry.path());
            }
        }
    }
    true
}

/// A list of names a command takes along, one a line (`tar -T FILE`, `rsync --files-from=FILE`,
/// `zip -@`): read from the file, or from the input for `-`, and each name taken like an
/// operand (every file under a directory). A list that cannot be read (the output of another
/// command, a file this command writes with unknown text) is unanalyzable.
pub(super) fn names_from_list(
    w: &mut Walker,
    cx: &Cx,
    env: &Env,
    list: Option<&Field>,
    role: &str,
) {
    let text = match list.map(Field::lit) {
        None | Some(Some("-" | "/dev/stdin")) => match w.stdin_text(&cx.env, &cx.stdin) {
            Stdin::Literal(t) => Some(t),
            Stdin::Inherited => return,
            _ => None,
        },
        Some(Some(path)) => w.small_file(&cx.env, path),
        Some(None) => None,
    };
    let Some(text) = text else {
        w.opaque_read(format!(
            "{role} takes the files named in a list that cannot be read"
        ));
        return;
    };
    for name in text.lines().map(str::trim).filter(|n| !n.is_empty()) {
        if w.exhausted_now() {
            return;
        }
        every_file(w, env, &lit(name), Access::Read, role);
    }
}
