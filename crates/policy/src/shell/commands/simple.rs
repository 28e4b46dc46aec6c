//! Simple commands as data: for each name, which options take a value, which option values
//! are read or written, and what the operands are. Commands whose effect needs code (wrappers,
//! interpreters, `find`, `git`, archives, copies) are in the other modules of `commands`.

use super::super::walk::Stdin;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::{Cx, lit, parse, tree};
use crate::shell::walk::{Env, Walker};
use crate::shell::words::Field;
use crate::target::Access;

/// What one simple command does.
#[derive(Debug, Clone, Copy)]
pub(super) enum Simple {
    /// Names no file. With `sets_variables`, its operands are variable names it assigns
    /// something unknown (`read -r x`, `printf -v x`).
    Neutral {
        sets_variables: bool,
    },
    Reader(Reader),
    Writer(Writer),
}

/// Whether the operands are read as whole trees.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tree {
    Never,
    Always,
    /// When one of these options is given (`ls -R`).
    With(&'static [&'static str]),
}

/// A command that reads its operands.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader {
    /// Options that take a value. Listing a flag here would swallow the operand after it
    /// (`cat -n .env`), so only documented value options are listed; a value not listed is
    /// checked as an operand, which errs towards checking more.
    pub with_value: &'static [&'static str],
    /// Options whose value is a file written (`tree -o FILE`).
    pub writes_values: &'static [&'static str],
    /// Without operands it reads the current directory (`ls`).
    pub lists_cwd: bool,
    /// Listing reads names, not content; counters read every file under a directory.
    pub tree: Tree,
}

/// What a writer's operands are.
#[derive(Debug, Clone, Copy)]
pub(super) enum Operands {
    /// Each is written.
    Write,
    /// Each is changed with everything under it (permissions decide who reaches the tree).
    Tree,
    /// Each is written, as a whole tree when one of these options is given (`rm -r`).
    TreeWith(&'static [&'static str]),
    /// The first is read, the second written (`split IN PREFIX`).
    InThenOut,
}

/// A command that changes its operands.
#[derive(Debug, Clone, Copy)]
pub(super) struct Writer {
    /// Options that take a value (see [`Reader::with_value`]).
    pub with_value: &'static [&'static str],
    /// Options whose value is a file written, looked at first (`zstd -o FILE`).
    pub writes_first: &'static [&'static str],
    /// Options whose value is a file read besides [`WRITER_READ_VALUES`] (`touch -r REF`).
    pub reads_values: &'static [&'static str],
    /// Options whose value is a directory written into (`mktemp -p DIR`).
    pub writes_values: &'static [&'static str],
    /// An editor: told to run commands (`vim -c`, `+cmd`), it is unanalyzable.
    pub editor: bool,
    /// The first operand is a mode or owner, not a file, unless a reference option is given.
    pub mode_first: bool,
    /// A compressor: with `-c`, `-t`, `-l` or `-k` it only reads its operands.
    pub compressor: bool,
    pub operands: Operands,
}

const NEUTRAL: Simple = Simple::Neutral {
    sets_variables: false,
};
const SETS_VARIABLES: Simple = Simple::Neutral {
    sets_variables: true,
};
const READER: Reader = Reader {
    with_value: &[],
    writes_values: &[],
    lists_cwd: false,
    tree: Tree::Never,
};
const WRITER: Writer = Writer {
    with_value: &[],
    writes_first: &[],
    reads_values: &[],
    writes_values: &[],
    editor: false,
    mode_first: false,
    compressor: false,
    operands: Operands::Write,
};

/// Options of any reader whose value is a file it reads.
const READER_READ_VALUES: &[&str] = &[
    "-X",
    "--exclude-from",
    "--files0-from",
    "--from-file",
    "--to-file",
    "-M",
    "--random-source",
];
/// Options of any writer whose value is a file it reads.
const WRITER_READ_VALUES: &[&str] = &["-M", "-X", "--set-file", "--random-source", "-D"];
/// An editor option that runs editor commands.
const EDITOR_COMMANDS: &[&str] = &["-c", "--cmd", "-S", "--eval", "-l", "--load", "-x"];
/// Options that make a compressor only read.
const COMPRESSOR_READS_ONLY: &[&str] = &[
    "-c",
    "--stdout",
    "--to-stdout",
    "-t",
    "--test",
    "-l",
    "--list",
    "-k",
    "--keep",
];
/// Options that make the first operand of `chmod` and friends a file, not a mode.
const MODE_FROM_REFERENCE: &[&str] = &["--reference", "-M", "-m", "-x", "--set-file"];

