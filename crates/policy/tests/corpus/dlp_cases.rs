//! The DLP corpus: true and false positives per detector. Shared with the root package's
//! integration test (`tests/integration/dlp_at_rest.rs`), which writes every secret here
//! through the real hook and then looks for it in every file the ledger leaves.
//!
//! Every secret is synthetic and assembled at run time (prefixes split, bodies drawn from a
//! fixed-seed generator), so no string in the repository looks like a credential to a secret
//! scanner.

#![allow(dead_code)]

/// A deterministic generator: the same corpus on every run.
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// `n` characters of `alphabet`, with at least one of each class the alphabet has among
    /// the first three characters (so a mixed alphabet gives a mixed string).
    pub fn draw(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        let mut out: Vec<u8> = (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize])
            .collect();
        for (i, b) in a.iter().take(3).enumerate() {
            if n > i * 7 + 1 {
                out[i * 7 + 1] = *b;
            }
        }
        String::from_utf8(out).unwrap()
    }
}

pub const UPPER_DIGITS: &str = "A7ZBCDEFGHIJKLMNOPQRSTUVWXY0123456789";
pub const ALNUM: &str = "aZ3bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY0123456789";
pub const B64: &str = "aZ3+/bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY0123456789";
pub const TOKEN: &str = "aZ3_-bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY0123456789";
pub const HEX: &str = "a0f123456789bcde";

/// One case: the text, the detector it is about (a stable kind code), whether that detector
/// must fire, and for a true positive the secret itself (which must be gone after redaction).
pub struct Case {
    pub detector: &'static str,
    pub text: String,
    pub positive: bool,
    pub secret: Option<String>,
}

fn tp(detector: &'static str, text: String, secret: String) -> Case {
    Case {
        detector,
        text,
        positive: true,
        secret: Some(secret),
    }
}

fn fp(detector: &'static str, text: &str) -> Case {
    Case {
        detector,
        text: text.to_owned(),
        positive: false,
        secret: None,
    }
}

fn c(parts: &[&str]) -> String {
    parts.concat()
}

