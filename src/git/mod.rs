/*!
Git provenance: which committed lines an agent wrote, checked against the ledger.

The repository facts the gate needs on every call (root, remotes, default remote) belong to the
policy crate ([`hookledger_policy::repo`]) and are re-exported here for the recorder.

Git provenance (the git hooks, `git verify`, `blame`) lives in the submodules: [`repo`] (git
plumbing), [`edits`] (the ledger's edit records), [`attribute`] (line attribution),
[`provenance`] (anchors, notes, commit records), [`note`] (the note format) and [`hooks`]
(installing the shims).
*/

pub mod attribute;
pub mod blame;
pub mod edits;
pub mod gate;
pub mod hooks;
pub mod note;
pub mod provenance;
pub mod repo;
pub mod verify;

pub use hookledger_policy::repo::{
    Remote, RepositoryInfo, default_remote, describe, effective_remote_urls,
    effective_remote_urls_of, normalize_remote_url, repository_root,
};
