/*!
Secret detection for prompts and for content written by Edit/Write.

Hand-written scanners rather than a regex set: compiling the equivalent regexes costs ~0.85 ms
in every hook process (measured), longer than the rest of the hook's work. Each detector looks
for a literal anchor with `memchr`, then checks the shape around it. Findings carry the kind
and the byte range, never the secret, so messages and ledger records can name what was found
without repeating it.

What counts as a secret is judged from the value, not the name that holds it:
- A secret-named key (`password`, `*_key`, `token`, …) holds a secret only when its value is
  a literal that looks like one. Code that names a secret (`request.form['password']`,
  `settings.API_KEY`, `os.environ["SECRET_KEY"]`, a type, a borrow, an identifier made of
  words), references (`${TOKEN}`, `{{ .Values.token }}`, `<your-key>`), placeholders (`xxxx`,
  `changeme`, `your-api-key-here`, `sk-ant-api03-...`), paths, image references, ids,
  digests under names that say so, and keys that hold something about a secret
  (`api_key_id`, `token_url`) are not secrets.
- Vendor tokens are found by their prefix and shape; a body that is one character repeated
  is a placeholder.
- Published example keys (AWS's `AKIAIOSFODNN7EXAMPLE` pair, RFC examples) are secrets like
  any key of their shape: nothing in a value tells a published example from a real key, and
  an allowlist of examples would be a way to write a real key past the detector.
- A secret split over literals that are still literal (`"AKIA…" "…"`, `'…' +\n '…'`, a
  backslash continuation, `AKIA"…"…` as a shell joins it) is found in a view of the text with
  the glue taken out, and the finding covers both pieces and the glue.
- A finding covers the whole secret: both halves of a key pair, a key block to its END, the
  password of a URL, a quoted value to its closing quote.
*/

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    PrivateKey,
    AwsAccessKey,
    AwsSecretKey,
    GcpServiceAccountKey,
    GcpApiKey,
    AzureStorageKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeKey,
    Jwt,
    PasswordAssignment,
    CardNumber,
    UsSsn,
    // Added after the first release: appended so the serialized names above stay as they were.
    AzureConnectionString,
    UrlPassword,
    AnthropicKey,
    OpenaiKey,
    SlackWebhook,
    EnvSecret,
    NpmToken,
    AuthorizationHeader,
    VendorToken,
    KubernetesSecret,
}

impl SecretKind {
    /// Every kind, in declaration order (the stable codes are listed in docs/codes.md).
    pub const ALL: &'static [SecretKind] = &[
        Self::PrivateKey,
        Self::AwsAccessKey,
        Self::AwsSecretKey,
        Self::GcpServiceAccountKey,
        Self::GcpApiKey,
        Self::AzureStorageKey,
        Self::GithubToken,
        Self::GitlabToken,
        Self::SlackToken,
        Self::StripeKey,
        Self::Jwt,
        Self::PasswordAssignment,
        Self::CardNumber,
        Self::UsSsn,
        Self::AzureConnectionString,
        Self::UrlPassword,
        Self::AnthropicKey,
        Self::OpenaiKey,
        Self::SlackWebhook,
        Self::EnvSecret,
        Self::NpmToken,
        Self::AuthorizationHeader,
        Self::VendorToken,
        Self::KubernetesSecret,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::PrivateKey => "a private key",
            Self::AwsAccessKey => "an AWS access key id",
            Self::AwsSecretKey => "an AWS secret access key",
            Self::GcpServiceAccountKey => "a GCP service-account key",
            Self::GcpApiKey => "a Google API key",
            Self::AzureStorageKey => "an Azure storage account key",
            Self::GithubToken => "a GitHub token",
            Self::GitlabToken => "a GitLab token",
            Self::SlackToken => "a Slack token",
            Self::StripeKey => "a Stripe key",
            Self::Jwt => "a JSON Web Token",
            Self::PasswordAssignment => "a password or secret assignment",
            Self::CardNumber => "a payment card number",
            Self::UsSsn => "a US social security number",
            Self::AzureConnectionString => "an Azure connection-string key",
            Self::UrlPassword => "a URL with a password",
            Self::AnthropicKey => "an Anthropic API key",
            Self::OpenaiKey => "an OpenAI API key",
            Self::SlackWebhook => "a Slack webhook URL",
            Self::EnvSecret => "a high-entropy value in an environment file",
            Self::NpmToken => "an npm access token",
            Self::AuthorizationHeader => {
                "a credential in an HTTP header (Authorization, Cookie) or a registry login"
            }
            Self::VendorToken => "an API token with a vendor's prefix",
            Self::KubernetesSecret => "a value of a Kubernetes Secret",
        }
    }

    /// The stable name, as it is serialized (`aws-access-key`).
    pub fn code(self) -> &'static str {
        match self {
            Self::PrivateKey => "private-key",
            Self::AwsAccessKey => "aws-access-key",
            Self::AwsSecretKey => "aws-secret-key",
            Self::GcpServiceAccountKey => "gcp-service-account-key",
            Self::GcpApiKey => "gcp-api-key",
            Self::AzureStorageKey => "azure-storage-key",
            Self::GithubToken => "github-token",
            Self::GitlabToken => "gitlab-token",
            Self::SlackToken => "slack-token",
            Self::StripeKey => "stripe-key",
            Self::Jwt => "jwt",
            Self::PasswordAssignment => "password-assignment",
            Self::CardNumber => "card-number",
            Self::UsSsn => "us-ssn",
            Self::AzureConnectionString => "azure-connection-string",
            Self::UrlPassword => "url-password",
            Self::AnthropicKey => "anthropic-key",
            Self::OpenaiKey => "openai-key",
            Self::SlackWebhook => "slack-webhook",
            Self::EnvSecret => "env-secret",
            Self::NpmToken => "npm-token",
            Self::AuthorizationHeader => "authorization-header",
            Self::VendorToken => "vendor-token",
            Self::KubernetesSecret => "kubernetes-secret",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: SecretKind,
    pub start: usize,
    pub end: usize,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Length of the run starting at `at` whose bytes satisfy `ok`.
fn run(text: &[u8], at: usize, ok: impl Fn(u8) -> bool) -> usize {
    text[at.min(text.len())..]
        .iter()
        .take_while(|b| ok(**b))
        .count()
}

fn boundary_before(text: &[u8], at: usize) -> bool {
    at == 0 || !is_word(text[at - 1])
}

/// Needles are `'static` literals, so their address and length identify them; the hash is a
/// multiply (SipHash over the key cost more than the searches it guards).
#[derive(Default)]
struct NeedleHasher(u64);

impl std::hash::Hasher for NeedleHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type FinderCache = std::collections::HashMap<
    u64,
    memchr::memmem::Finder<'static>,
    std::hash::BuildHasherDefault<NeedleHasher>,
>;

thread_local! {
    /// Substring searchers by needle: building one (`memmem::find`/`find_iter` build a new one
    /// per call) costs more than searching a short string, and the hook scans every string of
    /// every record it stores against ~40 needles, so each is built once per process.
    static FINDERS: std::cell::RefCell<FinderCache> = std::cell::RefCell::new(FinderCache::default());
}

fn with_finder<R>(
    needle: &'static [u8],
    f: impl FnOnce(&memchr::memmem::Finder<'static>) -> R,
) -> R {
    let key = (needle.as_ptr() as u64) ^ ((needle.len() as u64) << 48);
    FINDERS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let finder = cache
            .entry(key)
            .or_insert_with(|| memchr::memmem::Finder::new(needle));
        f(finder)
    })
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &'static [u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    with_finder(needle, |finder| finder.find(hay))
}

/// The anchors every detector starts from, found in one pass over the text: scanning every
/// string of every record against each anchor in turn cost a pass per anchor (and two
/// lower-cased copies of the text). `true`: the anchor matches in any ASCII case (names of
/// settings); the others must match exactly. At most 128 (a mask per byte value).
///
/// Not an Aho-Corasick automaton: measured with callgrind (aho-corasick 1.1.5, these anchors),
/// building one costs 0.4–0.7M instructions in every hook process (0.6M as an ASCII
/// case-insensitive contiguous NFA) and searching ~39 instructions a byte, more than the whole
/// scrub it would speed up (~0.2–0.3M per event). Two 256-entry masks made at compile time
/// (which anchors start with a byte, which have a byte second) cost nothing to build, and a
/// position is compared only when its first two bytes fit an anchor.
const ANCHORS: &[(&[u8], bool)] = &[
    (b"-----BEGIN ", false),
    // SSH.com's format: `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`.
    (b"---- BEGIN ", false),
    // Base64 of `-----BEGIN` (a key inside a Kubernetes secret's `data:` or a CI variable).
    (b"LS0tLS1CRUdJTi", false),
    (b"PuTTY-User-Key-File-", false),
    (b"AKIA", false),
    (b"ASIA", false),
    (b"ABIA", false),
    (b"ACCA", false),
    (b"aws_secret_access_key", true),
    (b"aws_secret_key", true),
    (b"awssecretaccesskey", true),
    (b"\"private_key\"", false),
    (b"AIza", false),
    (b"AccountKey=", false),
    (b"SharedAccessKey=", false),
    (b"SharedAccessSignature=", false),
    // The signature of a SAS URL (`?sv=…&sig=…`).
    (b"sig=", false),
    (b"ghp_", false),
    (b"gho_", false),
    (b"ghu_", false),
    (b"ghs_", false),
    (b"ghr_", false),
    (b"github_pat_", false),
    (b"glpat-", false),
    (b"glrt-", false),
    (b"gldt-", false),
    (b"glptt-", false),
    // GitLab runner registration tokens.
    (b"GR1348941", false),
    (b"xoxb-", false),
    (b"xoxa-", false),
    (b"xoxp-", false),
    (b"xoxr-", false),
    (b"xoxs-", false),
    (b"xapp-", false),
    (b"xoxe-", false),
    (b"hooks.slack.com/", false),
    (b"sk_live_", false),
    (b"sk_test_", false),
    (b"rk_live_", false),
    (b"rk_test_", false),
    (b"sk-ant-", false),
    (b"sk-proj-", false),
    (b"sk-svcacct-", false),
    (b"sk-admin-", false),
    (b"sk-None-", false),
    // Legacy OpenAI keys without the marker below: `sk-` and 32+ random characters.
    (b"sk-", false),
    (b"npm_", false),
    (b"bearer ", true),
    (b"basic ", true),
    (b"T3BlbkFJ", false),
    (b"eyJ", false),
    (b"://", false),
    // `password`, `passwd`, `passphrase`, `DB_PASS`, `PGPASSWORD`, openssl's `pass:`.
    (b"pass", true),
    (b"pwd", true),
    (b"api key", true),
    (b"secret", true),
    (b"token", true),
    (b"api_key", true),
    (b"apikey", true),
    (b"api-key", true),
    (b"authorization", true),
    // `Cookie: session=…` (a session is a credential) and SQL's `IDENTIFIED BY '…'`.
    (b"cookie", true),
    (b"identified by", true),
    // A Docker config's `"auth": "<base64 of user:password>"`, and such a config in base64
    // (`{"auths":`), as a Kubernetes `.dockerconfigjson` holds it.
    (b"\"auth\"", false),
    (b"eyJhdXRocyI6", false),
    // Credentials on a command line: `curl -u user:password`, `mysql -pPASSWORD`.
    (b" -u ", false),
    (b"--user", false),
    (b" -p", false),
    // `redis-cli -a PASSWORD`.
    (b" -a ", false),
    // Any `…_key` name (`ENCRYPTION_KEY`, `signing_key`): the value must look random.
    (b"_key", true),
    // camelCase key names that hold keys (`privateKey: "0x…"`, `accountKey`, `accessKey`).
    (b"privatekey", true),
    (b"accountkey", true),
    (b"accesskey", true),
    (b"hf_", false),
    (b"SG.", false),
    (b"hvs.", false),
    (b"hvb.", false),
    (b"dop_v1_", false),
    (b"doo_v1_", false),
    (b"dor_v1_", false),
    // Shopify (`shpat_`, `shpss_`, `shpca_`, `shppa_`), Square (`sq0atp-`, `sq0csp-`),
    // Doppler (`dp.pt.`, `dp.st.`): one anchor for each family.
    (b"shp", false),
    (b"pypi-AgEIcHlwaS5vcmc", false),
    (b"dckr_pat_", false),
    (b"whsec_", false),
    (b"ya29.", false),
    (b"glsa_", false),
    (b"glc_", false),
    (b"PMAK-", false),
    (b"NRAK-", false),
    (b"sq0", false),
    (b"lin_api_", false),
    (b"rubygems_", false),
    (b"AGE-SECRET-KEY-1", false),
    (b"sntrys_", false),
    (b"dp.", false),
    (b"xkeysib-", false),
    (b"pul-", false),
    (b"tskey-", false),
    (b"figd_", false),
    (b"ATATT3", false),
    (b"GOCSPX-", false),
    (b"gsk_", false),
    (b"r8_", false),
    (b"pplx-", false),
    (b"xai-", false),
    (b"lsv2_", false),
    (b"sntryu_", false),
    (b"key-", false),
    (b"dapi", false),
    (b"ntn_", false),
    (b"secret_", false),
    (b"pscale_", false),
    (b"sbp_", false),
    (b"sb_secret_", false),
    (b"nfp_", false),
    (b"sk.eyJ", false),
    (b"AKCp", false),
    (b"oy2", false),
    // Azure AD client secrets (`abc8Q~…`), Telegram bot tokens (`123456789:AA…`), Discord
    // webhooks (`discord.com/api/webhooks/<id>/<token>`).
    (b"Q~", false),
    // Key material without its PEM armour: an OpenSSH key's body (`openssh-key-v1`), the
    // DER of a PKCS#1 RSA key, of a PKCS#8 RSA or EC key; a JSON Web Key (`"kty"` with `"d"`).
    (b"b3BlbnNzaC1rZXktdjE", false),
    (b"IBAAKCA", false),
    (b"IBADANBgkqhkiG9w0BAQEF", false),
    (b"AgEAMBMGByqGSM49AgE", false),
    (b"\"kty\"", false),
    (b":AA", false),
    (b"/api/webhooks/", false),
];