/// The table: names and what they do.
#[rustfmt::skip]
static TABLE: &[(&[&str], Simple)] = &[
    // Commands that name no file.
    (&["echo", "true", "false", ":", "test", "[", "exit", "return", "set", "shift", "wait", "sleep", "pwd", "whoami", "id", "uname", "hostname", "which", "type", "hash", "seq", "yes", "expr", "basename", "dirname", "printenv", "kill", "jobs", "fg", "bg", "umask", "ulimit", "unset", "clear", "tput", "history", "disown", "help", "times", "caller", "compgen", "complete", "dirs", "logout", "ps", "free", "df", "uptime", "nproc", "whereis", "tty", "groups", "users", "who", "date", "cal", "factor", "numfmt", "tr", "arch", "locale", "getconf", "lsof", "pgrep", "pkill", "killall", "top", "htop", "nvidia-smi", "sync", "fc", "break", "continue", "wc-l"], NEUTRAL),
    // Builtins that set variables the analysis does not know (`read -r x`, `printf -v x`).
    (&["printf", "getopts", "read", "mapfile", "readarray"], SETS_VARIABLES),
    // Readers: their operands and the files named by `READ_VALUES` options are read.
    (&["cat", "tac", "rev", "bc", "dc", "md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "cksum", "sum", "expand", "unexpand", "comm", "getfacl", "lsattr", "ldd", "zcat", "zless", "zmore", "bzcat", "xzcat", "zstdcat", "lzcat", "look", "tsort", "ptx", "delta", "identify", "exiftool", "pdftotext", "lsblk", "namei", "glow", "jless", "fx", "csvlook", "pygmentize"], Simple::Reader(Reader { with_value: &[], ..READER })),
    (&["nl"], Simple::Reader(Reader { with_value: &["-b", "-d", "-f", "-h", "-i", "-l", "-n", "-s", "-v", "-w"], ..READER })),
    (&["less"], Simple::Reader(Reader { with_value: &["-o", "-O", "-x", "-y", "-z", "-b", "-h", "-j", "-k", "-p", "-P", "-t", "-T"], writes_values: &["-o", "--output"], ..READER })),
    (&["more", "most"], Simple::Reader(Reader { with_value: &["-o", "-O", "-x", "-y", "-z", "-b", "-h", "-j", "-k", "-p", "-P", "-t", "-T"], ..READER })),
    (&["wc"], Simple::Reader(Reader { with_value: &["--files0-from"], ..READER })),
    (&["file"], Simple::Reader(Reader { with_value: &["-m", "-f", "-F", "-e", "-P"], ..READER })),
    (&["stat"], Simple::Reader(Reader { with_value: &["-c", "--format", "--printf"], ..READER })),
    (&["du"], Simple::Reader(Reader { with_value: &["--exclude", "-d", "--max-depth", "-B", "--block-size", "-t", "--threshold", "-X", "--exclude-from", "--files0-from"], lists_cwd: true, ..READER })),
    (&["base64", "base32", "basenc"], Simple::Reader(Reader { with_value: &["-w", "--wrap"], ..READER })),
    (&["xxd"], Simple::Reader(Reader { with_value: &["-c", "-g", "-l", "-s", "-o", "-C", "-n"], ..READER })),
    (&["od"], Simple::Reader(Reader { with_value: &["-A", "-j", "-N", "-t", "-w", "-S", "--address-radix", "--skip-bytes", "--read-bytes", "--format", "--width", "--strings"], ..READER })),
    (&["hexdump", "hd"], Simple::Reader(Reader { with_value: &["-n", "-s", "-e"], ..READER })),
    (&["strings"], Simple::Reader(Reader { with_value: &["-n", "-t", "-e", "--bytes", "--radix", "--encoding"], ..READER })),
    (&["fold", "fmt"], Simple::Reader(Reader { with_value: &["-w", "--width"], ..READER })),
    (&["column"], Simple::Reader(Reader { with_value: &["-s", "-c", "-o", "--separator", "--output-separator"], ..READER })),
    (&["diff", "colordiff"], Simple::Reader(Reader { with_value: &["-x", "--exclude", "-X", "--exclude-from", "-I", "--ignore-matching-lines", "--label", "-C", "-U", "-W", "-F", "-S", "--from-file", "--to-file", "--width", "--context", "--unified", "--line-format", "--color", "--palette"], ..READER })),
    (&["diff3", "sdiff"], Simple::Reader(Reader { with_value: &["-o", "-L", "--output", "--label", "-w", "-W"], ..READER })),
    (&["cmp"], Simple::Reader(Reader { with_value: &["-i", "-n", "--ignore-initial", "--bytes"], ..READER })),
    (&["ls"], Simple::Reader(Reader { with_value: &["-I", "--ignore", "--hide", "-w", "--width", "-T", "--tabsize", "--format", "--sort", "--time-style", "--time", "--indicator-style", "--quoting-style", "--block-size"], lists_cwd: true, tree: Tree::With(&["-R", "--recursive"]), ..READER })),
    (&["tree"], Simple::Reader(Reader { with_value: &["-L", "-P", "-I", "-o", "--charset", "--filelimit", "--timefmt", "--sort"], writes_values: &["-o", "--output"], lists_cwd: true, ..READER })),
    (&["exa", "eza"], Simple::Reader(Reader { with_value: &[], lists_cwd: true, ..READER })),
    (&["realpath", "readlink"], Simple::Reader(Reader { with_value: &["--relative-to", "--relative-base"], ..READER })),
    (&["bat", "batcat"], Simple::Reader(Reader { with_value: &["-l", "--language", "--theme", "--style", "-r", "--line-range", "-H", "--highlight-line", "--tabs", "--wrap", "--color", "-m", "--map-syntax"], ..READER })),
    (&["nm", "objdump", "readelf"], Simple::Reader(Reader { with_value: &["-j", "--section"], ..READER })),
    (&["pr"], Simple::Reader(Reader { with_value: &["-w", "-l", "-h", "-o", "-W", "-N", "-s", "-S"], ..READER })),
    (&["shuf"], Simple::Reader(Reader { with_value: &["-n", "-o", "-i", "--random-source", "--head-count", "--output", "--input-range"], writes_values: &["-o", "--output"], ..READER })),
    (&["vdir", "dir"], Simple::Reader(Reader { with_value: &["-I", "--ignore", "--hide", "-w", "--width", "-T", "--tabsize", "--format", "--sort", "--time-style", "--time", "--indicator-style", "--quoting-style", "--block-size"], lists_cwd: true, ..READER })),
    (&["iconv"], Simple::Reader(Reader { with_value: &["-f", "-t", "-o", "--from-code", "--to-code", "--output"], writes_values: &["-o", "--output"], ..READER })),
    (&["head", "tail"], Simple::Reader(Reader { with_value: &["-n", "-c", "--lines", "--bytes", "-s", "--sleep-interval", "--pid"], ..READER })),
    (&["cut"], Simple::Reader(Reader { with_value: &["-d", "-f", "-c", "-b", "--delimiter", "--fields", "--characters", "--bytes", "--output-delimiter"], ..READER })),
    (&["paste"], Simple::Reader(Reader { with_value: &["-d", "--delimiters"], ..READER })),
    (&["join"], Simple::Reader(Reader { with_value: &["-t", "-1", "-2", "-j", "-o", "-e"], ..READER })),
    (&["cloc", "tokei", "scc"], Simple::Reader(Reader { with_value: &["--exclude-dir", "--exclude-ext", "-e", "--exclude", "-t", "--type", "-s", "--sort", "-o", "--output"], lists_cwd: true, tree: Tree::Always, ..READER })),
    // Writers: their operands are changed.
    (&["rm"], Simple::Writer(Writer { with_value: &[], operands: Operands::TreeWith(&["-r", "-R", "--recursive"]), ..WRITER })),
    (&["rmdir", "unlink", "tee", "nano", "pico", "micro", "hx", "kak", "code", "gedit", "dos2unix", "unix2dos", "wipe", "srm", "sponge"], Simple::Writer(Writer { with_value: &[], ..WRITER })),
    (&["shred"], Simple::Writer(Writer { with_value: &["-n", "-s", "--iterations", "--size", "--random-source"], ..WRITER })),
    (&["mkdir", "mkfifo", "mknod"], Simple::Writer(Writer { with_value: &["-m", "--mode", "--context"], ..WRITER })),
    (&["touch"], Simple::Writer(Writer { with_value: &["-r", "--reference", "-d", "--date", "-t", "--time"], reads_values: &["-r", "--reference"], ..WRITER })),
    (&["truncate"], Simple::Writer(Writer { with_value: &["-s", "--size", "-r", "--reference"], reads_values: &["-r", "--reference"], ..WRITER })),
    (&["chmod", "chown", "chgrp"], Simple::Writer(Writer { with_value: &["--reference", "--from"], reads_values: &["-r", "--reference"], mode_first: true, operands: Operands::Tree, ..WRITER })),
    (&["chattr"], Simple::Writer(Writer { with_value: &[], mode_first: true, operands: Operands::Tree, ..WRITER })),
    (&["setfacl"], Simple::Writer(Writer { with_value: &["-m", "-x", "-M", "-X", "--set", "--set-file", "--modify", "--remove"], mode_first: true, operands: Operands::Tree, ..WRITER })),
    (&["vim", "vi", "nvim", "ex"], Simple::Writer(Writer { with_value: &["-c", "--cmd", "-S", "-u", "-U", "-i", "-T", "-w", "-W", "-s"], editor: true, ..WRITER })),
    (&["emacs"], Simple::Writer(Writer { with_value: &["--eval", "-l", "--load", "-f", "--funcall"], editor: true, ..WRITER })),
    (&["split"], Simple::Writer(Writer { with_value: &["-l", "-b", "-C", "-n", "-a", "--additional-suffix", "-t", "--lines", "--bytes", "--line-bytes", "--number", "--suffix-length", "--filter"], operands: Operands::InThenOut, ..WRITER })),
    (&["csplit"], Simple::Writer(Writer { with_value: &["-f", "-b", "-n", "--prefix", "--suffix-format", "--digits"], operands: Operands::InThenOut, ..WRITER })),
    (&["fallocate"], Simple::Writer(Writer { with_value: &["-l", "-o", "--length", "--offset"], ..WRITER })),
    (&["xattr"], Simple::Writer(Writer { with_value: &[], operands: Operands::Tree, ..WRITER })),
    (&["setfattr"], Simple::Writer(Writer { with_value: &["-n", "-v", "-x", "--name", "--value", "--remove", "--restore"], operands: Operands::Tree, ..WRITER })),
    (&["mktemp"], Simple::Writer(Writer { with_value: &["-p", "--tmpdir", "--suffix"], writes_values: &["-p", "--tmpdir"], ..WRITER })),
    (&["gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "lzma", "unlzma", "pigz"], Simple::Writer(Writer { with_value: &["-S", "--suffix", "-T", "--threads", "-M", "--memlimit", "-F", "--format", "-C", "--check"], compressor: true, ..WRITER })),
    (&["zstd"], Simple::Writer(Writer { with_value: &["-o", "-D", "-T", "-M", "--memory", "--patch-from"], writes_first: &["-o"], compressor: true, ..WRITER })),
    (&["unzstd"], Simple::Writer(Writer { with_value: &["-o", "-D", "-T", "-M", "--memory", "--patch-from"], compressor: true, ..WRITER })),
    (&["compress", "uncompress"], Simple::Writer(Writer { with_value: &[], compressor: true, ..WRITER })),
];

/// The table entry for `name`, if it is a simple command.
pub(super) fn lookup(name: &str) -> Option<&'static Simple> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Simple>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let mut index = HashMap::new();
            for (names, simple) in TABLE {
                for name in *names {
                    index.insert(*name, simple);
                }
            }
            index
        })
        .get(name)
        .copied()
}

/// Runs a simple command from the table.
pub(super) fn run(
    w: &mut Walker,
    env: &mut Env,
    cx: &Cx,
    name: &str,
    simple: &Simple,
    args: &[Field],
) {
    match simple {
        Simple::Neutral { sets_variables } => {
            if *sets_variables {
                for a in args.iter().filter_map(Field::lit) {
                    if !a.starts_with('-') && a.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        env.vars.insert(a.to_owned(), None);
                    }
                }
            }
        }
        Simple::Reader(reader) => run_reader(w, cx, name, reader, args),
        Simple::Writer(writer) => run_writer(w, cx, name, writer, args),
    }
}

