/*!
The commit gate: attributing what is staged, the policy checks that can refuse a commit, and
the hand-over from pre-commit to commit-msg and post-commit (a file in the ledger's
directory per worktree, keyed by the tree the index would commit).
*/

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::edits::EditLedger;
use super::provenance::{self, Analysis, LedgerState, ProvenanceError};
use super::repo::Repo;
use crate::policy::Layer;
use crate::policy::git::GitPolicy;

/// Stable codes for why the gate refused a commit (API, like rule codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalCode {
    /// There is no ledger and `git.require_ledger_valid` is set.
    LedgerMissing,
    /// The ledger fails verification and `git.require_ledger_valid` is set.
    LedgerInvalid,
    /// Records wait in the spool and could not be merged into the ledger.
    SpoolUnmerged,
    /// AI-written lines come from a model `git.allowed_models` does not allow.
    ModelNotAllowed,
    /// A file with AI-written changes matches `git.review_required` and has no reviewer trailer.
    ReviewRequired,
    /// The policy's git section cannot be read.
    PolicyError,
}

impl RefusalCode {
    pub const ALL: &[RefusalCode] = &[
        RefusalCode::LedgerMissing,
        RefusalCode::LedgerInvalid,
        RefusalCode::SpoolUnmerged,
        RefusalCode::ModelNotAllowed,
        RefusalCode::ReviewRequired,
        RefusalCode::PolicyError,
    ];

    /// The stable kebab-case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefusalCode::LedgerMissing => "ledger-missing",
            RefusalCode::LedgerInvalid => "ledger-invalid",
            RefusalCode::SpoolUnmerged => "spool-unmerged",
            RefusalCode::ModelNotAllowed => "model-not-allowed",
            RefusalCode::ReviewRequired => "review-required",
            RefusalCode::PolicyError => "policy-error",
        }
    }
}

impl std::fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub code: RefusalCode,
    pub reason: String,
    pub fix: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "commit refused ({}): {}; fix: {}",
            self.code, self.reason, self.fix
        )
    }
}

/// What pre-commit hands to commit-msg and post-commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    /// The tree the index would commit (`git write-tree`).
    pub tree: String,
    /// HEAD when it was attributed (the base of the diff).
    pub head: Option<String>,
    pub analysis: Analysis,
}

/// Where the hand-over for a worktree lives: beside the ledger, not in `.git`, so the agent's
/// tools (which self-protection keeps out of the ledger directory) cannot rewrite the
/// attribution between pre-commit and post-commit.
pub fn pending_path(repo: &Repo, ledger_path: &Path) -> PathBuf {
    let worktree = blake3::hash(repo.git_dir.to_string_lossy().as_bytes()).to_hex();
    ledger_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("git-pending")
        .join(format!("{}.json", &worktree[..32]))
}

pub fn read_pending(repo: &Repo, ledger_path: &Path) -> Option<Pending> {
    let bytes = std::fs::read(pending_path(repo, ledger_path)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Without a ledger directory there is nothing to hand over (and none is created): the later
/// hooks then attribute on their own.
pub fn write_pending(repo: &Repo, ledger_path: &Path, pending: &Pending) -> std::io::Result<()> {
    if !ledger_path.parent().is_some_and(Path::is_dir) {
        return Ok(());
    }
    let path = pending_path(repo, ledger_path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(pending).unwrap_or_default())?;
    std::fs::rename(tmp, path)
}

pub fn clear_pending(repo: &Repo, ledger_path: &Path) {
    let _ = std::fs::remove_file(pending_path(repo, ledger_path));
}

/// The tree the index would commit now.
pub fn index_tree(repo: &Repo) -> Result<String, ProvenanceError> {
    Ok(String::from_utf8_lossy(&repo.run(&["write-tree"])?)
        .trim()
        .to_owned())
}

/// Checks the ledger and attributes the staged change against HEAD (and `MERGE_HEAD` when a
/// merge is being concluded).
pub fn analyze_staged(repo: &Repo, ledger_path: &Path) -> Result<Pending, ProvenanceError> {
    let (state, ledger) = provenance::check_ledger(ledger_path);
    let mut head = repo.head();
    if let Some(amended) = head.clone().filter(|_| repo.amending()) {
        // The commit replaces HEAD: its parent is HEAD's, and HEAD's own lines are its too.
        head = repo.commit(&amended)?.parents.first().cloned();
    }
    let base = match &head {
        Some(head) => head.clone(),
        None => repo.empty_tree()?,
    };
    let changes = repo.staged_changes(&base)?;
    let merged = repo.merge_head();
    let analysis = analyze_with(
        repo,
        state,
        ledger.as_ref(),
        &changes,
        merged.as_deref(),
        None,
    )?;
    Ok(Pending {
        tree: index_tree(repo)?,
        head,
        analysis,
    })
}

pub fn analyze_with(
    repo: &Repo,
    state: LedgerState,
    ledger: Option<&EditLedger>,
    changes: &[super::repo::Change],
    merged: Option<&str>,
    anchor: Option<super::note::NoteAnchor>,
) -> Result<Analysis, ProvenanceError> {
    let anchor = anchor.or_else(|| ledger.and_then(provenance::anchor_of));
    let through = anchor.as_ref().map_or(0, |a| a.seq);
    let mut analysis = provenance::analyze(repo, ledger, through, changes, merged)?;
    analysis.anchor = anchor;
    let mut state = state;
    if !analysis.ledger.problems.is_empty() {
        // Records the attribution needed failed their hash check (the incremental chain
        // check only covers what was appended since the last one).
        state.intact = false;
        state.problems.append(&mut analysis.ledger.problems);
    }
    analysis.ledger = state;
    Ok(analysis)
}

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Managed => "managed",
        Layer::User => "user",
        Layer::BuiltIn => "built-in",
    }
}

