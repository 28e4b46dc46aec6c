//! Network clients: downloads (`curl`, `wget` …) and `ssh`.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, _env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    let r =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Read, role);
    let wr =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Write, role);
    match name {
        "curl" | "wget" | "http" | "https" | "xh" | "aria2c" => run_download(w, cx, name, args),
        "aws" | "rclone" | "gsutil" | "azcopy" => {
            if !run_cloud_copy(w, cx, name, args) {
                unknown_arguments(w, cx, name, args);
            }
        }
        "ssh" | "sftp" | "mosh" => {
            let p = parse(
                args,
                &[
                    "-i", "-F", "-E", "-S", "-o", "-p", "-l", "-L", "-R", "-D", "-J", "-W", "-b",
                    "-c", "-m", "-O", "-Q", "-w", "-B", "-e", "-I",
                ],
            );
            for f in p.values(&["-i", "-F"]) {
                r(w, cx, f, name);
            }
            for f in p.values(&["-E"]) {
                wr(w, cx, f, name);
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
        _ => return false,
    }
    true
}

pub(super) fn run_download(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
    if matches!(name, "http" | "https" | "xh") {
        httpie_items(w, cx, &p.operands, name);
    }
    // Operands are URLs; `file://` URLs read local files.
    for f in &p.operands {
        if let Some(path) = f.lit().and_then(|t| t.strip_prefix("file://")) {
            w.access(&cx.env, &lit(path), Access::Read, name);
        }
    }
}

/// HTTPie's request items that send a file: `field@path` (an upload), `field=@path` and
/// `field:=@path` (a value read from the file). An item's separator is the first one in it,
/// as HTTPie reads it, so `email=a@b.c` is a plain value.
fn httpie_items(w: &mut Walker, cx: &Cx, operands: &[Field], name: &str) {
    const SEPARATORS: &[&str] = &[":=@", "=@", "@", ":=", "==", "=", ":"];
    for f in operands {
        let Some(text) = f.lit() else { continue };
        if text.contains("://") {
            continue;
        }
        // The earliest separator; at the same place, the longest.
        let found = SEPARATORS
            .iter()
            .filter_map(|sep| text.find(sep).map(|at| (at, *sep)))
            .min_by_key(|(at, sep)| (*at, std::cmp::Reverse(sep.len())));
        if let Some((at, sep)) = found
            && sep.ends_with('@')
        {
            let file = &text[at + sep.len()..];
            let file = file.split(';').next().unwrap_or(file);
            if !file.is_empty() {
                w.access(&cx.env, &lit(file), Access::Read, name);
            }
        }
    }
}

/// Object-storage and sync clients that copy a local tree to a remote (`aws s3 sync . s3://b`,
/// `rclone copy . remote:b`, `gsutil cp -r`, `azcopy copy --recursive`): a local source taken
/// recursively has every file in it read (`super::files::every_file`), a local destination is
/// written. `true` when `name` is one of them and the subcommand is a copy.
pub(super) fn run_cloud_copy(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) -> bool {
    // (subcommand position, subcommands that copy, whether they always recurse)
    let words: Vec<&str> = args.iter().map(|a| a.lit().unwrap_or("")).collect();
    let (rest, always_recursive, moves): (&[Field], bool, bool) = match name {
        "aws" if words.first() == Some(&"s3") => match words.get(1) {
            Some(&"sync") => (&args[2..], true, false),
            Some(&"cp") => (&args[2..], false, false),
            Some(&"mv") => (&args[2..], false, true),
            _ => return false,
        },
        "rclone" => match words.first() {
            Some(&("copy" | "sync" | "bisync" | "copyto")) => (&args[1..], true, false),
            Some(&("move" | "moveto")) => (&args[1..], true, true),
            _ => return false,
        },
        "gsutil" => {
            // Top-level options (`-m`, `-o KEY=VALUE`) come before the subcommand.
            let mut k = 0;
            while let Some(t) = words.get(k) {
                match *t {
                    "-o" | "-h" | "-u" => k += 2,
                    t if t.starts_with('-') => k += 1,
                    _ => break,
                }
            }
            match words.get(k) {
                Some(&"rsync") => (&args[k + 1..], false, false),
                Some(&"cp") => (&args[k + 1..], false, false),
                Some(&"mv") => (&args[k + 1..], true, true),
                _ => return false,
            }
        }
        "azcopy" => match words.first() {
            Some(&("copy" | "cp" | "sync")) => (&args[1..], words[0] == "sync", false),
            _ => return false,
        },
        _ => return false,
    };
    let p = parse(
        rest,
        &[
            "--exclude",
            "--include",
            "--profile",
            "--region",
            "--endpoint-url",
            "--storage-class",
            "--acl",
            "--sse",
            "--config",
            "--filter",
            "--filter-from",
            "--include-from",
            "--exclude-from",
            "--files-from",
            "--log-file",
            "-x",
            "-o",
            "-h",
        ],
    );
    let recursive =
        always_recursive || p.has(&["--recursive", "-r", "-R", "--recurse", "--recursive=true"]);
    // A remote is `s3://…`, `gs://…`, `https://…`, or rclone's `name:path`.
    let remote = |f: &Field| {
        f.lit().is_some_and(|t| {
            t.contains("://")
                || (name == "rclone"
                    && t.split_once(':')
                        .is_some_and(|(r, _)| !r.is_empty() && !r.contains('/')))
        })
    };
    for f in p.values(&[
        "--filter-from",
        "--include-from",
        "--exclude-from",
        "--files-from",
    ]) {
        w.access(&cx.env, f, Access::Read, name);
    }
    for f in p.values(&["--log-file"]) {
        w.access(&cx.env, f, Access::Write, name);
    }
    let Some((dest, sources)) = p.operands.split_last() else {
        return true;
    };
    for s in sources {
        if remote(s) {
            continue;
        }
        if s.lit().is_none() {
            w.opaque(format!("{name} copies a path computed at run time"));
            continue;
        }
        if moves {
            tree(w, cx, s, Access::Write, name);
        }
        if recursive {
            super::files::every_file(w, &cx.env, s, Access::Read, name);
        } else {
            w.access(&cx.env, s, Access::Read, name);
        }
    }
    if !remote(dest) {
        if recursive {
            tree(w, cx, dest, Access::Write, name);
        } else {
            w.access(&cx.env, dest, Access::Write, name);
        }
    }
    true
}

/// Files a download names after its URL (`curl -O`, `wget`), in `dir`. When the server picks
/// the name (`-J`, recursive mirroring), anything in `dir` may be written.
pub(super) fn remote_names(
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

/// `localhost`, a loopback address, or this machine's name (optionally `user@`).
pub(super) fn is_this_host(host: &str) -> bool {
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    matches!(
        host.as_str(),
        "localhost" | "127.0.0.1" | "::1" | "[::1]" | "0.0.0.0"
    ) || host.starts_with("127.")
        || host == hookledger_ledger::host::host_name().to_ascii_lowercase()
}
