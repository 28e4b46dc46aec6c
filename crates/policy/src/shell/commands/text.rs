//! Searching and text processing: `grep` and friends, `jq`, `sort`, `uniq`, `awk`, `sed`.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, _env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    let r =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Read, role);
    let wr =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Write, role);
    match name {
        "grep" | "egrep" | "fgrep" | "rg" | "ag" | "ack" | "ripgrep" | "zgrep" | "git-grep"
        | "pcregrep" | "ugrep" | "sift" => run_grep(w, cx, name, args),
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
                r(w, cx, f, name);
            }
            let skip = usize::from(!p.has(&["-f", "--from-file"]));
            for f in p.operands.iter().skip(skip) {
                r(w, cx, f, name);
            }
            if p.has(&["-i", "--inplace"]) {
                for f in p.operands.iter().skip(skip) {
                    wr(w, cx, f, name);
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
        "awk" | "gawk" | "mawk" | "nawk" => run_awk(w, cx, name, args),
        "ed" | "red" => run_ed(w, cx, name, args),
        "sed" | "gsed" => run_sed(w, cx, name, args),
        _ => return false,
    }
    true
}

pub(super) fn run_grep(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
    // A file-name filter that names a file (`--include=.env`, `-g '**/*.pem'`) reads that
    // file under each root: its probe names are judged like any read (crate::search).
    if recursive {
        let roots: Vec<&str> = if files.is_empty() {
            vec!["."]
        } else {
            files.iter().filter_map(|f| f.lit()).collect()
        };
        // rg's `-t TYPE` is the type's globs: the built-in ones that select files a policy
        // commonly denies (`-t env`, `-t pem`), and those `--type-add 'NAME:GLOB'` defines.
        let mut filters: Vec<String> = p
            .values(&["--include", "-g", "--glob", "--iglob"])
            .filter_map(Field::lit)
            .map(str::to_owned)
            .collect();
        if is_rg {
            let added: Vec<(String, String)> = p
                .values(&["--type-add"])
                .filter_map(Field::lit)
                .filter_map(|d| {
                    let (name, rest) = d.split_once(':')?;
                    // `NAME:include:OTHER,…` borrows other types' globs.
                    let globs = rest.strip_prefix("include:").map_or_else(
                        || rest.to_owned(),
                        |others| {
                            others
                                .split(',')
                                .flat_map(|o| crate::search::type_globs(o).iter().copied())
                                .collect::<Vec<_>>()
                                .join(",")
                        },
                    );
                    Some((name.to_owned(), globs))
                })
                .collect();
            for ty in p.values(&["-t", "--type"]).filter_map(Field::lit) {
                filters.extend(
                    crate::search::type_globs(ty)
                        .iter()
                        .map(|g| (*g).to_owned()),
                );
                for (name, globs) in &added {
                    if name == ty {
                        filters.extend(globs.split(',').map(str::to_owned));
                    }
                }
            }
        }
        for filter in &filters {
            let Some(filter) = crate::search::parse_filter(filter, true) else {
                continue;
            };
            for root in &roots {
                let dir = match filter.anchor.as_str() {
                    "" => root.trim_end_matches('/').to_owned(),
                    anchor => format!("{}/{anchor}", root.trim_end_matches('/')),
                };
                for probe in crate::search::probes(&filter.rest) {
                    w.access_text(
                        &cx.env,
                        &format!("{dir}/{probe}"),
                        Access::Read,
                        false,
                        name,
                    );
                }
            }
        }
    }
    for f in files {
        if recursive {
            tree(w, cx, f, Access::Read, name);
        } else {
            w.access(&cx.env, f, Access::Read, name);
        }
    }
}

pub(super) fn run_awk(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
            "-e",
            "--source",
        ],
    );
    let mut programs: Vec<String> = Vec::new();
    // gawk's `-e TEXT`/`--source=TEXT`: program text given as an option.
    for f in p.values(&["-e", "--source"]) {
        match f.lit() {
            Some(t) => programs.push(t.to_owned()),
            None => w.opaque(format!("{name} runs a program computed at run time")),
        }
    }
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
        // Program files are read and checked like a program given inline.
        match w.program_source(&cx.env, f, &cx.stdin) {
            Program::Literal(t) | Program::File(t) => programs.push(t),
            Program::Nothing => {}
            Program::Unknown(why) => w.opaque(format!("{name} runs {why}")),
        }
    }
    if p.has(&["-l", "--load"]) {
        w.opaque(format!("{name} -l loads a native extension"));
    }
    let from_file = p.has(&["-f", "--file", "-E", "--exec", "-e", "--source"]);
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

pub(super) fn run_sed(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
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
                    // The script file is read and checked like a script given inline.
                    match w.program_source(&cx.env, v, &cx.stdin) {
                        Program::Literal(t) | Program::File(t) => scripts_.push(lit(&t)),
                        Program::Nothing => {}
                        Program::Unknown(why) => w.opaque(format!("{name} runs {why}")),
                    }
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

/// `ed FILE < SCRIPT`: ed reads its commands from its input. The file is written; the script's
/// `w FILE`, `r FILE`, `e FILE` and `!cmd` are checked as for sed. A script hookledger cannot
/// see is opaque.
pub(super) fn run_ed(w: &mut Walker, cx: &Cx, name: &str, args: &[Field]) {
    let p = parse(args, &["-p", "--prompt"]);
    for f in &p.operands {
        if f.lit().is_some_and(|t| t.starts_with('!')) {
            if let Some(code) = f.lit() {
                w.subshell_program(&code[1..], &cx.env);
            }
            continue;
        }
        w.access(&cx.env, f, Access::Write, name);
    }
    match w.stdin_text(&cx.env, &cx.stdin) {
        Stdin::Literal(script) => scripts::check_ed(w, &cx.env, &script, name),
        Stdin::Inherited => {}
        _ => w.opaque(format!(
            "{name} runs editing commands read from an input hookledger cannot see"
        )),
    }
}
