//! Turning a raw shell word into the strings the shell would pass, or saying it cannot.
//!
//! Brace expansion, quote removal, escapes, ANSI-C quoting, `~`, `$HOME` and variables
//! assigned literally earlier in the same command are resolved. The value of an unquoted
//! expansion is split into fields at blanks (the default `IFS`; an assigned `IFS` makes it
//! unknown) and its `*`, `?` and `[` are pathname patterns, as in the shell: `F='.env x'; cat
//! $F` reads `.env`, and `F='.en*'; cat $F` reads what the pattern matches. Anything whose value is only
//! known at run time (a variable from the environment, a command substitution, arithmetic)
//! makes the word dynamic; command substitutions are analysed as nested programs by the
//! walker before the word is given up on.

use brush_parser::ParserOptions;
use brush_parser::word::{
    self, BraceExpressionMember, BraceExpressionOrText, Parameter, ParameterExpr, SpecialParameter,
    SubstringMatchKind, TildeExpr, WordPiece, WordPieceWithSource,
};

/// One field after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Known text. `glob` holds a pattern when unquoted `*`, `?` or `[` make it a pathname
    /// expansion (quoted metacharacters are bracketed so they stay literal).
    Lit { text: String, glob: Option<String> },
    /// Only known at run time; says why.
    Dyn(String),
}

impl Field {
    pub fn lit(&self) -> Option<&str> {
        match self {
            Field::Lit { text, .. } => Some(text),
            Field::Dyn(_) => None,
        }
    }
}

/// What expanding a word needs from the walker.
pub trait Scope {
    fn home(&self) -> Option<String>;
    /// The single known working directory, for `~+` and `$PWD`.
    fn pwd(&self) -> Option<String>;
    /// A variable's value when it was assigned literally; `None` when unknown.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether `IFS` has its default value (blanks), so that splitting can be modelled.
    fn default_ifs(&self) -> bool {
        true
    }
    /// A list variable's elements when every one is known: the positional parameters under
    /// `@` (`"$@"`, `$*`). `None` when unknown.
    fn list(&self, name: &str) -> Option<Vec<String>> {
        let _ = name;
        None
    }
    /// Code found inside the word (`$(…)`, backquotes) that runs when the word is expanded;
    /// what it prints when that is literal text (`$(echo .env)`, `$(cat <<'EOF' …)`), else
    /// `None`.
    fn nested_code(&mut self, code: &str) -> Option<String>;
    /// Something in the word runs code the analysis cannot follow.
    fn opaque(&mut self, why: String);
    /// The fields of the word just expanded when a variable it gives a default for is unset
    /// (see [`expand`]).
    fn alternative(&mut self, fields: Vec<Field>) {
        let _ = fields;
    }
}

/// More alternatives than this from one brace expression are not enumerated.
const MAX_BRACE_FIELDS: usize = 64;

pub fn options() -> ParserOptions {
    ParserOptions::default()
}

/// Expands `raw` (the word as written) into its fields.
///
/// A default for a variable that may come from the environment (`${X:-.env}`) makes the
/// field unknown; the fields the word has when the variable is unset are handed to
/// [`Scope::alternative`], for the command to be judged that way too.
pub fn expand(raw: &str, scope: &mut dyn Scope) -> Vec<Field> {
    let alternatives = match brace_alternatives(raw) {
        Ok(a) => a,
        Err(why) => return vec![Field::Dyn(why)],
    };
    let mut fields = Vec::new();
    let mut unset: Vec<Field> = Vec::new();
    let mut any_unset = false;
    for alt in &alternatives {
        let (known, when_unset) = expand_both(alt, scope, true);
        match when_unset {
            Some(u) => {
                any_unset = true;
                unset.extend(u);
            }
            None => unset.extend(known.iter().cloned()),
        }
        fields.extend(known);
    }
    if any_unset {
        scope.alternative(unset);
    }
    fields
}

/// Expands a word that neither brace expansion nor field splitting applies to (assignment
/// values, redirection targets, heredoc bodies, `case` subjects): one field.
pub fn expand_single(raw: &str, scope: &mut dyn Scope) -> Field {
    expand_one(raw, scope, false)
        .into_iter()
        .next()
        .unwrap_or(Field::Lit {
            text: String::new(),
            glob: None,
        })
}

fn brace_alternatives(raw: &str) -> Result<Vec<String>, String> {
    if !raw.contains('{') || !(raw.contains(',') || raw.contains("..")) {
        return Ok(vec![raw.to_owned()]);
    }
    let parsed = word::parse_brace_expansions(raw, &options())
        .map_err(|_| "a brace expansion that cannot be read".to_owned())?;
    let Some(pieces) = parsed else {
        return Ok(vec![raw.to_owned()]);
    };
    let mut out = vec![String::new()];
    append_pieces(&mut out, &pieces)?;
    Ok(out)
}

