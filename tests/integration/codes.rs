//! Every family of stable codes: unique within the family, and each one documented in
//! docs/codes.md (and nothing listed there that the source no longer has). In process: the
//! families are the library's enums.

use std::collections::{BTreeMap, BTreeSet};

use hookledger::doctor::CheckId;
use hookledger::export::receive;
use hookledger::git::{gate, verify as git_verify};
use hookledger::ledger::keys::KeyStatusCode;
use hookledger::ledger::spool::SpoolCode;
use hookledger::ledger::verify::{self, against::AgainstCode};
use hookledger::policy::Rule;

/// The codes of one enum family, each checked to serialize as its `as_str()`.
fn family<T: Copy + serde::Serialize>(
    all: &[T],
    as_str: fn(T) -> &'static str,
) -> Vec<&'static str> {
    all.iter()
        .map(|&code| {
            let text = as_str(code);
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::json!(text),
                "{text} serializes differently from its as_str()"
            );
            text
        })
        .collect()
}

/// Each family under the heading it has in docs/codes.md.
fn families() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("Policy rules", family(Rule::ALL, Rule::as_str)),
        (
            "Verify problems",
            family(verify::ProblemCode::ALL, verify::ProblemCode::as_str),
        ),
        (
            "Verify against shipped exports",
            family(AgainstCode::ALL, AgainstCode::as_str),
        ),
        (
            "Receiver problems",
            family(receive::ProblemCode::ALL, receive::ProblemCode::as_str),
        ),
        (
            "Fleet ingest refusals",
            family(
                receive::incremental::RefusalCode::ALL,
                receive::incremental::RefusalCode::as_str,
            ),
        ),
        (
            "Fleet record alerts",
            family(
                receive::incremental::ContentCode::ALL,
                receive::incremental::ContentCode::as_str,
            ),
        ),
        ("Spool reasons", family(SpoolCode::ALL, SpoolCode::as_str)),
        (
            "Signing key states",
            family(KeyStatusCode::ALL, KeyStatusCode::as_str),
        ),
        (
            "Git gate refusals",
            family(gate::RefusalCode::ALL, gate::RefusalCode::as_str),
        ),
        (
            "Git verify problems",
            family(
                git_verify::ProblemCode::ALL,
                git_verify::ProblemCode::as_str,
            ),
        ),
        (
            "Git verify commit states",
            family(
                git_verify::CommitStatus::ALL,
                git_verify::CommitStatus::as_str,
            ),
        ),
        ("Doctor checks", family(CheckId::ALL, CheckId::as_str)),
        (
            "Report person identities",
            family(
                hookledger::report::facts::IdentifiedBy::ALL,
                hookledger::report::facts::IdentifiedBy::as_str,
            ),
        ),
        (
            "Report allowlist verdicts",
            family(
                hookledger::report::Allowlist::ALL,
                hookledger::report::Allowlist::as_str,
            ),
        ),
        (
            "Report verdict bases",
            family(
                hookledger::report::Basis::ALL,
                hookledger::report::Basis::as_str,
            ),
        ),
        (
            "Model sources",
            family(
                hookledger::ledger::record::ModelSource::ALL,
                hookledger::ledger::record::ModelSource::as_str,
            ),
        ),
        (
            "Usage sources",
            family(
                hookledger::ledger::record::UsageSource::ALL,
                hookledger::ledger::record::UsageSource::as_str,
            ),
        ),
        (
            "Fleet machine statuses",
            family(
                hookledger::report::fleet::MachineStatus::ALL,
                hookledger::report::fleet::MachineStatus::as_str,
            ),
        ),
        (
            "Secret kinds",
            family(
                hookledger::policy::dlp::SecretKind::ALL,
                hookledger::policy::dlp::SecretKind::code,
            ),
        ),
    ]
}

/// docs/codes.md as heading → the codes listed under it (`- `code`: meaning` lines).
fn documented() -> BTreeMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/codes.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            current = Some(heading.trim().to_owned());
            sections.entry(heading.trim().to_owned()).or_default();
        } else if let Some(rest) = line.strip_prefix("- `") {
            let (code, meaning) = rest
                .split_once("`: ")
                .unwrap_or_else(|| panic!("docs/codes.md: {line:?} is not \"- `code`: meaning\""));
            assert!(
                !meaning.trim().is_empty(),
                "docs/codes.md: {code} has no meaning"
            );
            let section = current
                .clone()
                .unwrap_or_else(|| panic!("docs/codes.md: {code} is listed under no heading"));
            sections.entry(section).or_default().push(code.to_owned());
        }
    }
    sections
}

#[test]
fn every_code_is_unique_in_its_family_and_documented() {
    let families = families();
    let mut docs = documented();
    for (name, codes) in &families {
        let mut seen = BTreeSet::new();
        for code in codes {
            assert!(seen.insert(*code), "{name}: {code} appears twice");
            assert!(
                !code.is_empty()
                    && code.split('-').all(|w| !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{name}: {code:?} is not kebab-case"
            );
        }
        let listed = docs
            .remove(*name)
            .unwrap_or_else(|| panic!("docs/codes.md has no \"## {name}\" section"));
        let mut listed_set = BTreeSet::new();
        for code in &listed {
            assert!(
                listed_set.insert(code.as_str()),
                "docs/codes.md lists {name}: {code} twice"
            );
        }
        let undocumented: Vec<_> = seen.difference(&listed_set).collect();
        let stale: Vec<_> = listed_set.difference(&seen).collect();
        assert!(
            undocumented.is_empty(),
            "{name}: not in docs/codes.md: {undocumented:?}"
        );
        assert!(
            stale.is_empty(),
            "{name}: docs/codes.md lists codes the source does not have: {stale:?}"
        );
    }
    assert!(
        docs.is_empty(),
        "docs/codes.md has sections no family checks: {:?}",
        docs.keys().collect::<Vec<_>>()
    );
}