pub fn cases() -> Vec<Case> {
    let mut g = Gen::new(14);
    let mut out = Vec::new();
    let dashes = "-----";

    // Private keys: every BEGIN … PRIVATE KEY variant, PGP, PuTTY; the whole block.
    for label in [
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "DSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ] {
        let body = format!("{}\n{}", g.draw(B64, 64), g.draw(B64, 40));
        let block = format!("{dashes}BEGIN {label}{dashes}\n{body}\n{dashes}END {label}{dashes}");
        out.push(tp(
            "private-key",
            format!("here is the key:\n{block}\nthanks"),
            body,
        ));
    }
    let body = g.draw(B64, 64);
    out.push(tp(
        "private-key",
        format!("{dashes}BEGIN RSA PRIVATE KEY{dashes}\n{body}"),
        body,
    ));
    let private = g.draw(B64, 64);
    let mac = g.draw(HEX, 40);
    out.push(tp(
        "private-key",
        format!(
            "{}2: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 1\n{}\n{}: 1\n{private}\n{}: {mac}\n",
            c(&["PuT", "TY-User-Key-File-"]),
            g.draw(B64, 60),
            c(&["Private", "-Lines"]),
            c(&["Private", "-MAC"]),
        ),
        format!("{private}\n{}: {mac}", c(&["Private", "-MAC"])),
    ));
    for text in [
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3rhsyvWBbdXyRq user@host",
        "generate a private key with ssh-keygen -t ed25519",
        "The PRIVATE KEY header starts with five dashes.",
        "PuTTY keys (.ppk) are converted with puttygen",
    ] {
        out.push(fp("private-key", text));
    }

    // AWS access key ids and secret access keys (also on their own, in a key/value context).
    for prefix in ["AKIA", "ASIA"] {
        let id = c(&[prefix, &g.draw(UPPER_DIGITS, 16)]);
        out.push(tp("aws-access-key", format!("id {id} here"), id.clone()));
        out.push(tp(
            "aws-access-key",
            format!("aws_access_key_id = {id}"),
            id,
        ));
    }
    for context in [
        "aws_secret_access_key = ",
        "AWS_SECRET_ACCESS_KEY=",
        "secret: ",
    ] {
        let secret = g.draw(B64, 40);
        out.push(tp("aws-secret-key", format!("{context}{secret}\n"), secret));
    }
    let secret = g.draw(B64, 40);
    out.push(tp(
        "aws-secret-key",
        format!("{}:{secret}", c(&["AKIA", &g.draw(UPPER_DIGITS, 16)])),
        secret,
    ));
    let secret = g.draw(B64, 40);
    out.push(tp(
        "aws-secret-key",
        format!("{{\"SecretAccessKey\": \"{secret}\"}}"),
        secret,
    ));
    let secret = g.draw(B64, 40);
    out.push(tp(
        "aws-secret-key",
        format!(
            "User,Access key,Secret\nci,{},{secret}",
            c(&["AKIA", &g.draw(UPPER_DIGITS, 16)])
        ),
        secret,
    ));
    for text in [
        "AKIAIOSFODNN7EXAMPL",
        "commit = 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "sha1: 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
        "see src/hookledger/policy/dlp/scanner/mod.rs",
        "path: crates/policy/src/shell/commands/simple_table.rs",
    ] {
        out.push(fp("aws-secret-key", text));
        out.push(fp("aws-access-key", text));
    }

    // Azure connection strings.
    let key = c(&[&g.draw(B64, 86), "=="]);
    out.push(tp(
        "azure-storage-key",
        format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.windows.net"),
        key,
    ));
    let key = g.draw(B64, 44);
    out.push(tp(
        "azure-connection-string",
        format!("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={key}"),
        key,
    ));
    let key = g.draw(B64, 44);
    out.push(tp(
        "azure-connection-string",
        format!("HostName=hub.azure-devices.net;DeviceId=d1;SharedAccessKey={key}"),
        key,
    ));
    for text in [
        "AccountKey=<your-key>",
        "set SharedAccessKey= in the connection string",
        "DefaultEndpointsProtocol=https;AccountName=devstore;AccountKey=",
    ] {
        out.push(fp("azure-storage-key", text));
        out.push(fp("azure-connection-string", text));
    }

    // URLs with a password.
    for scheme in ["postgres", "mysql", "redis", "https", "amqp", "mongodb+srv"] {
        let password = g.draw(ALNUM, 14);
        out.push(tp(
            "url-password",
            format!("DATABASE_URL={scheme}://app:{password}@db.internal:5432/app"),
            password,
        ));
    }
    for text in [
        "postgres://user@localhost/db",
        "postgres://user:${DB_PASSWORD}@localhost/db",
        "https://example.com/a:b@c",
        "mysql://root:password@localhost/test",
        "redis://:<password>@host:6379",
        "see https://docs.python.org/3/library/urllib.parse.html",
        "git@github.com:owner/repo.git",
    ] {
        out.push(fp("url-password", text));
    }

    // Vendor tokens.
    let anthropic = c(&["sk-", "ant-", "api03-", &g.draw(TOKEN, 93), "AA"]);
    out.push(tp(
        "anthropic-key",
        format!("ANTHROPIC_API_KEY={anthropic}"),
        anthropic,
    ));
    let anthropic = c(&["sk-", "ant-", "admin01-", &g.draw(TOKEN, 60)]);
    out.push(tp(
        "anthropic-key",
        format!("key: '{anthropic}'"),
        anthropic,
    ));
    let openai = c(&["sk-", "proj-", &g.draw(TOKEN, 120)]);
    out.push(tp(
        "openai-key",
        format!("OPENAI_API_KEY=\"{openai}\""),
        openai,
    ));
    let openai = c(&[
        "sk-",
        &g.draw(ALNUM, 20),
        "T3Blbk",
        "FJ",
        &g.draw(ALNUM, 20),
    ]);
    out.push(tp(
        "openai-key",
        format!("openai.api_key = '{openai}'"),
        openai,
    ));
    let openai = c(&["sk-", "svcacct-", &g.draw(TOKEN, 60)]);
    out.push(tp(
        "openai-key",
        format!("use {openai} for the batch"),
        openai,
    ));
    for prefix in ["glpat-", "glrt-"] {
        let token = c(&[prefix, &g.draw(TOKEN, 20)]);
        out.push(tp("gitlab-token", format!("token {token}"), token));
    }
    let token = c(&["gh", "p_", &g.draw(ALNUM, 36)]);
    out.push(tp("github-token", format!("export GH={token}"), token));
    let token = c(&[
        "github",
        "_pat_",
        &g.draw(ALNUM, 22),
        "_",
        &g.draw(ALNUM, 59),
    ]);
    out.push(tp("github-token", format!("pat {token}"), token));
    for prefix in ["xoxb-", "xoxp-"] {
        let token = c(&[prefix, &g.draw("0123456789", 12), "-", &g.draw(ALNUM, 24)]);
        out.push(tp("slack-token", format!("SLACK={token}"), token));
    }
    let token = c(&[
        "xa",
        "pp-1-A",
        &g.draw(UPPER_DIGITS, 10),
        "-",
        &g.draw("0123456789", 13),
        "-",
        &g.draw(HEX, 64),
    ]);
    out.push(tp("slack-token", format!("app token {token}"), token));
    let path = c(&[
        "services/T",
        &g.draw(UPPER_DIGITS, 8),
        "/B",
        &g.draw(UPPER_DIGITS, 10),
        "/",
        &g.draw(ALNUM, 24),
    ]);
    out.push(tp(
        "slack-webhook",
        format!(
            "curl -X POST https://{}{path}",
            c(&["hooks.", "slack.com/"])
        ),
        path,
    ));
    let key = c(&["sk_", "live_", &g.draw(ALNUM, 24)]);
    out.push(tp("stripe-key", format!("stripe.api_key = \"{key}\""), key));
    let key = c(&["AI", "za", &g.draw(TOKEN, 35)]);
    out.push(tp("gcp-api-key", format!("maps key {key}"), key));
    for text in [
        "sk-ant- is the prefix of Anthropic keys",
        "sk-proj-placeholder",
        "task-ant-colony simulation",
        "glrt- tokens are runner tokens",
        "xapp-level tokens start with xapp-",
        "https://hooks.slack.com/services/",
        "the desk-project-board is ready",
    ] {
        for detector in [
            "anthropic-key",
            "openai-key",
            "gitlab-token",
            "slack-token",
            "slack-webhook",
        ] {
            out.push(fp(detector, text));
        }
    }

    // A pasted .env block: every high-entropy value.
    let (a, b) = (g.draw(ALNUM, 32), g.draw(B64, 28));
    out.push(tp(
        "env-secret",
        format!("NODE_ENV=production\nSESSION_SIGNING={a}\nLOG_LEVEL=debug\nWEBHOOK_HMAC={b}\n"),
        a,
    ));
    out.push(tp(
        "env-secret",
        format!("PORT=8080\nWEBHOOK_HMAC=\"{b}\"\n"),
        b,
    ));
    // The same block as the lines of an edit's diff.
    let a = g.draw(ALNUM, 32);
    out.push(tp(
        "env-secret",
        format!(" PORT=8080\n+export SESSION_SIGNING={a}\n-LOG_LEVEL=info\n"),
        a,
    ));
    for text in [
        "NODE_ENV=production\nLOG_LEVEL=debug\nPORT=8080\n",
        "APP_NAME=my-application-service\nREGION=eu-west-1\n",
        "PATH=/usr/local/bin:/usr/bin\nHOME=/home/dev\n",
        "BUILD_ID=20261202\n",
        "AZURE_TENANT_ID=3f2504e0-4f89-11d3-9a0c-0305e82c3301\nAZURE_CLIENT_ID=9a0c0305-e82c-3301-3f25-04e04f8911d3\n",
    ] {
        out.push(fp("env-secret", text));
    }

    // A hex digest under a name that says it is one (a commit id, an image digest) is not a
    // secret; the same hex under any other name still is.
    let commit = g.draw(HEX, 40);
    for text in [
        format!("GIT_SHA={commit}\nBUILD_NUMBER=42\n"),
        format!(
            "export GITHUB_SHA={commit}\nexport SOURCE_VERSION={}\n",
            g.draw(HEX, 40)
        ),
        format!(
            "VERCEL_GIT_COMMIT_SHA=\"{commit}\"\nIMAGE_DIGEST=sha256:{}\n",
            g.draw(HEX, 64)
        ),
        format!(
            "APP_REVISION={}\nARTIFACT_HASH={}\nRELEASE_CHECKSUM={}\n",
            g.draw(HEX, 40),
            g.draw(HEX, 64),
            g.draw(HEX, 32)
        ),
        format!(
            "+HEROKU_SLUG_COMMIT={commit}\n+BASE_REF={}\n",
            g.draw(HEX, 40)
        ),
    ] {
        out.push(Case {
            detector: "env-secret",
            text,
            positive: false,
            secret: None,
        });
    }
    let hex_secret = g.draw(HEX, 64);
    out.push(tp(
        "env-secret",
        format!("GIT_SHA={commit}\nSESSION_SECRET={hex_secret}\n"),
        hex_secret,
    ));
    let hex_secret = g.draw(HEX, 40);
    out.push(tp(
        "env-secret",
        format!("GIT_SHA={commit}\nWEBHOOK_HMAC_SHA={hex_secret}\n"),
        hex_secret,
    ));

    // Secret assignments: the value is judged, not the name.
    for (name, value) in [
        ("password", g.draw(ALNUM, 14)),
        ("DB_PASSWORD", g.draw(ALNUM, 12)),
        ("client_secret", g.draw(ALNUM, 24)),
        ("apiKey", g.draw(ALNUM, 20)),
    ] {
        out.push(tp(
            "password-assignment",
            format!("{name} = \"{value}\""),
            value,
        ));
    }
    let value = g.draw(ALNUM, 16);
    out.push(tp(
        "password-assignment",
        format!("  password: {value}\n"),
        value,
    ));
    for text in [
        "password = request.form['password']",
        "api_key=settings.API_KEY",
        "SECRET_KEY = os.environ[\"SECRET_KEY\"]",
        "const token = localStorage.getItem('token')",
        "Password: requirements aren't enforced",
        "password = ${DB_PASSWORD}",
        "password: changeme",
        "the token field is required",
        "token = jwt.encode(payload, key)",
        "password = getpass.getpass()",
        "api_key: Optional[str] = None",
        "secret = self.config.secret_value",
        "password_hash = bcrypt.hashpw(password, salt)",
        "token_url = \"https://oauth2.example.com/token\"",
        "password: <your password here>",
        "Token: see the README for how to create one",
        "API_KEY_HEADER = \"X-Api-Key\"",
        "password = process.env.DB_PASSWORD",
        "secret_path = \"/etc/app/secrets\"",
        "if password == confirm_password:",
    ] {
        out.push(fp("password-assignment", text));
    }

    // JWTs, card numbers and US SSNs.
    let jwt = c(&[
        "ey",
        "JhbGciOiJIUzI1NiJ9.",
        "ey",
        "J",
        &g.draw(TOKEN, 30),
        ".",
        &g.draw(TOKEN, 43),
    ]);
    out.push(tp("jwt", format!("Authorization: Bearer {jwt}"), jwt));
    out.push(tp(
        "card-number",
        "card 4111 1111 1111 1111 exp".into(),
        "4111 1111 1111 1111".into(),
    ));
    out.push(tp(
        "us-ssn",
        "ssn 123-45-6789.".into(),
        "123-45-6789".into(),
    ));
    for text in [
        "use eyJ as a prefix",
        "order 4111 1111 1111 1112 is invalid",
        "version 2026-11-01, build 1234567890123",
        "areas 000-12-3456 and 666-12-3456 are not SSNs",
    ] {
        for detector in ["jwt", "card-number", "us-ssn"] {
            out.push(fp(detector, text));
        }
    }
    red_team(&mut g, &mut out);
    out
}

