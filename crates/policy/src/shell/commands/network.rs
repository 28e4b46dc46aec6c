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
    // Operands are URLs; `file://` URLs read local files.
    for f in &p.operands {
        if let Some(path) = f.lit().and_then(|t| t.strip_prefix("file://")) {
            w.access(&cx.env, &lit(path), Access::Read, name);
        }
    }
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
