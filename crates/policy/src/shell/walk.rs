//! Walking the parsed command: shell state (directories, variables, functions) and the
//! structure of lists, pipelines and compound commands. What each simple command does is
//! in `commands`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::world::{Budget, World};

use brush_parser::ast::{
    self, AndOr, Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList,
    IoFileRedirectKind, IoFileRedirectTarget, IoRedirect, Pipeline, SeparatorOperator,
};
use brush_parser::word::{self as bword, WordPiece};

use super::words::{self, Field, Scope};
use super::{Analysis, MAX_ACCESSES, MAX_DEPTH, MAX_NODES, PathAccess, RemoteUse};
use crate::paths;
use crate::target::Access;

/// More possible working directories than this are not tracked.
const MAX_CWDS: usize = 8;
/// A glob that matches more than this is checked by its directory only.
const MAX_GLOB_MATCHES: usize = 256;
/// A `for` loop over more literal values than this runs its body with the variable unknown.
const MAX_LOOP_VALUES: usize = 16;

/// Files that are not files: reading or writing them touches nothing a policy names.
const PSEUDO_FILES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
];

/// The text a process substitution expands to; a pipe, not a file. Further ones in the same
/// command count down from it (`/dev/fd/62` …), as bash numbers them, so each can be told
/// apart when a shell or interpreter runs it as a program.
pub const PROCESS_SUBSTITUTION: &str = "/dev/fd/63";

/// Whether `text` is what a process substitution expands to.
pub fn is_process_substitution(text: &str) -> bool {
    text.strip_prefix("/dev/fd/")
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| (10..=63).contains(&n))
}

/// Names under which a program reads its standard input as a file.
const STDIN_NAMES: &[&str] = &[
    "-",
    "/dev/stdin",
    "/dev/fd/0",
    "/proc/self/fd/0",
    "/proc/thread-self/fd/0",
];

/// Scripts, makefiles, sed and awk programs read from disk are analysed up to this size.
pub const MAX_PROGRAM_BYTES: u64 = 256 * 1024;

/// The program a shell, interpreter or editor is told to run from a file operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Text written on the command line itself: a heredoc, a here-string, `<(echo '…')`.
    Literal(String),
    /// The content of a file on disk (a program hookledger has not seen).
    File(String),
    /// The tool's own (empty) input: nothing runs.
    Nothing,
    /// It cannot be read now; why.
    Unknown(String),
}

/// Shell state that commands change and later words depend on.
#[derive(Debug, Clone)]
pub struct Env {
    /// Every directory the shell may be in at this point; `None` when one cannot be followed.
    pub cwds: Option<Vec<PathBuf>>,
    /// Variables with a literal value (`Some`) or assigned something unknown (`None`).
    pub vars: HashMap<String, Option<String>>,
    pub dir_stack: Vec<Option<Vec<PathBuf>>>,
}

impl Env {
    /// After `self` or `other` (a branch that may or may not have run).
    pub fn merge(&mut self, other: &Env) {
        self.cwds = match (self.cwds.take(), &other.cwds) {
            (Some(mut a), Some(b)) => {
                for d in b {
                    if !a.contains(d) {
                        a.push(d.clone());
                    }
                }
                (a.len() <= MAX_CWDS).then_some(a)
            }
            _ => None,
        };
        for (name, value) in &other.vars {
            match self.vars.get(name) {
                Some(v) if v == value => {}
                _ => {
                    self.vars.insert(name.clone(), None);
                }
            }
        }
        for name in self.vars.keys().cloned().collect::<Vec<_>>() {
            if !other.vars.contains_key(&name) {
                self.vars.insert(name, None);
            }
        }
    }

    pub fn single_cwd(&self) -> Option<&Path> {
        match &self.cwds {
            Some(c) if c.len() == 1 => Some(&c[0]),
            _ => None,
        }
    }
}

/// Where a command's standard input comes from, for shells and interpreters that read a
/// program from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// The tool's own input: nothing.
    Inherited,
    /// Known text: a heredoc, a here-string, the output of `echo 'literal'`.
    Literal(String),
    /// The output of another command, or a heredoc with expansions.
    Unknown,
    /// A file redirected in (`< x.sh`). Read only by the commands that run their input
    /// (see [`Walker::stdin_text`]), so `wc -l < big.log` costs nothing.
    File(String),
}

pub struct Walker<'h> {
    pub home: Option<&'h Path>,
    /// Repository facts (roots, remotes) and the time budget.
    pub world: &'h dyn World,
    budget: Budget,
    pub out: Analysis,
    pub depth: usize,
    nodes: usize,
    functions: HashMap<String, ast::FunctionBody>,
    started: Instant,
    /// (text, access, search root, directories) already resolved.
    seen: HashSet<(String, Access, bool, Option<Vec<PathBuf>>)>,
    gave_up: bool,
    /// Symlinks this command creates (where the link sits, what it points to): later words in
    /// the same command that go through them reach the target.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// Copies and links of the hookledger binary this command makes.
    pub binary_aliases: Vec<PathBuf>,
    /// `shopt -s dotglob` (or `GLOBIGNORE`) was seen: globs match names starting with a dot.
    pub dotglob: bool,
    /// `shopt -s nocaseglob` was seen.
    pub nocaseglob: bool,
    /// `shopt -s globstar` was seen.
    pub globstar: bool,
    /// What each process substitution of the current command outputs, when that is literal.
    pub substitutions: HashMap<String, Option<String>>,
    /// Aliases defined so far (name, body): a command word naming one runs its body.
    pub aliases: HashMap<String, String>,
    /// Files this command writes before a later part of it may run them: with the literal
    /// text written (`cat > x.sh <<'EOF'`), or `None` when what is written is not known. A
    /// program read from one of them is that text, not what is on disk now.
    pub written: HashMap<PathBuf, Option<String>>,
    /// What a command that reads the shell's own input receives: the tool's (nothing) at the
    /// top, the input given to an enclosing compound command or function otherwise
    /// (`{ bash; } <<< 'cat .env'`, `echo 'cat .env' | (sh)`, `f <<< CODE`).
    pub inherited: Stdin,
    /// The fields of the word just expanded with its defaulted variables unset (see
    /// `words::expand`).
    unset_fields: Option<Vec<Field>>,
    /// What descriptors `exec` opened for reading hold (`exec 3<<< CODE; bash <&3`, and 0:
    /// `exec < x.sh; sh`), for the rest of the shell.
    fd_inputs: HashMap<i32, Stdin>,
    /// The input descriptors the last command's redirections opened.
    last_fds: Vec<(i32, Stdin)>,
}

/// How a recorded access is to be judged beyond its path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mark {
    pub vetted: bool,
    pub link_target: bool,
}

pub fn analyze(command: &str, cwd: &Path, home: Option<&Path>, world: &dyn World) -> Analysis {
    let mut walker = Walker::new(home, world, 0);
    // The Bash tool's command runs with no positional parameters: `"$@"` is nothing, `$1`
    // empty (no `#` entry means none; see `positional_count`).
    let mut env = Env {
        cwds: Some(vec![cwd.to_path_buf()]),
        vars: HashMap::new(),
        dir_stack: Vec::new(),
    };
    walker.program(command, &mut env);
    walker.out.accesses.dedup();
    walker.out.unanalyzable.dedup();
    walker.out
}