/// Standard base64 (with padding), for secrets that travel encoded (Kubernetes `data:`).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The red-team corpus (issue 14, DLP): secrets in the contexts developers paste and write
/// them (JSON, YAML, source, shell, Dockerfiles, manifests, headers, URLs), split literals,
/// and code or prose that names a secret without holding one.
///
/// Published example keys (AWS's `AKIAIOSFODNN7EXAMPLE` pair) are treated as secrets: the
/// detector judges the shape of a value and cannot tell a published example from a real key
/// of the same shape without an allowlist that would itself be a way around it; a blocked
/// prompt costs the developer a rephrase. Placeholders that are not key-shaped (`<your-key>`,
/// `xxxx…`, `changeme`, `${TOKEN}`, `your-api-key-here`) are not secrets.
fn red_team(g: &mut Gen, out: &mut Vec<Case>) {
    let dashes = "-----";
    let pem = |g: &mut Gen, label: &str| -> (String, String) {
        let body = format!(
            "{}\n{}\n{}",
            g.draw(B64, 64),
            g.draw(B64, 64),
            g.draw(B64, 24)
        );
        (
            format!("{dashes}BEGIN {label}{dashes}\n{body}\n{dashes}END {label}{dashes}"),
            body,
        )
    };

    // --- Private keys in the places they are pasted.
    let one = g.draw(B64, 64);
    out.push(tp(
        "private-key",
        format!(
            "{{\"ssh_key\": \"{dashes}BEGIN OPENSSH PRIVATE KEY{dashes}\\n{one}\\n{dashes}END OPENSSH PRIVATE KEY{dashes}\\n\"}}"
        ),
        one,
    ));
    let (block, body) = pem(g, "EC PRIVATE KEY");
    let indented: String = block.lines().map(|l| format!("    {l}\n")).collect();
    out.push(tp(
        "private-key",
        format!("tls:\n  key: |\n{indented}  cert: ./cert.pem\n"),
        body,
    ));
    let (block, body) = pem(g, "DSA PRIVATE KEY");
    out.push(tp(
        "private-key",
        format!("SIGNING_KEY = \"\"\"{block}\"\"\"\n\ndef sign(x):\n    pass\n"),
        body,
    ));
    let body = format!("{}\n{}", g.draw(B64, 64), g.draw(B64, 32));
    out.push(tp(
        "private-key",
        format!(
            "{dashes}BEGIN RSA PRIVATE KEY{dashes}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{}\n\n{body}\n{dashes}END RSA PRIVATE KEY{dashes}\n",
            g.draw(HEX, 32).to_uppercase()
        ),
        body,
    ));
    let body = format!(
        "{}\n{}\n={}",
        g.draw(B64, 64),
        g.draw(B64, 64),
        g.draw(B64, 4)
    );
    out.push(tp(
        "private-key",
        format!(
            "{dashes}BEGIN PGP PRIVATE KEY BLOCK{dashes}\nVersion: GnuPG v2\nComment: backup\n\n{body}\n{dashes}END PGP PRIVATE KEY BLOCK{dashes}"
        ),
        body,
    ));
    let (block, body) = pem(g, "ENCRYPTED PRIVATE KEY");
    out.push(tp("private-key", block.replace('\n', "\r\n"), body));
    let (block, body) = pem(g, "OPENSSH PRIVATE KEY");
    out.push(tp(
        "private-key",
        format!("cat > ~/.ssh/id_ed25519 <<'EOF'\n{block}\nEOF\nchmod 600 ~/.ssh/id_ed25519"),
        body,
    ));
    // Cut short: no END line, the rest of the text is the key.
    let body = format!("{}\n{}", g.draw(B64, 64), g.draw(B64, 64));
    out.push(tp(
        "private-key",
        format!("the key starts like\n{dashes}BEGIN PRIVATE KEY{dashes}\n{body}"),
        body,
    ));
    // SSH.com (SSH2) format: four dashes and spaces.
    let body = format!("{}\n{}", g.draw(B64, 64), g.draw(B64, 40));
    out.push(tp(
        "private-key",
        format!(
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"rsa-key\"\n{body}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"
        ),
        body,
    ));
    // PuTTY v3 (Argon2), the private lines and the MAC.
    let private = format!("{}\n{}", g.draw(B64, 64), g.draw(B64, 20));
    let mac = g.draw(HEX, 64);
    out.push(tp(
        "private-key",
        format!(
            "{}3: ssh-ed25519\nEncryption: aes256-cbc\nComment: deploy\nPublic-Lines: 2\n{}\n{}\nKey-Derivation: Argon2id\nArgon2-Memory: 8192\nArgon2-Passes: 13\nArgon2-Parallelism: 1\nArgon2-Salt: {}\n{}: 2\n{private}\n{}: {mac}\n",
            c(&["PuT", "TY-User-Key-File-"]),
            g.draw(B64, 64),
            g.draw(B64, 20),
            g.draw(HEX, 32),
            c(&["Private", "-Lines"]),
            c(&["Private", "-MAC"]),
        ),
        format!("{private}\n{mac}"),
    ));
    // A key inside a Kubernetes secret: base64 of the PEM block.
    let (block, _) = pem(g, "RSA PRIVATE KEY");
    let encoded = base64(block.as_bytes());
    out.push(tp(
        "private-key",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: kubernetes.io/tls\ndata:\n  tls.key: {encoded}\n"
        ),
        encoded,
    ));
    // A key written by a Dockerfile RUN with escaped newlines.
    let one = g.draw(B64, 64);
    out.push(tp(
        "private-key",
        format!(
            "RUN echo \"{dashes}BEGIN RSA PRIVATE KEY{dashes}\\n{one}\\n{dashes}END RSA PRIVATE KEY{dashes}\" > /root/.ssh/id_rsa"
        ),
        one,
    ));
    for text in [
        "-----BEGIN CERTIFICATE REQUEST-----\nMIICvDCCAaQCAQAwdzELMAkGA1UEBhMCVVMxDTALBgNVBAgMBFV0YWgx\n-----END CERTIFICATE REQUEST-----",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGBzZ3YBEADGx7kHyq1Y2N3b8vR5Lq9Wc0E\n-----END PGP PUBLIC KEY BLOCK-----",
        "-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEE3b8vR5Lq9Wc0EmQINBGBzZ3Y\n-----END PGP SIGNATURE-----",
        "---- BEGIN SSH2 PUBLIC KEY ----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQC7\n---- END SSH2 PUBLIC KEY ----",
        "if line.startswith('-----BEGIN') and 'PRIVATE KEY' in line:\n    found = True",
        "PEM_HEADER = \"-----BEGIN PRIVATE KEY-----\"\nPEM_FOOTER = \"-----END PRIVATE KEY-----\"\n",
        "The file looks like:\n-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
        "Private-Lines: is a field of the .ppk format, followed by Private-MAC:",
    ] {
        out.push(fp("private-key", text));
    }

    // Key material without PEM armour: an OpenSSH body, the base64 DER of PKCS#1/PKCS#8 RSA
    // and PKCS#8 EC keys, a JSON Web Key's private members, OpenVPN's static key.
    let body = c(&[
        "b3BlbnNzaC1rZXktdjE",
        "AAAAA",
        &g.draw(B64, 50),
        "\n",
        &g.draw(B64, 70),
    ]);
    out.push(tp(
        "private-key",
        format!("the key file content is:\n{body}\n"),
        body,
    ));
    for head in [
        "MIIEowIBAAKCAQEA",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg",
    ] {
        let der = c(&[
            head,
            &g.draw(B64, 64 - head.len()),
            "\n",
            &g.draw(B64, 64),
            "\n",
            &g.draw(B64, 20),
        ]);
        out.push(tp(
            "private-key",
            format!("SIGNING_KEY_DER = \"\"\"\n{der}\n\"\"\"\n"),
            der,
        ));
    }
    let (d, p) = (g.draw(TOKEN, 86), g.draw(TOKEN, 43));
    out.push(tp(
        "private-key",
        format!(
            "{{\"kty\": \"RSA\", \"e\": \"AQAB\", \"n\": \"{}\", \"d\": \"{d}\", \"p\": \"{p}\"}}",
            g.draw(TOKEN, 86)
        ),
        format!("{d}\n{p}"),
    ));
    let d = g.draw(TOKEN, 43);
    out.push(tp(
        "private-key",
        format!(
            "{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{}\",\"y\":\"{}\",\"d\":\"{d}\"}}",
            g.draw(TOKEN, 43),
            g.draw(TOKEN, 43)
        ),
        d,
    ));
    let body = format!("{}\n{}", g.draw(HEX, 32), g.draw(HEX, 32));
    out.push(tp(
        "private-key",
        format!("<tls-auth>\n{dashes}BEGIN OpenVPN Static key V1{dashes}\n{body}\n{dashes}END OpenVPN Static key V1{dashes}\n</tls-auth>"),
        body,
    ));
    for text in [
        "{\"kty\": \"RSA\", \"e\": \"AQAB\", \"n\": \"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\"}",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\nRTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD\n-----END CERTIFICATE-----",
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWgkdkPvqbIzsVHmsBBEnDtjMlQSr4bEmsN1mvLmOVRq1aYvW1n8p3BWjz4gv1lYjxYkDOjBGYyIzYjlVp7WUzQ==",
    ] {
        out.push(fp("private-key", text));
    }

    // A key block base64-encoded and wrapped at 76 columns (`base64 id_rsa`), as a CI
    // variable is pasted.
    let (block, _) = pem(g, "OPENSSH PRIVATE KEY");
    let encoded = base64(block.as_bytes());
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    out.push(tp(
        "private-key",
        format!("$ base64 ~/.ssh/id_ed25519\n{}\n$ ", wrapped.join("\n")),
        wrapped.join("\n"),
    ));

    // --- AWS: the key id in context, the secret on its own in key/value contexts.
    let id = c(&["AKIA", &g.draw(UPPER_DIGITS, 16)]);
    out.push(tp(
        "aws-access-key",
        format!("{{\"AccessKeyId\": \"{id}\", \"Status\": \"Active\"}}"),
        id,
    ));
    let id = c(&["ASIA", &g.draw(UPPER_DIGITS, 16)]);
    out.push(tp(
        "aws-access-key",
        format!("  AWS_ACCESS_KEY_ID: {id}\n"),
        id,
    ));
    // The published documentation example is treated like any key of its shape.
    let example = c(&["AKIA", "IOSFODNN7", "EXAMPLE"]);
    out.push(tp(
        "aws-access-key",
        format!("aws configure set aws_access_key_id {example}"),
        example,
    ));
    for (before, after) in [
        (
            "[default]\naws_access_key_id = AKIA0000000000000000\naws_secret_access_key = ",
            "\n",
        ),
        (
            "{\"Credentials\": {\"SecretAccessKey\": \"",
            "\", \"SessionToken\": \"x\"}}",
        ),
        ("ENV AWS_SECRET_ACCESS_KEY ", "\n"),
        ("export AWS_SECRET_ACCESS_KEY=\"", "\"\n"),
        ("s3 = boto3.client('s3', aws_secret_access_key='", "')\n"),
        ("    secretAccessKey: '", "',\n"),
        (
            "creds := credentials.NewStaticCredentials(\"AKIA0000000000000000\", \"",
            "\", \"\")",
        ),
        ("      - AWS_SECRET_ACCESS_KEY=", "\n"),
        ("| ci-deploy | AKIA0000000000000001 | ", " |\n"),
        ("ci-deploy\tAKIA0000000000000001\t", "\n"),
    ] {
        let secret = g.draw(B64, 40);
        out.push(tp(
            "aws-secret-key",
            format!("{before}{secret}{after}"),
            secret,
        ));
    }
    for text in [
        "aws_secret_access_key = <your-secret-access-key>",
        "AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}",
        "aws_secret_access_key = os.environ['AWS_SECRET_ACCESS_KEY']",
        "\"integrity\": \"sha512-9KjZz5lZb0e1K2v3F4g5H6j7K8l9M0n1O2p3Q4r5S6t7U8v9W0x1Y2z3A4b5C6d7E8f9G0h1I2j3K4l5M6n7O8p9Q==\"",
        "AKIAXXXXXXXXXXXXXXXX",
        "head: 3f2b7c9e1d4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c",
        "![logo](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)",
    ] {
        out.push(fp("aws-secret-key", text));
        out.push(fp("aws-access-key", text));
    }

    // --- Azure: account keys, Service Bus / IoT keys, SAS signatures.
    let key = c(&[&g.draw(B64, 86), "=="]);
    out.push(tp(
        "azure-storage-key",
        format!("  \"AzureWebJobsStorage\": \"DefaultEndpointsProtocol=https;AccountName=prod;AccountKey={key}\","),
        key,
    ));
    let key = c(&[&g.draw(B64, 43), "="]);
    out.push(tp(
        "azure-connection-string",
        format!("export SERVICEBUS=\"Endpoint=sb://bus.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={key};EntityPath=q\""),
        key,
    ));
    let sig = c(&[&g.draw(ALNUM, 30), "%2B", &g.draw(ALNUM, 10), "%3D"]);
    out.push(tp(
        "azure-connection-string",
        format!("curl 'https://acct.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-31T00:00:00Z&spr=https&sig={sig}'"),
        sig,
    ));
    let sig = c(&[&g.draw(ALNUM, 40), "%3D"]);
    out.push(tp(
        "azure-connection-string",
        format!("BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig={sig}"),
        sig,
    ));
    for text in [
        "AccountKey=${AZURE_STORAGE_KEY}",
        "UseDevelopmentStorage=true",
        "the SAS token ends with &sig= followed by the signature",
        "SharedAccessKey={{ .Values.bus.key }}",
    ] {
        out.push(fp("azure-storage-key", text));
        out.push(fp("azure-connection-string", text));
    }

    // --- URLs with a password.
    for (scheme, host) in [
        ("postgresql", "db.prod.internal:5432/app?sslmode=require"),
        ("mysql", "10.0.3.7:3306/shop"),
        (
            "mongodb+srv",
            "cluster0.ab1cd.mongodb.net/app?retryWrites=true",
        ),
        ("redis", "cache.internal:6380/0"),
        ("amqps", "mq.internal:5671/vhost"),
        ("https", "nexus.corp.example/repository/pypi/simple"),
        ("ftp", "files.example.org/upload"),
    ] {
        let password = g.draw(ALNUM, 18);
        out.push(tp(
            "url-password",
            format!("url: \"{scheme}://deploy:{password}@{host}\""),
            password,
        ));
    }
    let password = c(&["p", &g.draw(ALNUM, 10), "%40", &g.draw(ALNUM, 6)]);
    out.push(tp(
        "url-password",
        format!("SQLALCHEMY_DATABASE_URI = 'postgresql+psycopg2://app:{password}@localhost/app'"),
        password,
    ));
    let password = c(&["%21", &g.draw(ALNUM, 12)]);
    out.push(tp(
        "url-password",
        format!("git clone https://ci:{password}@git.corp.example/team/repo.git"),
        password,
    ));
    let password = g.draw(ALNUM, 16);
    out.push(tp(
        "url-password",
        format!(
            "pip install --index-url https://__token__:{password}@pypi.corp.example/simple pkg"
        ),
        password,
    ));
    for text in [
        "DATABASE_URL=postgres://postgres:postgres@localhost:5432/test",
        "amqp://guest:guest@localhost:5672/",
        "redis://:${REDIS_PASSWORD}@redis:6379/0",
        "postgres://{{ .Values.db.user }}:{{ .Values.db.password }}@db/app",
        "mongodb://user:<password>@cluster0.mongodb.net/test",
        "postgresql://user:%(password)s@host/db",
        "https://user:****@example.com",
        "mysql://root:xxxxxxxx@127.0.0.1/db",
        "postgres://app:changeme@localhost/app",
        "see http://localhost:8080/api/v1:batch@latest",
    ] {
        out.push(fp("url-password", text));
    }

    // --- Vendor tokens in source, shells and headers.
    let anthropic = c(&["sk-", "ant-", "api03-", &g.draw(TOKEN, 93), "AA"]);
    out.push(tp(
        "anthropic-key",
        format!("client = anthropic.Anthropic(api_key=\"{anthropic}\")"),
        anthropic.clone(),
    ));
    out.push(tp(
        "anthropic-key",
        format!("curl https://api.anthropic.com/v1/messages -H \"x-api-key: {anthropic}\""),
        anthropic,
    ));
    let anthropic = c(&["sk-", "ant-", "admin01-", &g.draw(TOKEN, 93), "AA"]);
    out.push(tp(
        "anthropic-key",
        format!("const admin = new Anthropic({{ apiKey: '{anthropic}' }});"),
        anthropic,
    ));
    let openai = c(&["sk-", "proj-", &g.draw(TOKEN, 156)]);
    out.push(tp(
        "openai-key",
        format!("curl https://api.openai.com/v1/models -H \"Authorization: Bearer {openai}\""),
        openai,
    ));
    let openai = c(&["sk-", "svcacct-", &g.draw(TOKEN, 120)]);
    out.push(tp(
        "openai-key",
        format!("os.environ[\"OPENAI_API_KEY\"] = \"{openai}\""),
        openai,
    ));
    // A legacy key without the embedded marker: `sk-` and 48 random characters.
    let openai = c(&["sk-", &g.draw(ALNUM, 48)]);
    out.push(tp(
        "openai-key",
        format!("openai.api_key = \"{openai}\""),
        openai,
    ));
    let token = c(&["gh", "p_", &g.draw(ALNUM, 36)]);
    out.push(tp(
        "github-token",
        format!("git remote set-url origin https://x-access-token:{token}@github.com/o/r.git"),
        token,
    ));
    let token = c(&["gh", "o_", &g.draw(ALNUM, 36)]);
    out.push(tp(
        "github-token",
        format!("{{\"access_token\":\"{token}\",\"token_type\":\"bearer\",\"scope\":\"repo\"}}"),
        token,
    ));
    let token = c(&["gh", "s_", &g.draw(ALNUM, 36)]);
    out.push(tp(
        "github-token",
        format!("curl -H \"Authorization: token {token}\" https://api.github.com/user"),
        token,
    ));
    let token = c(&[
        "github",
        "_pat_",
        &g.draw(ALNUM, 22),
        "_",
        &g.draw(ALNUM, 59),
    ]);
    out.push(tp(
        "github-token",
        format!("      GITHUB_TOKEN: {token}\n"),
        token,
    ));
    for prefix in ["glpat-", "glrt-", "gldt-"] {
        let token = c(&[prefix, &g.draw(TOKEN, 20)]);
        out.push(tp(
            "gitlab-token",
            format!("curl --header \"PRIVATE-TOKEN: {token}\" https://gitlab.example.com/api/v4/projects"),
            token,
        ));
    }
    // GitLab's routable token format (a payload, then `.01.` and a checksum).
    let token = c(&["glpat-", &g.draw(TOKEN, 27), ".01.", &g.draw(ALNUM, 9)]);
    out.push(tp("gitlab-token", format!("token = '{token}'"), token));
    for prefix in ["xoxb-", "xoxp-"] {
        let token = c(&[
            prefix,
            &g.draw("0123456789", 12),
            "-",
            &g.draw("0123456789", 13),
            "-",
            &g.draw(ALNUM, 24),
        ]);
        out.push(tp(
            "slack-token",
            format!("client = WebClient(token=\"{token}\")"),
            token,
        ));
    }
    let token = c(&[
        "xa",
        "pp-1-A",
        &g.draw(UPPER_DIGITS, 10),
        "-",
        &g.draw("0123456789", 13),
        "-",
        &g.draw(HEX, 64),
    ]);
    out.push(tp(
        "slack-token",
        format!("SLACK_APP_TOKEN: \"{token}\""),
        token,
    ));
    for kind in ["services/T", "workflows/T"] {
        let path = c(&[
            kind,
            &g.draw(UPPER_DIGITS, 9),
            "/B",
            &g.draw(UPPER_DIGITS, 11),
            "/",
            &g.draw(ALNUM, 24),
        ]);
        out.push(tp(
            "slack-webhook",
            format!(
                "requests.post(\"https://{}{path}\", json={{\"text\": \"deployed\"}})",
                c(&["hooks.", "slack.com/"])
            ),
            path,
        ));
    }
    for prefix in ["sk_", "rk_"] {
        let key = c(&[prefix, "live_", &g.draw(ALNUM, 99)]);
        out.push(tp(
            "stripe-key",
            format!("const stripe = require('stripe')('{key}');"),
            key,
        ));
    }
    let key = c(&["AI", "za", &g.draw(TOKEN, 35)]);
    out.push(tp(
        "gcp-api-key",
        format!("<script src=\"https://maps.googleapis.com/maps/api/js?key={key}&callback=init\"></script>"),
        key,
    ));
    let key = c(&["AI", "za", &g.draw(TOKEN, 35)]);
    out.push(tp(
        "gcp-api-key",
        format!("firebaseConfig = {{ apiKey: \"{key}\", projectId: \"demo\" }}"),
        key,
    ));
    for (before, after) in [
        ("//registry.npmjs.org/:_authToken=", "\n"),
        ("NPM_TOKEN=", "\n"),
        ("echo \"npm publish with ", "\""),
    ] {
        let token = c(&["np", "m_", &g.draw(ALNUM, 36)]);
        out.push(tp("npm-token", format!("{before}{token}{after}"), token));
    }
    for text in [
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "export GITHUB_TOKEN=ghp_YourTokenHere",
        "sk_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "OPENAI_API_KEY=sk-...",
        "ANTHROPIC_API_KEY=sk-ant-api03-...",
        "the xoxb-* bot tokens and xoxp-* user tokens",
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
        "Stripe keys look like sk_live_ followed by 24 characters",
        "use the risk-analysis and task-management modules",
        "npm_config_cache=/tmp/npm-cache",
    ] {
        for detector in [
            "github-token",
            "stripe-key",
            "openai-key",
            "anthropic-key",
            "slack-token",
            "npm-token",
            "password-assignment",
        ] {
            out.push(fp(detector, text));
        }
    }

    // --- Authorization headers with an opaque token.
    let token = g.draw(TOKEN, 40);
    out.push(tp(
        "authorization-header",
        format!("curl -H \"Authorization: Bearer {token}\" https://api.internal/v1/jobs"),
        token,
    ));
    let token = g.draw(ALNUM, 32);
    out.push(tp(
        "authorization-header",
        format!("headers = {{\"Authorization\": \"Bearer {token}\"}}"),
        token,
    ));
    let basic = base64(format!("deploy:{}", g.draw(ALNUM, 16)).as_bytes());
    out.push(tp(
        "authorization-header",
        format!("Authorization: Basic {basic}"),
        basic,
    ));
    for text in [
        "curl -H \"Authorization: Bearer $TOKEN\" https://api.example.com",
        "headers = {\"Authorization\": f\"Bearer {token}\"}",
        "Authorization: Bearer <token>",
        "-H 'Authorization: Bearer ${{ secrets.API_TOKEN }}'",
        "The server answers 401 unless the request has Authorization: Bearer followed by a token.",
        "req.headers['authorization'] = 'Bearer ' + accessToken",
    ] {
        out.push(fp("authorization-header", text));
    }

    // --- .env blocks, compose and Kubernetes manifests, shell exports, Dockerfiles.
    let (a, b) = (g.draw(ALNUM, 40), g.draw(B64, 44));
    out.push(tp(
        "env-secret",
        format!("# production\nAPP_ENV=production\nDJANGO_SETTINGS_MODULE=app.settings\nFERNET_MASTER={a}\nMAILER_DSN_KEY={b}\n"),
        a,
    ));
    let a = g.draw(ALNUM, 32);
    out.push(tp(
        "env-secret",
        format!("services:\n  api:\n    environment:\n      - NODE_ENV=production\n      - COOKIE_SIGNER={a}\n"),
        a,
    ));
    let a = g.draw(ALNUM, 48);
    out.push(tp(
        "password-assignment",
        format!("FROM python:3.12-slim\nENV DJANGO_SECRET_KEY {a}\nCMD [\"gunicorn\"]\n"),
        a,
    ));
    let a = g.draw(ALNUM, 20);
    out.push(tp(
        "kubernetes-secret",
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: \"{a}\"\n"),
        a,
    ));
    let a = base64(g.draw(ALNUM, 24).as_bytes());
    out.push(tp(
        "kubernetes-secret",
        format!("apiVersion: v1\nkind: Secret\ntype: Opaque\ndata:\n  api-key: {a}\n"),
        a,
    ));
    let a = g.draw(ALNUM, 24);
    out.push(tp(
        "password-assignment",
        format!("mysql -h db -u root --password {a} shop < dump.sql"),
        a,
    ));
    let a = c(&[&g.draw(ALNUM, 10), "!#", &g.draw(ALNUM, 4)]);
    out.push(tp(
        "password-assignment",
        format!("    \"password\": \"{a}\",\n"),
        a,
    ));
    let a = g.draw(ALNUM, 64);
    out.push(tp(
        "password-assignment",
        format!("ENCRYPTION_KEY={a}\n"),
        a,
    ));
    let a = g.draw(B64, 44);
    out.push(tp(
        "password-assignment",
        format!("app.config['SECRET_KEY'] = '{a}'"),
        a,
    ));
    let a = g.draw(TOKEN, 32);
    out.push(tp(
        "password-assignment",
        format!("var accessToken = \"{a}\";"),
        a,
    ));
    let a = g.draw(ALNUM, 30);
    out.push(tp(
        "password-assignment",
        format!("<add key=\"ClientSecret\" value=\"{a}\" />"),
        a,
    ));
    for text in [
        "DATABASE_URL=${DATABASE_URL}\nREDIS_URL=${REDIS_URL}\n",
        "VITE_API_BASE=https://api.example.com/v1\nVITE_SENTRY_ENV=staging\n",
        "TZ=Europe/Berlin\nLANG=en_US.UTF-8\nLC_ALL=en_US.UTF-8\n",
        "IMAGE=ghcr.io/acme/api:1.24.3\nREPLICAS=3\n",
        "S3_BUCKET_KEY=uploads/2024/report-final.pdf\nS3_REGION=us-east-1\n",
        "password: \"{{ .Values.db.password }}\"",
        "token: {{ .Values.token }}",
        "API_KEY = \"your-api-key-here\"",
        "api_key = \"YOUR_API_KEY\"",
        "secret: <insert-secret-here>",
        "SECRET_KEY = os.environ.get(\"SECRET_KEY\", \"\")",
        "token = os.getenv(\"GITHUB_TOKEN\")",
        "password := os.Getenv(\"DB_PASSWORD\")",
        "const apiKey = process.env.OPENAI_API_KEY ?? '';",
        "let secret = std::env::var(\"APP_SECRET\")?;",
        "password = request.form['password']",
        "token = request.headers.get('X-Auth-Token')",
        "secretName: db-credentials",
        "passwordPolicy: minimum 12 characters with one digit",
        "Password: requirements aren't enforced on SSO accounts",
        "tokens_per_minute = 90000",
        "api_key: str = Field(..., description=\"The API key\")",
        "- name: API_TOKEN\n  valueFrom:\n    secretKeyRef:\n      name: api\n      key: token",
        "password_reset_url = reverse('password_reset_confirm')",
        "TOKEN_EXPIRY_SECONDS=3600\nSESSION_TIMEOUT=1800\n",
        "secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>",
        "export GITHUB_TOKEN=$(gh auth token)",
        "password = \"\"",
        "token: \"xxxxxxxxxxxxxxxxxxxxxxxx\"",
        "password=********",
        "sha256sum: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "request_id = \"3f2504e0-4f89-11d3-9a0c-0305e82c3301\"",
        "GIT_COMMIT=9fceb02d0ae598e95dc970b74767f19372d61af8\nGIT_BRANCH=main\n",
        "\"resolved\": \"https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz\",\n\"integrity\": \"sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQPnAsR0MQ2t8yb5m+HVB/aLaqb3kSmKN1TzuggQ3KahDVA==\"",
        "<img src=\"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7\">",
    ] {
        for detector in ["env-secret", "password-assignment", "aws-secret-key"] {
            out.push(fp(detector, text));
        }
    }

    // --- Credentials on a command line, in prose, and in registry configs.
    for (before, after) in [
        ("curl -u admin:", " https://jenkins.corp/api/json"),
        ("curl --user deploy:", " -X POST https://nexus.corp/upload"),
        ("mysql -h db -uroot -p", " shop < dump.sql"),
        ("sshpass -p '", "' ssh deploy@host"),
        ("docker login -u bot -p ", " registry.corp"),
        (
            "openssl pkcs12 -export -in c.pem -passout pass:",
            " -out c.p12",
        ),
        ("PGPASSWORD=", " psql -h db -U app"),
        ("DB_PASS=", "\n"),
        ("pwd = \"", "\""),
        ("dbPassword: '", "'"),
        ("the admin password is ", " so do not share it"),
        ("My API key is ", "."),
    ] {
        let secret = g.draw(ALNUM, 18);
        out.push(tp(
            "password-assignment",
            format!("{before}{secret}{after}"),
            secret,
        ));
    }
    let auth = base64(format!("bot:{}", g.draw(ALNUM, 20)).as_bytes());
    out.push(tp(
        "authorization-header",
        format!("{{\"auths\": {{\"registry.corp\": {{\"auth\": \"{auth}\"}}}}}}"),
        auth.clone(),
    ));
    let config =
        base64(format!("{{\"auths\":{{\"ghcr.io\":{{\"auth\":\"{auth}\"}}}}}}").as_bytes());
    out.push(tp(
        "authorization-header",
        format!("type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {config}\n"),
        config,
    ));
    let token = g.draw(HEX, 40);
    out.push(tp(
        "authorization-header",
        format!("curl -H 'Authorization: token {token}' https://api.github.com/user/repos"),
        token,
    ));
    for text in [
        "mkdir -p src/Components/Forms",
        "docker run -p 8080:80 -p 127.0.0.1:9090:9090 nginx",
        "ssh -p 2222 deploy@host",
        "mysql -u root -p shop",
        "mysql -u root -p",
        "git push -u origin feature/Login-Form",
        "curl -u \"$USER:$PASS\" https://example.com",
        "curl -u admin:admin http://localhost:8080",
        "curl --user-agent Mozilla/5.0 https://example.com",
        "compass: north-west-12",
        "bypass_cache = settings.BYPASS",
        "the password is required",
        "the token was revoked yesterday",
        "Authorization: Bearer",
        "\"auth\": \"oauth2\"",
        "authorization_url = \"https://accounts.example.com/o/oauth2/auth\"",
        "PASSWORD_MIN_LENGTH=12\nPASSWORD_REQUIRE_SYMBOL=true\n",
        "password_field = forms.CharField(widget=forms.PasswordInput)",
        "token = uuid.uuid4().hex",
        "secret = secrets.token_hex(32)",
        "SENTRY_DSN=https://3f9a2b1c4d5e6f70@o123456.ingest.sentry.io/1234567",
    ] {
        for detector in ["password-assignment", "authorization-header"] {
            out.push(fp(detector, text));
        }
    }

    // --- Vendor tokens without a kind of their own.
    for (prefix, body) in [
        ("hf_", g.draw(ALNUM, 34)),
        ("SG.", c(&[&g.draw(TOKEN, 22), ".", &g.draw(TOKEN, 43)])),
        ("hvs.", g.draw(TOKEN, 90)),
        ("dop_v1_", g.draw(HEX, 64)),
        ("shpat_", g.draw(HEX, 32)),
        ("pypi-AgEIcHlwaS5vcmc", g.draw(TOKEN, 120)),
        ("dckr_pat_", g.draw(TOKEN, 27)),
        ("whsec_", g.draw(ALNUM, 32)),
        ("ya29.", g.draw(TOKEN, 120)),
        ("glsa_", c(&[&g.draw(ALNUM, 32), "_", &g.draw(HEX, 8)])),
        ("lin_api_", g.draw(ALNUM, 40)),
        ("AGE-SECRET-KEY-1", g.draw(UPPER_DIGITS, 58)),
    ] {
        let token = c(&[prefix, &body]);
        out.push(tp(
            "vendor-token",
            format!("token: {token}\n"),
            token.clone(),
        ));
        out.push(tp("vendor-token", format!("use {token}."), token));
    }
    for text in [
        "hf_hub_download(repo_id=\"gpt2\")",
        "SG.configure(options)",
        "the dop_v1_ prefix marks DigitalOcean tokens",
        "whsec_ is the Stripe webhook secret prefix",
        "a ya29. access token expires after an hour",
        "AGE-SECRET-KEY-1 starts an age identity",
        "pypi-AgEIcHlwaS5vcmc is how every PyPI token starts",
    ] {
        out.push(fp("vendor-token", text));
    }

    for (prefix, body) in [
        ("GOCSPX-", g.draw(TOKEN, 28)),
        ("gsk_", g.draw(ALNUM, 52)),
        ("r8_", g.draw(ALNUM, 37)),
        ("pplx-", g.draw(ALNUM, 48)),
        ("xai-", g.draw(ALNUM, 80)),
        ("lsv2_pt_", c(&[&g.draw(HEX, 32), "_", &g.draw(HEX, 10)])),
        ("key-", g.draw(HEX, 32)),
        ("dapi", g.draw(HEX, 32)),
        ("ntn_", g.draw(ALNUM, 46)),
        ("secret_", g.draw(ALNUM, 43)),
        ("pscale_tkn_", g.draw(TOKEN, 43)),
        ("sbp_", g.draw(HEX, 40)),
        ("sk.eyJ", c(&[&g.draw(TOKEN, 60), ".", &g.draw(TOKEN, 22)])),
    ] {
        let token = c(&[prefix, &body]);
        out.push(tp(
            "vendor-token",
            format!("config.set(\"credential\", \"{token}\")"),
            token,
        ));
    }
    let azure = c(&[&g.draw(ALNUM, 3), "8Q~", &g.draw(TOKEN, 34)]);
    out.push(tp(
        "vendor-token",
        format!("az ad sp credential reset ... # new secret {azure}"),
        azure,
    ));
    let telegram = c(&[&g.draw("0123456789", 10), ":AA", &g.draw(TOKEN, 33)]);
    out.push(tp(
        "vendor-token",
        format!("curl https://api.telegram.org/bot{telegram}/sendMessage"),
        telegram,
    ));
    let discord = c(&[&g.draw("0123456789", 19), "/", &g.draw(TOKEN, 68)]);
    out.push(tp(
        "vendor-token",
        format!("WEBHOOK = \"https://discord.com/api/webhooks/{discord}\""),
        discord,
    ));
    let path = c(&[
        "triggers/T",
        &g.draw(UPPER_DIGITS, 9),
        "/",
        &g.draw("0123456789", 13),
        "/",
        &g.draw(HEX, 32),
    ]);
    out.push(tp(
        "slack-webhook",
        format!("POST https://{}{path}", c(&["hooks.", "slack.com/"])),
        path,
    ));
    // A bearer token with a long run of one character is still a token.
    let bearer = c(&[&"A".repeat(22), "%2FAAAAAAAA", &g.draw(ALNUM, 60)]);
    out.push(tp(
        "authorization-header",
        format!("-H \"Authorization: Bearer {bearer}\""),
        bearer,
    ));
    // An `sk-` key of hex (other vendors' keys have this shape).
    let hexkey = c(&["sk-", &g.draw(HEX, 32)]);
    out.push(tp("openai-key", format!("api_key=\"{hexkey}\""), hexkey));
    // Passwords with an escaped quote, with spaces, with an unencoded slash.
    let (a, b) = (g.draw(ALNUM, 8), g.draw(ALNUM, 10));
    out.push(tp(
        "password-assignment",
        format!("{{\"password\": \"{a}\\\"{b}\"}}"),
        format!("{a}\n{b}"),
    ));
    let (a, b) = (g.draw(ALNUM, 10), g.draw(ALNUM, 10));
    out.push(tp(
        "password-assignment",
        format!("passphrase = \"{a} {b} staple\"\n"),
        format!("{a}\n{b}"),
    ));
    let (a, b) = (g.draw(ALNUM, 9), g.draw(ALNUM, 9));
    out.push(tp(
        "url-password",
        format!("DATABASE_URL=postgres://app:{a}/{b}@db.internal:5432/app"),
        format!("{a}\n{b}"),
    ));
    for text in [
        "cache: key-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "a rapid dapi sketch",
        "the secret_key_base setting",
        "pass the key-value store a new key",
        "Q~ is not a secret on its own: abcQ~",
        "at 12:AA the meeting starts",
        "see https://discord.com/api/webhooks/ for the docs",
        "sk-learn is the old name of scikit-learn",
        "http://localhost:8080/api/v1:batch@latest",
        "https://example.com/a:b/c@d",
    ] {
        out.push(fp("vendor-token", text));
        out.push(fp("url-password", text));
        out.push(fp("openai-key", text));
    }

    // --- Kubernetes Secrets: every value of data/stringData, whatever its name or shape.
    let (a, b) = (base64(b"postgres"), base64(g.draw(ALNUM, 12).as_bytes()));
    out.push(tp(
        "kubernetes-secret",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  LOG_LEVEL: debug\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  username: {a}\n  conn: {b}\n"),
        b,
    ));
    let inner = g.draw(ALNUM, 24);
    out.push(tp(
        "kubernetes-secret",
        format!("kind: Secret\nstringData:\n  config.yaml: |\n    upstream: https://api.internal\n    auth: {inner}\nmetadata:\n  name: x\n"),
        inner,
    ));
    for text in [
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  LOG_LEVEL: debug\n  FEATURE_FLAGS: a,b,c\n",
        "kind: Secret\ndata:\n  password: {{ .Values.db.password | b64enc }}\n  token: ${TOKEN_B64}\n",
        "kind: Secret\nmetadata:\n  name: db\ntype: Opaque\n",
        "# the Secret's data: values are base64, not encrypted\nkubectl get secret db -o yaml\n",
    ] {
        out.push(fp("kubernetes-secret", text));
    }

    // --- More places a password is written.
    for (before, after) in [
        ("machine github.com login octocat password ", "\n"),
        (
            "<settings><server><id>repo</id><password>",
            "</password></server></settings>",
        ),
        ("define( 'DB_PASSWORD', '", "' );"),
        ("$db = env('DB_PASSWORD', '", "');"),
        ("spring.datasource.password=", "\n"),
    ] {
        let secret = g.draw(ALNUM, 16);
        out.push(tp(
            "password-assignment",
            format!("{before}{secret}{after}"),
            secret,
        ));
    }
    let key = c(&["0x", &g.draw(HEX, 64)]);
    out.push(tp(
        "password-assignment",
        format!("const wallet = new Wallet({{ privateKey: \"{key}\" }});"),
        key,
    ));
    let key = c(&[&g.draw(B64, 86), "=="]);
    out.push(tp(
        "password-assignment",
        format!("{{\"accountName\": \"prod\", \"accountKey\": \"{key}\"}}"),
        key,
    ));
    for text in [
        "machine api.example.com login bot password $NETRC_PASSWORD",
        "<password>${env.REPO_PASSWORD}</password>",
        "define('DB_PASSWORD', getenv('DB_PASSWORD'));",
        "os.getenv(\"API_TOKEN\", \"\")",
        "const privateKey = await readFile(keyPath, 'utf8');",
        "accessKey: process.env.MINIO_ACCESS_KEY,",
        "accessKeyId: 'minioadmin',",
    ] {
        out.push(fp("password-assignment", text));
    }

    // --- Code that names secrets and tokens (from real crates: parsers, bindings, TLS).
    for text in [
        "fn expand(tokens: TokenStream) -> TokenStream {",
        "pub struct ItemConst { pub const_token: Token![const], pub ident: Ident }",
        "let eq_token: Token![=] = input.parse()?;",
        "brace_token: token::Brace(span),",
        "pub const NL80211_KEY_MAX: nl80211_key_attributes = 8;",
        "pub const SQLITE_FTS5_TOKEN: _bindgen_ty_7 = 4;",
        "fn sign(secret_key: &HpkePrivateKey, tokens: &[Token]) {}",
        "static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(0);",
        "let tokens = quote_spanned! {span=> #ident};",
        "pthread_key_t key; int rc = pthread_key_create(&key, NULL); static_key = (pthread_key_t)(-1);",
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc\nCC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc\n",
        "RUSTDOCFLAGS=-Cunsafe-allow-abi-mismatch=sanitizer RUSTFLAGS=\"-Z sanitizer=address\" cargo test\nCARGO_INCREMENTAL=0\n",
        "Secret::ServerTraffic => \"SERVER_TRAFFIC_SECRET_0\",",
        "//! -----BEGIN PRIVATE KEY-----\n//! ```\n//!\n//! To use PKCS#8, enable the `pkcs8` feature.\n//! -----BEGIN PUBLIC KEY-----\n//! MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n//! -----END PUBLIC KEY-----\n",
        "pub const BTRFS_MAGIC: u64 = 5575266562640200287;",
        "const LIMBS: [u64; 5] = [1158077081819914, 574391322974006, 336294, 476837158203125, 2384185791015625];",
        "let x = 4590318792215640843u64 ^ 4485585228861014016;",
    ] {
        for detector in [
            "password-assignment",
            "env-secret",
            "private-key",
            "card-number",
        ] {
            out.push(fp(detector, text));
        }
    }

    // --- Session cookies, SQL, package-manager configuration.
    let session = g.draw(TOKEN, 32);
    out.push(tp(
        "authorization-header",
        format!("curl 'https://app.internal/api/me' -H 'Cookie: theme=dark; sessionid={session}; csrftoken=abc'"),
        session,
    ));
    let session = g.draw(ALNUM, 48);
    out.push(tp(
        "authorization-header",
        format!("Set-Cookie: _app_session={session}; Path=/; HttpOnly; Secure"),
        session,
    ));
    for (before, after) in [
        ("CREATE USER app WITH PASSWORD '", "';"),
        ("ALTER USER 'app'@'%' IDENTIFIED BY '", "';"),
        ("npm config set //registry.npmjs.org/:_authToken ", "\n"),
        ("yarn config set npmAuthToken ", "\n"),
    ] {
        let secret = g.draw(ALNUM, 20);
        out.push(tp(
            "password-assignment",
            format!("{before}{secret}{after}"),
            secret,
        ));
    }
    for text in [
        "Set-Cookie: theme=dark; Path=/; Max-Age=3600",
        "the cookie is set when the user logs in",
        "cookies = {\"session\": session_id}",
        "ALTER USER app IDENTIFIED BY :new_password;",
        "CREATE USER app WITH PASSWORD :'password';",
        "npm config set registry https://registry.npmjs.org/",
    ] {
        out.push(fp("authorization-header", text));
        out.push(fp("password-assignment", text));
    }

    // JSON inside a string (escaped quotes): the value between the escaped quotes.
    let secret = g.draw(ALNUM, 20);
    out.push(tp(
        "password-assignment",
        format!(
            "let body = \"{{\\\"user\\\": \\\"app\\\", \\\"password\\\": \\\"{secret}\\\"}}\";"
        ),
        secret,
    ));
    for text in [
        "if token is Name.Variable:\n    yield token",
        "__all__ = ['HTTPPasswordMgr', 'HTTPPasswordMgrWithDefaultRealm', 'AbstractBasicAuthHandler']",
        "KEYS = (\"tokens\", \"symbol2label\", \"keywords\")",
        "def load(private_key: X25519PrivateKey) -> bytes:",
        "format!(\"OPENAI_API_KEY=\\\"{openai}\\\"\")",
        "let header = \"API_KEY_HEADER = \\\"X-Api-Key\\\"\";",
        "\"Argon2-Memory: 8192\\nArgon2-Passes: 13\\nArgon2-Parallelism: 1\\n\"",
        "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig={sig}",
        "git clone https://user:token@github.com/acme/repo",
    ] {
        out.push(fp("password-assignment", text));
        out.push(fp("azure-connection-string", text));
        out.push(fp("url-password", text));
    }

    // Keys that say they hold something about a secret (its id, name, place, type, life).
    let secret_id = format!(
        "{}-{}-{}-{}-{}",
        g.draw(HEX, 8),
        g.draw(HEX, 4),
        g.draw(HEX, 4),
        g.draw(HEX, 4),
        g.draw(HEX, 12)
    );
    out.push(tp(
        "password-assignment",
        format!("vault write auth/approle/login role_id=app secret_id={secret_id}"),
        secret_id,
    ));
    let key = c(&["sk-", "None-", &g.draw(ALNUM, 48)]);
    out.push(tp("openai-key", format!("OPENAI_KEY={key}"), key));
    let token = c(&["GR1348941", &g.draw(TOKEN, 20)]);
    out.push(tp(
        "gitlab-token",
        format!("gitlab-runner register --registration-token {token}"),
        token,
    ));
    for text in [
        "api_key_id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "secretName: tls-7f9c2ba4e88f827d616045507605853e",
        "token_url: https://oauth2.example.com/token?grant=client_credentials",
        "password_file: ./secrets/db_password.txt",
        "TOKEN_EXPIRY_SECONDS=3600",
        "secret_arn: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        "const publishableKey = 'pk_live_51H8xYzAbCdEfGhIjKlMnOpQrStUv';",
        "\"passwordMinLength\": 12, \"passwordPattern\": \"^(?=.*[A-Z])(?=.*\\\\d).{12,}$\"",
        "tokenizer_version: 2.1.0-rc3",
    ] {
        for detector in ["password-assignment", "stripe-key", "env-secret"] {
            out.push(fp(detector, text));
        }
    }

    // A secret named by one key and held by the next (environments as name/value lists,
    // Terraform variables), in prose, and on a redis-cli line.
    for (before, after) in [
        (
            "spec:\n  containers:\n    - env:\n        - name: DB_PASSWORD\n          value: \"",
            "\"\n",
        ),
        (
            "\"environment\": [{\"name\": \"API_TOKEN\", \"value\": \"",
            "\"}]",
        ),
        (
            "variable \"db_password\" {\n  type    = string\n  default = \"",
            "\"\n}",
        ),
        (
            "The password for the staging db is ",
            " (rotate it monthly)",
        ),
        ("redis-cli -h cache -a ", " ping"),
    ] {
        let secret = g.draw(ALNUM, 18);
        out.push(tp(
            "password-assignment",
            format!("{before}{secret}{after}"),
            secret,
        ));
    }
    for text in [
        "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}",
        "{\"name\": \"DB_PASSWORD\", \"valueFrom\": \"arn:aws:ssm:us-east-1:1:parameter/db\"}",
        "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}",
        "the password for this account is required",
        "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX\nAWS_SECRET_ACCESS_KEY=XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n",
        "redis-cli -a \"$REDIS_PASSWORD\" ping",
    ] {
        for detector in [
            "password-assignment",
            "aws-secret-key",
            "aws-access-key",
            "env-secret",
        ] {
            out.push(fp(detector, text));
        }
    }

    // A .env value with an inline comment after it.
    let a = g.draw(ALNUM, 32);
    out.push(tp(
        "env-secret",
        format!("APP_ENV=production\nWEBHOOK_HMAC={a}  # rotated monthly\nLOG_LEVEL=info\n"),
        a,
    ));

    // --- Prompts developers write about secrets, holding none.
    for text in [
        "Can you add a password reset flow? The token should expire after 1 hour and the secret key is read from settings.",
        "Fix the bug where api_key: is logged in plain text by the request middleware (see logger.py line 42).",
        "Use bearer authentication with tokens from the auth service; the Authorization header is set by the client.",
        "Set the session cookie with Secure; HttpOnly; SameSite=Lax and rotate the CSRF token on login.",
        "Run mysql -u root -p and enter the password when it prompts.",
        "The password is stored hashed with argon2id (m=65536, t=3, p=4); never log it.",
        "Rename SECRET_KEY_FALLBACKS to SECRET_KEYS and update settings/production.py accordingly.",
        "In the README, explain that GITHUB_TOKEN needs the repo and workflow scopes.",
        "The secret for the webhook is configured in the dashboard under Settings > Webhooks.",
        "the token was: invalid_grant (AADSTS70008) when refreshing",
        "My password is correct but login fails with 401 after the upgrade to 2.3.1",
        "passwordless login via magic links: the link token is a 32-byte random value encoded base64url",
        "curl -u \"$JENKINS_USER:$JENKINS_TOKEN\" https://ci.example.com/job/build/api/json",
        "docker login -u \"$REGISTRY_USER\" -p \"$REGISTRY_PASSWORD\" registry.example.com",
        "export AWS_PROFILE=staging && aws s3 ls s3://my-bucket/releases/2024-11-01/",
        "git commit -m \"rotate api key for payments service (ticket SEC-1432)\"",
        "Cookie consent banner: cookies=essential, analytics=false",
        "token_budget: 200000",
        "jwt: algorithm HS256, expiry 15m, issuer https://auth.example.com",
    ] {
        for detector in ["password-assignment", "authorization-header", "env-secret"] {
            out.push(fp(detector, text));
        }
    }

    // --- Secrets split over literals that are still literal.
    let id = c(&["AKIA", &g.draw(UPPER_DIGITS, 16)]);
    let (l, r) = id.split_at(9);
    out.push(tp(
        "aws-access-key",
        format!("key = (\n    \"{l}\"\n    \"{r}\"\n)\n"),
        format!("{l}\n{r}"),
    ));
    let token = c(&["gh", "p_", &g.draw(ALNUM, 36)]);
    let (l, r) = token.split_at(20);
    out.push(tp(
        "github-token",
        format!("const token = '{l}' +\n  '{r}';"),
        format!("{l}\n{r}"),
    ));
    let key = c(&["sk-", "ant-", "api03-", &g.draw(TOKEN, 93), "AA"]);
    let (l, r) = key.split_at(50);
    out.push(tp(
        "anthropic-key",
        format!("export ANTHROPIC_API_KEY=\"{l}\"\"{r}\""),
        format!("{l}\n{r}"),
    ));
    let key = c(&["sk_", "live_", &g.draw(ALNUM, 32)]);
    let (l, r) = key.split_at(18);
    out.push(tp(
        "stripe-key",
        format!("STRIPE_KEY={l}\\\n{r}\n"),
        format!("{l}\n{r}"),
    ));
    let key = c(&["AI", "za", &g.draw(TOKEN, 35)]);
    let (l, r) = key.split_at(20);
    out.push(tp(
        "gcp-api-key",
        format!("key := \"{l}\" + \"{r}\""),
        format!("{l}\n{r}"),
    )); // A shell joins quoted parts of one word.
    let id = c(&["AKIA", &g.draw(UPPER_DIGITS, 16)]);
    let (l, rest) = id.split_at(10);
    let (m, r) = rest.split_at(5);
    out.push(tp(
        "aws-access-key",
        format!("echo {l}\"{m}\"{r} > src/k.py"),
        format!("{l}{m}"),
    ));
    let token = c(&["gh", "p_", &g.draw(ALNUM, 36)]);
    let (l, r) = token.split_at(12);
    out.push(tp(
        "github-token",
        format!("git clone https://x:{l}''{r}@github.com/o/r"),
        format!("{l}\n{r}"),
    ));
    for text in [
        "headers = {\"Authorization\": f\"Bearer {token}\", 'X-Api-Key': settings.API_KEY}",
        "it's the user's choice; don't store the token and don't log the password",
        "msg = 'abc' + 'def'\nname = \"first\" \"last\"",
        "print(f\"token={token!r}\")",
    ] {
        out.push(fp("password-assignment", text));
        out.push(fp("aws-access-key", text));
    }
}