fn append_pieces(out: &mut Vec<String>, pieces: &[BraceExpressionOrText]) -> Result<(), String> {
    for piece in pieces {
        match piece {
            BraceExpressionOrText::Text(t) => out.iter_mut().for_each(|o| o.push_str(t)),
            BraceExpressionOrText::Expr(members) => {
                let mut alternatives: Vec<String> = Vec::new();
                for member in members {
                    for alt in member_alternatives(member)? {
                        alternatives.push(alt);
                        if alternatives.len() > MAX_BRACE_FIELDS {
                            return Err("a brace expansion with too many alternatives".into());
                        }
                    }
                }
                if out.len() * alternatives.len() > MAX_BRACE_FIELDS {
                    return Err("a brace expansion with too many alternatives".into());
                }
                *out = out
                    .iter()
                    .flat_map(|prefix| alternatives.iter().map(move |a| format!("{prefix}{a}")))
                    .collect();
            }
        }
    }
    Ok(())
}

fn member_alternatives(member: &BraceExpressionMember) -> Result<Vec<String>, String> {
    let too_many = || "a brace expansion with too many alternatives".to_owned();
    match member {
        BraceExpressionMember::NumberSequence {
            start,
            end,
            increment,
        } => {
            let step = increment.unsigned_abs().max(1);
            let span = start.abs_diff(*end);
            if span / step >= MAX_BRACE_FIELDS as u64 {
                return Err(too_many());
            }
            let mut out = Vec::new();
            let mut n = *start;
            loop {
                out.push(n.to_string());
                if n == *end || out.len() > MAX_BRACE_FIELDS {
                    break;
                }
                let next = if start <= end {
                    n.checked_add(step as i64)
                } else {
                    n.checked_sub(step as i64)
                };
                match next {
                    Some(v) if (start <= end && v <= *end) || (start > end && v >= *end) => n = v,
                    _ => break,
                }
            }
            Ok(out)
        }
        BraceExpressionMember::CharSequence {
            start,
            end,
            increment,
        } => {
            let (a, b) = (*start as u32, *end as u32);
            let step = increment.unsigned_abs().max(1) as u32;
            let (lo, hi) = (a.min(b), a.max(b));
            Ok((lo..=hi)
                .step_by(step as usize)
                .filter_map(char::from_u32)
                .map(String::from)
                .take(MAX_BRACE_FIELDS + 1)
                .collect())
        }
        BraceExpressionMember::Child(pieces) => {
            let mut out = vec![String::new()];
            append_pieces(&mut out, pieces)?;
            if out.len() > MAX_BRACE_FIELDS {
                return Err(too_many());
            }
            Ok(out)
        }
    }
}

struct Builder {
    text: String,
    pattern: String,
    has_glob: bool,
    dynamic: Option<String>,
    /// Whether unquoted expansions are split into fields (words in a command's arguments).
    split: bool,
    /// The current field exists even if empty (it has a quoted part or literal text).
    started: bool,
    /// Fields completed by splitting, before the current one.
    done: Vec<Field>,
    /// The word was expanded with a default (`${X:-.env}`) for a variable that may hold
    /// something else: the fields found are what it gives when the variable is unset.
    alternative: Option<String>,
}

impl Builder {
    fn finish(&mut self) {
        let glob = self.has_glob.then(|| std::mem::take(&mut self.pattern));
        self.done.push(Field::Lit {
            text: std::mem::take(&mut self.text),
            glob,
        });
        self.pattern.clear();
        self.has_glob = false;
        self.started = false;
    }

    /// The value of an unquoted expansion: split at blanks, its pattern characters active.
    fn push_unquoted_value(&mut self, value: &str) {
        for c in value.chars() {
            if self.split && matches!(c, ' ' | '\t' | '\n') {
                if self.started {
                    self.finish();
                }
                continue;
            }
            self.started = true;
            self.text.push(c);
            if self.split && matches!(c, '*' | '?' | '[' | ']') {
                self.has_glob |= c != ']';
                self.pattern.push(c);
            } else if matches!(c, '*' | '?' | '[' | ']') {
                self.pattern.push('[');
                self.pattern.push(c);
                self.pattern.push(']');
            } else {
                self.pattern.push(c);
            }
        }
    }
}

fn expand_one(raw: &str, scope: &mut dyn Scope, split: bool) -> Vec<Field> {
    expand_both(raw, scope, split).0
}

