//! Shells and language interpreters: the code they run is analysed in turn.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, _env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    match name {
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "yash" | "posh" | "fish"
        | "rbash" | "tcsh" | "csh" => run_shell(w, cx, name, args),
        _ if scripts::interpreter(name).is_some() => run_interpreter(w, cx, name, args),
        _ => return false,
    }
    true
}

/// Arguments that a wrapper joins into one shell command line.
pub(super) fn shell_words(w: &mut Walker, cx: &Cx, words: &[Field], role: &str) {
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

pub(super) fn run_code(w: &mut Walker, cx: &Cx, code: &Field, role: &str) {
    match code.lit() {
        Some(c) => w.subshell_program(c, &cx.env),
        None => w.opaque(format!("{role} runs code computed at run time")),
    }
}

pub(super) fn run_shell(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
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

pub(super) fn run_interpreter(w: &mut Walker, cx: &mut Cx, name: &str, args: &[Field]) {
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
