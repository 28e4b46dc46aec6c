/*!
What a decision is about: the paths a tool call reads or writes ([`Target`], [`Access`]).

Its own module so that the shell analyser, protection and the evaluator share these types
without the analyser importing the evaluator (which imports the analyser).
*/

use std::path::PathBuf;

use serde::Serialize;

/// Whether a tool would read or change what a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub path: PathBuf,
    pub access: Access,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<PathBuf>,
    /// A search root (Glob/Grep/LS): the tool reads what is under it, existing or not.
    #[serde(skip)]
    pub search_root: bool,
    /// The whole tree under the path is read or written (`grep -r`, `rm -r`), or the operation
    /// acts on the entry with everything under it (`mv`, `chmod`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recursive: bool,
    /// Where the name's final symlink sits, when it has one: `rm`/`mv` act on the link.
    #[serde(skip)]
    pub link: Option<PathBuf>,
    /// A write hookledger already judged (`git config` of a known harmless key, an edit whose
    /// resulting git configuration was compared): the git-configuration-file rule is skipped.
    #[serde(skip)]
    pub vetted: bool,
    /// What a link being created points to: written as far as self-protection is concerned,
    /// read as far as path rules are.
    #[serde(skip)]
    pub link_target: bool,
}

impl Access {
    /// The recorded (serde) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

impl Target {
    /// The target as the ledger records it; `None` when a path is not UTF-8 (JSON cannot hold
    /// it as it is).
    pub fn view(&self) -> Option<hookledger_ledger::record::TargetView> {
        Some(hookledger_ledger::record::TargetView {
            path: Some(self.path.to_str()?.to_owned()),
            access: Some(self.access.as_str().to_owned()),
            repository: match &self.repository {
                Some(repository) => Some(repository.to_str()?.to_owned()),
                None => None,
            },
            recursive: self.recursive,
            rest: serde_json::Map::new(),
        })
    }

    /// A target with nothing but its path, access and repository.
    pub fn plain(path: PathBuf, access: Access, repository: Option<PathBuf>) -> Target {
        Target {
            path,
            access,
            repository,
            search_root: false,
            recursive: false,
            link: None,
            vetted: false,
            link_target: false,
        }
    }
}

/// A child name no pattern names on purpose, for asking "does this rule cover everything in
/// the directory?".
pub const DIRECTORY_PROBE: &str = "\u{1}hookledger-probe";
