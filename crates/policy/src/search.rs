//! What a search reads when a file-name filter restricts it (Grep's `glob`, Glob's `pattern`,
//! `grep --include`, `rg -g`): the filter is turned into probe paths, concrete names the filter
//! matches, and each probe is judged as a read like any file.
//!
//! A filter that names a file (`--include=.env`, `glob: "*.pem"`) thus targets that file under
//! the search root, and below any denied or protected directory inside the root (`-g '*.pem'`
//! from `~` reads `~/.ssh/*.pem` if there is one). A filter that cannot match a denied name
//! (`*.rs`) probes nothing denied, so a search of a repository for `TODO` stays allowed.

/// What a filter's `*` becomes in a probe: a literal `*`, which pattern wildcards match and no
/// pattern names by accident (and which reads well in a refusal: `~/.ssh/*.pem`).
const WILD: &str = "*";

/// The most probes one filter gives (`{a,b}` alternatives and `*` as empty or not).
const MAX_PROBES: usize = 16;

/// A filter as where it applies and what it matches there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The directory under the root the filter is anchored at (`src` for `src/**/*.pem`).
    pub anchor: String,
    /// Whether the rest matches at any depth below the anchor (a bare name for grep/rg, a
    /// `**/` in a glob).
    pub any_depth: bool,
    /// The rest of the filter (`*.pem`, `config/*.yml`).
    pub rest: String,
}

/// Parses a filter. `bare_name_any_depth`: a filter without `/` matches the base name at any
/// depth (grep's `--include`, rg's `-g`, the Grep tool's `glob`), not only in the root (Glob).
pub fn parse_filter(filter: &str, bare_name_any_depth: bool) -> Option<Filter> {
    let filter = filter.trim();
    let filter = filter.trim_start_matches("./");
    // rg's `!glob` excludes; an exclusion restricts nothing further here.
    if filter.is_empty() || filter.starts_with('!') {
        return None;
    }
    if let Some(at) = filter.find("**") {
        let mut anchor = filter[..at].trim_end_matches('/').to_owned();
        if anchor.is_empty() && filter.starts_with('/') {
            anchor = "/".into();
        }
        let rest = filter[at + 2..].trim_start_matches('/');
        let rest = rest.rsplit("**/").next().unwrap_or(rest).to_owned();
        return Some(Filter {
            anchor,
            any_depth: true,
            rest: if rest.is_empty() { "*".into() } else { rest },
        });
    }
    Some(Filter {
        anchor: String::new(),
        any_depth: bare_name_any_depth && !filter.contains('/'),
        rest: filter.to_owned(),
    })
}

/// Whether the filter restricts a search at all (`*`, `**` and `**/*` do not).
pub fn restricts(filter: &Filter) -> bool {
    let everything = filter.rest == "*" || (!filter.any_depth && filter.rest == "**");
    !(filter.anchor.is_empty() && everything)
}

/// Concrete relative names the pattern `rest` matches: `*` as nothing and as a wildcard
/// name, `?` as one character, `[…]` as its first member, `{a,b}` as each alternative.
pub fn probes(rest: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                while i + 1 < chars.len() && chars[i + 1] == '*' {
                    i += 1;
                }
                let mut next = Vec::new();
                for p in &out {
                    if next.len() + 2 > MAX_PROBES {
                        next.push(format!("{p}{WILD}"));
                        continue;
                    }
                    next.push(p.clone());
                    next.push(format!("{p}{WILD}"));
                }
                out = next;
            }
            '?' => out.iter_mut().for_each(|p| p.push('x')),
            '[' => {
                let close = chars[i + 1..].iter().position(|c| *c == ']');
                match close {
                    Some(n) => {
                        let class: Vec<char> = chars[i + 1..i + 1 + n]
                            .iter()
                            .copied()
                            .filter(|c| !matches!(c, '!' | '^'))
                            .collect();
                        let c = class.first().copied().unwrap_or('x');
                        out.iter_mut().for_each(|p| p.push(c));
                        i += n + 1;
                    }
                    None => out.iter_mut().for_each(|p| p.push('[')),
                }
            }
            '{' => {
                let close = chars[i + 1..].iter().position(|c| *c == '}');
                match close {
                    Some(n) => {
                        let body: String = chars[i + 1..i + 1 + n].iter().collect();
                        let mut next = Vec::new();
                        for p in &out {
                            for alt in body.split(',') {
                                if next.len() < MAX_PROBES {
                                    next.push(format!("{p}{alt}"));
                                }
                            }
                        }
                        out = next;
                        i += n + 1;
                    }
                    None => out.iter_mut().for_each(|p| p.push('{')),
                }
            }
            '\\' if i + 1 < chars.len() => {
                i += 1;
                let c = chars[i];
                out.iter_mut().for_each(|p| p.push(c));
            }
            c => out.iter_mut().for_each(|p| p.push(c)),
        }
        i += 1;
    }
    out.retain(|p| !p.is_empty() && !p.ends_with('/'));
    out.sort();
    out.dedup();
    out
}

/// The type names of ripgrep (and the Grep tool's `type`) that select files a policy
/// commonly denies, as the globs they stand for. Other types select source code by extension.
pub fn type_globs(name: &str) -> &'static [&'static str] {
    match name {
        "env" | "dotenv" => &[".env", ".env.*", "*.env"],
        "pem" | "cert" | "key" | "crypto" => &["*.pem", "*.key", "*.crt", "*.p12", "*.pfx"],
        "ssh" => &["id_*", "*.pub", "known_hosts", "authorized_keys"],
        "config" => &[
            "*.conf", "*.cfg", "*.ini", "*.json", "*.toml", "*.yaml", "*.yml",
        ],
        "json" => &["*.json"],
        "yaml" => &["*.yaml", "*.yml"],
        "toml" => &["*.toml"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let f = parse_filter("**/.env", false).unwrap();
        assert_eq!(
            (f.anchor.as_str(), f.any_depth, f.rest.as_str()),
            ("", true, ".env")
        );
        let f = parse_filter("src/**/*.pem", false).unwrap();
        assert_eq!(
            (f.anchor.as_str(), f.any_depth, f.rest.as_str()),
            ("src", true, "*.pem")
        );
        let f = parse_filter("*.rs", true).unwrap();
        assert!(f.any_depth && restricts(&f));
        assert!(!restricts(&parse_filter("**/*", false).unwrap()));
        assert!(!restricts(&parse_filter("*", true).unwrap()));
    }

    #[test]
    fn probes_cover_what_a_filter_matches() {
        assert_eq!(probes(".env"), [".env"]);
        assert_eq!(probes(".env*"), [".env", ".env*"]);
        assert_eq!(probes("*.{pem,key}").len(), 4);
        assert!(probes("*.pem").iter().all(|p| p.ends_with(".pem")));
    }
}
