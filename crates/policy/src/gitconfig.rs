/*!
Just enough of git's configuration syntax to see what switches git hooks: `core.hooksPath`,
`include.path` and `includeIf.<condition>.path`.

Git reads the remainder of a section-header line as a variable, keys are case-insensitive,
values may be quoted and continued over lines with a backslash, and `#`/`;` start comments
outside quotes. A write is judged by whether these settings differ before and after it; the
lines naming them are compared too, so text this reader does not understand the way git does
still counts as a change (the comparison errs towards refusing).
*/

use std::path::{Path, PathBuf};

/// One setting that decides which hooks git runs, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSetting {
    /// `core.hookspath`, `include.path` or `includeif.<condition>.path` (section and key lower-cased).
    pub key: String,
    pub value: String,
}

/// The hook-related settings of a configuration text, plus the raw lines that mention them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookFacts {
    pub settings: Vec<HookSetting>,
    mentions: Vec<String>,
}

impl HookFacts {
    pub fn of(text: &str) -> HookFacts {
        let settings = parse(text)
            .into_iter()
            .filter(|(section, key, _)| is_hook_key(section, key))
            .map(|(section, key, value)| HookSetting {
                key: format!("{section}.{key}"),
                value,
            })
            .collect();
        let mentions = text
            .lines()
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| l.contains("hookspath") || l.contains("include"))
            .collect();
        HookFacts { settings, mentions }
    }

    pub fn hooks_path(&self) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|s| s.key == "core.hookspath")
            .map(|s| s.value.as_str())
    }

    pub fn includes(&self) -> impl Iterator<Item = &str> {
        self.settings
            .iter()
            .filter(|s| s.key != "core.hookspath")
            .map(|s| s.value.as_str())
    }
}

/// Whether `section.key` (lower-cased section with its subsection) redirects or disables hooks.
pub fn is_hook_key(section: &str, key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let section_lower = section.to_ascii_lowercase();
    (section_lower == "core" && key == "hookspath")
        || (key == "path"
            && (section_lower == "include" || section_lower.starts_with("includeif.")))
}

/// A dotted key as `git config` takes it (`core.hooksPath`, `includeIf.gitdir:~/x/.path`).
pub fn is_hook_dotted_key(dotted: &str) -> bool {
    let lower = dotted.to_ascii_lowercase();
    let Some((section, key)) = lower.rsplit_once('.') else {
        return false;
    };
    is_hook_key(section, key)
}

/// (section with subsection, key, value) for every variable, in order. Section names are
/// lower-cased, subsections keep their case, keys are lower-cased.
pub fn parse(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let mut rest = line.trim_start();
        if rest.starts_with('[') {
            let Some(end) = header_end(rest) else {
                continue;
            };
            section = section_name(&rest[1..end]);
            rest = rest[end + 1..].trim_start();
        }
        if rest.is_empty() || rest.starts_with('#') || rest.starts_with(';') {
            continue;
        }
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let key = rest[..name_end].to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let after = rest[name_end..].trim_start();
        let value = match after.strip_prefix('=') {
            Some(raw) => {
                let mut raw = raw.to_owned();
                // A backslash at the end continues the value on the next line.
                while raw.trim_end().ends_with('\\') && !raw.trim_end().ends_with("\\\\") {
                    let trimmed = raw.trim_end();
                    raw = trimmed[..trimmed.len() - 1].to_owned();
                    match lines.next() {
                        Some(next) => raw.push_str(next),
                        None => break,
                    }
                }
                unquote(&raw)
            }
            None => "true".into(),
        };
        out.push((section.clone(), key, value));
    }
    out
}

