//! Archives: `tar`, `zip`, `7z`, `cpio` … (what they read, and where they extract).

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, _env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    match name {
        "tar" | "bsdtar" | "gtar" => run_tar(w, cx, name, args),
        "zip" | "7z" | "7za" | "7zr" | "unzip" | "jar" | "ar" | "cpio" | "pax" | "unrar"
        | "rar" => run_archive(w, cx, name, args),
        _ => return false,
    }
    true
}

pub(super) fn run_tar(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
    // Programs tar runs: a literal command is walked (it runs on the archive's data, which
    // names no file); a script file is read; a remote shell is opaque.
    for (opt, value) in &p.opts {
        let code = match opt.as_str() {
            "-I" | "--use-compress-program" | "--to-command" => value.clone(),
            "--checkpoint-action" => value
                .as_ref()
                .and_then(Field::lit)
                .and_then(|v| v.strip_prefix("exec="))
                .map(lit),
            "--info-script" | "--new-volume-script" | "-F" => {
                if let Some(script) = value {
                    w.access(&cx.env, script, Access::Read, name);
                    let mut shell = cx.env.clone();
                    w.script_file(&mut shell, script, false);
                }
                continue;
            }
            "--rsh-command" => {
                w.opaque(format!(
                    "{name} is told to reach the archive through a remote shell"
                ));
                continue;
            }
            _ => continue,
        };
        match code {
            Some(c) => run_code(w, cx, &c, &format!("{name} {opt}")),
            None => w.opaque(format!("{name} is told to run a program of its choosing")),
        }
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
    // Member names rewritten on the way out (GNU `--transform`, bsdtar's `-s`) land where
    // the rewrite says: the listed names are not where they go. `tar` may be bsdtar (macOS),
    // so its `-s` counts too (GNU's `-s`, same order, is rarely written).
    let renamed = p.has(&["--transform", "--xform"]) || (name != "gtar" && p.has(&["-s"]));
    // `--one-top-level[=DIR]` puts every member under DIR (by default the archive's name).
    let top_level: Option<Option<Field>> = p
        .opts
        .iter()
        .find(|(o, _)| o == "--one-top-level")
        .map(|(_, v)| v.clone());
    for f in p.values(&["-T", "--files-from", "-X", "--exclude-from"]) {
        w.access(&cx.env, f, Access::Read, name);
    }
    let mut archive_field: Option<Field> = None;
    for archive in p.values(&["-f", "--file"]) {
        if archive.lit() == Some("-") {
            continue;
        }
        archive_field = Some(archive.clone());
        w.access(
            &cx.env,
            archive,
            if create { Access::Write } else { Access::Read },
            name,
        );
    }
    if archive_field.is_none()
        && let Stdin::File(t) = &cx.stdin
    {
        archive_field = Some(lit(t));
    }
    if create {
        // An archive takes every file's content along (`tar czf x.tgz .` takes `.env`).
        for f in &p.operands {
            super::files::every_file(w, &cwd_env, f, Access::Read, name);
        }
        // And every file its list names (`tar czf x.tgz -T list`).
        for list in p.values(&["-T", "--files-from"]) {
            super::files::names_from_list(w, cx, &cwd_env, Some(list), "tar -T");
        }
    } else if extract {
        let strip = p
            .values(&["--strip-components"])
            .next()
            .and_then(Field::lit)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let absolute = p.has(&["-P", "--absolute-names"]);
        let mut dest_env = cwd_env.clone();
        // Without a value the directory is named after the archive: a new child of the
        // directory, which the members' own names already stand for.
        if let Some(Some(dir)) = &top_level {
            change_directory(w, &mut dest_env, Some(dir), "tar --one-top-level");
        }
        if renamed {
            w.access_tree(
                &dest_env,
                &lit("."),
                Access::Write,
                "tar -x (renamed members)",
            );
        } else {
            extraction(
                w,
                &cx.env,
                &dest_env,
                archive_field.as_ref(),
                strip,
                absolute,
                "tar -x",
            );
        }
        for f in &p.operands {
            w.access(&cwd_env, f, Access::Write, "tar -x");
        }
    }
}

/// Archives larger than this are not read for their member list.
const MAX_ARCHIVE_BYTES: u64 = 16 * 1024 * 1024;

/// An extraction of `archive` into the directory of `dest`: each member is written where it
/// lands (links it makes are followed by the members after it and the rest of the command);
/// an archive whose members cannot be listed (compressed, absent, from a pipe, too large)
/// writes the whole tree under the directory.
fn extraction(
    w: &mut Walker,
    env: &Env,
    dest: &Env,
    archive: Option<&Field>,
    strip: usize,
    absolute: bool,
    role: &str,
) {
    use crate::shell::members::{self, MemberKind};
    let listed = archive.and_then(Field::lit).and_then(|text| {
        let paths = w.resolve(env, text, role);
        let [path] = paths.as_slice() else {
            return None;
        };
        let bytes = w.world.read_bytes(path, MAX_ARCHIVE_BYTES)?;
        members::list(&bytes)
    });
    // An archive that cannot be listed (absent until the command makes it, piped, in a
    // compression hookledger does not inflate, too large) can write any path under the
    // directory: the whole tree is written, so rules rooted inside it apply
    // (`-C .github` reaches `.github/workflows/**`). An archive that can be listed is judged
    // by its members instead.
    let Some(list) = listed else {
        // Where the directory holds a repository's `.git`, `.claude` or `.husky` (a release
        // tarball unpacked at the root of a checkout), writing the whole tree would count as
        // an operation on all of them, refused whatever the archive holds. The archive may
        // or may not put anything there: that is unknown, not known-bad, so it is asked.
        let dirs = w.resolve(dest, ".", role);
        let holds_protected = dirs.iter().any(|dir| {
            [".git", ".claude", ".husky"]
                .iter()
                .any(|child| w.world.file_kind(&dir.join(child)).is_some())
        });
        if holds_protected {
            w.access_text(dest, ".", Access::Write, true, role);
            w.opaque(format!(
                "{role} of an archive whose members cannot be listed, into a directory holding a repository's .git, .claude or .husky"
            ));
        } else {
            w.access_tree(dest, &lit("."), Access::Write, role);
        }
        return;
    };
    w.access_text(dest, ".", Access::Write, true, role);
    for member in list {
        if w.exhausted_now() {
            return;
        }
        let name: Vec<&str> = member
            .name
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .skip(strip)
            .collect();
        if name.is_empty() {
            continue;
        }
        let joined = name.join("/");
        let text = if absolute && member.name.starts_with('/') {
            format!("/{joined}")
        } else {
            joined
        };
        w.access_text(dest, &text, Access::Write, false, role);
        let target = match &member.kind {
            MemberKind::Symlink(t) => Some((t.clone(), true)),
            MemberKind::Hardlink(t) => Some((t.clone(), false)),
            MemberKind::UnknownLink => {
                w.opaque(format!(
                    "the archive holds a link ({text}) whose target cannot be read"
                ));
                None
            }
            _ => None,
        };
        if let Some((target, symbolic)) = target {
            for link in w.resolve(dest, &text, role) {
                let base = if symbolic {
                    link.parent().map(Path::to_path_buf).unwrap_or_default()
                } else {
                    dest.single_cwd().map(Path::to_path_buf).unwrap_or_default()
                };
                let to = if Path::new(&target).is_absolute() {
                    PathBuf::from(&target)
                } else {
                    base.join(&target)
                };
                // Where the link points is reachable under the link's name from now on.
                w.access_text(
                    &Env {
                        cwds: Some(vec![base.clone()]),
                        ..dest.clone()
                    },
                    &to.to_string_lossy(),
                    Access::Read,
                    false,
                    role,
                );
                w.add_link(link, to);
            }
        }
    }
}

pub(super) fn run_archive(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
            let mut dest_env = cx.env.clone();
            if let Some(d) = &dest {
                change_directory(w, &mut dest_env, Some(d), name);
            }
            extraction(w, &cx.env, &dest_env, p.operands.first(), 0, false, name);
        }
        "jar" | "ar"
            if args.first().and_then(Field::lit).is_some_and(|m| {
                !m.starts_with("--") && m.trim_start_matches('-').contains('x')
            }) =>
        {
            // `jar xf ARCHIVE`, `ar x ARCHIVE`: an extraction into the current directory.
            let archive = args.get(1).cloned();
            if let Some(a) = &archive {
                w.access(&cx.env, a, Access::Read, name);
            }
            extraction(w, &cx.env, &cx.env, archive.as_ref(), 0, false, name);
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
            // `zip -@` takes the names to add from its input.
            if name == "zip" && p.has(&["-@"]) {
                super::files::names_from_list(w, cx, &cx.env, None, "zip -@");
            }
            // `zip -r`, `jar` and `rar` take every file under a directory along.
            let recursive = name != "ar"
                && (name != "zip" || p.has(&["-r", "-R", "--recurse-paths", "--recurse-patterns"]));
            for f in ops {
                if recursive {
                    super::files::every_file(w, &cx.env, f, Access::Read, name);
                } else {
                    tree(w, cx, f, Access::Read, name);
                }
            }
        }
        "7z" | "7za" | "7zr" => {
            let sub = args.first().and_then(Field::lit).unwrap_or("");
            let rest = args.get(1..).unwrap_or(&[]);
            let mut dest_env = cx.env.clone();
            let mut operands: Vec<&Field> = Vec::new();
            for a in rest {
                match a.lit() {
                    Some(t) if t.starts_with("-o") && t.len() > 2 => {
                        change_directory(w, &mut dest_env, Some(&lit(&t[2..])), name)
                    }
                    Some(t) if t.starts_with('-') => {}
                    _ => operands.push(a),
                }
            }
            match sub {
                "x" | "e" => {
                    if let Some(archive) = operands.first() {
                        w.access(&cx.env, archive, Access::Read, name);
                    }
                    let archive = operands.first().map(|f| (*f).clone());
                    extraction(w, &cx.env, &dest_env, archive.as_ref(), 0, false, name);
                }
                "a" | "u" | "d" | "rn" => {
                    let mut ops = operands.into_iter();
                    if let Some(archive) = ops.next() {
                        w.access(&cx.env, archive, Access::Write, name);
                    }
                    // 7z recurses into directories by default.
                    for f in ops {
                        super::files::every_file(w, &cx.env, f, Access::Read, name);
                    }
                }
                "l" | "t" | "h" | "i" => {
                    for f in operands {
                        w.access(&cx.env, f, Access::Read, name);
                    }
                }
                _ => w.opaque(format!("{name} {sub} is not analysed")),
            }
        }
        "cpio"
            if args.iter().any(|a| {
                a.lit().is_some_and(|t| {
                    t == "--extract"
                        || (t.starts_with('-') && !t.starts_with("--") && t.contains('i'))
                })
            }) =>
        {
            // The archive comes from the input: a file redirected in is listed like any
            // archive (cpio reads tar formats too); a pipe cannot be (see `extraction`).
            let archive = match &cx.stdin {
                Stdin::File(t) => Some(lit(t)),
                _ => None,
            };
            extraction(w, &cx.env, &cx.env, archive.as_ref(), 0, false, "cpio -i");
            if args
                .iter()
                .any(|a| a.lit().is_some_and(|t| t.contains("absolute")))
            {
                w.opaque("cpio extracts members at absolute paths");
            }
        }
        _ => w.opaque(format!("{name} is an archiver hookledger does not analyse")),
    }
}
