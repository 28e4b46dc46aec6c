//! Builtins that change the shell's own state: variables, directories, aliases, options, traps, `eval` and `source`.

use super::*;

/// Runs `name` if it is one of this family's commands; `false` when it is not.
pub(super) fn run(w: &mut Walker, env: &mut Env, cx: &mut Cx, name: &str, args: &[Field]) -> bool {
    let r =
        |w: &mut Walker, cx: &Cx, f: &Field, role: &str| w.access(&cx.env, f, Access::Read, role);
    match name {
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            subscripts(w, cx, args);
            let p = parse(args, &[]);
            if p.has(&["-n"]) {
                w.opaque(format!("{name} -n makes a name refer to another variable"));
            }
            for (var, value) in cx.suffix_assignments.drain(..) {
                w.check_special_variable(&cx.env, &var, value.as_deref(), None);
                env.vars.insert(var, value);
            }
        }
        "cd" | "pushd" | "chdir" => {
            let p = parse(args, &[]);
            let target = p.operands.first().cloned();
            if name == "pushd" {
                env.dir_stack.push(env.cwds.clone());
            }
            change_directory(w, env, target.as_ref(), name);
        }
        "popd" => {
            env.cwds = env.dir_stack.pop().unwrap_or(None);
        }
        "alias" => {
            // An alias body is code: it is walked where it is defined (it may run at any
            // later command of this shell), and a command word naming it later runs it with
            // that command's arguments (see `dispatch`).
            for a in args {
                match a.lit() {
                    Some(t) => {
                        if let Some((alias, body)) = t.split_once('=') {
                            w.aliases.insert(alias.to_owned(), body.to_owned());
                            w.subshell_program(body, &cx.env);
                        }
                    }
                    None => w.opaque("an alias defined from text computed at run time"),
                }
            }
        }
        "let" => {
            for a in args {
                match a.lit() {
                    Some(t) => w.arithmetic(t, &cx.env),
                    None => w.opaque("let evaluates text computed at run time"),
                }
            }
        }
        "unalias" => {}
        "shopt" | "enable" => {
            let text: Vec<&str> = args.iter().filter_map(Field::lit).collect();
            if name == "shopt" && text.contains(&"-s") {
                w.dotglob |= text.contains(&"dotglob");
                w.nocaseglob |= text.contains(&"nocaseglob");
                w.globstar |= text.contains(&"globstar");
            } else if name == "shopt" && text.contains(&"dotglob") {
                w.dotglob = true;
            }
            if name == "enable" {
                w.opaque(format!("{name} changes how later commands are read or run"));
            }
        }
        "trap" => {
            let p = parse(args, &[]);
            if let Some(code) = p.operands.first() {
                match code.lit() {
                    Some(c) if p.operands.len() > 1 => w.subshell_program(c, &cx.env),
                    Some(_) => {}
                    None => w.opaque("trap runs code computed at run time"),
                }
            }
        }
        "eval" => {
            let mut text = Vec::new();
            for a in args {
                match a.lit() {
                    Some(t) => text.push(t.to_owned()),
                    None => {
                        w.opaque("eval of text computed at run time");
                        return true;
                    }
                }
            }
            // eval runs in the current shell: its directory changes persist.
            let mut current = cx.env.clone();
            let stdin = cx.stdin.clone();
            w.with_input(stdin, |w| w.program(&text.join(" "), &mut current));
            env.cwds = current.cwds;
        }
        "source" | "." => {
            if let Some(script) = args.first() {
                r(w, cx, script, name);
                unknown_arguments(w, cx, name, &args[1..]);
                let program = w.program_source(&cx.env, script, &cx.stdin);
                let mut shell = cx.env.clone();
                // Arguments after the file are its positional parameters while it runs.
                if args.len() > 1 {
                    bind_positional(&mut shell, None, &args[1..]);
                }
                let stdin = cx.stdin.clone();
                w.with_input(stdin, |w| {
                    w.run_shell_program(&mut shell, program, true, name)
                });
                env.cwds = shell.cwds;
            }
        }
        _ => return false,
    }
    true
}