fn header_end(line: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ']' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `core` → `core`; `includeIf "gitdir:~/x/"` → `includeif.gitdir:~/x/`; `Section.Sub` (the old
/// syntax) → `section.sub`.
fn section_name(inner: &str) -> String {
    let inner = inner.trim();
    if let Some((name, sub)) = inner.split_once(char::is_whitespace) {
        let sub = sub.trim();
        let sub = sub
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(sub);
        let sub = sub.replace("\\\"", "\"").replace("\\\\", "\\");
        return format!("{}.{sub}", name.to_ascii_lowercase());
    }
    inner.to_ascii_lowercase()
}

/// A value as git reads it: quotes removed, escapes applied, comments and trailing blanks cut.
fn unquote(raw: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = raw.trim().chars();
    let mut pending_space = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('b') => {
                    out.pop();
                }
                Some(other) => out.push(other),
                None => {}
            },
            '#' | ';' if !quoted => break,
            c if c.is_whitespace() && !quoted => pending_space.push(c),
            c => {
                if !pending_space.is_empty() {
                    if !out.is_empty() {
                        out.push_str(&pending_space);
                    }
                    pending_space.clear();
                }
                out.push(c);
            }
        }
    }
    out
}

/// The files git reads as the user's and the system's configuration.
pub fn global_files(home: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(home) = home {
        out.push(home.join(".gitconfig"));
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        out.push(xdg.join("git").join("config"));
    }
    out.push(PathBuf::from("/etc/gitconfig"));
    out
}

/// A repository's own configuration files (`.git` a directory or a `gitdir:` file).
pub fn repository_files(root: &Path) -> Vec<PathBuf> {
    let Some(git_dir) = git_dir_of(root) else {
        return Vec::new();
    };
    let mut out = vec![git_dir.join("config"), git_dir.join("config.worktree")];
    // A linked worktree's settings live in the common directory.
    if let Ok(common) = std::fs::read_to_string(git_dir.join("commondir")) {
        let common = git_dir.join(common.trim());
        out.push(common.join("config"));
    }
    out
}

/// The git directory of the work tree at `root`.
pub fn git_dir_of(root: &Path) -> Option<PathBuf> {
    let dot_git = root.join(".git");
    let meta = std::fs::metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let dir = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
    Some(root.join(dir))
}

/// A small file's text, for configuration that is read on a tool call.
pub fn read_small(path: &Path) -> Option<String> {
    const MAX: u64 = 1 << 20;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// An include's path as git resolves it: `~/` from home, relative from the including file.
pub fn include_target(value: &str, including: &Path, home: Option<&Path>) -> Option<PathBuf> {
    if let Some(rest) = value.strip_prefix("~/") {
        return home.map(|h| h.join(rest));
    }
    let p = Path::new(value);
    if p.is_absolute() {
        return Some(p.to_path_buf());
    }
    including.parent().map(|d| d.join(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hook_settings_the_way_git_does() {
        let text = "[core]\n\trepositoryformatversion = 0\n\tHooksPath = /tmp/h # moved\n[Include]\n path = \"../x.inc\"\n[includeIf \"gitdir:~/w/\"]\n\tpath = ~/w.inc\n[remote \"origin\"]\n\turl = git@x:y.git\n";
        let facts = HookFacts::of(text);
        assert_eq!(facts.hooks_path(), Some("/tmp/h"));
        assert_eq!(
            facts.includes().collect::<Vec<_>>(),
            vec!["../x.inc", "~/w.inc"]
        );
        // The rest of a header line is a variable, and values continue over lines.
        let facts = HookFacts::of("[core] hooksPath = /a\\\nb\n");
        assert_eq!(facts.hooks_path(), Some("/ab"));
        // Other sections' keys of the same name do not count.
        assert!(
            HookFacts::of("[alias]\n\thooksPath = x\n")
                .hooks_path()
                .is_none()
        );
        assert!(is_hook_dotted_key("core.hooksPath"));
        assert!(is_hook_dotted_key("includeIf.gitdir:/x/.path"));
        assert!(is_hook_dotted_key("include.path"));
        assert!(!is_hook_dotted_key("user.email"));
        assert!(!is_hook_dotted_key("remote.origin.url"));
    }

    #[test]
    fn a_moved_header_changes_the_facts() {
        let before = HookFacts::of("[alias]\n\thooksPath = /tmp/h\n");
        let after = HookFacts::of("[core]\n[alias]\n\thooksPath = /tmp/h\n");
        assert_eq!(before.settings, after.settings);
        let after = HookFacts::of("[core]\n\thooksPath = /tmp/h\n");
        assert_ne!(before, after);
    }
}
