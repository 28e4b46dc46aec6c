/*!
The `git` section of the policy as the git hooks apply it.

Layers combine like the rest of the policy: a lower layer can only add restrictions. A model
must be allowed by every layer that lists models, review patterns add up, and the ledger must
be valid if any layer requires it. `review_trailer` and `trailers` are choices, not
restrictions: the managed layer's value wins over the user's.
*/

use std::path::Path;

use super::Layer;
use super::file::{self, LoadedLayer, OnError, PolicyError, TrailerMode};

pub const DEFAULT_REVIEW_TRAILER: &str = "Reviewed-by";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitPolicy {
    pub require_ledger_valid: bool,
    /// One list per layer that sets `allowed_models`; a model must match a pattern of each.
    pub allowed_models: Vec<(Layer, Vec<String>)>,
    pub review_required: Vec<(Layer, String)>,
    pub review_trailer: String,
    pub trailers: TrailerMode,
}

impl Default for GitPolicy {
    fn default() -> Self {
        GitPolicy {
            require_ledger_valid: false,
            allowed_models: Vec::new(),
            review_required: Vec::new(),
            review_trailer: DEFAULT_REVIEW_TRAILER.to_owned(),
            trailers: TrailerMode::Anchor,
        }
    }
}

impl GitPolicy {
    pub fn from_layers(layers: &[LoadedLayer]) -> GitPolicy {
        let mut policy = GitPolicy::default();
        // Managed comes first in `layers`; walking backwards lets it overwrite the choices.
        for layer in layers.iter().rev() {
            let Some(git) = &layer.file.git else {
                continue;
            };
            policy.require_ledger_valid |= git.require_ledger_valid.unwrap_or(false);
            if let Some(models) = &git.allowed_models {
                policy
                    .allowed_models
                    .insert(0, (layer.layer, models.clone()));
            }
            policy.review_required.extend(
                git.review_required
                    .iter()
                    .map(|pattern| (layer.layer, pattern.clone())),
            );
            if let Some(trailer) = &git.review_trailer {
                policy.review_trailer = trailer.clone();
            }
            if let Some(mode) = git.trailers {
                policy.trailers = mode;
            }
        }
        policy
    }

    /// The policy in force, or the first error when a layer is broken and `on_error` (of the
    /// layers that did load) is not `allow`.
    pub fn load(hookledger_home: &Path) -> Result<GitPolicy, PolicyError> {
        let (layers, errors) = file::load_layers(hookledger_home);
        if let Some(error) = errors.into_iter().next()
            && super::Policy::on_error_of(&layers) != OnError::Allow
        {
            return Err(error);
        }
        Ok(GitPolicy::from_layers(&layers))
    }

    /// `None` when `model` may be committed, else the layer whose list refuses it. An unknown
    /// model is refused by any list: the gate fails closed.
    pub fn model_refused_by(&self, model: Option<&str>) -> Option<Layer> {
        self.allowed_models
            .iter()
            .find(|(_, patterns)| {
                !model.is_some_and(|m| patterns.iter().any(|p| fast_glob::glob_match(p, m)))
            })
            .map(|(layer, _)| *layer)
    }

    /// The first review pattern that covers a repository-relative path.
    pub fn review_pattern_for(&self, path: &str) -> Option<&str> {
        self.review_required
            .iter()
            .map(|(_, pattern)| pattern.as_str())
            .find(|pattern| fast_glob::glob_match(pattern, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn layer(layer: Layer, json: &str) -> LoadedLayer {
        LoadedLayer {
            layer,
            path: PathBuf::from("p.json"),
            file: file::parse(Path::new("p.json"), json).unwrap(),
        }
    }

    #[test]
    fn layers_only_add_restrictions_and_managed_choices_win() {
        let policy = GitPolicy::from_layers(&[
            layer(
                Layer::Managed,
                r#"{"git": {"allowed_models": ["claude-*"], "trailers": "full", "review_required": ["src/auth/**"]}}"#,
            ),
            layer(
                Layer::User,
                r#"{"git": {"allowed_models": ["*-opus-*"], "trailers": "none", "require_ledger_valid": true, "review_required": ["**/*.sql"]}}"#,
            ),
        ]);
        assert!(policy.require_ledger_valid);
        assert_eq!(policy.trailers, TrailerMode::Full);
        assert_eq!(policy.model_refused_by(Some("claude-opus-4-5")), None);
        assert_eq!(
            policy.model_refused_by(Some("claude-sonnet-4-5")),
            Some(Layer::User)
        );
        assert_eq!(policy.model_refused_by(Some("gpt-5")), Some(Layer::Managed));
        assert_eq!(policy.model_refused_by(None), Some(Layer::Managed));
        assert_eq!(
            policy.review_pattern_for("src/auth/login.rs"),
            Some("src/auth/**")
        );
        assert_eq!(policy.review_pattern_for("db/init.sql"), Some("**/*.sql"));
        assert_eq!(policy.review_pattern_for("src/main.rs"), None);
    }

    #[test]
    fn without_a_git_section_nothing_is_refused() {
        let policy = GitPolicy::from_layers(&[layer(Layer::User, r#"{"version": 1}"#)]);
        assert_eq!(policy, GitPolicy::default());
        assert_eq!(policy.model_refused_by(None), None);
    }
}