/// The word's fields, and, when a default stood in for a variable that may be set, its
/// fields with the variable unset.
fn expand_both(raw: &str, scope: &mut dyn Scope, split: bool) -> (Vec<Field>, Option<Vec<Field>>) {
    let pieces = match word::parse(raw, &options()) {
        Ok(p) => p,
        Err(_) => {
            return (
                vec![Field::Dyn("a word the parser cannot read".into())],
                None,
            );
        }
    };
    let mut b = Builder {
        text: String::new(),
        pattern: String::new(),
        has_glob: false,
        dynamic: None,
        split,
        started: false,
        done: Vec::new(),
        alternative: None,
    };
    add_pieces(&mut b, raw, &pieces, false, scope);
    if let Some(why) = b.dynamic {
        return (vec![Field::Dyn(why)], None);
    }
    // An unquoted expansion that is empty leaves no field at all (`cat $EMPTY` has no operand).
    if b.started || !split {
        b.finish();
    }
    match b.alternative {
        Some(why) => (vec![Field::Dyn(why)], Some(b.done)),
        None => (b.done, None),
    }
}

fn push_quoted(b: &mut Builder, s: &str) {
    b.started = true;
    b.text.push_str(s);
    for c in s.chars() {
        match c {
            '*' | '?' | '[' | ']' => {
                b.pattern.push('[');
                b.pattern.push(c);
                b.pattern.push(']');
            }
            _ => b.pattern.push(c),
        }
    }
}

fn add_pieces(
    b: &mut Builder,
    raw: &str,
    pieces: &[WordPieceWithSource],
    quoted: bool,
    scope: &mut dyn Scope,
) {
    for p in pieces {
        let source = raw.get(p.start_index..p.end_index).unwrap_or("");
        match &p.piece {
            WordPiece::Text(t) if quoted => push_quoted(b, t),
            WordPiece::Text(t) => {
                b.started = true;
                // A `[` with no `]` after it matches itself (`[ -v x ]`'s command name).
                let bracket = t.find('[').is_some_and(|at| t[at..].contains(']'));
                if t.contains(['*', '?']) || bracket {
                    b.has_glob = true;
                }
                if t.contains(['(', ')']) && t.contains(['@', '+', '!', '*', '?']) {
                    b.dynamic
                        .get_or_insert_with(|| "an extended glob pattern".into());
                }
                b.text.push_str(t);
                b.pattern.push_str(t);
            }
            WordPiece::SingleQuotedText(t) => push_quoted(b, t),
            WordPiece::AnsiCQuotedText(t) => push_quoted(b, &decode_ansi_c(t)),
            WordPiece::EscapeSequence(e) => {
                let unescaped = e.strip_prefix('\\').unwrap_or(e);
                // Inside double quotes a backslash stays unless it escapes a special char.
                if quoted && !unescaped.starts_with(['$', '`', '"', '\\', '\n']) {
                    push_quoted(b, e);
                } else if unescaped != "\n" {
                    push_quoted(b, unescaped);
                }
            }
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                // `"$@"` with no parameters is no field at all, not an empty one.
                let empty_list = match inner.as_slice() {
                    [only] => match &only.piece {
                        WordPiece::ParameterExpansion(expr) => all_parameters(expr)
                            .filter(|(_, concatenate)| !concatenate)
                            .and_then(|(name, _)| scope.list(&name))
                            .is_some_and(|items| items.is_empty()),
                        _ => false,
                    },
                    _ => false,
                };
                if !empty_list {
                    b.started = true;
                    add_pieces(b, raw, inner, true, scope)
                }
            }
            WordPiece::TildeExpansion(t) => match t {
                TildeExpr::Home => match scope.home() {
                    Some(h) => push_quoted(b, &h),
                    None => set_dyn(b, "~ with no home directory"),
                },
                TildeExpr::WorkingDir => match scope.pwd() {
                    Some(d) => push_quoted(b, &d),
                    None => set_dyn(b, "~+ after a directory change"),
                },
                _ => set_dyn(
                    b,
                    &format!("{source} (another user's or a stacked directory)"),
                ),
            },
            WordPiece::ParameterExpansion(expr) => {
                // `${a[$(cmd)]}`, `${x:-$(cmd)}`: the code inside runs.
                if source.contains("$(") || source.contains('`') {
                    match command_substitutions(source) {
                        Some(codes) => {
                            for code in codes {
                                scope.nested_code(&code);
                            }
                        }
                        None => scope.opaque(format!(
                            "a command substitution inside the parameter expansion {}",
                            shorten(source)
                        )),
                    }
                }
                if let Some((list, concatenate)) = all_parameters(expr) {
                    match scope.list(&list) {
                        Some(items) => push_list(b, &items, quoted, concatenate, scope, source),
                        None => set_dyn(b, &format!("the variable {}", shorten(source))),
                    }
                    continue;
                }
                let value = match parameter_expansion(expr, scope) {
                    Value::Known(v) => Some(v),
                    Value::Unknown => None,
                    Value::Word(word, other) => {
                        if other {
                            // The variable may hold anything (it comes from the
                            // environment), or be unset and give the word: the word's paths
                            // still count, and the field is unknown besides.
                            b.alternative
                                .get_or_insert_with(|| format!("the variable {}", shorten(source)));
                        }
                        match expand_one(&word, scope, false).into_iter().next() {
                            Some(Field::Lit { text, .. }) => Some(text),
                            _ => None,
                        }
                    }
                };
                match value {
                    Some(v) if quoted => push_quoted(b, &v),
                    // Splitting with an `IFS` the command set is not modelled.
                    Some(v) if b.split && !scope.default_ifs() && !v.is_empty() => set_dyn(
                        b,
                        &format!("the variable {} split by an assigned IFS", shorten(source)),
                    ),
                    Some(v) => b.push_unquoted_value(&v),
                    None => set_dyn(b, &format!("the variable {}", shorten(source))),
                }
            }
            WordPiece::CommandSubstitution(code) => {
                let output = scope.nested_code(code);
                push_output(b, output, quoted, scope);
            }
            WordPiece::BackquotedCommandSubstitution(code) => {
                let output = scope.nested_code(&unescape_backquoted(code));
                push_output(b, output, quoted, scope);
            }
            WordPiece::ArithmeticExpression(e) => {
                arithmetic(&e.value, scope, 0);
                set_dyn(b, "an arithmetic expansion");
            }
        }
    }
}

