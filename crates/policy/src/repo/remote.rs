/*!
Remote URL normalization, so `git@github.com:Acme/repo.git`, `ssh://git@github.com:22/Acme/repo`
and `https://user:token@GitHub.com/Acme/repo/` all compare equal as `github.com/Acme/repo`.

Only the host is case-folded: paths are case-sensitive on most forges' APIs and on self-hosted
servers, so folding them could merge distinct repositories.
*/

/// Normalizes a git remote URL to `host/path`. Local paths and `file://` URLs become
/// `file:<path>`; anything unrecognized is returned trimmed.
pub fn normalize_remote_url(url: &str) -> String {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("file://") {
        return format!("file:{}", trim_path(rest));
    }
    if let Some((scheme, rest)) = url.split_once("://")
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        return join(host_of(authority), path);
    }
    // scp-like syntax: [user@]host:path, where host has no slash before the colon.
    if let Some((before, path)) = url.split_once(':')
        && !before.contains('/')
        && !before.is_empty()
        && !is_windows_drive(before)
    {
        let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
        return join(host.to_ascii_lowercase(), path);
    }
    if url.starts_with('/') || url.starts_with('.') || is_windows_drive_path(url) {
        return format!("file:{}", trim_path(url));
    }
    trim_path(url).to_owned()
}

fn is_windows_drive(before_colon: &str) -> bool {
    before_colon.len() == 1 && before_colon.chars().all(|c| c.is_ascii_alphabetic())
}

fn is_windows_drive_path(url: &str) -> bool {
    url.split_once(':')
        .is_some_and(|(drive, _)| is_windows_drive(drive))
}

/// `user:pass@Host:port` → `host`; IPv6 brackets are kept.
fn host_of(authority: &str) -> String {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split_once(']')
            .map_or(host_port.to_owned(), |(h, _)| format!("{h}]"))
    } else {
        host_port
            .split_once(':')
            .map_or(host_port, |(h, _)| h)
            .to_owned()
    };
    host.to_ascii_lowercase()
}

fn trim_path(path: &str) -> &str {
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    path.trim_end_matches('/')
}

fn join(host: String, path: &str) -> String {
    let path = trim_path(path.trim_start_matches('/'));
    // GitHub-style `~user` paths and SSH's leading `/` carry no meaning for identity.
    if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_remote_url as n;

    #[test]
    fn equivalent_forms_agree() {
        let expected = "github.com/Acme/repo";
        for url in [
            "git@github.com:Acme/repo.git",
            "github.com:Acme/repo",
            "ssh://git@github.com/Acme/repo.git",
            "ssh://git@github.com:22/Acme/repo",
            "ssh://git@GitHub.com:22/Acme/repo/",
            "https://github.com/Acme/repo",
            "https://user:token@GITHUB.COM/Acme/repo.git/",
            "https://github.com:443/Acme/repo.git",
            "git://github.com/Acme/repo",
            "git+ssh://git@github.com/Acme/repo.git",
        ] {
            assert_eq!(n(url), expected, "{url}");
        }
    }

    #[test]
    fn paths_keep_case_and_local_paths_are_marked() {
        assert_ne!(n("git@github.com:acme/Repo"), n("git@github.com:acme/repo"));
        assert_eq!(n("/srv/git/project.git"), "file:/srv/git/project");
        assert_eq!(n("file:///srv/git/project.git/"), "file:/srv/git/project");
        assert_eq!(n("C:/repos/x.git"), "file:C:/repos/x");
        assert_eq!(n("https://[::1]:8080/a/b.git"), "[::1]/a/b");
    }
}
