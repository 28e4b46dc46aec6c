//! The DLP corpus, in process: for each detector, recall over its true positives and
//! precision over every case it fired on (a firing on a case without a secret is false), printed
//! as a table; every case must come out right and every redaction must remove the whole
//! secret, from the text and from the text as the `+` lines of an edit's hunk.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

#[path = "corpus/dlp_cases.rs"]
mod dlp_cases;

use std::collections::BTreeMap;

use hookledger_policy::dlp::{redact, scan};

#[derive(Default)]
struct Tally {
    positives: usize,
    found: usize,
    fired: usize,
    fired_right: usize,
}

#[test]
fn dlp_corpus_recall_and_precision() {
    let cases = dlp_cases::cases();
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut wrong = Vec::new();
    for case in &cases {
        let findings = scan(&case.text);
        let fired: Vec<&str> = findings.iter().map(|f| f.kind.code()).collect();
        for kind in &fired {
            let t = tally.entry(kind).or_default();
            t.fired += 1;
            // A positive case holds a secret (a pair case two): what fires on it is right.
            if case.positive {
                t.fired_right += 1;
            }
        }
        let t = tally.entry(case.detector).or_default();
        let hit = fired.contains(&case.detector);
        if case.positive {
            t.positives += 1;
            if hit {
                t.found += 1;
            } else {
                wrong.push(format!(
                    "missed {}: {:?} (fired {fired:?})",
                    case.detector, case.text
                ));
            }
            // The text as it is written, and as the lines of an edit's hunk (`+` before each
            // line, as a Write's structured patch records it): both must lose the secret.
            let hunk: String = case
                .text
                .lines()
                .map(|l| format!("+{l}"))
                .collect::<Vec<_>>()
                .join("\n");
            let redacted = format!(
                "{}\n{}",
                redact(&case.text, &findings),
                redact(&hunk, &scan(&hunk))
            );
            let secret = case.secret.as_deref().unwrap();
            // Every line of a multi-line secret, and every 8-byte window of a one-line one.
            let pieces: Vec<&str> = if secret.contains('\n') {
                secret.lines().filter(|l| l.len() >= 8).collect()
            } else {
                vec![secret]
            };
            for piece in pieces {
                let leaked = piece.len() >= 8
                    && (0..=piece.len() - 8).any(|i| {
                        piece.is_char_boundary(i)
                            && piece.is_char_boundary(i + 8)
                            && redacted.contains(&piece[i..i + 8])
                    });
                if leaked {
                    wrong.push(format!(
                        "redaction of {} leaves part of the secret: {redacted:?}",
                        case.detector
                    ));
                }
            }
        }
        // A negative case must not fire any detector at all.
        if !case.positive && !fired.is_empty() {
            wrong.push(format!("negative case fired {fired:?}: {:?}", case.text));
        }
    }
    println!(
        "{:<26} {:>9} {:>7} {:>7} {:>9}",
        "detector", "positives", "recall", "fired", "precision"
    );
    for (detector, t) in &tally {
        let recall = if t.positives == 0 {
            1.0
        } else {
            t.found as f64 / t.positives as f64
        };
        let precision = if t.fired == 0 {
            1.0
        } else {
            t.fired_right as f64 / t.fired as f64
        };
        println!(
            "{detector:<26} {:>9} {:>7.3} {:>7} {:>9.3}",
            t.positives, recall, t.fired, precision
        );
    }
    let negatives = cases.iter().filter(|c| !c.positive).count();
    println!(
        "{} cases: {} true, {negatives} false",
        cases.len(),
        cases.len() - negatives
    );
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Pieces the detectors react to (anchors, quotes, glue, separators, key material), so random
/// texts made of them reach the detectors' edge cases: at the start or end of the text, cut
/// short, nested, joined.
const PIECES: &[&str] = &[
    "-----BEGIN ",
    "RSA PRIVATE KEY",
    "-----",
    "-----END ",
    "---- BEGIN ",
    "SSH2 ",
    "----",
    "LS0tLS1CRUdJTi",
    "b3BlbnNzaC1rZXktdjE",
    "MIIEowIBAAKCAQEA",
    "IBAAKCA",
    "\"kty\"",
    "\"d\":",
    "PuTTY-User-Key-File-",
    "Private-Lines:",
    "Private-MAC:",
    "AKIA",
    "ASIA",
    "aws_secret_access_key",
    "\"private_key\"",
    "service_account",
    "AIza",
    "AccountKey=",
    "SharedAccessKey=",
    "sig=",
    "SharedAccessSignature=",
    "ghp_",
    "github_pat_",
    "glpat-",
    ".01.",
    "xoxb-",
    "xapp-",
    "hooks.slack.com/",
    "services/",
    "sk_live_",
    "sk-ant-",
    "sk-proj-",
    "sk-",
    "T3BlbkFJ",
    "npm_",
    "Bearer ",
    "Basic ",
    "Authorization",
    "Cookie",
    "\"auth\"",
    "eyJhdXRocyI6",
    "eyJ",
    "://",
    "user:",
    "@",
    "password",
    "pass",
    "pwd",
    "secret",
    "token",
    "api_key",
    "_key",
    "privateKey",
    "identified by",
    " -u ",
    "--user",
    " -p",
    "mysql ",
    "hf_",
    "SG.",
    "dop_v1_",
    "shp",
    "key-",
    "Q~",
    ":AA",
    "/api/webhooks/",
    "discord.com",
    "kind: Secret",
    "data:",
    "stringData:",
    "---",
    "ENV ",
    "machine ",
    " login ",
    "config set ",
    "is ",
    "=",
    ":",
    ":=",
    "=>",
    ",",
    ";",
    "|",
    "&",
    "?",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "<",
    "</",
    ">",
    "value=",
    "\"",
    "'",
    "\\\"",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "+",
    " ",
    "  ",
    "\t",
    "$",
    "%",
    "!",
    "~",
    "é",
    "€",
    "0",
    "1234567890",
    "4111111111111111",
    "123-45-6789",
    "Zx9qL2vB7mK4",
    "aZ3bcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "0123456789abcdef0123456789abcdef",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AAAAAAAAAAAAAAAA",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

    /// Any text: the scan does not panic, every finding lies in the text, and a text without
    /// a finding is left as it is by redaction.
    #[test]
    fn scanning_any_text_never_panics(picks in proptest::collection::vec(0..PIECES.len(), 0..40)) {
        let text: String = picks.iter().map(|i| PIECES[*i]).collect();
        let findings = scan(&text);
        for f in &findings {
            proptest::prop_assert!(f.start <= f.end && f.end <= text.len(), "{f:?} in {text:?}");
        }
        let redacted = redact(&text, &findings);
        if findings.is_empty() {
            proptest::prop_assert_eq!(redacted, text);
        }
    }
}

/// A text of one anchor repeated (a key header, `://`, `"kty"`, `Cookie`, `password`, …)
/// costs time linear in its length: every detector bounds how far it looks around an anchor
/// and skips anchors inside its previous finding. (Measured in a release build at 195 KB: at
/// most ~25 ms; before the bounds, up to 4 s. The bound here is loose for a debug build on a
/// shared machine and still far below what a quadratic detector takes.)
#[test]
fn repeated_anchors_cost_linear_time() {
    let units: &[&str] = &[
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nxx\n",
        "PuTTY-User-Key-File-2: x\n",
        "\"kty\" \"d\": ",
        "mysql -p ",
        "cookie a=b; ",
        "password ",
        "password for the is ",
        "\"a\" \"",
        "'ab' + ",
        "T3BlbkFJ",
        "LS0tLS1CRUdJTi",
        "kind: Secret\ndata:\n  a: b\n",
        "name: DB_PASSWORD ",
        "a://b:c",
        "Authorization: ",
        "sk-",
    ];
    for unit in units {
        let mut text = unit.repeat(50_000 / unit.len());
        text.push_str("-----END RSA PRIVATE KEY-----");
        let started = std::time::Instant::now();
        let _ = scan(&text);
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(4),
            "{unit:?} x {}: {took:?}",
            50_000 / unit.len()
        );
    }
}