/// The output of a command substitution: trailing newlines dropped; split and globbed when
/// unquoted, like a variable's value.
fn push_output(b: &mut Builder, output: Option<String>, quoted: bool, scope: &mut dyn Scope) {
    let Some(output) = output else {
        set_dyn(b, "the output of a command substitution");
        return;
    };
    let output = output.trim_end_matches('\n');
    if quoted {
        push_quoted(b, output);
    } else if b.split && !scope.default_ifs() && !output.is_empty() {
        set_dyn(
            b,
            "the output of a command substitution split by an assigned IFS",
        );
    } else {
        b.push_unquoted_value(output);
    }
}

/// `$@`, `$*`, `${a[@]}`, `${a[*]}` without an operator: the list's name (`@` for the
/// positional parameters) and whether it is joined into one word when quoted.
fn all_parameters(expr: &ParameterExpr) -> Option<(String, bool)> {
    match expr {
        ParameterExpr::Parameter {
            parameter: Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate }),
            indirect: false,
        } => Some(("@".to_owned(), *concatenate)),
        ParameterExpr::Parameter {
            parameter: Parameter::NamedWithAllIndices { name, concatenate },
            indirect: false,
        } => Some((name.clone(), *concatenate)),
        _ => None,
    }
}

/// A list's elements as the shell expands them: `"$@"` one field each (the first and last
/// joined to the text around them), `"$*"` one field joined by a blank, unquoted each split
/// and globbed. Where fields are not split (an assignment's value) the list is joined.
fn push_list(
    b: &mut Builder,
    items: &[String],
    quoted: bool,
    concatenate: bool,
    scope: &mut dyn Scope,
    source: &str,
) {
    if quoted && (concatenate || !b.split) {
        if concatenate && !scope.default_ifs() && items.len() > 1 {
            set_dyn(
                b,
                &format!("the variable {} joined by an assigned IFS", shorten(source)),
            );
            return;
        }
        push_quoted(b, &items.join(" "));
    } else if quoted {
        for (k, item) in items.iter().enumerate() {
            if k > 0 {
                b.finish();
            }
            push_quoted(b, item);
        }
    } else if b.split && !scope.default_ifs() && !items.is_empty() {
        set_dyn(
            b,
            &format!("the variable {} split by an assigned IFS", shorten(source)),
        );
    } else {
        b.push_unquoted_value(&items.join(" "));
    }
}

fn set_dyn(b: &mut Builder, why: &str) {
    b.dynamic.get_or_insert_with(|| why.to_owned());
}