/// Vendor tokens by prefix (those without a kind of their own): the prefix, the least
/// length of the body after it, and whether the body is hex.
const VENDOR_PREFIXES: &[(&[u8], usize, bool)] = &[
    (b"hf_", 30, false),
    (b"SG.", 60, false),
    (b"hvs.", 24, false),
    (b"hvb.", 24, false),
    (b"dop_v1_", 64, true),
    (b"doo_v1_", 64, true),
    (b"dor_v1_", 64, true),
    (b"shpat_", 32, true),
    (b"shpss_", 32, true),
    (b"shpca_", 32, true),
    (b"shppa_", 32, true),
    (b"pypi-AgEIcHlwaS5vcmc", 50, false),
    (b"dckr_pat_", 20, false),
    (b"whsec_", 24, false),
    (b"ya29.", 30, false),
    (b"glsa_", 32, false),
    (b"glc_", 32, false),
    (b"PMAK-", 24, false),
    (b"NRAK-", 27, false),
    (b"sq0atp-", 22, false),
    (b"sq0csp-", 40, false),
    (b"lin_api_", 32, false),
    (b"rubygems_", 48, true),
    (b"AGE-SECRET-KEY-1", 50, false),
    (b"sntrys_", 50, false),
    (b"dp.pt.", 40, false),
    (b"dp.st.", 40, false),
    (b"xkeysib-", 64, false),
    (b"pul-", 40, true),
    (b"tskey-", 20, false),
    (b"figd_", 32, false),
    (b"ATATT3", 100, false),
    (b"GOCSPX-", 28, false),
    (b"gsk_", 48, false),
    (b"r8_", 36, false),
    (b"pplx-", 48, false),
    (b"xai-", 70, false),
    (b"lsv2_", 40, false),
    (b"sntryu_", 64, true),
    (b"key-", 32, true),
    (b"dapi", 32, true),
    (b"ntn_", 40, false),
    (b"secret_", 43, false),
    (b"pscale_", 36, false),
    (b"sbp_", 40, true),
    (b"sb_secret_", 30, false),
    (b"nfp_", 36, false),
    (b"sk.eyJ", 80, false),
    (b"AKCp", 64, false),
    (b"oy2", 43, false),
];

/// For each byte value, the anchors whose byte at `at` it can be (both cases for the
/// case-insensitive ones): a mask over [`ANCHORS`].
const fn byte_masks(at: usize) -> [u128; 256] {
    let mut masks = [0u128; 256];
    let mut id = 0;
    while id < ANCHORS.len() {
        let (anchor, any_case) = ANCHORS[id];
        let b = anchor[at];
        masks[b as usize] |= 1 << id;
        if any_case {
            masks[b.to_ascii_lowercase() as usize] |= 1 << id;
            masks[b.to_ascii_uppercase() as usize] |= 1 << id;
        }
        id += 1;
    }
    masks
}

const FIRST: [u128; 256] = byte_masks(0);
const SECOND: [u128; 256] = byte_masks(1);
const _: () = assert!(ANCHORS.len() <= 128);

/// Where each anchor occurs in one text: (anchor index, position), in text order.
struct Hits {
    hits: Vec<(u8, usize)>,
    /// Which anchors occur at all: most detectors ask about an anchor that is not there.
    present: u128,
}

impl Hits {
    fn of_text(t: &[u8]) -> Hits {
        let mut hits = Vec::new();
        let mut present = 0u128;
        for i in 0..t.len().saturating_sub(1) {
            let mut mask = FIRST[usize::from(t[i])] & SECOND[usize::from(t[i + 1])];
            while mask != 0 {
                let id = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let (anchor, any_case) = ANCHORS[id];
                let matched = t.get(i..i + anchor.len()).is_some_and(|window| {
                    if any_case {
                        window.eq_ignore_ascii_case(anchor)
                    } else {
                        window == anchor
                    }
                });
                if matched {
                    hits.push((id as u8, i));
                    present |= 1 << id;
                }
            }
        }
        Hits { hits, present }
    }

    /// The positions of `anchor`, which must be one of [`ANCHORS`]. The anchor's id is among
    /// those its first two bytes select (the same tables as the search), so an anchor that
    /// does not occur costs two lookups, not a search of the anchor list.
    fn of(&self, anchor: &[u8]) -> Vec<usize> {
        let (Some(a), Some(b)) = (anchor.first(), anchor.get(1)) else {
            return Vec::new();
        };
        let mut candidates = FIRST[usize::from(*a)] & SECOND[usize::from(*b)] & self.present;
        let mut found = None;
        while candidates != 0 {
            let id = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            if ANCHORS[id].0 == anchor {
                found = Some(id);
                break;
            }
        }
        let Some(id) = found else {
            return Vec::new();
        };
        self.hits
            .iter()
            .filter(|(hit, _)| usize::from(*hit) == id)
            .map(|(_, at)| *at)
            .collect()
    }
}

/// Every occurrence of `anchor`, with `check(position) -> Some(end)` deciding a match.
fn scan_anchor(
    hits: &Hits,
    anchor: &'static [u8],
    kind: SecretKind,
    out: &mut Vec<Finding>,
    check: impl Fn(usize) -> Option<usize>,
) {
    // A hit inside the previous finding of the same detector is covered by it (and
    // checking it again would make a text of repeated anchors cost quadratic time).
    let mut covered = 0;
    for at in hits.of(anchor) {
        if at < covered {
            continue;
        }
        if let Some(end) = check(at) {
            covered = end;
            out.push(Finding {
                kind,
                start: at,
                end,
            });
        }
    }
}

/// How far a detector looks around its anchor (a key block's END, an object's braces, the
/// start of a line): far enough for any real secret's context, and a bound on the work a text
/// of repeated anchors can cause.
const WINDOW: usize = 32 * 1024;

/// Where the line that holds `at` starts, looking back at most 512 bytes.
fn line_start(t: &[u8], at: usize) -> usize {
    let from = at.saturating_sub(512);
    memchr::memrchr(b'\n', &t[from..at]).map_or(from, |p| from + p + 1)
}

fn b64ish(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=".contains(&b)
}

fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Bits of entropy per character: long random strings score ~4+, words and code ~2–3.
fn shannon(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for b in bytes {
        counts[usize::from(*b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn line_end(t: &[u8], at: usize) -> usize {
    memchr::memchr(b'\n', &t[at.min(t.len())..]).map_or(t.len(), |e| at + e)
}

/// A key block runs to the end of its `-----END …-----` line; a block cut short (no END) runs
/// to the end of the text, so no part of the key is ever kept. Also where the END marker
/// starts, if there is one.
fn pem_block_end(t: &[u8], at: usize, end_marker: &[u8]) -> (usize, Option<usize>) {
    match memchr::memmem::find(&t[at..(at + WINDOW).min(t.len())], end_marker) {
        Some(e) => {
            let end_at = at + e + end_marker.len();
            let end = match find(&t[end_at..], b"----") {
                Some(d) if !t[end_at..end_at + d].contains(&b'\n') => {
                    end_at + d + run(t, end_at + d, |b| b == b'-')
                }
                _ => line_end(t, end_at),
            };
            (end, Some(at + e))
        }
        None => (t.len(), None),
    }
}

/// A `BEGIN … PRIVATE KEY` block at `at` (after `prefix`, the dashes and `BEGIN `): the label
/// is upper-case words that name a private key and the header closes with dashes (code that
/// only mentions the words, `startswith('-----BEGIN') and 'PRIVATE KEY' in line`, is not a
/// header). A block with an END marker and no base64 between (`...` in docs, a header and
/// footer constant) holds no key; a header without an END is one (the key may follow).
fn private_key_block(
    t: &[u8],
    at: usize,
    prefix: usize,
    end_marker: &'static [u8],
) -> Option<usize> {
    let label_at = at + prefix;
    let n = run(t, label_at, |b| b.is_ascii_alphanumeric() || b == b' ');
    let label = &t[label_at..label_at + n];
    // Private keys of every kind, and OpenVPN's shared `Static key`.
    let private = find(label, b"PRIVATE KEY").is_some() || find(label, b"Static key").is_some();
    if !private || !t[label_at + n..].starts_with(b"----") {
        return None;
    }
    let body_at = label_at + n + run(t, label_at + n, |b| b == b'-');
    // The END of this block names the same label (`-----END RSA PRIVATE KEY`): an END of
    // another block further on (a public key in the same document) does not close it.
    let label = &label[..label.len() - run_back(label, |b| b == b' ')];
    let end_marker = [end_marker, label].concat();
    let (end, end_marker_at) = pem_block_end(t, body_at, &end_marker);
    let body = &t[body_at..end_marker_at.unwrap_or(end)];
    if end_marker_at.is_some() {
        return key_material(body).then_some(end);
    }
    // No END: a key if the text ends with the header (more may follow) or key material
    // follows it (base64, or the headers of an encrypted key); not when prose or code does
    // (a header quoted in documentation or a string constant).
    let mut i = 0;
    while i < body.len() {
        match (body[i], body.get(i + 1)) {
            (b' ' | b'\t' | b'\r' | b'\n', _) => i += 1,
            (b'\\', Some(b'n' | b'r')) => i += 2,
            _ => break,
        }
    }
    let rest = &body[i..];
    let first_line = run(rest, 0, b64ish);
    let material = rest.is_empty()
        || first_line >= 16
        || (first_line > 0 && matches!(rest.get(first_line), None | Some(b'\n' | b'\r')))
        || [&b"Proc-Type:"[..], b"Comment:", b"Version:", b"Hash:"]
            .iter()
            .any(|h| rest.starts_with(h));
    material.then_some(end)
}

/// Whether a base64 run starts at `at`: nothing of base64 before it, but a diff's `+` at
/// the start of its line.
fn b64_starts_at(t: &[u8], at: usize) -> bool {
    let diff = at > 0 && t[at - 1] == b'+' && (at == 1 || t[at - 2] == b'\n');
    at == 0 || !b64ish(t[at - 1]) || diff
}

/// The end of a run of base64 that may be wrapped over lines (as `base64` and PEM bodies
/// are): a following line made only of base64 (after its indentation) continues it.
fn b64_block_end(t: &[u8], start: usize) -> usize {
    let mut end = start + run(t, start, b64ish);
    while t.get(end) == Some(&b'\n')
        || (t.get(end) == Some(&b'\r') && t.get(end + 1) == Some(&b'\n'))
    {
        let next = end + if t[end] == b'\r' { 2 } else { 1 };
        let lead = run(t, next, |b| b == b' ' || b == b'\t' || b == b'+');
        let n = run(t, next + lead, b64ish);
        if n == 0
            || !matches!(
                t.get(next + lead + n),
                None | Some(b'\n' | b'\r' | b'"' | b'\'')
            )
        {
            break;
        }
        end = next + lead + n;
    }
    end
}

/// Whether the body of a block holds key material: a line of nothing but base64 (after
/// indentation, a diff's `+`, quotes; lines also split at a JSON string's `\n`), or a long
/// base64 word (a block written on one line). Prose and code between a header and a footer
/// (documentation that shows both) have neither.
fn key_material(body: &[u8]) -> bool {
    let trim = |piece: &[u8]| -> usize {
        let lead = run(piece, 0, |b| b" \t\r+\"'".contains(&b));
        let piece = &piece[lead..];
        let tail = run_back(piece, |b| b" \t\r\"',\\".contains(&b));
        let piece = &piece[..piece.len() - tail];
        if !piece.is_empty() && piece.iter().all(|b| b64ish(*b)) {
            piece.len()
        } else {
            0
        }
    };
    let lines = body.split(|b| *b == b'\n').flat_map(|line| {
        let mut pieces = Vec::new();
        let mut rest = line;
        while let Some(at) = find(rest, b"\\n") {
            pieces.push(&rest[..at]);
            rest = &rest[at + 2..];
        }
        pieces.push(rest);
        pieces
    });
    let mut material = false;
    // Key material starts within a block's first lines (after its headers).
    for line in lines.take(16) {
        if trim(line) >= 16 || line.split(|b| *b == b' ').any(|word| trim(word) >= 40) {
            material = true;
            break;
        }
    }
    material
}

/// The value of a base64 digit.
fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// The bytes `encoded` (standard or URL base64, no padding needed) stands for, as far as it
/// decodes.
fn b64_decode(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in encoded.iter().map_while(|b| b64_value(*b)) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Whether the body of a token (after its vendor prefix) is a placeholder, not a key: one
/// character repeated (`ghp_xxxx…`, `AKIAXXXX…`), or too few distinct characters for a
/// random string.
fn placeholder_body(body: &[u8]) -> bool {
    let mut longest = 0;
    let mut current = 0;
    let mut last = None;
    for b in body {
        current = if Some(*b) == last { current + 1 } else { 1 };
        last = Some(*b);
        longest = longest.max(current);
    }
    // A run in a real token (a Twitter bearer token starts with ~20 `A`s) is part of it; a
    // placeholder is mostly the run.
    (longest >= 6 && longest * 2 >= body.len()) || shannon(body) < 2.5
}

/// The end of a prefixed token: the prefix, then at least `min` bytes satisfying `ok`; the
/// whole run is the secret (a fixed length would leave the tail of a longer token in clear).
fn prefixed(
    t: &[u8],
    at: usize,
    prefix: usize,
    min: usize,
    ok: impl Fn(u8) -> bool,
) -> Option<usize> {
    let n = run(t, at + prefix, ok);
    (boundary_before(t, at) && n >= min && !placeholder_body(&t[at + prefix..at + prefix + n]))
        .then_some(at + prefix + n)
}

/// Every secret found in `text`, one finding per secret, in text order.
pub fn scan(text: &str) -> Vec<Finding> {
    let t = text.as_bytes();
    let mut out = scan_view(t);
    scan_joined(t, &mut out);
    one_per_secret(out)
}

/// The findings of every detector over `t`, before overlaps are resolved.
fn scan_view(t: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    let hits = Hits::of_text(t);
    // Every `-----BEGIN … PRIVATE KEY-----` variant (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP …
    // KEY BLOCK), the whole block.
    scan_anchor(
        &hits,
        b"-----BEGIN ",
        SecretKind::PrivateKey,
        &mut out,
        |at| private_key_block(t, at, "-----BEGIN ".len(), b"-----END "),
    );
    scan_anchor(
        &hits,
        b"---- BEGIN ",
        SecretKind::PrivateKey,
        &mut out,
        |at| private_key_block(t, at, "---- BEGIN ".len(), b"---- END "),
    );
    // A key block in base64 (`LS0tLS1CRUdJTi` is `-----BEGIN`), as Kubernetes secrets and CI
    // variables hold one: the whole encoded run, over wrapped lines.
    scan_anchor(
        &hits,
        b"LS0tLS1CRUdJTi",
        SecretKind::PrivateKey,
        &mut out,
        |at| {
            if !b64_starts_at(t, at) {
                return None;
            }
            let head = &t[at..(at + 96).min(t.len())];
            let decoded = b64_decode(head);
            find(&decoded, b"PRIVATE KEY")?;
            Some(b64_block_end(t, at))
        },
    );
    // PuTTY: the private lines and the MAC that follows them.
    scan_anchor(
        &hits,
        b"PuTTY-User-Key-File-",
        SecretKind::PrivateKey,
        &mut out,
        |at| {
            let window = &t[at..(at + WINDOW).min(t.len())];
            let private = find(window, b"Private-Lines:")?;
            let after = at + private;
            Some(
                match find(&t[after..(after + WINDOW).min(t.len())], b"Private-MAC:") {
                    Some(m) => line_end(t, after + m),
                    None => t.len(),
                },
            )
        },
    );
    for prefix in [&b"AKIA"[..], b"ASIA", b"ABIA", b"ACCA"] {
        scan_anchor(&hits, prefix, SecretKind::AwsAccessKey, &mut out, |at| {
            let n = run(t, at + 4, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
            (boundary_before(t, at) && n == 16 && !placeholder_body(&t[at + 4..at + 20]))
                .then_some(at + 20)
        });
    }
    scan_aws_secrets(t, &mut out);
    for anchor in [
        &b"aws_secret_access_key"[..],
        b"aws_secret_key",
        b"awssecretaccesskey",
    ] {
        for at in hits.of(anchor) {
            let mut i = at + anchor.len();
            i += run(t, i, |b| {
                b == b' ' || b == b'"' || b == b'\'' || b == b':' || b == b'='
            });
            let n = run(t, i, b64ish);
            if n >= 40 && !placeholder_body(&t[i..i + n]) {
                out.push(Finding {
                    kind: SecretKind::AwsSecretKey,
                    start: i,
                    end: i + n,
                });
            }
        }
    }
    scan_anchor(
        &hits,
        b"\"private_key\"",
        SecretKind::GcpServiceAccountKey,
        &mut out,
        |at| {
            find(t, b"service_account")?;
            // The key's value: to the closing quote of the JSON string that follows.
            let mut i = at + 13;
            i += run(t, i, |b| b == b' ' || b == b':');
            if t.get(i) != Some(&b'"') {
                return Some(at + 13);
            }
            i += 1;
            let mut j = i;
            while j < t.len() && t[j] != b'"' {
                j += if t[j] == b'\\' { 2 } else { 1 };
            }
            Some((j + 1).min(t.len()))
        },
    );
    scan_anchor(&hits, b"AIza", SecretKind::GcpApiKey, &mut out, |at| {
        prefixed(t, at, 4, 35, token_char)
    });
    scan_anchor(
        &hits,
        b"AccountKey=",
        SecretKind::AzureStorageKey,
        &mut out,
        |at| {
            let i = at + "AccountKey=".len();
            let n = run(t, i, b64ish);
            (n >= 20).then_some(i + n)
        },
    );
    for anchor in [&b"SharedAccessKey="[..], b"SharedAccessSignature="] {
        scan_anchor(
            &hits,
            anchor,
            SecretKind::AzureConnectionString,
            &mut out,
            |at| {
                let i = at + anchor.len();
                let n = run(t, i, |b| b64ish(b) || b"%&-_.:".contains(&b));
                let value = &t[i..i + n];
                // A signature without its `sig=` (a template) signs nothing.
                let signed = *anchor == b"SharedAccessKey="[..]
                    || find(value, b"sig=").is_some_and(|s| n - s - 4 >= 16);
                (n >= 20 && signed && !placeholder_value(value)).then_some(i + n)
            },
        );
    }
    for prefix in [&b"ghp_"[..], b"gho_", b"ghu_", b"ghs_", b"ghr_"] {
        scan_anchor(&hits, prefix, SecretKind::GithubToken, &mut out, |at| {
            prefixed(t, at, 4, 36, |b| b.is_ascii_alphanumeric())
        });
    }
    scan_anchor(
        &hits,
        b"github_pat_",
        SecretKind::GithubToken,
        &mut out,
        |at| prefixed(t, at, 11, 60, |b| b.is_ascii_alphanumeric() || b == b'_'),
    );
    for prefix in [&b"glpat-"[..], b"glrt-", b"gldt-", b"glptt-", b"GR1348941"] {
        scan_anchor(&hits, prefix, SecretKind::GitlabToken, &mut out, |at| {
            let end = prefixed(t, at, prefix.len(), 20, token_char)?;
            // Routable tokens go on after a dot (`glpat-….01.…`): a dot followed by more of
            // the token is part of it, a full stop ending a sentence is not.
            let mut end = end;
            while t.get(end) == Some(&b'.') && t.get(end + 1).is_some_and(|b| token_char(*b)) {
                end += 1 + run(t, end + 1, token_char);
            }
            Some(end)
        });
    }
    for prefix in [
        &b"xoxb-"[..],
        b"xoxa-",
        b"xoxp-",
        b"xoxr-",
        b"xoxs-",
        b"xapp-",
        b"xoxe-",
    ] {
        scan_anchor(&hits, prefix, SecretKind::SlackToken, &mut out, |at| {
            prefixed(t, at, 5, 10, |b| b.is_ascii_alphanumeric() || b == b'-')
        });
    }
    scan_anchor(
        &hits,
        b"hooks.slack.com/",
        SecretKind::SlackWebhook,
        &mut out,
        |at| {
            let i = at + "hooks.slack.com/".len();
            let n = run(t, i, |b| {
                b.is_ascii_alphanumeric() || b == b'/' || b == b'_'
            });
            let path = &t[i..i + n];
            let hook = [&b"services/"[..], b"workflows/", b"triggers/"]
                .iter()
                .any(|p| path.starts_with(p));
            (n >= 30 && hook).then_some(i + n)
        },
    );
    for prefix in [&b"sk_live_"[..], b"sk_test_", b"rk_live_", b"rk_test_"] {
        scan_anchor(&hits, prefix, SecretKind::StripeKey, &mut out, |at| {
            prefixed(t, at, 8, 24, |b| b.is_ascii_alphanumeric())
        });
    }
    scan_anchor(
        &hits,
        b"sk-ant-",
        SecretKind::AnthropicKey,
        &mut out,
        |at| prefixed(t, at, 7, 20, token_char),
    );
    for prefix in [&b"sk-proj-"[..], b"sk-svcacct-", b"sk-admin-", b"sk-None-"] {
        scan_anchor(&hits, prefix, SecretKind::OpenaiKey, &mut out, |at| {
            prefixed(t, at, prefix.len(), 20, token_char)
        });
    }
    // Legacy OpenAI keys: `sk-` and a body with "T3BlbkFJ" (base64 of "OpenAI") in it.
    for at in hits.of(b"T3BlbkFJ") {
        let back = t[at.saturating_sub(256)..at]
            .iter()
            .rev()
            .take_while(|b| token_char(**b))
            .count();
        let start = at - back;
        if t[start..].starts_with(b"sk-") && boundary_before(t, start) {
            let end = at + run(t, at, token_char);
            if end - start >= 40 {
                out.push(Finding {
                    kind: SecretKind::OpenaiKey,
                    start,
                    end,
                });
            }
        }
    }
    // Legacy OpenAI keys without the marker (and the many `sk-` keys of other vendors):
    // `sk-` and 32 or more random letters and digits, nothing else of a token after them.
    scan_anchor(&hits, b"sk-", SecretKind::OpenaiKey, &mut out, |at| {
        let end = prefixed(t, at, 3, 32, |b| b.is_ascii_alphanumeric())?;
        let body = &t[at + 3..end];
        let random = looks_random(body, 32, 4.0);
        (random && !t.get(end).is_some_and(|b| token_char(*b))).then_some(end)
    });
    scan_anchor(&hits, b"npm_", SecretKind::NpmToken, &mut out, |at| {
        prefixed(t, at, 4, 36, |b| b.is_ascii_alphanumeric())
    });
    // A SAS URL's signature (`&sig=…`, URL-encoded base64 of an HMAC).
    scan_anchor(
        &hits,
        b"sig=",
        SecretKind::AzureConnectionString,
        &mut out,
        |at| {
            if at == 0 || !b"?&;".contains(&t[at - 1]) {
                return None;
            }
            let i = at + 4;
            let n = run(t, i, |b| b64ish(b) || b == b'%');
            let value = &t[i..i + n];
            (n >= 20 && shannon(value) >= 3.5 && !placeholder_value(value)).then_some(i + n)
        },
    );
    // `Authorization: Bearer <opaque token>` and `Basic <base64 of user:password>`: the
    // credential after the scheme, when it is a literal (not `$TOKEN`, `{token}`, `<token>`).
    for (scheme, basic) in [(&b"bearer "[..], false), (b"basic ", true)] {
        scan_anchor(
            &hits,
            scheme,
            SecretKind::AuthorizationHeader,
            &mut out,
            |at| {
                if !boundary_before(t, at) {
                    return None;
                }
                let i = at + scheme.len();
                let n = run(t, i, |b| token_char(b) || b".~+/=%".contains(&b));
                let value = &t[i..i + n];
                if n < 16
                    || placeholder_value(value)
                    || t.get(i + n).is_some_and(|b| b"{}$<>(".contains(b))
                {
                    return None;
                }
                let credential = if basic {
                    b64_decode(value).contains(&b':')
                } else {
                    looks_random(value, 16, 3.5)
                };
                credential.then_some(i + n)
            },
        );
    }
    // `Authorization: <scheme> <credential>` for any scheme (`token`, `ApiKey`) or none.
    scan_anchor(
        &hits,
        b"authorization",
        SecretKind::AuthorizationHeader,
        &mut out,
        |at| {
            let mut i = at + "authorization".len();
            i += run(t, i, |b| b" \t\"':=".contains(&b));
            let word = run(t, i, |b| b.is_ascii_alphabetic() || b == b'-');
            if t.get(i + word) == Some(&b' ') && word <= 8 {
                i += word + 1;
            }
            let n = run(t, i, |b| token_char(b) || b".~+/=%".contains(&b));
            let value = &t[i..i + n];
            let literal = !t.get(i + n).is_some_and(|b| b"{}$<>(".contains(b));
            (literal && looks_random(value, 16, 3.5)).then_some(i + n)
        },
    );
    // A Docker config's `auth` (base64 of `user:password`), and a whole config in base64.
    scan_anchor(
        &hits,
        b"\"auth\"",
        SecretKind::AuthorizationHeader,
        &mut out,
        |at| {
            let mut i = at + 6;
            i += run(t, i, |b| b" \t:".contains(&b));
            if t.get(i) != Some(&b'"') {
                return None;
            }
            i += 1;
            let n = run(t, i, b64ish);
            let decoded = b64_decode(&t[i..i + n]);
            let colon = decoded.iter().position(|b| *b == b':')?;
            (decoded.len() > colon + 1).then_some(i + n)
        },
    );
    scan_anchor(
        &hits,
        b"eyJhdXRocyI6",
        SecretKind::AuthorizationHeader,
        &mut out,
        |at| {
            let n = run(t, at, b64ish);
            let decoded = b64_decode(&t[at..at + n]);
            find(&decoded, b"\"auth\"").map(|_| at + n)
        },
    );
    scan_cli_credentials(t, &hits, &mut out);
    // `Cookie: a=…; b=…` (and `Set-Cookie`, curl's `--cookie`): each value that looks random
    // is a session, which is a credential.
    let mut covered = 0;
    for at in hits.of(b"cookie") {
        if at < covered {
            continue;
        }
        let mut i = at + "cookie".len();
        i += run(t, i, |b| b" \t:\"'".contains(&b));
        let end = i + run(&t[..(i + 4096).min(t.len())], i, |b| {
            !b"\n\r\"'`".contains(&b)
        });
        covered = end;
        let mut pair_start = i;
        for pair in t[i..end].split(|b| *b == b';') {
            let lead = run(pair, 0, |b| b == b' ');
            if let Some(eq) = memchr::memchr(b'=', pair) {
                let value = &pair[eq + 1..];
                let value = &value[..value.len() - run_back(value, |b| b == b' ')];
                if looks_random(value, 16, 3.5) && lead < eq {
                    let start = pair_start + eq + 1;
                    out.push(Finding {
                        kind: SecretKind::AuthorizationHeader,
                        start,
                        end: start + value.len(),
                    });
                }
            }
            pair_start += pair.len() + 1;
        }
    }
    // SQL: `CREATE USER … IDENTIFIED BY '…'`.
    for at in hits.of(b"identified by") {
        let mut i = at + "identified by".len();
        i += run(t, i, |b| b == b' ');
        let Some(&q) = t.get(i).filter(|b| matches!(b, b'\'' | b'"')) else {
            continue;
        };
        let n = run(t, i + 1, |b| b != q && b != b'\n');
        let value = &t[i + 1..i + 1 + n];
        if n >= 8 && value_classes(value) >= 2 && shannon(value) >= 3.0 && !placeholder_value(value)
        {
            out.push(Finding {
                kind: SecretKind::PasswordAssignment,
                start: i + 1,
                end: i + 1 + n,
            });
        }
    }
    for (prefix, min, hex) in VENDOR_PREFIXES {
        let anchor: &'static [u8] = [&b"shp"[..], b"sq0", b"dp."]
            .into_iter()
            .find(|family| prefix.starts_with(family))
            .unwrap_or(prefix);
        scan_anchor(&hits, anchor, SecretKind::VendorToken, &mut out, |at| {
            if !t[at..].starts_with(prefix) {
                return None;
            }
            if *hex {
                // Exactly the length the vendor issues: `key-` and 64 hex digits is a cache
                // key with a digest, not a Mailgun key.
                let n = run(t, at + prefix.len(), |b| b.is_ascii_hexdigit());
                let end = at + prefix.len() + n;
                let whole = !t.get(end).is_some_and(u8::is_ascii_alphanumeric);
                return (boundary_before(t, at)
                    && n == *min
                    && whole
                    && shannon(&t[at + prefix.len()..end]) >= 3.0)
                    .then_some(end);
            }
            let end = prefixed(t, at, prefix.len(), *min, |b| {
                token_char(b) || b"+/=.".contains(&b)
            })?;
            // A sentence's full stop after the token is not part of it.
            let end = end - run_back(&t[..end], |b| b == b'.');
            let body = &t[at + prefix.len()..end];
            let random =
                body.iter().any(u8::is_ascii_digit) && body.iter().any(u8::is_ascii_alphabetic);
            (random && body.len() >= *min && shannon(body) >= 3.0).then_some(end)
        });
    }
    // Unarmoured key bodies: from the start of the base64 (the `MII…` before the DER's
    // marker) over wrapped lines.
    for (marker, back) in [
        (&b"b3BlbnNzaC1rZXktdjE"[..], 0),
        (b"IBAAKCA", 6),
        (b"IBADANBgkqhkiG9w0BAQEF", 6),
        (b"AgEAMBMGByqGSM49AgE", 4),
    ] {
        for at in hits.of(marker) {
            let start = at.saturating_sub(back);
            let head = &t[start..at];
            let der = back == 0 || (head.starts_with(b"MI") && head.iter().all(|b| b64ish(*b)));
            if !der || !b64_starts_at(t, start) {
                continue;
            }
            let end = b64_block_end(t, start);
            if end - start >= 64 {
                out.push(Finding {
                    kind: SecretKind::PrivateKey,
                    start,
                    end,
                });
            }
        }
    }
    // A JSON Web Key with its private parts (`d`, and `p`, `q`, `dp`, `dq`, `qi` of RSA).
    for at in hits.of(b"\"kty\"") {
        // A JSON Web Key fits in 4 KB (RSA 4096: ~3.2 KB).
        let ahead = &t[at..(at + 4096).min(t.len())];
        let object_end = memchr::memchr(b'}', ahead).map_or(at + ahead.len(), |e| at + e);
        let behind = at.saturating_sub(4096);
        let object_start = memchr::memrchr(b'{', &t[behind..at]).map_or(at, |p| behind + p);
        let object = &t[object_start..object_end];
        for field in [
            &b"\"d\""[..],
            b"\"p\"",
            b"\"q\"",
            b"\"dp\"",
            b"\"dq\"",
            b"\"qi\"",
        ] {
            let Some(f) = find(object, field) else {
                continue;
            };
            let mut i = object_start + f + field.len();
            i += run(t, i, |b| b" \t\n:".contains(&b));
            if t.get(i) != Some(&b'"') {
                continue;
            }
            let n = run(t, i + 1, |b| b64ish(b) || b == b'-' || b == b'_');
            if n >= 16 {
                out.push(Finding {
                    kind: SecretKind::PrivateKey,
                    start: i + 1,
                    end: i + 1 + n,
                });
            }
        }
    }
    // Azure AD (Entra) client secrets: three characters, a digit, `Q~`, 31–34 more.
    for at in hits.of(b"Q~") {
        let secret_char = |b: u8| b.is_ascii_alphanumeric() || b"_~.-".contains(&b);
        if at < 4
            || !t[at - 1].is_ascii_digit()
            || !t[at - 4..at - 1].iter().all(|b| secret_char(*b))
        {
            continue;
        }
        let start = at - 4;
        let n = run(t, at + 2, secret_char);
        if boundary_before(t, start) && n >= 31 && !placeholder_body(&t[at + 2..at + 2 + n]) {
            out.push(Finding {
                kind: SecretKind::VendorToken,
                start,
                end: at + 2 + n,
            });
        }
    }
    // Telegram bot tokens: the bot's id, `:`, then 35 characters starting `AA`.
    for at in hits.of(b":AA") {
        let digits = run_back(&t[..at], |b| b.is_ascii_digit());
        let start = at - digits;
        let n = run(t, at + 1, token_char);
        // In the API's URLs the token follows `bot` (`/bot123456789:AA…/sendMessage`).
        let bounded = boundary_before(t, start) || t[..start].ends_with(b"/bot");
        if (8..=12).contains(&digits) && bounded && n >= 35 {
            out.push(Finding {
                kind: SecretKind::VendorToken,
                start,
                end: at + 1 + n,
            });
        }
    }
    scan_anchor(
        &hits,
        b"/api/webhooks/",
        SecretKind::VendorToken,
        &mut out,
        |at| {
            if !(t[..at].ends_with(b"discord.com") || t[..at].ends_with(b"discordapp.com")) {
                return None;
            }
            let i = at + "/api/webhooks/".len();
            let n = run(t, i, |b| token_char(b) || b == b'/');
            (n >= 40).then_some(i + n)
        },
    );
    scan_anchor(&hits, b"eyJ", SecretKind::Jwt, &mut out, |at| {
        let seg = |i: usize| run(t, i, token_char);
        let a = seg(at);
        let dot1 = at + a;
        if a < 13 || t.get(dot1) != Some(&b'.') || !t[dot1 + 1..].starts_with(b"eyJ") {
            return None;
        }
        let b = seg(dot1 + 1);
        let dot2 = dot1 + 1 + b;
        if b < 13 || t.get(dot2) != Some(&b'.') {
            return None;
        }
        let c = seg(dot2 + 1);
        (c >= 10).then_some(dot2 + 1 + c)
    });
    scan_url_passwords(t, &hits, &mut out);
    scan_assignments(t, &hits, &mut out);
    scan_env_block(t, &mut out);
    scan_kubernetes_secrets(t, &hits, &mut out);
    scan_digits(t, &mut out);
    out
}

/// One finding per secret: a generic detector (assignment, .env value, AWS secret on its
/// own, an Authorization header) gives way to any other finding on the same bytes, and a
/// finding inside another (the AWS key id inside a key block) is covered by it.
fn one_per_secret(mut out: Vec<Finding>) -> Vec<Finding> {
    out.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end), f.kind));
    let generic = |k: SecretKind| {
        matches!(
            k,
            SecretKind::PasswordAssignment
                | SecretKind::EnvSecret
                | SecretKind::AuthorizationHeader
        )
    };
    let gives_way = |f: &Finding, g: &Finding| {
        let overlaps = f.start < g.end && g.start < f.end;
        let same = g.start == f.start && g.end == f.end && g.kind == f.kind;
        if !overlaps || same {
            return false;
        }
        let contains = g.start <= f.start && f.end <= g.end;
        (generic(f.kind) && !generic(g.kind))
            || (contains
                && !generic(g.kind)
                && (g.end - g.start > f.end - f.start || g.kind < f.kind))
    };
    // A sweep in start order: the findings that overlap one are those still open when it
    // starts (`open`, as deep as findings nest) and those that start before it ends.
    let mut keep = vec![true; out.len()];
    let mut open: Vec<usize> = Vec::new();
    for i in 0..out.len() {
        let f = out[i];
        open.retain(|j| out[*j].end > f.start);
        let before = open.iter().any(|j| gives_way(&f, &out[*j]));
        let after = out[i + 1..]
            .iter()
            .take_while(|g| g.start < f.end)
            .any(|g| gives_way(&f, g));
        keep[i] = !(before || after);
        open.push(i);
    }
    let mut kept = keep.iter();
    out.retain(|_| kept.next().copied().unwrap_or(true));
    out.dedup_by(|b, a| b.start < a.end && a.kind == b.kind);
    out
}

fn classes(value: &[u8]) -> usize {
    [
        value.iter().any(u8::is_ascii_lowercase),
        value.iter().any(u8::is_ascii_uppercase),
        value.iter().any(u8::is_ascii_digit),
        value.iter().any(|b| b.is_ascii_punctuation()),
    ]
    .iter()
    .filter(|x| **x)
    .count()
}

/// An AWS secret access key on its own: exactly 40 characters of its alphabet with upper and
/// lower case and digits, as the value of a key/value pair (`=`, `:` or a separator
/// after an access key id). Git object ids are hex, so never match.
fn scan_aws_secrets(t: &[u8], out: &mut Vec<Finding>) {
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    let mut i = 0;
    while i < t.len() {
        if !alphabet(t[i]) {
            i += 1;
            continue;
        }
        let n = run(t, i, alphabet);
        let value = &t[i..i + n];
        let followed_ok = t.get(i + n).is_none_or(|b| *b != b'=' || n != 40);
        if n == 40 && followed_ok && classes(value) >= 3 && shannon(value) >= 4.2 {
            let gap = run_back(&t[..i], |b| b" \t\"'".contains(&b));
            let before = t[..i - gap].last().copied();
            // A separator of a key/value pair or a table cell (`|`, `;`), or right after an
            // access key id (`AKIA… <secret>`, a TSV row).
            let word = run_back(&t[..i - gap], |b| b.is_ascii_alphanumeric());
            let id = &t[i - gap - word..i - gap];
            let after_id = gap > 0
                && id.len() == 20
                && [&b"AKIA"[..], b"ASIA"].iter().any(|p| id.starts_with(p));
            let separated = matches!(before, Some(b'=' | b':' | b',' | b'|' | b';'));
            if (separated || after_id) && !value.contains(&b'_') {
                out.push(Finding {
                    kind: SecretKind::AwsSecretKey,
                    start: i,
                    end: i + n,
                });
            }
        }
        i += n;
    }
}

/// Letters, digits and symbols: the classes a value mixes. Separators (`-`, `_`, `.`, space)
/// do not count, so words joined by them (`db-credentials`, `YOUR_API_KEY`) stay one class.
fn value_classes(value: &[u8]) -> usize {
    [
        value.iter().any(u8::is_ascii_lowercase),
        value.iter().any(u8::is_ascii_uppercase),
        value.iter().any(u8::is_ascii_digit),
        value
            .iter()
            .any(|b| b.is_ascii_punctuation() && !b"-_.".contains(b)),
    ]
    .iter()
    .filter(|x| **x)
    .count()
}

/// Whether a value says it is not a real one: a placeholder word (`your-api-key-here`,
/// `<insert-secret-here>`, `changeme`, `sk-ant-api03-...`), a masked value (`****`, `xxxx`),
/// or one character repeated.
fn placeholder_value(value: &[u8]) -> bool {
    const MARKERS: &[&[u8]] = &[
        b"your",
        b"here",
        b"placeholder",
        b"changeme",
        b"change_me",
        b"change-me",
        b"replace",
        b"dummy",
        b"redacted",
        b"xxxx",
        b"****",
        b"...",
        b"insert",
        b"example",
        b"sample",
        b"<",
        b">",
    ];
    // Values are short: a direct search costs less than lower-casing a copy for `find`.
    let has = |m: &[u8]| value.windows(m.len()).any(|w| w.eq_ignore_ascii_case(m));
    placeholder_body(value) || MARKERS.iter().any(|m| has(m))
}

/// Whether a value is a path, a host or an image reference rather than a key: separators of
/// a path or address and no upper-case letter (base64 keys of this length have some).
fn structured(value: &[u8]) -> bool {
    value.starts_with(b"/")
        || value.starts_with(b"./")
        || value.starts_with(b"~/")
        || find(value, b"://").is_some()
        || (value.iter().any(|b| b"/:.@".contains(b)) && !value.iter().any(u8::is_ascii_uppercase))
}

/// Whether a value is made of words: identifiers and names (`TokenStream`, `_bindgen_ty_7`,
/// `aarch64-linux-gnu-gcc`, `PRIVATE_KEY_OPS`) rather than random characters: the runs of
/// letters, split at case changes, average 3.5 letters or more, a quarter of the letters are
/// vowels and digits are at most a quarter. Random strings change case every character or
/// two (measured: ≤ 1.3% of random 12-character and ≤ 0.8% of 16-character base62 strings
/// pass, none of hex).
fn wordy(value: &[u8]) -> bool {
    let vowel = |b: &u8| b"aeiouAEIOU".contains(b);
    let mut humps = 0;
    let mut letters = 0;
    // Humps: runs of letters, split where lower case turns upper and before the last capital
    // of an acronym (`fts5FindTokenizer`: fts, Find, Tokenizer; `HTTPServer`: HTTP, Server).
    // A long hump without a vowel, or an upper-case one longer than a word, is random.
    for run_of_letters in value.split(|b| !b.is_ascii_alphabetic()) {
        let h = run_of_letters;
        let mut start = 0;
        for i in 1..=h.len() {
            let split = i == h.len()
                || (h[i - 1].is_ascii_lowercase() && h[i].is_ascii_uppercase())
                || (h[i - 1].is_ascii_uppercase()
                    && h[i].is_ascii_uppercase()
                    && h.get(i + 1).is_some_and(u8::is_ascii_lowercase));
            if split {
                let part = &h[start..i];
                let shouting = part.len() > 12 && part.iter().all(u8::is_ascii_uppercase);
                if shouting || (part.len() >= 5 && !part.iter().any(vowel)) {
                    return false;
                }
                humps += 1;
                letters += part.len();
                start = i;
            }
        }
    }
    let digits = value.iter().filter(|b| b.is_ascii_digit()).count();
    let vowels = value.iter().filter(|b| b"aeiouyAEIOUY".contains(b)).count();
    // Names are built of words: joined by separators, by case changes, or letters only.
    // (Single-case random strings with digits have none of these.)
    let built = value.iter().any(|b| b"_-.".contains(b))
        || value
            .windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
        || value.iter().all(u8::is_ascii_alphabetic);
    humps > 0
        && letters * 2 >= 7 * humps
        && digits * 4 <= value.len()
        && vowels * 4 >= letters
        && built
}

/// Whether a value looks like a random credential: long enough, high entropy, letters mixed
/// with digits (or three classes), and none of a placeholder, a path or an id.
fn looks_random(value: &[u8], min_len: usize, min_entropy: f64) -> bool {
    let mixed = value_classes(value) >= 3
        || (value.iter().any(u8::is_ascii_digit) && value.iter().any(u8::is_ascii_alphabetic));
    // Hex has 16 symbols: a random 40-digit token scores 3.5–3.9, below what base62 does.
    let floor = if value.iter().all(u8::is_ascii_hexdigit) {
        min_entropy.min(3.0)
    } else {
        min_entropy
    };
    value.len() >= min_len
        && mixed
        && shannon(value) >= floor
        && !placeholder_value(value)
        && !structured(value)
        && !is_uuid(value)
        && !wordy(value)
        && !value.contains(&b' ')
}

/// `scheme://user:password@host`: the password, unless it is a reference, a placeholder or a
/// well-known default (`postgres:postgres`, `guest:guest` in local setups).
fn scan_url_passwords(t: &[u8], hits: &Hits, out: &mut Vec<Finding>) {
    const DEFAULTS: &[&[u8]] = &[
        b"password",
        b"pass",
        b"passwd",
        b"pwd",
        b"secret",
        b"changeme",
        b"postgres",
        b"guest",
        b"test",
        b"admin",
        b"root",
        b"example",
        b"token",
        b"apikey",
        b"key",
    ];
    for at in hits.of(b"://") {
        let scheme = run_back(&t[at.saturating_sub(32)..at], |b| {
            b.is_ascii_alphanumeric() || b"+.-".contains(&b)
        });
        if scheme == 0 {
            continue;
        }
        let start = at + 3;
        // A URL's userinfo and host fit in 2 KB; the bound keeps a text of repeated `://`
        // linear.
        let t = &t[..(start + 2048).min(t.len())];
        let authority = run(t, start, |b| {
            !b.is_ascii_whitespace() && !b"/?#\"'`<>".contains(&b)
        });
        let mut auth = &t[start..start + authority];
        if memchr::memrchr(b'@', auth).is_none() {
            // A password with an unencoded `/` or `#` (`u:pa/ss@host`): the userinfo goes
            // on to an `@`, when the colon comes before any `/` and is not a port's.
            let wider = run(t, start, |b| {
                !b.is_ascii_whitespace() && !b"\"'`<>".contains(&b)
            });
            let span = &t[start..start + wider];
            if let (Some(colon), Some(at_sign)) =
                (memchr::memchr(b':', auth), memchr::memrchr(b'@', span))
            {
                let port = auth[colon + 1..].iter().all(u8::is_ascii_digit);
                let host = &span[at_sign + 1..];
                let hostlike = host
                    .iter()
                    .take_while(|b| !b"/?#".contains(b))
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(b));
                if !port && colon < at_sign && hostlike && !span[..colon].contains(&b'/') {
                    auth = &span[..at_sign + 1];
                }
            }
        }
        let Some(user_end) = memchr::memrchr(b'@', auth) else {
            continue;
        };
        let Some(colon) = memchr::memchr(b':', &auth[..user_end]) else {
            continue;
        };
        let user = &auth[..colon];
        let password = &auth[colon + 1..user_end];
        let lower = password.to_ascii_lowercase();
        // `%(password)s` and `%{…}` are templates; `%21…` is a percent-encoded password.
        let template = [&b"$"[..], b"{", b"%(", b"%s", b"%{", b"<"]
            .iter()
            .any(|p| password.starts_with(p));
        let placeholder = password.is_empty()
            || template
            || password
                .iter()
                .all(|b| *b == b'*' || *b == b'x' || *b == b'X')
            || password.eq_ignore_ascii_case(user)
            || DEFAULTS.contains(&lower.as_slice());
        if !placeholder {
            out.push(Finding {
                kind: SecretKind::UrlPassword,
                start: start + colon + 1,
                end: start + user_end,
            });
        }
    }
}

/// Whether an unquoted value is code that names a secret rather than holding one: a path of
/// identifiers (`settings.API_KEY`, `std::env::var`, `$this->config`) that is a call, a
/// subscript, a macro or a type (`os.environ[`, `getItem(`, `env!(`), or a dotted path.
fn is_code_reference(value: &[u8]) -> bool {
    let mut i = 0;
    let mut dotted = false;
    loop {
        let n = run(value, i, is_word);
        if n == 0 || value[i].is_ascii_digit() {
            return false;
        }
        i += n;
        let rest = &value[i..];
        if rest.starts_with(b"::") || rest.starts_with(b"->") {
            i += 2;
        } else if rest.starts_with(b".") {
            i += 1;
        } else {
            break;
        }
        dotted = true;
    }
    match value.get(i) {
        Some(b'(' | b'[' | b'<') => true,
        // The end of the expression the path is in (`{'X-Api-Key': settings.API_KEY}`,
        // `if token is Name.Variable:`).
        Some(b')' | b']' | b'}' | b':') => dotted,
        // A macro (`env!("KEY")`, `Token![as]`); `Zx9!qL2` and `Passw0rd!` are passwords.
        Some(b'!') => matches!(value.get(i + 1), Some(b'(' | b'[' | b'{')),
        None => dotted,
        _ => false,
    }
}

/// Whether an unquoted value is code rather than a literal: a reference, a borrow or a
/// deref (`&TokenStream`, `*and_token`), a cast or a slice type (`(pthread_key_t)…`,
/// `&[Token]`), or an identifier or type made of words (`TokenStream`, `_bindgen_ty_7`).
fn unquoted_code(value: &[u8]) -> bool {
    let core = value.strip_prefix(b"&mut ").unwrap_or(value);
    let lead = run(core, 0, |b| b"&*".contains(&b));
    let core = &core[lead..];
    if core.starts_with(b"(") || core.starts_with(b"[") {
        return true;
    }
    let trail = run_back(core, |b| b")|,;>]}!:".contains(&b));
    // A value that closes a parenthesis it did not open is a parameter's type or a call's
    // argument (`fn f(key: X25519PublicKey)`).
    if core[core.len() - trail..].contains(&b')') && !core.contains(&b'(') {
        return true;
    }
    let core = &core[..core.len() - trail];
    is_code_reference(value)
        || is_code_reference(core)
        || (!core.is_empty() && core.iter().all(|b| is_word(*b)) && wordy(core))
}

/// Whether a secret-named key holds something about the secret, not the secret: its id,
/// name, location, type, size or lifetime (`api_key_id`, `secretName`, `token_url`,
/// `password_file`, `token_type`, `TOKEN_EXPIRY_SECONDS`). The last word of the name says.
fn names_metadata(name: &[u8]) -> bool {
    const METADATA: &[&[u8]] = &[
        b"id",
        b"ids",
        b"name",
        b"names",
        b"url",
        b"uri",
        b"endpoint",
        b"path",
        b"file",
        b"dir",
        b"type",
        b"kind",
        b"version",
        b"length",
        b"len",
        b"size",
        b"count",
        b"expiry",
        b"expires",
        b"expiration",
        b"ttl",
        b"timeout",
        b"seconds",
        b"header",
        b"field",
        b"prefix",
        b"suffix",
        b"ref",
        b"arn",
        b"policy",
        b"format",
        b"mode",
        b"provider",
        b"store",
        b"enabled",
        b"required",
        b"min",
        b"max",
        b"hint",
        b"label",
        b"placeholder",
        b"regex",
        b"pattern",
        b"rotation",
        b"at",
    ];
    let mut words = name
        .split(|b| !b.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty());
    let Some(last) = words.next_back() else {
        return false;
    };
    // camelCase: the last hump (`secretName` -> `Name`).
    let hump = last
        .iter()
        .rposition(u8::is_ascii_uppercase)
        .filter(|p| *p > 0 && last[..*p].iter().any(u8::is_ascii_lowercase))
        .map_or(last, |p| &last[p..]);
    let hump = hump.to_ascii_lowercase();
    // Vault's AppRole `secret_id` is itself a credential.
    let vault = hump == b"id" && name.to_ascii_lowercase().ends_with(b"secret_id");
    METADATA.contains(&hump.as_slice()) && !vault
}

/// Where the value of a secret named by another key starts: `- name: DB_PASSWORD` then
/// `value: …` (Kubernetes and ECS environments, `{"name": …, "value": …}`), and Terraform's
/// `variable "db_password" { default = … }`.
fn named_value(t: &[u8], name_start: usize, name_end: usize) -> Option<usize> {
    let before = &t[..name_start];
    let before = &before[..before.len() - run_back(before, |b| b" \t\"'".contains(&b))];
    let lower_tail = before[before.len().saturating_sub(9)..].to_ascii_lowercase();
    let label = lower_tail.ends_with(b"name:") || lower_tail.ends_with(b"name\":");
    let variable = lower_tail.ends_with(b"variable");
    if !label && !variable {
        return None;
    }
    // Within the object: up to the next `name` (or 200 bytes).
    let window_end = (name_end + 200).min(t.len());
    let window = &t[name_end..window_end];
    let window = &window[..find(window, b"name").unwrap_or(window.len())];
    let key: &'static [u8] = if label { b"value" } else { b"default" };
    let at = find(window, key)?;
    let mut i = name_end + at + key.len();
    i += run(t, i, |b| b" \t\"'".contains(&b));
    match t.get(i) {
        Some(b':' | b'=') => Some(i + 1),
        _ => None,
    }
}

/// Where the separator of an assignment to the secret-named key that ends at `i` is, and
/// where its value starts: `=`, `:`, `:=`, `=>`, an XML `value=` attribute, and whitespace
/// after a Dockerfile `ENV`/`ARG` name or a command-line `--flag`.
fn assignment_value(t: &[u8], name_start: usize, name_end: usize) -> Option<usize> {
    // Blanks, the name's closing quote (escaped too, `\"password\": …`), a subscript's `]`.
    let mut i = name_end + run(t, name_end, |b| b" \t\"'\\]".contains(&b));
    let spaced = i > name_end && run(t, name_end, |b| b == b' ' || b == b'\t') > 0;
    // Prose: "the password is …", "my token was: …", "the password for the staging db
    // is …" (a few words between, on the same line).
    if spaced {
        let mut j = i;
        for _ in 0..6 {
            for verb in [&b"is: "[..], b"is ", b"was: ", b"was "] {
                if t[j..].starts_with(verb) {
                    return Some(j + verb.len());
                }
            }
            let word = run(t, j, |b| b.is_ascii_alphabetic());
            if word == 0 || t.get(j + word) != Some(&b' ') {
                break;
            }
            j += word + 1;
        }
    }
    match t.get(i) {
        // A path (`token::Brace`), not a separator.
        Some(b':') if t.get(i + 1) == Some(&b':') => return None,
        Some(b':') => {
            i += 1;
            if t.get(i) == Some(&b'=') {
                i += 1;
            }
        }
        Some(b'=') => {
            i += 1;
            if t.get(i) == Some(&b'>') {
                i += 1;
            }
        }
        Some(_) if t[i..].len() >= 6 && t[i..i + 6].eq_ignore_ascii_case(b"value=") => i += 6,
        // `<password>…</password>`.
        Some(b'>') if name_start > 0 && t[name_start - 1] == b'<' => i += 1,
        // `define('DB_PASSWORD', '…')`, `env("API_TOKEN", "…")`: a quoted name, then a
        // quoted literal.
        Some(b',')
            if name_start > 1
                && matches!(t[name_start - 1], b'"' | b'\'')
                && t[..name_start - 1].trim_ascii_end().ends_with(b"(")
                // A constant's name (`DB_PASSWORD`), not a word in a tuple of strings.
                && !t[name_start..name_end].iter().any(u8::is_ascii_lowercase)
                && matches!(
                    t.get(i + 1 + run(t, i + 1, |b| b == b' ')),
                    Some(b'"' | b'\'')
                ) =>
        {
            i += 1;
        }
        Some(_) if spaced => {
            let line = &t[line_start(t, name_start)..name_start];
            // Indentation, and the `+`/`-` of a diff's line (an edit's hunk).
            let line = line.strip_prefix(b"+").unwrap_or(line);
            let line = &line[run(line, 0, |b| b == b' ' || b == b'\t')..];
            let flag_start = name_start
                - t[..name_start]
                    .iter()
                    .rev()
                    .take_while(|b| is_word(**b) || **b == b'-')
                    .count();
            let dockerfile = line.starts_with(b"ENV ") || line.starts_with(b"ARG ");
            // `npm config set …:_authToken VALUE`, `yarn config set npmAuthToken VALUE`.
            let config_set = find(line, b"config set ").is_some();
            // SQL: `CREATE USER app WITH PASSWORD '…'`.
            let sql = t[name_start..name_end].eq_ignore_ascii_case(b"password")
                && matches!(t[i - 1], b'\'' | b'"');
            // `.netrc`: `machine host login user password …`.
            let netrc = line.starts_with(b"machine ")
                || line.starts_with(b"default ")
                || find(line, b" login ").is_some();
            if !dockerfile && !netrc && !config_set && !sql && !t[flag_start..].starts_with(b"--") {
                return None;
            }
        }
        _ => return None,
    }
    Some(i)
}

/// `password=…`, `secret: "…"`, `api_key = …`, `ENCRYPTION_KEY=…` whose value is a literal
/// that looks random: the value is judged, not the name. Names that only end in `_key` must
/// hold a longer, more random value (`primary_key`, `cache_key` hold names).
fn scan_assignments(t: &[u8], hits: &Hits, out: &mut Vec<Finding>) {
    for key in [
        &b"pass"[..],
        b"pwd",
        b"secret",
        b"token",
        b"api_key",
        b"apikey",
        b"api-key",
        b"api key",
        b"_key",
        b"privatekey",
        b"accountkey",
        b"accesskey",
    ] {
        for at in hits.of(key) {
            // `pass` and `pwd` start a word (`db_pass`, `dbPassword`, `PGPASSWORD`), not
            // the end of one (`compass`, `bypass`).
            let word_start = at == 0
                || !t[at - 1].is_ascii_lowercase()
                || t[at].is_ascii_uppercase()
                || !(key.starts_with(b"pass") || key.starts_with(b"pwd"));
            if !word_start {
                continue;
            }
            let name_start = at
                - t[..at]
                    .iter()
                    .rev()
                    .take_while(|b| is_word(**b) || **b == b'-')
                    .count();
            let name_end = at + key.len() + run(t, at + key.len(), |b| is_word(b) || b == b'-');
            let name = &t[name_start..name_end];
            // A segment of a colon path (`arn:…:secret:prod/db`), not a key.
            let colon_path =
                name_start > 0 && t[name_start - 1] == b':' && t.get(name_end) == Some(&b':');
            if names_metadata(name) || colon_path {
                continue;
            }
            let Some(mut i) = assignment_value(t, name_start, name_end)
                .or_else(|| named_value(t, name_start, name_end))
            else {
                continue;
            };
            i += run(t, i, |b| b == b' ' || b == b'\t');
            // Quoted with an escaped quote (`\"…\"`, JSON inside a string): that pair
            // delimits the value.
            let escaped_quote =
                t.get(i) == Some(&b'\\') && t.get(i + 1).is_some_and(|b| *b == b'"' || *b == b'\'');
            i += usize::from(escaped_quote);
            let quote = t.get(i).copied().filter(|b| *b == b'"' || *b == b'\'');
            let quoted = quote.is_some();
            i += run(t, i, |b| b == b'"' || b == b'\'');
            // A value ends at a blank, a quote, a separator, an escaped newline (`\n` of a
            // JSON string) or a closing tag (`</password>`).
            let in_value = |b: u8| !b.is_ascii_whitespace() && !b"\"'`,;".contains(&b);
            let mut n = run(t, i, in_value);
            // An escaped quote (`"ab\"cd"`) is part of the value (unless the value was
            // opened by one).
            while !escaped_quote
                && n > 0
                && t[i + n - 1] == b'\\'
                && t.get(i + n).is_some_and(|b| *b == b'"' || *b == b'\'')
            {
                n += 1 + run(t, i + n + 1, in_value);
            }
            // In a query string (`?token=…&state=…`) the next parameter ends it.
            let in_query = name_start > 0 && matches!(t[name_start - 1], b'?' | b'&');
            if let Some(amp) = memchr::memchr(b'&', &t[i..i + n]).filter(|_| in_query) {
                n = amp;
            }
            for stop in [&b"</"[..], b"\\n", b"\\r", b"\\t"] {
                if let Some(at) = find(&t[i..i + n], stop) {
                    n = at;
                }
            }
            if escaped_quote && t[..i + n].ends_with(b"\\") {
                n -= 1;
            }
            let value = &t[i..i + n];
            // Prose and identifiers are one class of letters; a password has two or more.
            let secret =
                if key.ends_with(b"key") && *key != b"api_key"[..] && *key != b"api-key"[..] {
                    looks_random(value, 16, 3.5)
                } else {
                    n >= 8 && value_classes(value) >= 2 && shannon(value) >= 3.0
                };
            let reference = || {
                value.starts_with(b"$")
                    || value.starts_with(b"{")
                    || value.starts_with(b"<")
                    || value.starts_with(b"=")
                    || value.starts_with(b"%")
                    || structured(value)
                    || placeholder_value(value)
                    || value.starts_with(b"--")
                    || (!quoted && unquoted_code(value))
                    // A constant's name in quotes (`"SERVER_TRAFFIC_SECRET_0"`).
                    || (quoted
                        && value.contains(&b'_')
                        && !value.iter().any(u8::is_ascii_lowercase)
                        && wordy(value))
            };
            if secret && !reference() {
                // A quoted value runs to its closing quote (a passphrase with spaces), on
                // the same line.
                let mut end = i + n;
                if let Some(q) = quote {
                    let line = &t[end..line_end(t, end)];
                    if let Some(close) = memchr::memchr(q, line) {
                        end += close;
                    }
                }
                out.push(Finding {
                    kind: SecretKind::PasswordAssignment,
                    start: at,
                    end,
                });
            }
        }
    }
}

/// A byte that can end or start a piece of a split secret (token and base64 characters).
fn piece_char(b: u8) -> bool {
    token_char(b) || b"+/=.".contains(&b)
}

/// Where the glue that starts at `q` ends (exclusive), if it joins two pieces of one
/// literal: a backslash-newline; a closing quote, blanks and a concatenation operator
/// (`+`, `.`, `..`, `&`), then an opening quote (`"a" "b"`, `'a' +\n 'b'`, `"a""b"`).
fn glue_end(t: &[u8], q: usize) -> Option<usize> {
    if t[q] == b'\\' {
        let end = match (t.get(q + 1), t.get(q + 2)) {
            (Some(b'\n'), _) => q + 2,
            (Some(b'\r'), Some(b'\n')) => q + 3,
            _ => return None,
        };
        // The next line of a diff's hunk starts with its `+`.
        let diff = t.get(end) == Some(&b'+') && t.get(end + 1).is_some_and(|b| piece_char(*b));
        return Some(end + usize::from(diff));
    }
    if q == 0 || !piece_char(t[q - 1]) {
        return None;
    }
    // Blanks and a few operator characters: `+`, `.`, Lua's `..`, VB's `&`, and the `+` of
    // a diff's next line.
    let mut j = q + 1;
    let mut operators = 0;
    loop {
        j += run(t, j, |b| b.is_ascii_whitespace());
        if operators < 3 && matches!(t.get(j), Some(b'+' | b'.' | b'&')) {
            operators += 1;
            j += 1;
        } else {
            break;
        }
    }
    if matches!(t.get(j), Some(b'"' | b'\'')) && t.get(j + 1).is_some_and(|b| piece_char(*b)) {
        return Some(j + 1);
    }
    None
}

/// A quoted part inside a word (`AKIA"IOSF"EXAMPLE`, as a shell joins it): the closing
/// quote, when the quote at `q` opens one that closes before the word ends and the word
/// goes on after it. A lone apostrophe (`don't`) opens nothing.
fn in_word_quote(t: &[u8], q: usize) -> Option<usize> {
    if q == 0 || !piece_char(t[q - 1]) {
        return None;
    }
    let inner = run(t, q + 1, piece_char);
    let close = q + 1 + inner;
    (inner > 0 && t.get(close) == Some(&t[q]) && t.get(close + 1).is_some_and(|b| piece_char(*b)))
        .then_some(close)
}

/// Secrets split over literals that are still literal: the text is scanned again with the
/// glue between the pieces removed, and a finding that spans a removed glue is mapped back
/// over it, so the redaction covers both pieces and the glue between.
fn scan_joined(t: &[u8], out: &mut Vec<Finding>) {
    let mut joined: Vec<u8> = Vec::new();
    // For each byte of `joined`, its position in `t`; where glue was taken out of `joined`.
    let mut map: Vec<usize> = Vec::new();
    let mut seams: Vec<usize> = Vec::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr3(b'"', b'\'', b'\\', &t[i..]) {
        let q = i + off;
        if let Some(end) = glue_end(t, q) {
            joined.extend_from_slice(&t[copied..q]);
            map.extend(copied..q);
            seams.push(joined.len());
            copied = end;
            i = end;
        } else if let Some(close) = in_word_quote(t, q) {
            joined.extend_from_slice(&t[copied..q]);
            map.extend(copied..q);
            seams.push(joined.len());
            joined.extend_from_slice(&t[q + 1..close]);
            map.extend(q + 1..close);
            seams.push(joined.len());
            copied = close + 1;
            i = close + 1;
        } else {
            i = q + 1;
        }
        if i >= t.len() {
            break;
        }
    }
    if seams.is_empty() {
        return;
    }
    joined.extend_from_slice(&t[copied..]);
    map.extend(copied..t.len());
    for f in scan_view(&joined) {
        let spans = seams.iter().any(|s| f.start < *s && *s < f.end);
        if spans && f.end > f.start {
            out.push(Finding {
                kind: f.kind,
                start: map[f.start],
                end: map[f.end - 1] + 1,
            });
        }
    }
}

/// Length of the run at the end of `text` whose bytes satisfy `ok`.
fn run_back(text: &[u8], ok: impl Fn(u8) -> bool) -> usize {
    text.iter().rev().take_while(|b| ok(**b)).count()
}

/// Passwords given on a command line: `curl -u user:password` (`--user user:password`) and
/// `-pPASSWORD` / `-p PASSWORD` for the commands where `-p` is a password (MySQL and MariaDB
/// clients, `sshpass`, registry logins); elsewhere `-p` is a port or a parent directory.
fn scan_cli_credentials(t: &[u8], hits: &Hits, out: &mut Vec<Finding>) {
    let password_like = |value: &[u8]| {
        value.len() >= 8
            && shannon(value) >= 3.0
            && value_classes(value) >= 2
            && !placeholder_value(value)
            && !value.starts_with(b"$")
            && !value.starts_with(b"{")
            && !value.starts_with(b"%")
    };
    let value_at = |i: usize| {
        let quoted = matches!(t.get(i), Some(b'"' | b'\''));
        let i = i + usize::from(quoted);
        let n = run(t, i, |b| {
            !b.is_ascii_whitespace() && !b"\"'`;|&".contains(&b)
        });
        (i, n)
    };
    for anchor in [&b" -u "[..], b"--user"] {
        for at in hits.of(anchor) {
            let mut i = at + anchor.len();
            if *anchor == b"--user"[..] {
                if !matches!(t.get(i), Some(b'=' | b' ')) {
                    continue;
                }
                i += 1;
            }
            let (i, n) = value_at(i);
            let value = &t[i..i + n];
            let Some(colon) = value.iter().position(|b| *b == b':') else {
                continue;
            };
            let password = &value[colon + 1..];
            if password_like(password) && !password.eq_ignore_ascii_case(&value[..colon]) {
                out.push(Finding {
                    kind: SecretKind::PasswordAssignment,
                    start: i + colon + 1,
                    end: i + n,
                });
            }
        }
    }
    const PASSWORD_P: &[&[u8]] = &[
        b"mysql",
        b"mariadb",
        b"sshpass",
        b"docker login",
        b"podman login",
        b"buildah login",
        b"helm registry login",
        b"7z ",
    ];
    for at in hits.of(b" -a ") {
        if find(&t[line_start(t, at)..at], b"redis-cli").is_none() {
            continue;
        }
        let (i, n) = value_at(at + 4);
        let value = &t[i..i + n];
        if password_like(value) {
            out.push(Finding {
                kind: SecretKind::PasswordAssignment,
                start: i,
                end: i + n,
            });
        }
    }
    for at in hits.of(b" -p") {
        let command = &t[line_start(t, at)..at];
        if !PASSWORD_P.iter().any(|c| find(command, c).is_some()) {
            continue;
        }
        let mut i = at + 3;
        i += run(t, i, |b| b == b' ');
        let (i, n) = value_at(i);
        let value = &t[i..i + n];
        if !value.starts_with(b"-") && password_like(value) && !structured(value) {
            out.push(Finding {
                kind: SecretKind::PasswordAssignment,
                start: i,
                end: i + n,
            });
        }
    }
}

/// Every value of a Kubernetes Secret's `data:` and `stringData:`: the manifest says they
/// are secrets, whatever their names, so they are not judged (base64 hides their shape).
/// Per YAML document (`---`), so a ConfigMap beside a Secret keeps its data.
fn scan_kubernetes_secrets(t: &[u8], hits: &Hits, out: &mut Vec<Finding>) {
    let kinds: Vec<usize> = hits
        .of(b"secret")
        .into_iter()
        .filter(|at| {
            let before = &t[..*at];
            t[*at..].starts_with(b"Secret")
                && !t.get(at + 6).is_some_and(|b| is_word(*b))
                && (before.ends_with(b"kind: ")
                    || before.ends_with(b"kind: \"")
                    || before.ends_with(b"\"kind\": \""))
        })
        .collect();
    if kinds.is_empty() {
        return;
    }
    // (start, end) of each document.
    let mut docs = Vec::new();
    let mut doc_start = 0;
    let mut start = 0;
    while start < t.len() {
        let end = line_end(t, start);
        if t[start..end].trim_ascii_end() == b"---" {
            docs.push((doc_start, start));
            doc_start = end;
        }
        start = end + 1;
    }
    docs.push((doc_start, t.len()));
    for (doc_start, doc_end) in docs {
        if !kinds.iter().any(|k| (doc_start..doc_end).contains(k)) {
            continue;
        }
        // The indentation of the `data:` key, and of a key whose value is a block scalar.
        let mut data: Option<usize> = None;
        let mut block: Option<usize> = None;
        let mut start = doc_start;
        while start < doc_end {
            let end = line_end(t, start).min(doc_end);
            // A diff's added line (an edit's hunk) is the line after its `+`.
            let line = &t[start..end];
            let line = line.strip_prefix(b"+").unwrap_or(line);
            let indent = run(line, 0, |b| b == b' ');
            let body = line[indent..].trim_ascii_end();
            start = end + 1;
            if body.is_empty() {
                continue;
            }
            if let Some(key_indent) = block {
                if indent > key_indent {
                    out.push(Finding {
                        kind: SecretKind::KubernetesSecret,
                        start: end - line.len() + indent,
                        end: end - line.len() + indent + body.len(),
                    });
                    continue;
                }
                block = None;
            }
            if body == b"data:" || body == b"stringData:" {
                data = Some(indent);
                continue;
            }
            let Some(data_indent) = data else {
                continue;
            };
            if indent <= data_indent {
                data = None;
                continue;
            }
            let Some(colon) = memchr::memchr(b':', body) else {
                continue;
            };
            let value_at = colon + 1 + run(body, colon + 1, |b| b == b' ');
            let mut value = &body[value_at..];
            let mut value_start = end - line.len() + indent + value_at;
            if value.len() >= 2 && matches!(value[0], b'"' | b'\'') && value.ends_with(&value[..1])
            {
                value = &value[1..value.len() - 1];
                value_start += 1;
            }
            if value.starts_with(b"|") || value.starts_with(b">") {
                block = Some(indent);
            } else if !value.is_empty()
                && !value.starts_with(b"{{")
                && !value.starts_with(b"$")
                && !value.starts_with(b"<")
            {
                out.push(Finding {
                    kind: SecretKind::KubernetesSecret,
                    start: value_start,
                    end: value_start + value.len(),
                });
            }
        }
    }
}

/// `8-4-4-4-12` hex digits: tenant, client and project ids, which are names, not secrets.
fn is_uuid(value: &[u8]) -> bool {
    value.len() == 36
        && value.iter().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// Whether a variable name says its value is a digest or a version (`GIT_SHA`, `COMMIT_REV`,
/// `IMAGE_DIGEST`, `BUILD_HASH`, `SOURCE_VERSION`) and not a secret: one of its words is a
/// digest word and none is a secret word (`HMAC_KEY_SHA` stays suspect).
fn names_a_digest(name: &[u8]) -> bool {
    const DIGEST: &[&[u8]] = &[
        b"SHA",
        b"SHA1",
        b"SHA256",
        b"SHA512",
        b"COMMIT",
        b"REV",
        b"REVISION",
        b"HASH",
        b"VERSION",
        b"DIGEST",
        b"CHECKSUM",
        b"ETAG",
        b"REF",
        b"HEAD",
        b"OID",
        b"MD5",
    ];
    const SECRET: &[&[u8]] = &[
        b"SECRET",
        b"KEY",
        b"TOKEN",
        b"PASSWORD",
        b"PASS",
        b"PWD",
        b"SALT",
        b"PRIVATE",
        b"CREDENTIAL",
        b"CREDENTIALS",
        b"HMAC",
        b"SIGNING",
        b"AUTH",
    ];
    let upper = name.to_ascii_uppercase();
    let words: Vec<&[u8]> = upper
        .split(|b| *b == b'_' || *b == b'-' || *b == b'.')
        .collect();
    words.iter().any(|w| DIGEST.contains(w)) && !words.iter().any(|w| SECRET.contains(w))
}

/// A hex digest: 32 (MD5), 40 (SHA-1, a git commit id), 56, 64 (SHA-256), 96 or 128 hex
/// digits, optionally after an algorithm (`sha256:…`, as an image digest is written).
fn is_hex_digest(value: &[u8]) -> bool {
    let hex = match value.iter().position(|b| *b == b':') {
        Some(colon) if value[..colon].iter().all(u8::is_ascii_alphanumeric) => &value[colon + 1..],
        _ => value,
    };
    matches!(hex.len(), 32 | 40 | 56 | 64 | 96 | 128) && hex.iter().all(u8::is_ascii_hexdigit)
}

/// A pasted `.env` block: two or more consecutive `NAME=value` lines; each value that looks
/// random (long, mixed classes, high entropy) is a finding, except a hex digest under a name
/// that says it is one (`GIT_SHA=<commit id>`).
fn scan_env_block(t: &[u8], out: &mut Vec<Finding>) {
    // (name start, value start, value end)
    let mut lines: Vec<(usize, usize, usize)> = Vec::new();
    let flush = |lines: &mut Vec<(usize, usize, usize)>, out: &mut Vec<Finding>| {
        if lines.len() >= 2 {
            for (ns, vs, ve) in lines.iter() {
                let value = &t[*vs..*ve];
                let name = &t[*ns..vs.saturating_sub(1).max(*ns)];
                let plain = is_uuid(value)
                    || (is_hex_digest(value) && names_a_digest(name))
                    || value.starts_with(b"$")
                    || structured(value)
                    || placeholder_value(value);
                if !plain && looks_random(value, 16, 3.5) {
                    out.push(Finding {
                        kind: SecretKind::EnvSecret,
                        start: *vs,
                        end: *ve,
                    });
                }
            }
        }
        lines.clear();
    };
    let mut start = 0;
    while start < t.len() {
        let end = line_end(t, start);
        let line = &t[start..end];
        // Diff prefixes (an edit's hunk, a diff of a diff), indentation and YAML list dashes
        // (`- POSTGRES_PASSWORD=…` in a compose file) come before the name.
        let lead = run(line, 0, |b| b"+- \t".contains(&b));
        let body = &line[lead..];
        let body = body.strip_prefix(b"export ").unwrap_or(body);
        let offset = line.len() - body.len();
        let name = run(body, 0, |b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
        });
        if name >= 2 && body.get(name) == Some(&b'=') && body[0].is_ascii_uppercase() {
            let mut vs = start + offset + name + 1;
            let mut ve = end;
            // An unquoted value ends before an inline comment (`KEY=value  # rotated monthly`).
            let quoted = matches!(t.get(vs), Some(b'"' | b'\''));
            if let Some(hash) = find(&t[vs..ve], b" #").filter(|_| !quoted) {
                ve = vs + hash;
            }
            while ve > vs && t[ve - 1].is_ascii_whitespace() {
                ve -= 1;
            }
            if ve > vs + 1 && matches!(t[vs], b'"' | b'\'') && t[ve - 1] == t[vs] {
                vs += 1;
                ve -= 1;
            }
            lines.push((start + offset, vs, ve));
        } else if !line.iter().all(u8::is_ascii_whitespace) && !line.starts_with(b"#") {
            flush(&mut lines, out);
        }
        start = end + 1;
    }
    flush(&mut lines, out);
}

/// Card numbers (13–19 digits, spaces or dashes allowed, Luhn-valid) and US SSNs (ddd-dd-dddd).
fn scan_digits(t: &[u8], out: &mut Vec<Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !t[i].is_ascii_digit() || (i > 0 && (t[i - 1].is_ascii_alphanumeric())) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = Vec::new();
        let mut j = i;
        while j < t.len()
            && (t[j].is_ascii_digit()
                || ((t[j] == b' ' || t[j] == b'-') && j + 1 < t.len() && t[j + 1].is_ascii_digit()))
        {
            if t[j].is_ascii_digit() {
                digits.push(t[j]);
            }
            j += 1;
        }
        let end = j;
        let followed_ok = end >= t.len() || !t[end].is_ascii_alphanumeric();
        if followed_ok
            && (13..=19).contains(&digits.len())
            && luhn(&digits)
            && card_brand_length(&digits)
        {
            out.push(Finding {
                kind: SecretKind::CardNumber,
                start,
                end,
            });
        } else if followed_ok
            && end - start == 11
            && t[start + 3] == b'-'
            && t[start + 6] == b'-'
            && digits.len() == 9
        {
            let (area, group, serial) = (&digits[0..3], &digits[3..5], &digits[5..9]);
            let valid = area != b"000"
                && area != b"666"
                && area[0] != b'9'
                && group != b"00"
                && serial != b"0000";
            if valid {
                out.push(Finding {
                    kind: SecretKind::UsSsn,
                    start,
                    end,
                });
            }
        }
        i = end.max(i + 1);
    }
}

/// Whether the digits have the length their brand issues (by the leading digits): big
/// integers in code (constants, tables of limbs) pass Luhn one time in ten, but rarely
/// with a brand's prefix and length together.
fn card_brand_length(digits: &[u8]) -> bool {
    let prefix = |n: usize| -> u32 {
        digits[..n.min(digits.len())]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let len = digits.len();
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    match p1 {
        // 19-digit Visa numbers are rare; 19-digit integers starting with 4 are common.
        4 => matches!(len, 13 | 16),
        5 => (51..=55).contains(&p2) && len == 16,
        2 => (2221..=2720).contains(&p4) && len == 16,
        3 => {
            (matches!(p2, 34 | 37) && len == 15)
                || ((3528..=3589).contains(&p4) && len == 16)
                || ((p2 == 36 || p2 == 38 || p2 == 39 || (300..=305).contains(&p3)) && len == 14)
        }
        6 => (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) || p2 == 62) && len == 16,
        _ => false,
    }
}

/// `text` with each finding replaced by `[REDACTED:<kind>]`. Overlapping findings are merged
/// and a range that is not on a character boundary is widened to one: a redaction never
/// leaves a byte of a finding in clear.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| (f.start, f.end));
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for f in sorted {
        let mut start = f.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = f.end.min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if end <= last {
            continue;
        }
        if start >= last {
            out.push_str(&text[last..start]);
            out.push_str("[REDACTED:");
            out.push_str(f.kind.code());
            out.push(']');
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// A digest of a detected secret that proves which secret it was to whoever holds `key`
/// (kept beside the ledger, never exported) and to no one else: BLAKE3 keyed.
pub fn keyed_digest(key: &[u8; 32], secret: &[u8]) -> String {
    blake3::keyed_hash(key, secret).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<SecretKind> {
        scan(text).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn detects_each_kind() {
        use SecretKind::*;
        let cases: &[(&str, SecretKind)] = &[
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn", PrivateKey),
            ("-----BEGIN RSA PRIVATE KEY-----", PrivateKey),
            ("key AKIAIOSFODNN7EXAMPLE here", AwsAccessKey),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                AwsSecretKey,
            ),
            (
                r#"{"type": "service_account", "private_key": "-----"}"#,
                GcpServiceAccountKey,
            ),
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", GcpApiKey),
            (&format!("AccountKey={}==", "a".repeat(86)), AzureStorageKey),
            (
                "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                GithubToken,
            ),
            ("glpat-abcdefghij0123456789", GitlabToken),
            ("xoxb-1234567890-abcdef", SlackToken),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", StripeKey),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                Jwt,
            ),
            ("password=Zx9!qL2#vB7m", PasswordAssignment),
            ("DB_PASSWORD: \"h7Gk2pQz9wX4\"", PasswordAssignment),
            ("card 4111 1111 1111 1111 exp", CardNumber),
            ("ssn 123-45-6789.", UsSsn),
        ];
        for (text, kind) in cases {
            assert_eq!(kinds(text), vec![*kind], "{text}");
        }
    }

    #[test]
    fn no_false_alarms_on_ordinary_text() {
        for text in [
            "please make the greeting longer",
            "password = ${DB_PASSWORD}",
            "password: changeme",
            "the token field is required",
            "order 4111 1111 1111 1112 is invalid",
            "areas 000-12-3456, 666-12-3456 and 900-12-3456 are not SSNs; nor is 123-00-4567",
            "AKIAIOSFODNN7EXAMPL",
            "version 2026-11-01, build 1234567890123",
            "use eyJ as a prefix",
            "-----BEGIN PUBLIC KEY-----",
        ] {
            assert_eq!(kinds(text), vec![], "{text}");
        }
    }

    #[test]
    fn redaction_names_the_kind_only() {
        let text = "my key is AKIAIOSFODNN7EXAMPLE ok";
        let redacted = redact(text, &scan(text));
        assert_eq!(redacted, "my key is [REDACTED:aws-access-key] ok");
    }
}