impl<'h> Walker<'h> {
    fn new(home: Option<&'h Path>, world: &'h dyn World, depth: usize) -> Walker<'h> {
        Walker {
            home,
            world,
            budget: world.budget(),
            out: Analysis::default(),
            depth,
            nodes: 0,
            functions: HashMap::new(),
            started: Instant::now(),
            seen: HashSet::new(),
            gave_up: false,
            links: Vec::new(),
            binary_aliases: Vec::new(),
            dotglob: false,
            nocaseglob: false,
            globstar: false,
            substitutions: HashMap::new(),
            aliases: HashMap::new(),
            written: HashMap::new(),
            inherited: Stdin::Inherited,
            unset_fields: None,
            fd_inputs: HashMap::new(),
            last_fds: Vec::new(),
        }
    }

    /// Whether the analysis is over its time or size budget (then it has said so once).
    fn exhausted(&mut self) -> bool {
        if self.gave_up {
            return true;
        }
        let over = match self.budget {
            Budget::Unlimited => None,
            // `>=`, so that a zero budget is spent at the first check whatever the clock says.
            Budget::Wall(limit) => (self.started.elapsed() >= limit).then_some(limit),
        };
        let why = if let Some(limit) = over {
            format!(
                "analysing the command took longer than {} ms",
                limit.as_millis()
            )
        } else if self.out.accesses.len() > MAX_ACCESSES {
            format!("the command names more than {MAX_ACCESSES} paths")
        } else {
            return false;
        };
        self.gave_up = true;
        self.opaque(why);
        true
    }

    pub fn glob_options(&self) -> GlobOptions {
        GlobOptions {
            dotglob: self.dotglob,
            nocase: self.nocaseglob,
            globstar: self.globstar,
        }
    }

    /// Runs `f` with `stdin` as what commands that read the shell's input receive: the code
    /// of `sh -c`, `eval`, a script or a sourced file reads the input of the command that
    /// runs it.
    pub fn with_input<T>(&mut self, stdin: Stdin, f: impl FnOnce(&mut Self) -> T) -> T {
        let outer = std::mem::replace(&mut self.inherited, stdin);
        let exec_input = self.fd_inputs.remove(&0);
        let out = f(self);
        self.inherited = outer;
        if let Some(input) = exec_input {
            self.fd_inputs.insert(0, input);
        }
        out
    }

    /// The shell's own input now: what `exec <…` gave it, else what it inherited.
    fn shell_input(&self) -> Stdin {
        self.fd_inputs
            .get(&0)
            .cloned()
            .unwrap_or_else(|| self.inherited.clone())
    }

    /// Whether the analysis is over its budget (for loops over data: archive members).
    pub fn exhausted_now(&mut self) -> bool {
        self.exhausted()
    }

    pub fn opaque(&mut self, why: impl Into<String>) {
        self.out.opaque_beyond_reads = true;
        self.opaque_read(why);
    }

    /// Something unknown that can only be read (a path of unknown value given to a reader).
    pub fn opaque_read(&mut self, why: impl Into<String>) {
        let why = why.into();
        if !self.out.unanalyzable.contains(&why) && self.out.unanalyzable.len() < 16 {
            self.out.unanalyzable.push(why);
        }
    }

    /// A self-protection refusal, whatever paths the command names.
    pub fn refuse(&mut self, why: impl Into<String>) {
        let why = why.into();
        if !self.out.refusals.contains(&why) && self.out.refusals.len() < 16 {
            self.out.refusals.push(why);
        }
    }

    fn tick(&mut self) -> bool {
        if self.exhausted() {
            return false;
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.opaque(format!("the command has more than {MAX_NODES} parts"));
            return false;
        }
        true
    }

    /// Parses and walks `source` as a program run in the shell state `env`.
    pub fn program(&mut self, source: &str, env: &mut Env) {
        self.walk_program(source, env, false);
    }

    /// Walks the code of a command substitution in a subshell of `env`; returns what it
    /// prints when that is literal text (one `echo`, `printf` or `cat` of a heredoc or of a
    /// file this command wrote), so that `$(echo .env)` is `.env`.
    pub fn program_output(&mut self, source: &str, env: &mut Env) -> Option<String> {
        self.walk_program(source, env, true)
    }

    fn walk_program(&mut self, source: &str, env: &mut Env, output: bool) -> Option<String> {
        if self.depth >= MAX_DEPTH {
            self.opaque(format!("nesting deeper than {MAX_DEPTH} levels"));
            return None;
        }
        if source.len() > super::MAX_COMMAND_BYTES {
            self.opaque("nested code longer than the analysed maximum");
            return None;
        }
        if let Some(why) = super::refused_shape(source) {
            self.opaque(format!("nested code {why}"));
            return None;
        }
        let options = words::options();
        let parsed =
            brush_parser::Parser::new(std::io::BufReader::new(source.as_bytes()), &options)
                .parse_program();
        let program = match parsed {
            Ok(p) => p,
            Err(e) => {
                let first_line = e.to_string();
                let first_line = first_line.lines().next().unwrap_or("").trim().to_owned();
                self.opaque(format!("the shell code could not be parsed ({first_line})"));
                return None;
            }
        };
        let before = output.then(|| env.clone());
        self.depth += 1;
        for list in &program.complete_commands {
            self.compound_list(list, env);
        }
        self.depth -= 1;
        let mut before = before?;
        match program.complete_commands.as_slice() {
            [list] => list_literal_output(list, &mut before, self),
            _ => None,
        }
    }

    /// Code that runs in a subshell: its directory changes do not come back.
    pub fn subshell_program(&mut self, source: &str, env: &Env) {
        let mut inner = env.clone();
        self.program(source, &mut inner);
    }

    fn compound_list(&mut self, list: &CompoundList, env: &mut Env) {
        for ast::CompoundListItem(and_or, separator) in &list.0 {
            if !self.tick() {
                return;
            }
            if matches!(separator, SeparatorOperator::Async) {
                let mut background = env.clone();
                self.and_or(and_or, &mut background);
            } else {
                self.and_or(and_or, env);
            }
        }
    }

    fn and_or(&mut self, list: &ast::AndOrList, env: &mut Env) {
        if list.additional.is_empty() {
            self.pipeline(&list.first, env);
            return;
        }
        // Whether a later part runs depends on exit codes. After `a && b`, b sees the state a
        // left (it only runs if a succeeded); once an `||` is involved, a part sees every
        // state the earlier parts may have left. What follows the list sees all of them,
        // including the state before it (a failed `cd` changes nothing).
        let mut state = env.clone();
        self.pipeline(&list.first, &mut state);
        let mut union = env.clone();
        union.merge(&state);
        let mut only_ands = true;
        for next in &list.additional {
            let mut run = match next {
                AndOr::And(_) if only_ands => state.clone(),
                _ => union.clone(),
            };
            let (AndOr::And(p) | AndOr::Or(p)) = next;
            if matches!(next, AndOr::Or(_)) {
                only_ands = false;
            }
            self.pipeline(p, &mut run);
            union.merge(&run);
            state = run;
        }
        *env = union;
    }

    fn pipeline(&mut self, pipeline: &Pipeline, env: &mut Env) {
        if pipeline.seq.len() == 1 {
            let stdin = self.shell_input();
            self.command(&pipeline.seq[0], env, stdin.clone());
            self.record_written(&pipeline.seq[0], env, &stdin);
            return;
        }
        let mut stdin = self.shell_input();
        for command in &pipeline.seq {
            let mut part = env.clone();
            let literal = literal_output(command, &mut part, self, &stdin);
            self.command(command, &mut part, stdin.clone());
            self.record_written(command, &part, &stdin);
            stdin = literal.map_or(Stdin::Unknown, Stdin::Literal);
        }
    }

    /// What a command writes with `>`/`>|` (or `tee`) when its output is literal text: a
    /// later part of the command that runs the file runs that text.
    fn record_written(&mut self, command: &Command, env: &Env, stdin: &Stdin) {
        let Command::Simple(simple) = command else {
            return;
        };
        let mut targets: Vec<(String, bool)> = Vec::new();
        for item in simple
            .prefix
            .iter()
            .flat_map(|p| p.0.iter())
            .chain(simple.suffix.iter().flat_map(|s| s.0.iter()))
        {
            if let CommandPrefixOrSuffixItem::IoRedirect(IoRedirect::File(
                fd,
                kind,
                IoFileRedirectTarget::Filename(word),
            )) = item
                && fd.is_none_or(|f| f == 1)
                && matches!(
                    kind,
                    IoFileRedirectKind::Write
                        | IoFileRedirectKind::Clobber
                        | IoFileRedirectKind::Append
                )
                && let Field::Lit { text, glob: None } = self.expand_single(&word.value, env)
            {
                targets.push((text, matches!(kind, IoFileRedirectKind::Append)));
            }
        }
        let name = simple.word_or_name.as_ref().map(|w| w.value.as_str());
        let tee = name == Some("tee");
        if tee {
            for item in simple.suffix.iter().flat_map(|s| s.0.iter()) {
                if let CommandPrefixOrSuffixItem::Word(w) = item
                    && !w.value.starts_with('-')
                    && let Field::Lit { text, glob: None } = self.expand_single(&w.value, env)
                {
                    targets.push((text, false));
                }
            }
        }
        if targets.is_empty() {
            return;
        }
        let text = if tee {
            match self.stdin_text(env, stdin) {
                Stdin::Literal(t) => Some(t),
                _ => None,
            }
        } else {
            let mut scratch_env = env.clone();
            literal_output(command, &mut scratch_env, self, stdin)
        };
        for (target, append) in targets {
            for path in self.resolve(env, &target, "a redirection") {
                let value = if append { None } else { text.clone() };
                self.written.insert(path, value);
            }
        }
    }

    fn command(&mut self, command: &Command, env: &mut Env, stdin: Stdin) {
        if !self.tick() {
            return;
        }
        match command {
            Command::Simple(simple) => self.simple(simple, env, stdin),
            Command::Compound(compound, redirects) => {
                let stdin = match redirects {
                    Some(list) => self.redirects(&list.0, env, stdin),
                    None => stdin,
                };
                // Every command inside may read what the compound command is given.
                let outer = std::mem::replace(&mut self.inherited, stdin);
                self.compound(compound, env);
                self.inherited = outer;
            }
            Command::Function(def) => {
                self.functions
                    .insert(def.fname.value.clone(), def.body.clone());
                // Bash calls this one for every command it cannot find: it may run at any
                // later point, so its body is walked where it is defined.
                if def.fname.value == "command_not_found_handle" {
                    let mut inner = env.clone();
                    let outer = inner.clone();
                    let stdin = self.inherited.clone();
                    self.call_function(&def.fname.value, &mut inner, &outer, &[], stdin);
                }
            }
            Command::ExtendedTest(test, redirects) => {
                self.extended_test(&test.expr, env);
                if let Some(list) = redirects {
                    self.redirects(&list.0, env, stdin);
                }
            }
        }
    }

    fn extended_test(&mut self, expr: &ast::ExtendedTestExpr, env: &mut Env) {
        use ast::ExtendedTestExpr as E;
        match expr {
            E::And(a, b) | E::Or(a, b) => {
                self.extended_test(a, env);
                self.extended_test(b, env);
            }
            E::Not(a) | E::Parenthesized(a) => self.extended_test(a, env),
            E::UnaryTest(_, w) => {
                self.expand(&w.value, env);
            }
            E::BinaryTest(_, a, b) => {
                self.expand(&a.value, env);
                self.expand(&b.value, env);
            }
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.depth >= MAX_DEPTH {
            self.opaque(format!("nesting deeper than {MAX_DEPTH} levels"));
            return None;
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        Some(out)
    }

    fn compound(&mut self, compound: &CompoundCommand, env: &mut Env) {
        self.nested(|w| match compound {
            CompoundCommand::BraceGroup(g) => w.compound_list(&g.list, env),
            CompoundCommand::Subshell(s) => {
                let mut inner = env.clone();
                w.compound_list(&s.list, &mut inner);
            }
            CompoundCommand::IfClause(c) => {
                w.compound_list(&c.condition, env);
                let before = env.clone();
                let mut then = before.clone();
                w.compound_list(&c.then, &mut then);
                env.merge(&then);
                for clause in c.elses.iter().flatten() {
                    let mut branch = before.clone();
                    if let Some(cond) = &clause.condition {
                        w.compound_list(cond, &mut branch);
                    }
                    w.compound_list(&clause.body, &mut branch);
                    env.merge(&branch);
                }
            }
            CompoundCommand::WhileClause(c) | CompoundCommand::UntilClause(c) => {
                let mut body = env.clone();
                w.compound_list(&c.0, &mut body);
                w.compound_list(&c.1.list, &mut body);
                // A second pass sees the state a first iteration may leave.
                w.compound_list(&c.0, &mut body);
                w.compound_list(&c.1.list, &mut body);
                env.merge(&body);
            }
            CompoundCommand::ForClause(f) => w.for_clause(f, env),
            CompoundCommand::ArithmeticForClause(f) => {
                for e in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    w.arithmetic(&e.value, env);
                }
                let mut body = env.clone();
                w.compound_list(&f.body.list, &mut body);
                env.merge(&body);
            }
            CompoundCommand::CaseClause(c) => {
                w.expand(&c.value.value, env);
                let before = env.clone();
                for item in &c.cases {
                    for pattern in &item.patterns {
                        w.expand(&pattern.value, env);
                    }
                    if let Some(cmd) = &item.cmd {
                        let mut branch = before.clone();
                        w.compound_list(cmd, &mut branch);
                        env.merge(&branch);
                    }
                }
            }
            CompoundCommand::Arithmetic(a) => w.arithmetic(&a.expr.value, env),
            CompoundCommand::Coprocess(c) => {
                let mut inner = env.clone();
                w.command(&c.body, &mut inner, Stdin::Unknown);
            }
        });
    }

    /// An arithmetic expression: the code inside it runs (see [`words::arithmetic`]).
    pub fn arithmetic(&mut self, text: &str, env: &Env) {
        let mut scope = WordScope { walker: self, env };
        words::arithmetic(text, &mut scope, 0);
    }

    fn for_clause(&mut self, f: &ast::ForClauseCommand, env: &mut Env) {
        let values: Vec<Field> = match &f.values {
            Some(words) => words
                .iter()
                .flat_map(|w| self.expand(&w.value, env))
                .collect(),
            None => vec![Field::Dyn("the positional parameters".into())],
        };
        let mut literal: Vec<String> = Vec::new();
        let mut known = true;
        for v in &values {
            match v {
                Field::Lit {
                    glob: Some(pattern),
                    ..
                } => match self.glob_values(pattern, env) {
                    Some(matches) => literal.extend(matches),
                    None => known = false,
                },
                Field::Lit { text, .. } => literal.push(text.clone()),
                Field::Dyn(_) => known = false,
            }
        }
        let iterations: Vec<Option<String>> = if known && literal.len() <= MAX_LOOP_VALUES {
            literal.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        let before = env.clone();
        for value in iterations {
            let mut body = before.clone();
            body.vars.insert(f.variable_name.clone(), value);
            self.compound_list(&f.body.list, &mut body);
            env.merge(&body);
        }
        env.vars.insert(f.variable_name.clone(), None);
    }

    /// The words a glob in a `for` list expands to, relative to the single known directory.
    fn glob_values(&mut self, pattern: &str, env: &Env) -> Option<Vec<String>> {
        let cwd = env.single_cwd()?.to_path_buf();
        let absolute = Path::new(pattern).is_absolute();
        let base = if absolute {
            PathBuf::from(pattern)
        } else {
            cwd.join(pattern)
        };
        let matches = glob_matches(&base, self.glob_options())?;
        Some(
            matches
                .into_iter()
                .filter_map(|m| {
                    if absolute {
                        Some(m.to_string_lossy().into_owned())
                    } else {
                        m.strip_prefix(&cwd)
                            .ok()
                            .map(|r| r.to_string_lossy().into_owned())
                    }
                })
                .collect(),
        )
    }

    /// Expands a word, walking any code inside it.
    pub fn expand(&mut self, raw: &str, env: &Env) -> Vec<Field> {
        self.unset_fields = None;
        let mut scope = WordScope { walker: self, env };
        words::expand(raw, &mut scope)
    }

    pub fn expand_single(&mut self, raw: &str, env: &Env) -> Field {
        let mut scope = WordScope { walker: self, env };
        words::expand_single(raw, &mut scope)
    }

    fn simple(&mut self, simple: &ast::SimpleCommand, env: &mut Env, stdin: Stdin) {
        let mut assignments: Vec<(String, Option<String>)> = Vec::new();
        let mut raw_words: Vec<&str> = Vec::new();
        let mut suffix_assignments: Vec<(String, Option<String>)> = Vec::new();
        let mut redirects: Vec<&IoRedirect> = Vec::new();
        let mut substitutions: Vec<(usize, Option<String>)> = Vec::new();
        let prefix = simple.prefix.iter().flat_map(|p| p.0.iter());
        for item in prefix {
            match item {
                CommandPrefixOrSuffixItem::AssignmentWord(a, _) => {
                    let entries = self.assignment_entries(a, env);
                    assignments.extend(entries);
                }
                CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r),
                CommandPrefixOrSuffixItem::Word(w) => raw_words.push(&w.value),
                CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => {
                    let mut inner = env.clone();
                    self.nested(|w| w.compound_list(&sub.list, &mut inner));
                }
            }
        }
        if let Some(name) = &simple.word_or_name {
            raw_words.push(&name.value);
        }
        for item in simple.suffix.iter().flat_map(|s| s.0.iter()) {
            match item {
                CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
                    let entries = self.assignment_entries(a, env);
                    suffix_assignments.extend(entries);
                    raw_words.push(&w.value);
                }
                CommandPrefixOrSuffixItem::IoRedirect(r) => redirects.push(r),
                CommandPrefixOrSuffixItem::Word(w) => raw_words.push(&w.value),
                CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => {
                    let mut inner = env.clone();
                    self.nested(|w| w.compound_list(&sub.list, &mut inner));
                    let literal = list_literal_output(&sub.list, &mut inner, self);
                    substitutions.push((raw_words.len(), literal));
                    raw_words.push(PROCESS_SUBSTITUTION);
                }
            }
        }
        let mut argv: Vec<Field> = Vec::new();
        // The command as it runs when the variables words give defaults for are unset
        // (`cat ${X:-.env}` reads `.env` then): judged too.
        let mut unset_argv: Option<Vec<Field>> = None;
        self.substitutions.clear();
        for (i, raw) in raw_words.iter().enumerate() {
            if let Some(k) = substitutions.iter().position(|(at, _)| *at == i) {
                let text = format!("/dev/fd/{}", 63usize.saturating_sub(k).max(10));
                self.substitutions
                    .insert(text.clone(), substitutions[k].1.clone());
                let field = Field::Lit { text, glob: None };
                if let Some(u) = unset_argv.as_mut() {
                    u.push(field.clone());
                }
                argv.push(field);
            } else {
                let fields = self.expand(raw, env);
                let unset = self.unset_fields.take();
                if unset.is_some() && unset_argv.is_none() {
                    unset_argv = Some(argv.clone());
                }
                if let Some(u) = unset_argv.as_mut() {
                    u.extend(unset.unwrap_or_else(|| fields.clone()));
                }
                argv.extend(fields);
            }
        }
        // `${X:=value}` assigns X as it expands: what X holds afterwards is not followed.
        for raw in &raw_words {
            forget_default_assignments(raw, env);
        }
        let owned: Vec<IoRedirect> = redirects.into_iter().cloned().collect();
        let stdin = self.redirects(&owned, env, stdin);
        // `exec` with only redirections opens them for the rest of the shell.
        if argv.len() == 1 && argv[0].lit() == Some("exec") {
            for (fd, input) in std::mem::take(&mut self.last_fds) {
                self.fd_inputs.insert(fd, input);
            }
        }
        if argv.is_empty() {
            // Plain assignments last for the rest of the shell.
            for (name, value) in assignments {
                self.check_special_variable(env, &name, value.as_deref(), None);
                env.vars.insert(name, value);
            }
            return;
        }
        let mut command_env = env.clone();
        for (name, value) in &assignments {
            command_env.vars.insert(name.clone(), value.clone());
        }
        let unset_call = unset_argv.filter(|u| !u.is_empty()).map(|argv| {
            let call = super::commands::Call {
                argv,
                prefix_assignments: assignments.clone(),
                suffix_assignments: suffix_assignments.clone(),
                stdin: stdin.clone(),
            };
            (call, env.clone())
        });
        let call = super::commands::Call {
            argv,
            prefix_assignments: assignments,
            suffix_assignments,
            stdin,
        };
        super::commands::run(self, env, &command_env, call);
        if let Some((call, mut other)) = unset_call {
            super::commands::run(self, &mut other, &command_env, call);
            env.merge(&other);
        }
    }

    /// What an assignment sets, as variables: a scalar's name and value; for an array
    /// (`a=(x y)`, `a+=(z)`, `a[1]=y`) also its elements under `a[0]` … and their count under
    /// `a[#]`, with `a` itself standing for element 0 as in bash. What cannot be followed (a
    /// key, a glob, an index computed at run time, a gap) makes the elements or their count
    /// unknown, never stale.
    fn assignment_entries(
        &mut self,
        a: &ast::Assignment,
        env: &Env,
    ) -> Vec<(String, Option<String>)> {
        let count_of = |name: &str| -> Option<usize> {
            env.vars
                .get(&format!("{name}[#]"))
                .cloned()
                .flatten()
                .and_then(|c| c.parse().ok())
        };
        match (&a.name, &a.value) {
            (ast::AssignmentName::VariableName(name), ast::AssignmentValue::Array(items)) => {
                let mut elements: Option<Vec<String>> = Some(Vec::new());
                for (key, value) in items {
                    if let Some(k) = key {
                        self.expand(&k.value, env);
                        self.expand(&value.value, env);
                        elements = None;
                        continue;
                    }
                    for field in self.expand(&value.value, env) {
                        match (field, elements.as_mut()) {
                            (Field::Lit { text, glob: None }, Some(list)) => list.push(text),
                            // `files=(src/*.rs)`: what the pattern matches now, as in `for`.
                            (
                                Field::Lit {
                                    text,
                                    glob: Some(p),
                                },
                                Some(_),
                            ) => {
                                match (self.glob_values(&p, env), elements.as_mut()) {
                                    // Nothing matches: the word stays as written.
                                    (Some(matches), Some(list)) if matches.is_empty() => {
                                        list.push(text);
                                    }
                                    (Some(mut matches), Some(list)) => {
                                        matches.sort();
                                        list.extend(matches);
                                    }
                                    _ => elements = None,
                                }
                            }
                            _ => elements = None,
                        }
                    }
                }
                let start = if a.append { count_of(name) } else { Some(0) };
                match (start, elements) {
                    (Some(start), Some(list)) if start + list.len() <= 256 => {
                        let mut out =
                            vec![(format!("{name}[#]"), Some((start + list.len()).to_string()))];
                        if start == 0 {
                            out.push((
                                name.clone(),
                                Some(list.first().cloned().unwrap_or_default()),
                            ));
                        }
                        for (k, v) in list.into_iter().enumerate() {
                            out.push((format!("{name}[{}]", start + k), Some(v)));
                        }
                        out
                    }
                    // Appending to a list of unknown length leaves element 0 as it was.
                    _ if a.append => vec![(format!("{name}[#]"), None)],
                    _ => vec![(format!("{name}[#]"), None), (name.clone(), None)],
                }
            }
            (ast::AssignmentName::ArrayElementName(name, index), _) => {
                let value = self.assignment_value(a, env);
                let index = self.expand_single(index, env);
                // `BASH_ALIASES[c]='cat .env'` defines an alias; `BASH_CMDS[c]=/bin/sh`
                // makes `c` run that program.
                if matches!(name.as_str(), "BASH_ALIASES" | "BASH_CMDS") {
                    match (index.lit(), &value) {
                        (Some(alias), Some(body)) => {
                            let body = if name == "BASH_CMDS" {
                                format!("'{}'", body.replace('\'', r"'\''"))
                            } else {
                                body.clone()
                            };
                            self.subshell_program(&body, env);
                            self.aliases.insert(alias.to_owned(), body);
                        }
                        _ => self.opaque(format!(
                            "{name}[…] defines a command name from text computed at run time"
                        )),
                    }
                }
                match index.lit().and_then(|i| i.trim().parse::<usize>().ok()) {
                    Some(k) if k < 256 => {
                        let count = count_of(name);
                        let mut out = vec![(format!("{name}[{k}]"), value.clone())];
                        if k == 0 {
                            out.push((name.clone(), value));
                        }
                        let count = match count {
                            Some(c) if k < c => Some(c),
                            Some(c) if k == c => Some(c + 1),
                            _ => None,
                        };
                        out.push((format!("{name}[#]"), count.map(|c| c.to_string())));
                        out
                    }
                    _ => vec![(format!("{name}[#]"), None), (name.clone(), None)],
                }
            }
            (ast::AssignmentName::VariableName(name), _) => {
                vec![(name.clone(), self.assignment_value(a, env))]
            }
        }
    }

    fn assignment_value(&mut self, a: &ast::Assignment, env: &Env) -> Option<String> {
        // `a[$(cmd)]=1`: the subscript is arithmetic, and its code runs.
        if let ast::AssignmentName::ArrayElementName(_, index) = &a.name {
            self.arithmetic(index, env);
        }
        match &a.value {
            ast::AssignmentValue::Scalar(w) => match self.expand_single(&w.value, env) {
                Field::Lit { text, .. } if !a.append => Some(text),
                _ => None,
            },
            ast::AssignmentValue::Array(items) => {
                for (key, value) in items {
                    if let Some(k) = key {
                        self.expand(&k.value, env);
                    }
                    self.expand(&value.value, env);
                }
                None
            }
        }
    }

    /// Variables that change which program runs or what it loads make the rest unknowable.
    pub fn check_special_variable(
        &mut self,
        env: &Env,
        name: &str,
        value: Option<&str>,
        command: Option<&str>,
    ) {
        const HIJACKING: &[&str] = &[
            "PATH",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "DYLD_INSERT_LIBRARIES",
            "DYLD_LIBRARY_PATH",
            "BASH_ENV",
            "ENV",
            "PROMPT_COMMAND",
            "IFS",
            "CDPATH",
            "NODE_OPTIONS",
            "PERL5OPT",
            "PERL5LIB",
            "RUBYOPT",
            "PYTHONSTARTUP",
            "PYTHONPATH",
            "PYTHONHOME",
            "GIT_SSH",
            "GIT_SSH_COMMAND",
            "GIT_PROXY_COMMAND",
            "GIT_ASKPASS",
            "GIT_EXEC_PATH",
            "GIT_CONFIG_PARAMETERS",
            "GIT_CONFIG_COUNT",
            "GIT_EXTERNAL_DIFF",
            "GIT_TEMPLATE_DIR",
            "SHELLOPTS",
            "BASHOPTS",
            // Modules, agents and startup files loaded by the programs they reach.
            "GCONV_PATH",
            "RUBYLIB",
            "NODE_PATH",
            "PERLLIB",
            "PERL5DB",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "DOTNET_STARTUP_HOOKS",
            "ZDOTDIR",
            // Where git, and much else, reads its configuration (a pager, hooks, aliases).
            "XDG_CONFIG_HOME",
        ];
        // Files an interactive program writes its history to when it exits.
        if matches!(
            name,
            "HISTFILE"
                | "LESSHISTFILE"
                | "NODE_REPL_HISTORY"
                | "PYTHON_HISTORY"
                | "MYSQL_HISTFILE"
                | "PSQL_HISTORY"
                | "SQLITE_HISTORY"
                | "REDISCLI_HISTFILE"
        ) && let Some(file) = value.filter(|v| !v.is_empty() && *v != "/dev/null")
        {
            let field = Field::Lit {
                text: file.to_owned(),
                glob: None,
            };
            self.access(env, &field, Access::Write, name);
        }
        if name == "GLOBIGNORE" {
            self.dotglob = true;
        }
        if is_git_config_variable(name) {
            self.refuse(format!(
                "the assignment {name}=… changes git's configuration for the commands it reaches, so it could set core.hooksPath and switch hookledger's git hooks off"
            ));
        }
        // `IFS= read -r line`: for a builtin that only splits its input, IFS changes how the
        // line is cut, not what runs (the value read is unknown past the default IFS anyway).
        let splits_only = name == "IFS"
            && matches!(
                command,
                Some("read" | "mapfile" | "readarray" | "echo" | "printf")
            );
        let hijacks = HIJACKING.contains(&name) && !splits_only;
        self.variable_code(env, name, value, command);
        if hijacks {
            let scope = command.map_or(String::from("the commands after it"), |c| c.to_owned());
            self.opaque(format!(
                "the assignment {name}=… changes what {scope} runs or loads"
            ));
        }
    }

    /// Variables whose value is code that programs run later (a pager, an editor, a prompt,
    /// `less`'s input filter, the command before each prompt): a literal value is walked as
    /// the shell code it is; an unknown one is opaque. Values that load code into a program
    /// (`LD_PRELOAD`, `NODE_OPTIONS`) are in the hijacking list instead.
    fn variable_code(&mut self, env: &Env, name: &str, value: Option<&str>, command: Option<&str>) {
        let shell_code = matches!(
            name,
            "PROMPT_COMMAND"
                | "GIT_EDITOR"
                | "GIT_SEQUENCE_EDITOR"
                | "EDITOR"
                | "VISUAL"
                | "PAGER"
                | "GIT_PAGER"
                | "MANPAGER"
                | "SYSTEMD_PAGER"
                | "BROWSER"
                | "GIT_SSH_COMMAND"
                | "GIT_EXTERNAL_DIFF"
                | "GIT_PROXY_COMMAND"
                | "FCEDIT"
                | "LESSOPEN"
                | "LESSCLOSE"
                | "LESSEDIT"
                | "RSYNC_RSH"
                | "RSYNC_CONNECT_PROG"
        );
        // Programs run by path (a script written a moment ago is walked as one). A value
        // computed at run time is most likely a tool's path (`CC=$(which clang)`).
        let program = matches!(
            name,
            "SSH_ASKPASS"
                | "SUDO_ASKPASS"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "CARGO_BUILD_RUSTC_WRAPPER"
                | "RUSTC"
                | "RUSTDOC"
                | "CC"
                | "CXX"
                | "npm_config_script_shell"
                | "NPM_CONFIG_SCRIPT_SHELL"
        ) || (name.starts_with("CARGO_TARGET_") && name.ends_with("_RUNNER"));
        if program && value.is_none() {
            return;
        }
        let shell_code = shell_code || program;
        // Prompt strings are expanded (command substitutions run) each time they are shown;
        // PS4 with `set -x` before every command.
        let prompt = matches!(name, "PS0" | "PS1" | "PS2" | "PS3" | "PS4");
        // make takes its environment as variables that recipes expand into shell lines
        // (`CC='cat .env' make` runs it through the implicit rules).
        let make_variable = !shell_code && matches!(command, Some("make" | "gmake"));
        if make_variable && value.is_none() {
            // Unknown, and most likely a compiler's path (`CC=$(which clang) make`).
            return;
        }
        let shell_code = shell_code || make_variable;
        // Files a shell sources before running a script.
        let sourced = matches!(name, "BASH_ENV" | "ENV");
        if !(shell_code || prompt || sourced) {
            return;
        }
        let scope = command.map_or(String::from("the commands after it"), |c| c.to_owned());
        let Some(value) = value else {
            self.opaque(format!(
                "the assignment {name}=… sets code that {scope} runs to a value known only at run time"
            ));
            return;
        };
        if sourced {
            let field = Field::Lit {
                text: value.to_owned(),
                glob: None,
            };
            self.access(env, &field, Access::Read, name);
            let mut shell = env.clone();
            self.script_file(&mut shell, &field, false);
            return;
        }
        if prompt {
            // Expanded like a double-quoted word.
            self.expand(&format!("\"{}\"", value.replace('"', "\\\"")), env);
            return;
        }
        let code = if matches!(name, "LESSOPEN" | "LESSCLOSE") {
            // `|cmd %s`, `||cmd %s`, `|-cmd %s`: the command is given the file name.
            value.trim_start_matches(['|', '-']).replace("%s", "file")
        } else {
            value.to_owned()
        };
        if matches!(value, "true" | ":" | "cat" | "") {
            return;
        }
        self.subshell_program(&code, env);
    }

    /// Applies redirections; returns the command's stdin after them.
    pub fn redirects(&mut self, redirects: &[IoRedirect], env: &Env, mut stdin: Stdin) -> Stdin {
        self.last_fds.clear();
        for r in redirects {
            match r {
                IoRedirect::File(fd, kind, target) => {
                    let access = match kind {
                        IoFileRedirectKind::Read => Some(Access::Read),
                        IoFileRedirectKind::Write
                        | IoFileRedirectKind::Append
                        | IoFileRedirectKind::Clobber
                        | IoFileRedirectKind::ReadAndWrite => Some(Access::Write),
                        IoFileRedirectKind::DuplicateInput
                        | IoFileRedirectKind::DuplicateOutput => None,
                    };
                    match target {
                        IoFileRedirectTarget::Filename(word) => {
                            let field = self.expand_single(&word.value, env);
                            self.access(
                                env,
                                &field,
                                access.unwrap_or(Access::Write),
                                "a redirection",
                            );
                            if matches!(kind, IoFileRedirectKind::Read) {
                                let input = field
                                    .lit()
                                    .map_or(Stdin::Unknown, |t| Stdin::File(t.to_owned()));
                                self.last_fds.push((fd.unwrap_or(0), input.clone()));
                                if fd.is_none_or(|f| f == 0) {
                                    stdin = input;
                                }
                            }
                        }
                        IoFileRedirectTarget::Duplicate(word) => {
                            let field = self.expand_single(&word.value, env);
                            // `<&3`: the input is what descriptor 3 holds.
                            if matches!(kind, IoFileRedirectKind::DuplicateInput) {
                                let from = field.lit().and_then(|t| t.parse::<i32>().ok());
                                let input = self.fd_input(from, &stdin);
                                self.last_fds.push((fd.unwrap_or(0), input.clone()));
                                if fd.is_none_or(|f| f == 0) {
                                    stdin = input;
                                }
                            }
                            match field.lit() {
                                Some(t)
                                    if t == "-"
                                        || t.trim_end_matches('-')
                                            .chars()
                                            .all(|c| c.is_ascii_digit()) => {}
                                // `>&file` writes stdout and stderr to a file.
                                _ => self.access(env, &field, Access::Write, "a redirection"),
                            }
                        }
                        IoFileRedirectTarget::Fd(from) => {
                            if matches!(kind, IoFileRedirectKind::DuplicateInput) {
                                let input = self.fd_input(Some(*from), &stdin);
                                self.last_fds.push((fd.unwrap_or(0), input.clone()));
                                if fd.is_none_or(|f| f == 0) {
                                    stdin = input;
                                }
                            }
                        }
                        IoFileRedirectTarget::ProcessSubstitution(_, sub) => {
                            let mut inner = env.clone();
                            self.nested(|w| w.compound_list(&sub.list, &mut inner));
                            // `bash < <(echo 'cat .env')`: the input is what it writes.
                            if matches!(kind, IoFileRedirectKind::Read) {
                                let input = list_literal_output(&sub.list, &mut inner, self)
                                    .map_or(Stdin::Unknown, Stdin::Literal);
                                self.last_fds.push((fd.unwrap_or(0), input.clone()));
                                if fd.is_none_or(|f| f == 0) {
                                    stdin = input;
                                }
                            }
                        }
                    }
                }
                IoRedirect::OutputAndError(word, _) => {
                    let field = self.expand_single(&word.value, env);
                    self.access(env, &field, Access::Write, "a redirection");
                }
                IoRedirect::HereString(fd, word) => {
                    let field = self.expand_single(&word.value, env);
                    let input = match field {
                        Field::Lit { text, .. } => Stdin::Literal(text),
                        Field::Dyn(_) => Stdin::Unknown,
                    };
                    self.last_fds.push((fd.unwrap_or(0), input.clone()));
                    if fd.is_none_or(|f| f == 0) {
                        stdin = input;
                    }
                }
                IoRedirect::HereDocument(fd, doc) => {
                    let body = self.heredoc_body(doc, env);
                    let input = body.map_or(Stdin::Unknown, Stdin::Literal);
                    self.last_fds.push((fd.unwrap_or(0), input.clone()));
                    if fd.is_none_or(|f| f == 0) {
                        stdin = input;
                    }
                }
            }
        }
        stdin
    }

    /// What descriptor `from` holds for reading: one this command's redirections opened, one
    /// `exec` opened, the input itself for 0; unknown otherwise.
    fn fd_input(&self, from: Option<i32>, stdin: &Stdin) -> Stdin {
        let Some(from) = from else {
            return Stdin::Unknown;
        };
        if let Some((_, input)) = self.last_fds.iter().rev().find(|(n, _)| *n == from) {
            return input.clone();
        }
        if from == 0 {
            return stdin.clone();
        }
        self.fd_inputs.get(&from).cloned().unwrap_or(Stdin::Unknown)
    }

    /// A heredoc's text as the command receives it; `None` when expansions make it unknown.
    /// Command substitutions in an unquoted body run, so they are walked.
    fn heredoc_body(&mut self, doc: &ast::IoHereDocument, env: &Env) -> Option<String> {
        let body = &doc.doc.value;
        if !doc.requires_expansion {
            return Some(body.clone());
        }
        let Ok(pieces) = bword::parse_heredoc(body, &words::options()) else {
            self.opaque("a heredoc body that cannot be read");
            return None;
        };
        let mut text = String::new();
        let mut known = true;
        for piece in pieces {
            match piece.piece {
                WordPiece::Text(t) | WordPiece::SingleQuotedText(t) => text.push_str(&t),
                WordPiece::EscapeSequence(e) => text.push_str(e.strip_prefix('\\').unwrap_or(&e)),
                WordPiece::CommandSubstitution(code) => {
                    self.subshell_program(&code, env);
                    known = false;
                }
                WordPiece::BackquotedCommandSubstitution(code) => {
                    self.subshell_program(&code.replace("\\`", "`"), env);
                    known = false;
                }
                WordPiece::ArithmeticExpression(e) => {
                    self.arithmetic(&e.value, env);
                    known = false;
                }
                _ => {
                    let source = body.get(piece.start_index..piece.end_index).unwrap_or("");
                    match self.expand_single(source, env) {
                        Field::Lit { text: t, .. } => text.push_str(&t),
                        Field::Dyn(_) => known = false,
                    }
                }
            }
        }
        known.then_some(text)
    }

    /// Records that `field` is read or written. A value unknown until run time in a path
    /// position is unanalyzable; a glob is checked for what it matches now and for its
    /// directory.
    pub fn access(&mut self, env: &Env, field: &Field, access: Access, role: &str) {
        self.access_marked(env, field, access, false, role, Mark::default());
    }

    /// [`Walker::access`] for a path whose whole tree is affected (`recursive`), with a mark.
    pub fn access_marked(
        &mut self,
        env: &Env,
        field: &Field,
        access: Access,
        recursive: bool,
        role: &str,
        mark: Mark,
    ) {
        match field {
            Field::Dyn(why) if access == Access::Read => {
                self.opaque_read(format!("{role} names a path through {why}"))
            }
            Field::Dyn(why) => self.opaque(format!("{role} names a path through {why}")),
            Field::Lit { text, glob } => {
                if PSEUDO_FILES.contains(&text.as_str()) || text.starts_with("/dev/fd/") {
                    return;
                }
                if text.is_empty() && !recursive {
                    return;
                }
                let text = if text.is_empty() { "." } else { text.as_str() };
                match glob {
                    None => self.push_access(env, text, access, recursive, recursive, role, mark),
                    Some(pattern) => self.access_glob(env, pattern, access, recursive, role, mark),
                }
            }
        }
    }

    /// `text` as a path, resolved against every directory the shell may be in.
    pub fn access_text(
        &mut self,
        env: &Env,
        text: &str,
        access: Access,
        search_root: bool,
        role: &str,
    ) {
        if self.exhausted() {
            return;
        }
        self.push_access(env, text, access, search_root, false, role, Mark::default());
    }

    /// [`Walker::access_text`] for a write hookledger judged itself (see [`Mark::vetted`]).
    pub fn access_text_vetted(&mut self, env: &Env, text: &str, role: &str) {
        let mark = Mark {
            vetted: true,
            link_target: false,
        };
        self.push_access(env, text, Access::Write, false, false, role, mark);
    }

    /// `text` names a directory whose whole tree the command reads or writes.
    pub fn access_tree(&mut self, env: &Env, field: &Field, access: Access, role: &str) {
        self.access_marked(env, field, access, true, role, Mark::default());
    }

    #[allow(clippy::too_many_arguments)]
    fn push_access(
        &mut self,
        env: &Env,
        text: &str,
        access: Access,
        search_root: bool,
        recursive: bool,
        role: &str,
        mark: Mark,
    ) {
        if self.exhausted() {
            return;
        }
        let key = (
            text.to_owned(),
            access,
            search_root || recursive,
            env.cwds.clone(),
        );
        if !self.seen.insert(key) && !recursive && !mark.vetted && !mark.link_target {
            return;
        }
        for named in self.resolve_named(env, text, role, access) {
            // A write of unknown effect makes the file's content unknown to what runs it
            // later; changing only its metadata does not.
            let metadata_only = matches!(
                role,
                "chmod" | "chown" | "chgrp" | "touch" | "setfacl" | "chattr" | "xattr"
            );
            if access == Access::Write && !metadata_only && self.written.len() < MAX_ACCESSES {
                self.written.insert(named.path.clone(), None);
            }
            self.out.accesses.push(PathAccess {
                path: named.path,
                access,
                search_root,
                recursive,
                link: named.link,
                vetted: mark.vetted,
                link_target: mark.link_target,
            });
        }
    }

    /// Resolves without recording an access (what is written is recorded where it is written,
    /// and judged as unknown there).
    pub fn resolve(&mut self, env: &Env, text: &str, role: &str) -> Vec<PathBuf> {
        self.resolve_named(env, text, role, Access::Read)
            .into_iter()
            .map(|n| n.path)
            .collect()
    }

    /// `text` resolved from every directory the shell may be in, and through the links this
    /// command made earlier.
    pub fn resolve_named(
        &mut self,
        env: &Env,
        text: &str,
        role: &str,
        access: Access,
    ) -> Vec<paths::Named> {
        let home_relative = text == "~" || text.starts_with("~/");
        let named: Vec<paths::Named> = if Path::new(text).is_absolute() || home_relative {
            let cwd = env.single_cwd().unwrap_or(Path::new("/")).to_path_buf();
            vec![paths::resolve_named_in(text, &cwd, self.home, self.world)]
        } else {
            match &env.cwds {
                Some(cwds) => cwds
                    .iter()
                    .map(|cwd| paths::resolve_named_in(text, cwd, self.home, self.world))
                    .collect(),
                None => {
                    let why = format!(
                        "{role} names the relative path {text:?} after a directory change that cannot be followed"
                    );
                    if access == Access::Read {
                        self.opaque_read(why);
                    } else {
                        self.opaque(why);
                    }
                    return Vec::new();
                }
            }
        };
        named.into_iter().map(|n| self.through_links(n)).collect()
    }

    /// Records a link this command makes at `link` to `target`. Names resolved before it may
    /// resolve differently now (`ln -s ci.yml c.yml && echo x > c.yml` writes ci.yml), so
    /// nothing already seen is taken as checked.
    pub fn add_link(&mut self, link: PathBuf, target: PathBuf) {
        self.links.push((link, target));
        self.seen.clear();
    }

    /// A path under a symlink this command created is where the symlink points.
    fn through_links(&self, mut named: paths::Named) -> paths::Named {
        for _ in 0..8 {
            let Some((link, target)) = self
                .links
                .iter()
                .find(|(link, _)| named.path.starts_with(link))
            else {
                break;
            };
            if named.path == *link && named.link.is_none() {
                named.link = Some(link.clone());
            }
            let rest = named.path.strip_prefix(link).unwrap_or(Path::new(""));
            let joined = if rest.as_os_str().is_empty() {
                target.clone()
            } else {
                target.join(rest)
            };
            named.path = paths::resolve_in(
                &joined.to_string_lossy(),
                Path::new("/"),
                self.home,
                self.world,
            );
        }
        named
    }

    fn access_glob(
        &mut self,
        env: &Env,
        pattern: &str,
        access: Access,
        recursive: bool,
        role: &str,
        mark: Mark,
    ) {
        let literal_dir: String = {
            let mut parts = Vec::new();
            for part in pattern.split('/') {
                if part.contains(['*', '?', '[']) {
                    break;
                }
                parts.push(part);
            }
            let joined = parts.join("/");
            if joined.is_empty() && pattern.starts_with('/') {
                "/".into()
            } else if joined.is_empty() {
                ".".into()
            } else {
                joined
            }
        };
        // What the shell will pass is what matches now; files created in between are
        // covered by checking the directory with every-child semantics.
        self.access_text(env, &literal_dir, access, true, role);
        let bases: Vec<PathBuf> = if Path::new(pattern).is_absolute() {
            vec![PathBuf::from(pattern)]
        } else {
            match &env.cwds {
                Some(cwds) => cwds.iter().map(|c| c.join(pattern)).collect(),
                None => return,
            }
        };
        for base in bases {
            match glob_matches(&base, self.glob_options()) {
                Some(matches) => {
                    for m in matches {
                        let named = paths::resolve_named_in(
                            &m.to_string_lossy(),
                            Path::new("/"),
                            self.home,
                            self.world,
                        );
                        let named = self.through_links(named);
                        self.out.accesses.push(PathAccess {
                            path: named.path,
                            access,
                            search_root: recursive,
                            recursive,
                            link: named.link,
                            vetted: mark.vetted,
                            link_target: mark.link_target,
                        });
                    }
                }
                None => self.opaque(format!(
                    "{role} names a glob matching more than {MAX_GLOB_MATCHES} files"
                )),
            }
        }
    }

    /// What a command that runs its input (a shell, an interpreter, `patch`) receives: a
    /// redirected file is read now, as it is small enough to analyse.
    pub fn stdin_text(&mut self, env: &Env, stdin: &Stdin) -> Stdin {
        match stdin {
            Stdin::File(text) if PSEUDO_FILES.contains(&text.as_str()) => {
                Stdin::Literal(String::new())
            }
            Stdin::File(text) => self
                .small_file(env, text)
                .map_or(Stdin::Unknown, Stdin::Literal),
            other => other.clone(),
        }
    }

    /// The text of a small regular file named by `text`, when there is exactly one candidate.
    pub fn small_file(&mut self, env: &Env, text: &str) -> Option<String> {
        const MAX_BYTES: u64 = 4 * 1024 * 1024;
        let paths = self.resolve(env, text, "a redirection");
        let [path] = paths.as_slice() else {
            return None;
        };
        if let Some(written) = self.written.get(path) {
            return written.clone();
        }
        self.world.read_file(path, MAX_BYTES)
    }

    /// The program named by an operand that a shell, interpreter or script-reading tool runs:
    /// its standard input under any of its names (`-`, `/dev/stdin`, `/proc/self/fd/0`), a
    /// process substitution (literal when it only echoes literal text), or a file on disk,
    /// read through the [`World`] (regular files only, bounded). A program that cannot be read
    /// is unknown, never taken as empty.
    pub fn program_source(&mut self, env: &Env, field: &Field, stdin: &Stdin) -> Program {
        let Some(text) = field.lit() else {
            return Program::Unknown(match field {
                Field::Dyn(why) => format!("a program named through {why}"),
                Field::Lit { .. } => "a program named by a glob".into(),
            });
        };
        if STDIN_NAMES.contains(&text) {
            return match self.stdin_text(env, stdin) {
                Stdin::Literal(t) => Program::Literal(t),
                Stdin::Inherited => Program::Nothing,
                _ => Program::Unknown("a program read from an input hookledger cannot see".into()),
            };
        }
        if is_process_substitution(text) {
            return match self.substitutions.get(text).cloned().flatten() {
                Some(t) => Program::Literal(t),
                None => Program::Unknown(
                    "a program produced by a process substitution at run time".into(),
                ),
            };
        }
        if text.starts_with("/dev/") || text.starts_with("/proc/") {
            return Program::Unknown(format!("a program read from {text}"));
        }
        if field
            .lit()
            .is_some_and(|_| matches!(field, Field::Lit { glob: Some(_), .. }))
        {
            return Program::Unknown(format!("a program named by the glob {text}"));
        }
        let paths = self.resolve(env, text, "the program file");
        let [path] = paths.as_slice() else {
            return Program::Unknown(format!(
                "the program file {text} could be in more than one directory"
            ));
        };
        if let Some(written) = self.written.get(path) {
            return match written.clone() {
                Some(t) => Program::Literal(t),
                None => Program::Unknown(format!(
                    "the program file {text}, which this command changes before running it"
                )),
            };
        }
        match self.world.read_file(path, MAX_PROGRAM_BYTES) {
            Some(t) => Program::File(t),
            None => Program::Unknown(format!(
                "the program file {text} cannot be read now (missing, not a regular file, or over {} KiB)",
                MAX_PROGRAM_BYTES / 1024
            )),
        }
    }

    /// Runs `program` as shell code. A file is a program hookledger has not seen, treated like
    /// any unknown command: what it cannot determine is dropped, but what it names literally
    /// is checked, so a script the agent wrote a moment ago cannot do what the command line
    /// itself may not. Literal code from the command line is analysed like the command line.
    pub fn run_shell_program(
        &mut self,
        env: &mut Env,
        program: Program,
        in_current_shell: bool,
        role: &str,
    ) {
        match program {
            Program::Literal(source) => {
                if in_current_shell {
                    self.program(&source, env);
                } else {
                    self.subshell_program(&source, env);
                }
            }
            Program::File(source) => {
                let known_before = self.out.unanalyzable.len();
                let beyond = self.out.opaque_beyond_reads;
                if in_current_shell {
                    self.program(&source, env);
                } else {
                    self.subshell_program(&source, env);
                }
                self.out.unanalyzable.truncate(known_before);
                self.out.opaque_beyond_reads = beyond;
            }
            Program::Nothing => {}
            Program::Unknown(why) => self.opaque(format!("{role} runs {why}")),
        }
    }

    /// Reads a shell script a command runs (`bash x.sh`, `source x.sh`, `./x.sh`) and walks it
    /// (see [`Walker::run_shell_program`]).
    pub fn script_file(&mut self, env: &mut Env, script: &Field, in_current_shell: bool) {
        let program = self.program_source(env, script, &Stdin::Inherited);
        self.run_shell_program(env, program, in_current_shell, "the shell");
    }

    pub fn remote(&mut self, url: String, operation: &str) {
        self.out.remotes.push(RemoteUse {
            url,
            operation: operation.to_owned(),
        });
    }

    /// Runs a defined shell function's body with `args` as its positional parameters, if
    /// `name` is one. What it changes in the shell persists, but the caller's positional
    /// parameters come back after it.
    /// `command_env` is the shell state with the call's own assignments (`X=1 f`): they are
    /// seen by the body while it runs, and the shell's values come back after it.
    pub fn call_function(
        &mut self,
        name: &str,
        env: &mut Env,
        command_env: &Env,
        args: &[Field],
        stdin: Stdin,
    ) -> bool {
        let Some(body) = self.functions.get(name).cloned() else {
            return false;
        };
        let mut shadowed: Vec<(String, Option<Option<String>>)> = Vec::new();
        for (var, value) in &command_env.vars {
            if env.vars.get(var) != Some(value) {
                shadowed.push((var.clone(), env.vars.get(var).cloned()));
                env.vars.insert(var.clone(), value.clone());
            }
        }
        let caller: Vec<(String, Option<String>)> = env
            .vars
            .iter()
            .filter(|(n, _)| is_positional(n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        bind_positional(env, None, args);
        self.nested(|w| {
            let stdin = match &body.1 {
                Some(list) => w.redirects(&list.0, env, stdin),
                None => stdin,
            };
            let outer = std::mem::replace(&mut w.inherited, stdin);
            w.compound(&body.0, env);
            w.inherited = outer;
        });
        env.vars.retain(|n, _| !is_positional(n));
        env.vars.extend(caller);
        for (var, before) in shadowed {
            match before {
                Some(value) => env.vars.insert(var, value),
                None => env.vars.remove(&var),
            };
        }
        true
    }
}

/// Sets the positional parameters (`$1` …, and `$0` when given) a function, `sh -c CODE ARGS`
/// or a script sees, dropping those of the caller. An argument known only at run time is an
/// unknown value.
pub fn bind_positional(env: &mut Env, zero: Option<&Field>, args: &[Field]) {
    let keep_zero = zero.is_none();
    env.vars
        .retain(|name, _| !(is_positional(name) || (!keep_zero && name == "0")));
    if let Some(z) = zero {
        env.vars.insert("0".into(), z.lit().map(str::to_owned));
    }
    for (k, a) in args.iter().enumerate().take(64) {
        let value = match a {
            Field::Lit { text, glob: None } => Some(text.clone()),
            _ => None,
        };
        env.vars.insert((k + 1).to_string(), value);
    }
    // A glob's matches or more than were kept: how many there are is not known.
    let counted = args.len() <= 64 && args.iter().all(|a| a.lit().is_some());
    // None at all is the default (no entry), which keeps the usual state small.
    if !(counted && args.is_empty()) {
        env.vars
            .insert("#".into(), counted.then(|| args.len().to_string()));
    }
}

/// How many elements the array `name` has, when its elements are known: its count was set by
/// an array assignment and `name` itself still stands for element 0 (a later `name=x`,
/// `read name`, `for name in …` changes element 0 behind the count's back, so then nothing is
/// known).
fn array_count(env: &Env, name: &str) -> Option<usize> {
    let count: usize = env
        .vars
        .get(&format!("{name}[#]"))
        .cloned()
        .flatten()?
        .parse()
        .ok()?;
    let first = if count == 0 {
        Some(String::new())
    } else {
        env.vars.get(&format!("{name}[0]")).cloned().flatten()
    };
    (first.is_some() && env.vars.get(name).cloned().flatten() == first).then_some(count)
}

/// Makes unknown every variable `raw` assigns with `${NAME:=…}` or `${NAME=…}`.
fn forget_default_assignments(raw: &str, env: &mut Env) {
    let mut from = 0;
    while let Some(pos) = raw[from..].find("${") {
        let start = from + pos + 2;
        let name_len = raw[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(raw.len() - start);
        let after = &raw[start + name_len..];
        if name_len > 0 && (after.starts_with(":=") || after.starts_with('=')) {
            env.vars
                .insert(raw[start..start + name_len].to_owned(), None);
        }
        from = start;
    }
}

/// Whether `name` is one of the positional parameters' slots (`1` …, and their count `#`);
/// `0` is the shell's name and stays.
pub fn is_positional(name: &str) -> bool {
    name == "#" || (name != "0" && !name.is_empty() && name.chars().all(|c| c.is_ascii_digit()))
}

/// A positional parameter past the known count is empty: the Bash tool's command runs with
/// none (`cat "$1"` reads nothing), a function or `sh -c` with the arguments it was given.
fn unset_positional(env: &Env, name: &str) -> Option<String> {
    if name == "#" || !is_positional(name) {
        return None;
    }
    let count = positional_count(env)?;
    let index: usize = name.parse().ok()?;
    (index > count).then(String::new)
}

/// How many positional parameters there are: none when nothing set them (the Bash tool's
/// command), `None` when they cannot be followed.
pub fn positional_count(env: &Env) -> Option<usize> {
    match env.vars.get("#") {
        None => Some(0),
        Some(count) => count.as_deref()?.parse().ok(),
    }
}

/// Environment variables through which git takes configuration (and so `core.hooksPath`).
pub fn is_git_config_variable(name: &str) -> bool {
    matches!(
        name,
        "GIT_CONFIG"
            | "GIT_CONFIG_COUNT"
            | "GIT_CONFIG_PARAMETERS"
            | "GIT_CONFIG_GLOBAL"
            | "GIT_CONFIG_SYSTEM"
            | "GIT_CONFIG_NOSYSTEM"
    ) || name.starts_with("GIT_CONFIG_KEY_")
        || name.starts_with("GIT_CONFIG_VALUE_")
}

/// What a command list (the inside of `<(…)`) writes, when it is one command writing
/// literal text.
fn list_literal_output(list: &CompoundList, env: &mut Env, walker: &mut Walker) -> Option<String> {
    let [ast::CompoundListItem(and_or, _)] = list.0.as_slice() else {
        return None;
    };
    if !and_or.additional.is_empty() {
        return None;
    }
    // A pipeline of such commands (`echo … | base64 -d`): each stage's text is the next one's
    // input; the first reads the shell's own.
    let mut input = walker.inherited.clone();
    let mut out = None;
    for command in &and_or.first.seq {
        let text = literal_output(command, env, walker, &input)?;
        input = Stdin::Literal(text.clone());
        out = Some(text);
    }
    out
}

/// What `printf FORMAT ARGS…` writes, for the formats a literal program is written with
/// (`%s`, `%b`, `%%`, backslash escapes); `None` for anything else.
pub fn printf_output(format: &str, args: &[String]) -> Option<String> {
    let mut out = String::new();
    let mut args = args.iter().peekable();
    // printf reuses the format while arguments are left (`printf '%s\n' a b` is two lines).
    for _ in 0..=MAX_LOOP_VALUES * 16 {
        let mut consumed = false;
        let mut literal = String::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            // The text before a directive, its escapes decoded (`\x63`, `\143`, `\n`).
            out.push_str(&words::decode_ansi_c(&literal));
            literal.clear();
            match chars.next()? {
                '%' => out.push('%'),
                's' => {
                    consumed = true;
                    out.push_str(args.next().map_or("", String::as_str));
                }
                // `%b`: the argument's escapes are decoded too (`\0NNN` octal, `\c` stops).
                'b' => {
                    consumed = true;
                    let arg = args.next().map_or("", String::as_str);
                    let (arg, stop) = match arg.split_once("\\c") {
                        Some((before, _)) => (before, true),
                        None => (arg, false),
                    };
                    out.push_str(&words::decode_ansi_c(&arg.replace("\\0", "\\")));
                    if stop {
                        return Some(out);
                    }
                }
                _ => return None,
            }
        }
        if literal.contains("\\c") {
            return None;
        }
        out.push_str(&words::decode_ansi_c(&literal));
        if !consumed || args.peek().is_none() {
            return args.peek().is_none().then_some(out);
        }
    }
    None
}

/// The text a pipeline stage writes when it is `echo`/`printf`/`cat` of literal text, for
/// `echo 'print(1)' | python3`.
fn literal_output(
    command: &Command,
    env: &mut Env,
    walker: &mut Walker,
    input: &Stdin,
) -> Option<String> {
    let Command::Simple(simple) = command else {
        return None;
    };
    let Some(name) = simple.word_or_name.as_ref().map(|w| w.value.as_str()) else {
        // `$(< FILE)`: bash's way of writing `$(cat FILE)`.
        let mut redirects = simple
            .prefix
            .iter()
            .flat_map(|p| p.0.iter())
            .chain(simple.suffix.iter().flat_map(|s| s.0.iter()));
        let (
            Some(CommandPrefixOrSuffixItem::IoRedirect(IoRedirect::File(
                fd,
                IoFileRedirectKind::Read,
                IoFileRedirectTarget::Filename(word),
            ))),
            None,
        ) = (redirects.next(), redirects.next())
        else {
            return None;
        };
        if fd.is_some_and(|f| f != 0) {
            return None;
        }
        let text = walker.expand_single(&word.value, env).lit()?.to_owned();
        return written_text(walker, env, &text);
    };
    let args: Vec<&str> = simple
        .suffix
        .iter()
        .flat_map(|s| s.0.iter())
        .filter_map(|i| match i {
            // `echo a=b`: a word that looks like an assignment is still an argument.
            CommandPrefixOrSuffixItem::Word(w)
            | CommandPrefixOrSuffixItem::AssignmentWord(_, w) => Some(w.value.as_str()),
            _ => None,
        })
        .collect();
    let mut scratch = Walker::new(walker.home, walker.world, walker.depth);
    let lit =
        |w: &mut Walker, raw: &str, env: &Env| w.expand_single(raw, env).lit().map(str::to_owned);
    // The command's own input redirections, the last one winning as in the shell (`cat <<A
    // <<B` reads B): a heredoc, a here-string, a file written literally in this command.
    let mut redirected: Option<Stdin> = None;
    let reads_input = matches!(
        name,
        "cat" | "base64" | "basenc" | "xxd" | "rev" | "tr" | "openssl"
    );
    for item in simple
        .prefix
        .iter()
        .flat_map(|p| p.0.iter())
        .chain(simple.suffix.iter().flat_map(|s| s.0.iter()))
        .filter(|_| reads_input)
    {
        let CommandPrefixOrSuffixItem::IoRedirect(r) = item else {
            continue;
        };
        let from = match r {
            IoRedirect::HereDocument(fd, doc) if fd.is_none_or(|f| f == 0) => {
                if doc.requires_expansion {
                    // Its substitutions were walked with the command; here only its text.
                    scratch.heredoc_body(doc, env)
                } else {
                    Some(doc.doc.value.clone())
                }
            }
            // A here-string ends with a newline.
            IoRedirect::HereString(fd, word) if fd.is_none_or(|f| f == 0) => {
                lit(&mut scratch, &word.value, env).map(|t| t + "\n")
            }
            IoRedirect::File(fd, IoFileRedirectKind::Read, target) if fd.is_none_or(|f| f == 0) => {
                match target {
                    IoFileRedirectTarget::Filename(word) => lit(&mut scratch, &word.value, env)
                        .and_then(|t| written_text(walker, env, &t)),
                    _ => None,
                }
            }
            _ => continue,
        };
        redirected = Some(from.map_or(Stdin::Unknown, Stdin::Literal));
    }
    let input = redirected.as_ref().unwrap_or(input);
    match name {
        "echo" => {
            // Leading options only (`-n`, `-e`, `-E` and clusters of them); `-e` decodes
            // backslash escapes, so `echo -e 'all:\n\tcat .env'` is two lines.
            let mut escapes = false;
            let mut parts = Vec::new();
            let mut options = true;
            for a in &args {
                let text = lit(&mut scratch, a, env)?;
                if options
                    && text.len() > 1
                    && text.starts_with('-')
                    && text[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E'))
                {
                    for c in text[1..].chars() {
                        escapes = match c {
                            'e' => true,
                            'E' => false,
                            _ => escapes,
                        };
                    }
                    continue;
                }
                options = false;
                parts.push(text);
            }
            let text = parts.join(" ");
            if escapes && text.contains('\\') {
                // `\c` stops the output; what follows it is not printed.
                let text = text.split("\\c").next().unwrap_or("");
                return Some(words::decode_ansi_c(&text.replace("\\0", "\\")));
            }
            Some(text)
        }
        "printf" => {
            let mut parts = Vec::new();
            for a in &args {
                parts.push(lit(&mut scratch, a, env)?);
            }
            let (format, rest) = parts.split_first()?;
            if format.starts_with('-') {
                return None;
            }
            printf_output(format, rest)
        }
        "find" => {
            let mut fields = Vec::new();
            for a in &args {
                fields.push(Field::Lit {
                    text: lit(&mut scratch, a, env)?,
                    glob: None,
                });
            }
            super::commands::find_listing(walker, env, &fields)
        }
        // `cat <<'EOF'`, `$(cat)`, `cat | sh`: its input, when that is literal.
        "cat" if args.is_empty() => match input {
            Stdin::Literal(t) => Some(t.clone()),
            _ => None,
        },
        // A file this command wrote with literal text a moment ago (`cat x.sh | sh`).
        "cat" if args.len() == 1 => {
            let text = lit(&mut scratch, args[0], env)?;
            written_text(walker, env, &text)
        }
        // `cd "$(git rev-parse --show-toplevel)"`: the repository's root, from the World.
        "git" if args == ["rev-parse", "--show-toplevel"] => {
            let cwd = env.single_cwd()?;
            walker
                .world
                .repository_root(cwd)
                .map(|root| root.to_string_lossy().into_owned())
        }
        // Decoders of literal input (`echo … | base64 -d | sh`): what they print is known.
        "base64" | "basenc" if args.iter().any(|a| matches!(*a, "-d" | "--decode" | "-D")) => {
            let Stdin::Literal(text) = input else {
                return None;
            };
            if args.iter().any(|a| !a.starts_with('-')) {
                return None;
            }
            decode_base64(text)
        }
        "xxd" if args.contains(&"-r") && (args.contains(&"-p") || args.contains(&"-ps")) => {
            let Stdin::Literal(text) = input else {
                return None;
            };
            let hex: Vec<u8> = text.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
            let bytes: Option<Vec<u8>> = hex
                .chunks(2)
                .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
                .collect();
            String::from_utf8(bytes?).ok()
        }
        // `tr SET1 SET2` and `tr -d SET` over literal input (`tr 'a-z' 'n-za-m'`, rot13).
        "tr" => {
            let Stdin::Literal(text) = input else {
                return None;
            };
            let mut sets = Vec::new();
            for a in &args {
                sets.push(lit(&mut scratch, a, env)?);
            }
            match sets.as_slice() {
                [flag, set] if flag == "-d" => {
                    let delete = tr_set(set)?;
                    Some(text.chars().filter(|c| !delete.contains(c)).collect())
                }
                [from, to] if !from.starts_with('-') => {
                    let from = tr_set(from)?;
                    let to = tr_set(to)?;
                    let last = *to.last()?;
                    Some(
                        text.chars()
                            .map(|c| match from.iter().rposition(|f| *f == c) {
                                Some(k) => to.get(k).copied().unwrap_or(last),
                                None => c,
                            })
                            .collect(),
                    )
                }
                _ => None,
            }
        }
        "openssl"
            if args.first() == Some(&"base64")
                && args.contains(&"-d")
                && args.iter().skip(1).all(|a| a.starts_with('-')) =>
        {
            let Stdin::Literal(text) = input else {
                return None;
            };
            decode_base64(text)
        }
        "rev" if args.is_empty() => {
            let Stdin::Literal(text) = input else {
                return None;
            };
            Some(
                text.lines()
                    .map(|l| l.chars().rev().collect::<String>())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        }
        "pwd" if args.iter().all(|a| matches!(*a, "-L" | "-P")) => {
            env.single_cwd().map(|d| d.to_string_lossy().into_owned())
        }
        // Pure functions of their text (`cd "$(dirname "$f")"`).
        "dirname" | "basename" => {
            let mut texts = Vec::new();
            for a in &args {
                texts.push(lit(&mut scratch, a, env)?);
            }
            if texts.iter().any(|t| t.starts_with('-')) {
                return None;
            }
            if name == "dirname" {
                let dirs: Vec<String> = texts.iter().map(|t| dirname(t)).collect();
                (!dirs.is_empty()).then(|| dirs.join("\n"))
            } else {
                match texts.as_slice() {
                    [path] => Some(basename(path, "")),
                    [path, suffix] => Some(basename(path, suffix)),
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// The shell options that change what a glob matches.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobOptions {
    /// `shopt -s dotglob` (or `GLOBIGNORE` set): `*` matches a leading dot.
    pub dotglob: bool,
    /// `shopt -s nocaseglob`: `.ENV*` matches `.env`.
    pub nocase: bool,
    /// `shopt -s globstar`: `**` is any number of directories, none included.
    pub globstar: bool,
}

/// The text a file has when this command wrote it literally a moment ago (nothing is read
/// from disk for a word's value).
fn written_text(walker: &mut Walker, env: &Env, text: &str) -> Option<String> {
    let paths = walker.resolve(env, text, "a file read");
    let [path] = paths.as_slice() else {
        return None;
    };
    walker.written.get(path).cloned().flatten()
}

/// The characters of a `tr` set: ranges (`a-z`) and the common escapes; `None` for classes
/// (`[:alpha:]`) and repeats, which are not followed.
fn tr_set(set: &str) -> Option<Vec<char>> {
    if set.contains("[:") || set.contains("[=") || set.contains('*') {
        return None;
    }
    let mut chars: Vec<char> = Vec::new();
    let mut it = set.chars().peekable();
    while let Some(c) = it.next() {
        let c = if c == '\\' {
            match it.next()? {
                'n' => '\n',
                't' => '\t',
                '\\' => '\\',
                other => other,
            }
        } else {
            c
        };
        if it.peek() == Some(&'-') {
            let mut ahead = it.clone();
            ahead.next();
            if let Some(end) = ahead.next() {
                if end < c || (end as u32 - c as u32) > 256 {
                    return None;
                }
                chars.extend(c..=end);
                it = ahead;
                continue;
            }
        }
        chars.push(c);
        if chars.len() > 1024 {
            return None;
        }
    }
    Some(chars)
}

/// `dirname PATH`, as coreutils prints it.
fn dirname(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() {
            ".".into()
        } else {
            "/".into()
        };
    }
    match trimmed.rfind('/') {
        None => ".".into(),
        Some(at) => {
            let head = trimmed[..at].trim_end_matches('/');
            if head.is_empty() {
                "/".into()
            } else {
                head.to_owned()
            }
        }
    }
}

/// `basename PATH [SUFFIX]`.
fn basename(path: &str, suffix: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() {
            String::new()
        } else {
            "/".into()
        };
    }
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    match base.strip_suffix(suffix) {
        Some(stem) if !suffix.is_empty() && !stem.is_empty() => stem.to_owned(),
        _ => base.to_owned(),
    }
}

/// What a glob matches on disk now. As in the shell, a `*` or `?` at the start of a name does
/// not match a leading dot (`rm -rf *` spares `.git`); a pattern that starts with a dot does.
/// `None` when it matches too many to list.
pub fn glob_matches(pattern: &Path, options: GlobOptions) -> Option<Vec<PathBuf>> {
    let GlobOptions {
        dotglob,
        nocase,
        globstar,
    } = options;
    let mut current: Vec<PathBuf> = vec![PathBuf::new()];
    for component in pattern.components() {
        let text = component.as_os_str().to_string_lossy();
        if !text.contains(['*', '?', '[']) {
            for c in &mut current {
                c.push(component.as_os_str());
            }
            continue;
        }
        if globstar && text == "**" {
            // Zero or more directories: each directory so far and every one under it.
            let mut all = Vec::new();
            let mut pending = current.clone();
            while let Some(dir) = pending.pop() {
                all.push(dir.clone());
                if all.len() > MAX_GLOB_MATCHES {
                    return None;
                }
                let listing = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir.as_path()
                };
                let Ok(entries) = std::fs::read_dir(listing) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    if name.to_string_lossy().starts_with('.') && !dotglob {
                        continue;
                    }
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        pending.push(dir.join(&name));
                    }
                }
            }
            current = all;
            continue;
        }
        let text = if nocase {
            text.to_lowercase().into()
        } else {
            text
        };
        let mut next = Vec::new();
        for dir in &current {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name_text = name.to_string_lossy();
                if name_text.starts_with('.') && !text.starts_with('.') && !dotglob {
                    continue;
                }
                let name_text = if nocase {
                    name_text.to_lowercase().into()
                } else {
                    name_text
                };
                if fast_glob::glob_match(text.as_ref(), name_text.as_ref()) {
                    next.push(dir.join(&name));
                    if next.len() > MAX_GLOB_MATCHES {
                        return None;
                    }
                }
            }
        }
        current = next;
    }
    current.retain(|p| !p.as_os_str().is_empty());
    Some(current)
}

struct WordScope<'a, 'h> {
    walker: &'a mut Walker<'h>,
    env: &'a Env,
}

impl Scope for WordScope<'_, '_> {
    fn home(&self) -> Option<String> {
        self.walker.home.map(|h| h.to_string_lossy().into_owned())
    }
    fn pwd(&self) -> Option<String> {
        self.env
            .single_cwd()
            .map(|p| p.to_string_lossy().into_owned())
    }
    fn var(&self, name: &str) -> Option<String> {
        if let Some((base, index)) = name.strip_suffix(']').and_then(|n| n.split_once('[')) {
            let index: usize = index.parse().ok()?;
            let count = array_count(self.env, base)?;
            if index >= count {
                return Some(String::new());
            }
            return self.env.vars.get(name).cloned().flatten();
        }
        match self.env.vars.get(name) {
            Some(value) => value.clone(),
            None if name == "#" => positional_count(self.env).map(|c| c.to_string()),
            None => unset_positional(self.env, name),
        }
    }
    fn list(&self, name: &str) -> Option<Vec<String>> {
        if name == "@" {
            let count = positional_count(self.env)?;
            return (1..=count)
                .map(|k| self.env.vars.get(&k.to_string()).cloned().flatten())
                .collect();
        }
        let count = array_count(self.env, name)?;
        (0..count)
            .map(|k| {
                self.env
                    .vars
                    .get(&format!("{name}[{k}]"))
                    .cloned()
                    .flatten()
            })
            .collect()
    }
    fn default_ifs(&self) -> bool {
        !self.env.vars.contains_key("IFS")
    }
    fn nested_code(&mut self, code: &str) -> Option<String> {
        let mut env = self.env.clone();
        self.walker.program_output(code, &mut env)
    }
    fn opaque(&mut self, why: String) {
        self.walker.opaque(why);
    }
    fn alternative(&mut self, fields: Vec<Field>) {
        self.walker.unset_fields = Some(fields);
    }
}

/// What `base64 -d` prints for literal input (whitespace and line breaks ignored), when it is
/// text.
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine;
    let compact: String = text.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()?;
    String::from_utf8(bytes).ok()
}