/// Array elements named to a builtin (`declare 'a[$(cmd)]=1'`, `printf -v 'a[$(cmd)]'`,
/// `read 'a[$(cmd)]'`, `test -v 'a[$(cmd)]'`, `unset`): bash evaluates the subscript as
/// arithmetic, so the code in it runs.
pub(super) fn subscripts(w: &mut Walker, cx: &Cx, args: &[Field]) {
    for a in args {
        if let Some(sub) = a.lit().and_then(super::super::words::subscript) {
            w.arithmetic(sub, &cx.env);
        }
    }
}

/// `set -- ARGS` (or `set ARGS` after its options) replaces the positional parameters;
/// `shift [N]` drops the first N. A count that cannot be followed leaves them unknown.
/// `unset NAME` empties a variable (an array with it); `unset 'a[1]'` leaves a gap, so the
/// array's elements are no longer known.
///
/// `read NAME…` from literal input (a here-string, a heredoc, `echo x |` in the same
/// subshell) sets the names from its first line, when that is the only line: a loop reading
/// more lines would see others. `printf -v NAME FORMAT ARGS` sets NAME to the text. Returns
/// whether the command was handled here (nothing else to do for it).
pub(super) fn shell_state(
    w: &mut Walker,
    env: &mut Env,
    cx: &Cx,
    name: &str,
    args: &[Field],
) -> bool {
    match name {
        "read" => return read(w, env, cx, args),
        "printf" => return printf_v(env, args),
        _ => {}
    }
    if name == "unset" {
        // `unset -f NAME` removes a function, not a variable.
        if args.iter().any(|a| a.lit() == Some("-f")) {
            return true;
        }
        for a in args {
            let Some(text) = a.lit() else {
                continue;
            };
            if text.starts_with('-') {
                continue;
            }
            let base = text.split('[').next().unwrap_or(text);
            if base.is_empty() {
                continue;
            }
            if base == text {
                env.vars.insert(base.to_owned(), Some(String::new()));
                env.vars.insert(format!("{base}[#]"), Some("0".into()));
            } else {
                env.vars.insert(format!("{base}[#]"), None);
                env.vars.insert(base.to_owned(), None);
            }
        }
        return true;
    }
    if name == "shift" {
        let by = match args.first().map(Field::lit) {
            None => Some(1),
            Some(Some(n)) => n.parse::<usize>().ok(),
            Some(None) => None,
        };
        let count = super::super::walk::positional_count(env);
        let rest: Option<Vec<Field>> = match (by, count) {
            // Shifting past the end fails and leaves them as they were.
            (Some(by), Some(count)) if by > count => return true,
            (Some(by), Some(count)) => Some(
                (by + 1..=count.max(by))
                    .map(|k| match env.vars.get(&k.to_string()).cloned().flatten() {
                        Some(text) => lit(&text),
                        None => Field::Dyn("a positional parameter".into()),
                    })
                    .collect(),
            ),
            _ => None,
        };
        match rest {
            Some(rest) => bind_positional(env, None, &rest),
            None => forget_positional(env),
        }
        return true;
    }
    let mut i = 0;
    while i < args.len() {
        let Some(text) = args[i].lit() else {
            forget_positional(env);
            return true;
        };
        if text == "--" || text == "-" {
            // `set -` ends the options too (and turns off -x and -v).
            bind_positional(env, None, &args[i + 1..]);
            return true;
        }
        if !(text.starts_with('-') || text.starts_with('+')) {
            bind_positional(env, None, &args[i..]);
            return true;
        }
        // `-o NAME` / `+o NAME` take the next word.
        if matches!(text, "-o" | "+o") {
            i += 1;
        }
        i += 1;
    }
    true
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `read [-r] [-a ARRAY] NAME…`.
fn read(w: &mut Walker, env: &mut Env, cx: &Cx, args: &[Field]) -> bool {
    let p = parse(args, &["-a", "-d", "-i", "-n", "-N", "-p", "-t", "-u"]);
    let mut names: Vec<String> = Vec::new();
    for f in &p.operands {
        match f.lit() {
            Some(t) if is_name(t) => names.push(t.to_owned()),
            // `read 'a[0]'`: its subscript was walked; the array is no longer known.
            Some(t) => {
                forget_array(env, t);
                return false;
            }
            None => return false,
        }
    }
    let array = match p.values(&["-a"]).next().map(Field::lit) {
        Some(Some(a)) if is_name(a) => Some(a.to_owned()),
        Some(_) => return false,
        None => None,
    };
    if names.is_empty() && array.is_none() {
        names.push("REPLY".into());
    }
    // Input cut otherwise than at the first newline, or from another descriptor.
    let plain = !p.has(&["-d", "-n", "-N", "-u"]);
    // Literal input only: a file redirected in is not read for a variable's value.
    let _ = w;
    let line = match &cx.stdin {
        Stdin::Literal(text) if plain && !cx.env.vars.contains_key("IFS") => {
            let mut lines = text.split('\n');
            let first = lines.next().unwrap_or("").to_owned();
            lines.all(str::is_empty).then_some(first)
        }
        _ => None,
    };
    let line = line.map(|l| {
        if p.has(&["-r"]) {
            l
        } else {
            // Without -r a backslash quotes the next character.
            let mut out = String::new();
            let mut chars = l.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            out
        }
    });
    let words: Option<Vec<String>> = line.as_ref().map(|l| {
        l.split([' ', '\t'])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    if let Some(array) = array {
        env.vars.insert(format!("{array}[#]"), None);
        env.vars.insert(array.clone(), None);
        if let Some(words) = &words {
            env.vars
                .insert(format!("{array}[#]"), Some(words.len().to_string()));
            env.vars.insert(
                array.clone(),
                Some(words.first().cloned().unwrap_or_default()),
            );
            for (k, word) in words.iter().enumerate() {
                env.vars.insert(format!("{array}[{k}]"), Some(word.clone()));
            }
        }
    }
    let count = names.len();
    for (k, name) in names.into_iter().enumerate() {
        let value = match (&line, &words) {
            // The last name takes the rest of the line, blanks inside kept.
            (Some(line), Some(_)) if k + 1 == count => {
                let mut rest = line.trim_matches([' ', '\t']);
                for _ in 0..k {
                    rest = rest
                        .split_once([' ', '\t'])
                        .map_or("", |(_, r)| r)
                        .trim_start_matches([' ', '\t']);
                }
                Some(rest.to_owned())
            }
            (Some(_), Some(words)) => Some(words.get(k).cloned().unwrap_or_default()),
            _ => None,
        };
        env.vars.insert(name, value);
    }
    true
}

/// `printf -v NAME FORMAT ARGS…`.
fn printf_v(env: &mut Env, args: &[Field]) -> bool {
    let [flag, target, format, rest @ ..] = args else {
        return false;
    };
    if flag.lit() != Some("-v") {
        return false;
    }
    let Some(name) = target.lit().filter(|t| is_name(t)) else {
        if let Some(t) = target.lit() {
            forget_array(env, t);
        }
        return false;
    };
    let texts: Option<Vec<String>> = std::iter::once(format)
        .chain(rest)
        .map(|f| match f {
            Field::Lit { text, glob: None } => Some(text.clone()),
            _ => None,
        })
        .collect();
    let value = texts.and_then(|t| {
        let (format, rest) = t.split_first()?;
        super::super::walk::printf_output(format, rest)
    });
    env.vars.insert(name.to_owned(), value);
    true
}

/// `NAME[…]` set by a builtin: the array's elements and element 0 are no longer known.
fn forget_array(env: &mut Env, text: &str) {
    let base = text.split('[').next().unwrap_or(text);
    if is_name(base) {
        env.vars.insert(base.to_owned(), None);
        env.vars.insert(format!("{base}[#]"), None);
    }
}

/// The positional parameters become unknown (not empty).
fn forget_positional(env: &mut Env) {
    env.vars
        .retain(|name, _| !super::super::walk::is_positional(name));
    env.vars.insert("#".into(), None);
}