/// The pre-commit checks: the ledger (when the policy requires it valid) and the models.
pub fn pre_commit_refusals(policy: &GitPolicy, analysis: &Analysis) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let ledger = &analysis.ledger;
    if policy.require_ledger_valid {
        if !ledger.present {
            refusals.push(Refusal {
                code: RefusalCode::LedgerMissing,
                reason: format!(
                    "there is no ledger at {} and git.require_ledger_valid is set",
                    ledger.path.display()
                ),
                fix: "point HOOKLEDGER_HOME (or HOOKLEDGER_LEDGER) at your ledger".into(),
            });
        } else if !ledger.intact {
            refusals.push(Refusal {
                code: RefusalCode::LedgerInvalid,
                reason: format!(
                    "the ledger fails verification ({})",
                    ledger.problems.first().map_or("unreadable", String::as_str)
                ),
                fix: "run `hookledger verify` and have the ledger investigated before committing"
                    .into(),
            });
        } else if ledger.spool_pending > 0 {
            refusals.push(Refusal {
                code: RefusalCode::SpoolUnmerged,
                reason: format!(
                    "{} record(s) wait in the spool and could not be merged into the ledger",
                    ledger.spool_pending
                ),
                fix: "make the ledger writable (a process may hold it locked), then commit again"
                    .into(),
            });
        }
    }
    if !policy.allowed_models.is_empty() {
        for file in &analysis.files {
            let mut refused: Vec<(Option<&str>, Layer, usize)> = Vec::new();
            for [start, end, edit] in &file.lines {
                let model = analysis
                    .edits
                    .get(*edit as usize)
                    .and_then(|e| e.model.as_deref());
                if let Some(layer) = policy.model_refused_by(model) {
                    let lines = if file.binary {
                        1
                    } else {
                        (end + 1 - start) as usize
                    };
                    match refused.iter_mut().find(|(m, _, _)| *m == model) {
                        Some(entry) => entry.2 += lines,
                        None => refused.push((model, layer, lines)),
                    }
                }
            }
            for (model, layer, lines) in refused {
                refusals.push(Refusal {
                    code: RefusalCode::ModelNotAllowed,
                    reason: format!(
                        "{lines} AI-written line(s) in {} come from {}, which git.allowed_models ({} policy) does not allow",
                        file.path,
                        model.map_or("an unknown model".to_owned(), |m| format!("model {m}")),
                        layer_name(layer)
                    ),
                    fix: "rewrite those lines (or unstage the file), or have the policy allow the model".into(),
                });
            }
        }
    }
    refusals
}

/// The commit-msg check: AI-touched files under `git.review_required` need the review trailer.
pub fn review_refusals(
    policy: &GitPolicy,
    analysis: &Analysis,
    trailers: &[(String, String)],
) -> Vec<Refusal> {
    let reviewed = trailers.iter().any(|(key, value)| {
        key.eq_ignore_ascii_case(&policy.review_trailer) && !value.trim().is_empty()
    });
    if reviewed {
        return Vec::new();
    }
    analysis
        .touched
        .iter()
        .filter_map(|path| {
            policy
                .review_pattern_for(path)
                .map(|pattern| (path, pattern))
        })
        .map(|(path, pattern)| Refusal {
            code: RefusalCode::ReviewRequired,
            reason: format!(
                "{path} has AI-written changes and matches git.review_required ({pattern})"
            ),
            fix: format!(
                "have it reviewed and add a '{}: Name <email>' trailer to the message",
                policy.review_trailer
            ),
        })
        .collect()
}

/// The trailers of a commit message, as git parses them.
pub fn message_trailers(
    repo: &Repo,
    message_file: &Path,
) -> Result<Vec<(String, String)>, ProvenanceError> {
    let file = message_file.to_string_lossy();
    let out = repo.run(&["interpret-trailers", "--parse", &file])?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// Whether a message file says anything besides comments (git aborts an empty commit; a
/// trailer must not make it non-empty).
pub fn message_is_empty(text: &str, comment_char: char) -> bool {
    text.lines()
        .take_while(|l| !l.starts_with(&format!("{comment_char} ------------------------ >8")))
        .all(|l| l.trim().is_empty() || l.starts_with(comment_char))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_only_messages_are_empty() {
        assert!(message_is_empty(
            "\n# Please enter the commit message\n#\n",
            '#'
        ));
        assert!(!message_is_empty("fix the parser\n\n# comment\n", '#'));
        assert!(message_is_empty(
            "\n# ------------------------ >8 ------------------------\ndiff --git\n",
            '#'
        ));
    }
}