fn run_reader(w: &mut Walker, cx: &Cx, name: &str, spec: &Reader, args: &[Field]) {
    let p = parse(args, spec.with_value);
    for f in p.values(READER_READ_VALUES) {
        w.access(&cx.env, f, Access::Read, name);
    }
    for f in p.values(spec.writes_values) {
        w.access(&cx.env, f, Access::Write, name);
    }
    if spec.lists_cwd && p.operands.is_empty() {
        let here = lit(".");
        w.access(&cx.env, &here, Access::Read, name);
    }
    let reads_tree = match spec.tree {
        Tree::Never => false,
        Tree::Always => true,
        Tree::With(options) => p.has(options),
    };
    for f in &p.operands {
        if reads_tree {
            tree(w, cx, f, Access::Read, name);
        } else {
            w.access(&cx.env, f, Access::Read, name);
        }
    }
}

fn run_writer(w: &mut Walker, cx: &Cx, name: &str, spec: &Writer, args: &[Field]) {
    let p = parse(args, spec.with_value);
    // `-sc CMD`, `-Nes -c`: a command option inside a cluster; `ex FILE < SCRIPT`: ex mode
    // reads its commands from the input.
    let clustered = args.iter().filter_map(Field::lit).any(|t| {
        t.starts_with('-') && !t.starts_with("--") && t.len() > 2 && t[1..].contains(['c', 'S'])
    });
    let commands_from_input =
        matches!(name, "ex" | "vi" | "vim" | "nvim") && !matches!(cx.stdin, Stdin::Inherited);
    if spec.editor
        && (p.has(EDITOR_COMMANDS)
            || clustered
            || commands_from_input
            || args
                .iter()
                .any(|a| a.lit().is_some_and(|t| t.starts_with('+'))))
    {
        w.opaque(format!("{name} is told to run editor commands"));
    }
    for f in p.values(spec.writes_first) {
        w.access(&cx.env, f, Access::Write, name);
    }
    for f in p.values(WRITER_READ_VALUES) {
        w.access(&cx.env, f, Access::Read, name);
    }
    let first_is_mode = spec.mode_first && !p.has(MODE_FROM_REFERENCE);
    for f in p.values(spec.reads_values) {
        w.access(&cx.env, f, Access::Read, name);
    }
    let reads_only = spec.compressor && p.has(COMPRESSOR_READS_ONLY);
    for f in p.values(spec.writes_values) {
        w.access(&cx.env, f, Access::Write, name);
    }
    if let Operands::InThenOut = spec.operands {
        if let Some(f) = p.operands.first() {
            w.access(&cx.env, f, Access::Read, name);
        }
        for f in p.operands.iter().skip(1).take(1) {
            w.access(&cx.env, f, Access::Write, name);
        }
        return;
    }
    for f in p.operands.iter().skip(usize::from(first_is_mode)) {
        if reads_only {
            w.access(&cx.env, f, Access::Read, name);
            continue;
        }
        match spec.operands {
            Operands::TreeWith(options) if p.has(options) => {
                tree(w, cx, f, Access::Write, &format!("{name} -r"))
            }
            Operands::Tree => tree(w, cx, f, Access::Write, name),
            _ => w.access(&cx.env, f, Access::Write, name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_in_the_table_once() {
        let mut seen = std::collections::HashSet::new();
        for (names, _) in TABLE {
            for name in *names {
                assert!(seen.insert(*name), "{name} is listed twice");
            }
        }
        assert!(lookup("cat").is_some() && lookup("rm").is_some() && lookup("echo").is_some());
        assert!(lookup("git").is_none() && lookup("find").is_none());
    }

    #[test]
    fn value_options_swallow_their_value_and_no_more() {
        let Some(Simple::Reader(head)) = lookup("head") else {
            panic!("head is a reader");
        };
        let args: Vec<Field> = ["-n", "5", ".env"].iter().map(|a| lit(a)).collect();
        let p = parse(&args, head.with_value);
        assert_eq!(p.operands.len(), 1);
        let Some(Simple::Reader(cat)) = lookup("cat") else {
            panic!("cat is a reader");
        };
        let args: Vec<Field> = ["-n", ".env"].iter().map(|a| lit(a)).collect();
        assert_eq!(parse(&args, cat.with_value).operands.len(), 1);
    }
}
