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