fn shorten(s: &str) -> String {
    if s.len() <= 40 {
        s.to_owned()
    } else {
        let mut end = 40;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// What a parameter expansion gives.
enum Value {
    Known(String),
    Unknown,
    /// The raw word after an operator (`${x:-WORD}`, `${x:+WORD}`), to be expanded; `true`
    /// when the variable may instead give a value that is not known.
    Word(String, bool),
}

/// A parameter expansion with its operator applied, where the value is known: defaults and
/// alternatives, `#`/`##`/`%`/`%%` pattern removal, `/` substitution, substrings, case
/// changes, `${!name}`. Anything else is unknown.
fn parameter_expansion(expr: &ParameterExpr, scope: &mut dyn Scope) -> Value {
    use ParameterExpr as P;
    let known = |v: Option<String>| v.map_or(Value::Unknown, Value::Known);
    match expr {
        P::Parameter {
            parameter,
            indirect: true,
        } => {
            let Some(target) = parameter_value(
                &P::Parameter {
                    parameter: parameter.clone(),
                    indirect: false,
                },
                scope,
            ) else {
                return Value::Unknown;
            };
            if target.is_empty()
                || !target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Value::Unknown;
            }
            known(parameter_value(
                &P::Parameter {
                    parameter: Parameter::Named(target),
                    indirect: false,
                },
                scope,
            ))
        }
        P::UseDefaultValues {
            parameter,
            indirect: false,
            default_value,
            ..
        }
        | P::AssignDefaultValues {
            parameter,
            indirect: false,
            default_value,
            ..
        } => {
            let word = default_value.clone().unwrap_or_default();
            match plain(parameter, scope) {
                Some(v) if !v.is_empty() => Value::Known(v),
                // Empty or unset (which hookledger does not tell apart): the word.
                Some(_) => Value::Word(word, false),
                None => Value::Word(word, true),
            }
        }
        P::UseAlternativeValue {
            parameter,
            indirect: false,
            alternative_value,
            ..
        } => {
            let word = alternative_value.clone().unwrap_or_default();
            match plain(parameter, scope) {
                Some(v) if v.is_empty() => Value::Known(String::new()),
                // Set: the word. Unknown: the word or nothing, and the word covers both.
                _ => Value::Word(word, false),
            }
        }
        P::RemoveSmallestSuffixPattern {
            parameter,
            indirect: false,
            pattern,
        }
        | P::RemoveLargestSuffixPattern {
            parameter,
            indirect: false,
            pattern,
        }
        | P::RemoveSmallestPrefixPattern {
            parameter,
            indirect: false,
            pattern,
        }
        | P::RemoveLargestPrefixPattern {
            parameter,
            indirect: false,
            pattern,
        } => {
            let (Some(v), Some(p)) = (
                plain(parameter, scope),
                pattern_text(pattern.as_deref(), scope),
            ) else {
                return Value::Unknown;
            };
            let suffix = matches!(
                expr,
                P::RemoveSmallestSuffixPattern { .. } | P::RemoveLargestSuffixPattern { .. }
            );
            let largest = matches!(
                expr,
                P::RemoveLargestSuffixPattern { .. } | P::RemoveLargestPrefixPattern { .. }
            );
            known(remove_pattern(&v, &p, suffix, largest))
        }
        P::ReplaceSubstring {
            parameter,
            indirect: false,
            pattern,
            replacement,
            match_kind,
        } => {
            let (Some(v), Some(p)) = (plain(parameter, scope), pattern_text(Some(pattern), scope))
            else {
                return Value::Unknown;
            };
            let Some(Field::Lit {
                text: with,
                glob: None,
            }) = expand_one(replacement.as_deref().unwrap_or(""), scope, false)
                .into_iter()
                .next()
            else {
                return Value::Unknown;
            };
            known(replace_pattern(&v, &p, &with, match_kind))
        }
        P::Substring {
            parameter,
            indirect: false,
            offset,
            length,
        } => {
            let Some(v) = plain(parameter, scope) else {
                return Value::Unknown;
            };
            let number = |e: &str| e.trim().parse::<i64>().ok();
            let Some(offset) = number(&offset.value) else {
                return Value::Unknown;
            };
            let chars: Vec<char> = v.chars().collect();
            let len = chars.len() as i64;
            // Saturating: the numbers are the command's, of any size.
            let start = if offset < 0 {
                len.saturating_add(offset).max(0)
            } else {
                offset.min(len)
            };
            let end = match length {
                None => len,
                Some(l) => match number(&l.value) {
                    Some(l) if l < 0 => len.saturating_add(l).max(start),
                    Some(l) => start.saturating_add(l).min(len),
                    None => return Value::Unknown,
                },
            };
            Value::Known(
                chars[start as usize..end.max(start) as usize]
                    .iter()
                    .collect(),
            )
        }
        P::UppercasePattern {
            parameter,
            indirect: false,
            pattern,
        } if pattern.as_deref().is_none_or(str::is_empty) => {
            known(plain(parameter, scope).map(|v| v.to_uppercase()))
        }
        P::LowercasePattern {
            parameter,
            indirect: false,
            pattern,
        } if pattern.as_deref().is_none_or(str::is_empty) => {
            known(plain(parameter, scope).map(|v| v.to_lowercase()))
        }
        P::UppercaseFirstChar {
            parameter,
            indirect: false,
            pattern,
        } if pattern.as_deref().is_none_or(str::is_empty) => {
            known(plain(parameter, scope).map(|v| {
                let mut c = v.chars();
                c.next()
                    .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
            }))
        }
        P::LowercaseFirstChar {
            parameter,
            indirect: false,
            pattern,
        } if pattern.as_deref().is_none_or(str::is_empty) => {
            known(plain(parameter, scope).map(|v| {
                let mut c = v.chars();
                c.next()
                    .map_or(String::new(), |f| f.to_lowercase().chain(c).collect())
            }))
        }
        other => known(parameter_value(other, scope)),
    }
}

/// A parameter's own value.
fn plain(parameter: &Parameter, scope: &mut dyn Scope) -> Option<String> {
    parameter_value(
        &ParameterExpr::Parameter {
            parameter: parameter.clone(),
            indirect: false,
        },
        scope,
    )
}

/// A pattern after `#`, `%` or `/` as a glob for `fast_glob` (quoted parts literal); `None`
/// when it is not known.
fn pattern_text(raw: Option<&str>, scope: &mut dyn Scope) -> Option<String> {
    let raw = raw.unwrap_or("");
    match expand_one(raw, scope, false).into_iter().next()? {
        Field::Lit { glob: Some(p), .. } => Some(p),
        Field::Lit { text, glob: None } => Some(
            text.chars()
                .map(|c| match c {
                    '*' | '?' | '[' | ']' => format!("[{c}]"),
                    c => c.to_string(),
                })
                .collect(),
        ),
        Field::Dyn(_) => None,
    }
}

/// Longer values are not matched position by position.
const MAX_PATTERN_VALUE: usize = 512;

/// `${v%p}`, `${v%%p}`, `${v#p}`, `${v##p}`.
fn remove_pattern(v: &str, p: &str, suffix: bool, largest: bool) -> Option<String> {
    if v.len() > MAX_PATTERN_VALUE {
        return None;
    }
    let mut cuts: Vec<usize> = v.char_indices().map(|(i, _)| i).collect();
    cuts.push(v.len());
    // The order in which candidate cuts are tried: the first that matches wins.
    if suffix != largest {
        cuts.reverse();
    }
    for at in cuts {
        let (matched, kept) = if suffix {
            (&v[at..], &v[..at])
        } else {
            (&v[..at], &v[at..])
        };
        if fast_glob::glob_match(p, matched) {
            return Some(kept.to_owned());
        }
    }
    Some(v.to_owned())
}

/// `${v/p/r}`, `${v//p/r}`, `${v/#p/r}`, `${v/%p/r}`: the longest match at each place, as bash.
fn replace_pattern(v: &str, p: &str, with: &str, kind: &SubstringMatchKind) -> Option<String> {
    if v.len() > MAX_PATTERN_VALUE {
        return None;
    }
    let mut bounds: Vec<usize> = v.char_indices().map(|(i, _)| i).collect();
    bounds.push(v.len());
    let longest_from = |start: usize| -> Option<usize> {
        bounds
            .iter()
            .rev()
            .copied()
            .filter(|end| *end >= start)
            .find(|end| fast_glob::glob_match(p, &v[start..*end]))
    };
    match kind {
        SubstringMatchKind::Prefix => Some(match longest_from(0) {
            Some(end) => format!("{with}{}", &v[end..]),
            None => v.to_owned(),
        }),
        SubstringMatchKind::Suffix => {
            let start = bounds
                .iter()
                .copied()
                .find(|s| fast_glob::glob_match(p, &v[*s..]));
            Some(match start {
                Some(s) => format!("{}{with}", &v[..s]),
                None => v.to_owned(),
            })
        }
        SubstringMatchKind::FirstOccurrence | SubstringMatchKind::Anywhere => {
            let all = matches!(kind, SubstringMatchKind::Anywhere);
            let mut out = String::new();
            let mut k = 0;
            let mut replaced = false;
            while k < bounds.len() {
                let start = bounds[k];
                if start == v.len() {
                    break;
                }
                match longest_from(start).filter(|end| *end > start) {
                    Some(end) if all || !replaced => {
                        out.push_str(with);
                        replaced = true;
                        while k < bounds.len() && bounds[k] < end {
                            k += 1;
                        }
                    }
                    _ => {
                        let next = bounds.get(k + 1).copied().unwrap_or(v.len());
                        out.push_str(&v[start..next]);
                        k += 1;
                    }
                }
            }
            Some(out)
        }
    }
}

fn parameter_value(expr: &ParameterExpr, scope: &mut dyn Scope) -> Option<String> {
    let named = |p: &Parameter| match p {
        Parameter::Named(n) => Some(n.clone()),
        // Positional parameters are kept under their number (see `walk::bind_positional`):
        // no variable name starts with a digit.
        Parameter::Positional(n) => Some(n.to_string()),
        Parameter::Special(SpecialParameter::ShellName) => Some("0".into()),
        Parameter::Special(SpecialParameter::PositionalParameterCount) => Some("#".into()),
        // `${a[1]}`: an element by a literal index (see `walk::array_count`).
        Parameter::NamedWithIndex { name, index } => index
            .trim()
            .parse::<usize>()
            .ok()
            .map(|k| format!("{name}[{k}]")),
        _ => None,
    };
    let lookup = |name: &str, scope: &mut dyn Scope| match name {
        "HOME" => scope.var("HOME").or_else(|| scope.home()),
        "PWD" => scope.var("PWD").or_else(|| scope.pwd()),
        _ => scope.var(name),
    };
    match expr {
        ParameterExpr::Parameter {
            parameter,
            indirect: false,
        } => lookup(&named(parameter)?, scope),
        ParameterExpr::UseDefaultValues {
            parameter,
            indirect: false,
            ..
        }
        | ParameterExpr::AssignDefaultValues {
            parameter,
            indirect: false,
            ..
        }
        | ParameterExpr::IndicateErrorIfNullOrUnset {
            parameter,
            indirect: false,
            ..
        } => lookup(&named(parameter)?, scope).filter(|v| !v.is_empty()),
        // `${#x}`: the value's length in characters.
        ParameterExpr::ParameterLength {
            parameter,
            indirect: false,
        } => lookup(&named(parameter)?, scope).map(|v| v.chars().count().to_string()),
        _ => None,
    }
}

fn unescape_backquoted(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, '`' | '\\' | '$')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// `$'…'` as bash decodes it. Unknown escapes keep their backslash, as bash does.
pub fn decode_ansi_c(raw: &str) -> String {
    let body = raw
        .strip_prefix("$'")
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or(raw);
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let hex = |digits: &[char]| u32::from_str_radix(&digits.iter().collect::<String>(), 16).ok();
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = chars[i + 1];
        i += 2;
        let simple = match e {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'e' | 'E' => Some('\u{1b}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            '?' => Some('?'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let take = |i: &mut usize, max: usize, ok: fn(&char) -> bool| -> Vec<char> {
            let start = *i;
            while *i < chars.len() && *i - start < max && ok(&chars[*i]) {
                *i += 1;
            }
            chars[start..*i].to_vec()
        };
        match e {
            'x' => {
                let d = take(&mut i, 2, char::is_ascii_hexdigit);
                match hex(&d).and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str("\\x"),
                }
            }
            'u' | 'U' => {
                let d = take(
                    &mut i,
                    if e == 'u' { 4 } else { 8 },
                    char::is_ascii_hexdigit,
                );
                match hex(&d).and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '0'..='7' => {
                i -= 1;
                let d = take(&mut i, 3, |c| ('0'..='7').contains(c));
                let v = u32::from_str_radix(&d.iter().collect::<String>(), 8).unwrap_or(0);
                out.push(char::from_u32(v & 0xff).unwrap_or('\0'));
            }
            'c' if i < chars.len() => {
                out.push(char::from_u32(chars[i] as u32 & 0x1f).unwrap_or('\0'));
                i += 1;
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// Code that arithmetic runs. Bash expands `$(…)` and backquotes inside an arithmetic
/// expression (`$(( ))`, `(( ))`, `let`, an array subscript), and evaluates the value of a
/// variable named in it as an expression in turn (`x='a[$(cmd)]'; echo $((x))`). Each piece
/// of code is walked like a command substitution; one that cannot be delimited is opaque.
pub fn arithmetic(expr: &str, scope: &mut dyn Scope, depth: usize) {
    const MAX_DEPTH: usize = 4;
    if depth > MAX_DEPTH {
        scope.opaque("arithmetic whose variables refer to each other too deeply".into());
        return;
    }
    match command_substitutions(expr) {
        Some(codes) => {
            for code in codes {
                scope.nested_code(&code);
            }
        }
        None => scope.opaque("a command substitution inside arithmetic that cannot be read".into()),
    }
    let mut seen: Vec<&str> = Vec::new();
    for name in expr
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|n| n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
    {
        if seen.contains(&name) || seen.len() > 32 {
            continue;
        }
        seen.push(name);
        if let Some(value) = scope.var(name)
            && (value.contains("$(") || value.contains('`') || value.contains('['))
        {
            arithmetic(&value, scope, depth + 1);
        }
    }
}

/// The subscript of `name[subscript]…` (an array element named to a builtin), which bash
/// evaluates as arithmetic.
pub fn subscript(text: &str) -> Option<&str> {
    let open = text.find('[')?;
    let close = text.rfind(']')?;
    (close > open).then(|| &text[open + 1..close])
}

/// The code of every `$(…)` and backquoted substitution in `text` (quotes followed, nested
/// arithmetic `$((` passed through); `None` when one is not closed.
pub fn command_substitutions(text: &str) -> Option<Vec<String>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'$' if bytes.get(i + 1) == Some(&b'(') && bytes.get(i + 2) != Some(&b'(') => {
                let start = i + 2;
                let end = closing_paren(bytes, start)?;
                out.push(text.get(start..end)?.to_owned());
                i = end + 1;
            }
            b'`' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'`' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                if j >= bytes.len() {
                    return None;
                }
                out.push(unescape_backquoted(text.get(start..j)?));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    Some(out)
}

/// The index of the `)` closing a `$(` whose code starts at `start`.
fn closing_paren(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut j = start;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 1,
            b'\'' => {
                j += 1;
                while j < bytes.len() && bytes[j] != b'\'' {
                    j += 1;
                }
            }
            b'"' => {
                j += 1;
                while j < bytes.len() && bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Scope for Fixed {
        fn home(&self) -> Option<String> {
            Some("/home/u".into())
        }
        fn pwd(&self) -> Option<String> {
            Some("/w".into())
        }
        fn var(&self, name: &str) -> Option<String> {
            (name == "F").then(|| "/etc/shadow".into())
        }
        fn nested_code(&mut self, _: &str) -> Option<String> {
            None
        }
        fn opaque(&mut self, _: String) {}
    }

    fn lits(raw: &str) -> Vec<String> {
        expand(raw, &mut Fixed)
            .into_iter()
            .map(|f| match f {
                Field::Lit { text, .. } => text,
                Field::Dyn(why) => format!("DYN({why})"),
            })
            .collect()
    }

    #[test]
    fn quote_removal_escapes_and_braces() {
        assert_eq!(lits(r#"'/etc'/"pass"wd"#), ["/etc/passwd"]);
        assert_eq!(lits(r"\/etc\/shadow"), ["/etc/shadow"]);
        assert_eq!(lits("/etc/{passwd,shadow}"), ["/etc/passwd", "/etc/shadow"]);
        assert_eq!(lits("'/etc/{a,b}'"), ["/etc/{a,b}"]);
        assert_eq!(lits("f{1..3}"), ["f1", "f2", "f3"]);
        assert_eq!(lits(r"$'/etc/\x70asswd'"), ["/etc/passwd"]);
        assert_eq!(lits(r"$'\057etc'"), ["/etc"]);
        assert_eq!(lits("~/.ssh/id_rsa"), ["/home/u/.ssh/id_rsa"]);
        assert_eq!(lits("$HOME/.aws"), ["/home/u/.aws"]);
        assert_eq!(lits("${F}"), ["/etc/shadow"]);
        assert!(lits("$OTHER/x")[0].starts_with("DYN"));
        assert!(lits("$(echo /etc)")[0].starts_with("DYN"));
        assert!(lits("{1..99999999999}")[0].starts_with("DYN"));
    }

    struct Split;
    impl Scope for Split {
        fn home(&self) -> Option<String> {
            None
        }
        fn pwd(&self) -> Option<String> {
            None
        }
        fn var(&self, name: &str) -> Option<String> {
            match name {
                "F" => Some(" .env  a.txt\tb ".into()),
                "G" => Some(".en*".into()),
                "E" => Some(String::new()),
                _ => None,
            }
        }
        fn nested_code(&mut self, _: &str) -> Option<String> {
            None
        }
        fn opaque(&mut self, _: String) {}
    }

    #[test]
    fn unquoted_expansions_split_and_glob() {
        let texts = |raw: &str| -> Vec<String> {
            expand(raw, &mut Split)
                .into_iter()
                .map(|f| f.lit().unwrap_or("DYN").to_owned())
                .collect()
        };
        assert_eq!(texts("$F"), [".env", "a.txt", "b"]);
        assert_eq!(texts("x$F"), ["x", ".env", "a.txt", "b"]);
        assert_eq!(texts("\"$F\""), [" .env  a.txt\tb "]);
        assert!(texts("$E").is_empty());
        assert_eq!(texts("\"$E\""), [""]);
        assert_eq!(texts("''$E"), [""]);
        assert!(matches!(
            expand("$G", &mut Split).as_slice(),
            [Field::Lit { glob: Some(p), .. }] if p == ".en*"
        ));
        assert!(matches!(
            expand("\"$G\"", &mut Split).as_slice(),
            [Field::Lit { glob: None, .. }]
        ));
        // Assignments, redirections and `case` subjects are not split.
        assert_eq!(
            expand_single("$F", &mut Split).lit(),
            Some(" .env  a.txt\tb ")
        );
    }

    #[test]
    fn globs_only_when_unquoted() {
        let f = expand_single("/etc/pass*", &mut Fixed);
        assert!(matches!(f, Field::Lit { glob: Some(_), .. }));
        let f = expand_single("'/etc/pass*'", &mut Fixed);
        assert!(matches!(f, Field::Lit { glob: None, .. }));
    }
}
