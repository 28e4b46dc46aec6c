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
    out
}
