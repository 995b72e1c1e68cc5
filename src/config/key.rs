//! TSIG keys (RFC 8945): from BIND key files or an environment variable.
//!
//! Keys are never taken from the command line (visible in `ps`), and the
//! secret never appears in output, logs or errors: [`Secret`] has no
//! `Display` and its `Debug` is redacted.

use hickory_proto::rr::Name;

pub use crate::dns::credentials::{KeyOrigin, Secret, TsigAlgorithm, TsigKey};

/// Why a key could not be loaded. Never carries the secret.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Syntax { origin: KeyOrigin, message: String },
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
}

/// Reads a key file as BIND reads it:
/// - `tsig-keygen` output, `key "name" { algorithm hmac-sha256; secret
///   "base64"; };` (comments `#`, `//` and `/* */` allowed); with `name`,
///   that key of a file holding several;
/// - either half of the pair that `dnssec-keygen -a HMAC-…` wrote before
///   BIND 9.13: `K<name>.+<alg>+<id>.private` (`Algorithm:` and `Key:`
///   lines; the key's name is in the file name) or `K<name>.+<alg>+<id>.key`
///   (`<name>. IN KEY 512 3 <alg> <base64>`), what `nsupdate -k` takes.
///
/// The file is read as bytes, as BIND does: a comment in Latin-1 is not a
/// reason to refuse it.
pub fn load_key_file(path: &std::path::Path, name: Option<&str>) -> Result<TsigKey, KeyError> {
    let bytes =
        crate::local_file::read(path, crate::local_file::Limit::KEY_FILE).map_err(|source| {
            KeyError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let text = String::from_utf8_lossy(&bytes);
    parse_key_text(&text, name, KeyOrigin::File(path.to_path_buf()))
}

/// Reads the text of a BIND key file, as [`load_key_file`] does once it
/// has read the file; `origin` names it in errors. Public so that the fuzz
/// target (`fuzz/fuzz_targets/key_file.rs`) reaches the parser: the secret
/// stays inside the returned [`TsigKey`], and no error quotes it.
pub fn parse_key_text(
    text: &str,
    name: Option<&str>,
    origin: KeyOrigin,
) -> Result<TsigKey, KeyError> {
    let parsed = match keygen_format(text) {
        Some(KeygenFormat::Private) => parse_private_file(text, name, &origin),
        Some(KeygenFormat::KeyRecord) => parse_key_record(text, name),
        None => parse_key_file(text, name),
    };
    parsed
        .map_err(|message| KeyError::Syntax {
            origin: origin.clone(),
            message,
        })
        .map(|(name, algorithm, secret)| TsigKey {
            name,
            algorithm,
            secret,
            origin,
        })
}

/// Reads `NAME:ALG:SECRET` from the environment variable `var`.
pub fn load_key_env(var: &str) -> Result<TsigKey, KeyError> {
    parse_key_env(var, std::env::var(var).ok())
}

/// The key `value` of the environment variable `var` holds (`None`: unset
/// or not Unicode); apart from [`load_key_env`] so that tests need not
/// change the process environment, which other threads read meanwhile.
fn parse_key_env(var: &str, value: Option<String>) -> Result<TsigKey, KeyError> {
    let value = value.ok_or_else(|| KeyError::EnvMissing(var.to_string()))?;
    let origin = KeyOrigin::Env(var.to_string());
    let syntax = |message: String| KeyError::Syntax {
        origin: origin.clone(),
        message,
    };
    let mut parts = value.splitn(3, ':');
    let (Some(name), Some(algorithm), Some(secret)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(syntax("expected NAME:ALGORITHM:SECRET".into()));
    };
    let name = parse_key_name(name).map_err(syntax)?;
    let algorithm = parse_algorithm(algorithm).map_err(syntax)?;
    let secret = decode_secret(secret).map_err(syntax)?;
    Ok(TsigKey {
        name,
        algorithm,
        secret,
        origin,
    })
}

/// Whether a key file can be read by every local user (Unix only). Group
/// read is BIND's own convention (root:bind 0640), so it is not flagged.
pub fn readable_by_others(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o004 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

fn parse_key_name(text: &str) -> Result<Name, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the key name is empty".into());
    }
    Name::from_ascii(text).map_err(|e| format!("key name \"{text}\" is not a valid DNS name: {e}"))
}

fn parse_algorithm(text: &str) -> Result<TsigAlgorithm, String> {
    TsigAlgorithm::from_bind_name(text).ok_or_else(|| {
        format!(
            "unsupported algorithm \"{}\"; use hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1 or hmac-md5",
            text.trim()
        )
    })
}

fn decode_secret(text: &str) -> Result<Secret, String> {
    use base64::Engine;
    // BIND allows whitespace inside the base64 text.
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "the secret is not valid base64".to_string())?;
    if bytes.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(Secret::new(bytes))
}

/// The two files of a `dnssec-keygen` HMAC key.
enum KeygenFormat {
    /// `K….private`: `Private-key-format:`, `Algorithm:`, `Key:` lines.
    Private,
    /// `K….key`: one KEY record holding the secret.
    KeyRecord,
}

/// Which `dnssec-keygen` file `text` is, if it is one.
fn keygen_format(text: &str) -> Option<KeygenFormat> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';') && !l.starts_with('#'));
    let first = lines.next()?;
    if first
        .get(..19)
        .is_some_and(|p| p.eq_ignore_ascii_case("private-key-format:"))
    {
        return Some(KeygenFormat::Private);
    }
    let words: Vec<&str> = first.split_whitespace().collect();
    // owner [ttl] [class] KEY flags protocol algorithm key…
    let at = words.iter().position(|w| w.eq_ignore_ascii_case("KEY"))?;
    (1..=3).contains(&at).then_some(KeygenFormat::KeyRecord)
}

/// The TSIG algorithm of a `dnssec-keygen` algorithm number.
fn keygen_algorithm(number: &str) -> Result<TsigAlgorithm, String> {
    Ok(match number.trim() {
        "157" => TsigAlgorithm::HmacMd5,
        "161" => TsigAlgorithm::HmacSha1,
        "162" => TsigAlgorithm::HmacSha224,
        "163" => TsigAlgorithm::HmacSha256,
        "164" => TsigAlgorithm::HmacSha384,
        "165" => TsigAlgorithm::HmacSha512,
        other => {
            return Err(format!(
                "algorithm {other} is not an HMAC algorithm: this is a DNSSEC key, not a TSIG key (dnssec-keygen HMAC keys are 157 hmac-md5, 161 hmac-sha1, 162 hmac-sha224, 163 hmac-sha256, 164 hmac-sha384, 165 hmac-sha512)"
            ))
        }
    })
}

/// The key name of a `K<name>.+<alg>+<id>.private` file.
fn keygen_name_from_path(origin: &KeyOrigin) -> Result<String, String> {
    let hint = "dnssec-keygen names the file K<name>.+<algorithm>+<id>.private: keep that name, or give the .key file beside it";
    let KeyOrigin::File(path) = origin else {
        return Err(format!(
            "a .private file names its key in its file name: {hint}"
        ));
    };
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.strip_prefix('K')
        .and_then(|rest| rest.split_once(".+"))
        .map(|(name, _)| name.to_string())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| format!("cannot tell the key name from the file name \"{file}\": {hint}"))
}

fn check_wanted(found: &str, wanted: Option<&str>) -> Result<(), String> {
    match wanted {
        Some(wanted)
            if !found
                .trim_end_matches('.')
                .eq_ignore_ascii_case(wanted.trim_end_matches('.')) =>
        {
            Err(format!(
                "no key named \"{wanted}\" in the file (it holds \"{found}\")"
            ))
        }
        _ => Ok(()),
    }
}

/// `K<name>.+<alg>+<id>.private` as dnssec-keygen wrote it for HMAC keys.
fn parse_private_file(
    text: &str,
    wanted: Option<&str>,
    origin: &KeyOrigin,
) -> Result<ParsedKey, String> {
    let mut algorithm = None;
    let mut secret = None;
    for (number, line) in text.lines().enumerate() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let line = number + 1;
        match field.trim().to_ascii_lowercase().as_str() {
            "algorithm" => {
                let number = value.split_whitespace().next().unwrap_or("");
                algorithm =
                    Some(keygen_algorithm(number).map_err(|e| format!("line {line}: {e}"))?);
            }
            "key" => {
                secret = Some(decode_secret(value).map_err(|e| format!("line {line}: {e}"))?);
            }
            _ => {}
        }
    }
    let algorithm = algorithm.ok_or("the .private file has no Algorithm: line")?;
    let secret = secret
        .ok_or("the .private file has no Key: line (an HMAC key has one; is this a DNSSEC key?)")?;
    let name = keygen_name_from_path(origin)?;
    check_wanted(&name, wanted)?;
    Ok((parse_key_name(&name)?, algorithm, secret))
}

/// `<name>. [ttl] [class] KEY <flags> <protocol> <algorithm> <base64…>`, the
/// `.key` half of a dnssec-keygen HMAC pair (the secret is in it too).
fn parse_key_record(text: &str, wanted: Option<&str>) -> Result<ParsedKey, String> {
    for (number, line) in text.lines().enumerate() {
        let content = line.split(';').next().unwrap_or("").trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = content.split_whitespace().collect();
        let line = number + 1;
        let Some(at) = words.iter().position(|w| w.eq_ignore_ascii_case("KEY")) else {
            return Err(format!("line {line}: expected a KEY record"));
        };
        let (Some(name), Some(algorithm)) = (words.first(), words.get(at + 3)) else {
            return Err(format!(
                "line {line}: expected NAME KEY FLAGS PROTOCOL ALGORITHM KEY-DATA"
            ));
        };
        let algorithm = keygen_algorithm(algorithm).map_err(|e| format!("line {line}: {e}"))?;
        let data: String = words.iter().skip(at + 4).copied().collect();
        let secret = decode_secret(&data).map_err(|e| format!("line {line}: {e}"))?;
        check_wanted(name, wanted)?;
        return Ok((parse_key_name(name)?, algorithm, secret));
    }
    Err("the file holds no KEY record".into())
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semi,
}

/// Splits a key file into tokens with their line numbers.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let start = line;
                let mut last = ' ';
                loop {
                    match chars.next() {
                        Some('/') if last == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            last = c;
                        }
                        None => return Err(format!("line {start}: comment not closed")),
                    }
                }
            }
            '"' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => s.extend(chars.next()),
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            s.push(c);
                        }
                        None => return Err(format!("line {start}: string not closed")),
                    }
                }
                tokens.push((Token::Quoted(s), start));
            }
            '{' => tokens.push((Token::Open, line)),
            '}' => tokens.push((Token::Close, line)),
            ';' => tokens.push((Token::Semi, line)),
            c => {
                let mut s = String::from(c);
                while chars
                    .peek()
                    .is_some_and(|&c| !c.is_whitespace() && !"{};\"#".contains(c))
                {
                    s.extend(chars.next());
                }
                tokens.push((Token::Word(s), line));
            }
        }
    }
    Ok(tokens)
}

type ParsedKey = (Name, TsigAlgorithm, Secret);

/// Parses every `key` statement and returns the wanted one.
fn parse_key_file(text: &str, wanted: Option<&str>) -> Result<ParsedKey, String> {
    let tokens = tokenize(text)?;
    let mut keys = Vec::new();
    let mut pos = 0;
    let last_line = tokens.last().map_or(1, |t| t.1);
    let at = |pos: usize| tokens.get(pos).map_or(last_line, |t| t.1);
    while pos < tokens.len() {
        match &tokens[pos].0 {
            Token::Word(w) if w == "key" => {}
            _ => return Err(format!("line {}: expected a key statement", at(pos))),
        }
        let name = match tokens.get(pos + 1) {
            Some((Token::Word(n) | Token::Quoted(n), _)) => n.clone(),
            _ => {
                return Err(format!(
                    "line {}: expected the key name after \"key\"",
                    at(pos)
                ))
            }
        };
        if tokens.get(pos + 2).map(|t| &t.0) != Some(&Token::Open) {
            return Err(format!(
                "line {}: expected '{{' after the key name",
                at(pos + 1)
            ));
        }
        pos += 3;
        let mut algorithm = None;
        let mut secret = None;
        loop {
            match tokens.get(pos) {
                Some((Token::Close, _)) => break,
                Some((Token::Word(field), line)) => {
                    let value = match tokens.get(pos + 1) {
                        Some((Token::Word(v) | Token::Quoted(v), _)) => v.clone(),
                        _ => {
                            return Err(format!("line {line}: expected a value after \"{field}\""))
                        }
                    };
                    if tokens.get(pos + 2).map(|t| &t.0) != Some(&Token::Semi) {
                        return Err(format!("line {line}: expected ';' after {field}"));
                    }
                    match field.as_str() {
                        "algorithm" => {
                            algorithm = Some(
                                parse_algorithm(&value).map_err(|e| format!("line {line}: {e}"))?,
                            )
                        }
                        "secret" => {
                            secret = Some(
                                decode_secret(&value).map_err(|e| format!("line {line}: {e}"))?,
                            )
                        }
                        other => return Err(format!("line {line}: unknown key field \"{other}\"")),
                    }
                    pos += 3;
                }
                Some((_, line)) => {
                    return Err(format!("line {line}: expected algorithm or secret"))
                }
                None => {
                    return Err(format!(
                        "line {}: key \"{name}\" is not closed with '}}'",
                        at(pos)
                    ))
                }
            }
        }
        if tokens.get(pos + 1).map(|t| &t.0) != Some(&Token::Semi) {
            return Err(format!("line {}: expected ';' after '}}'", at(pos)));
        }
        pos += 2;
        let algorithm = algorithm.ok_or_else(|| format!("key \"{name}\" has no algorithm"))?;
        let secret = secret.ok_or_else(|| format!("key \"{name}\" has no secret"))?;
        keys.push((name, algorithm, secret));
    }
    let chosen = match wanted {
        Some(wanted) => keys
            .into_iter()
            .find(|(n, _, _)| {
                n.trim_end_matches('.')
                    .eq_ignore_ascii_case(wanted.trim_end_matches('.'))
            })
            .ok_or_else(|| format!("no key named \"{wanted}\" in the file"))?,
        None => {
            if keys.len() > 1 {
                return Err(format!(
                    "the file holds {} keys; say which one with `name` in the configuration",
                    keys.len()
                ));
            }
            keys.pop()
                .ok_or_else(|| "the file holds no key statement".to_string())?
        }
    };
    let (name, algorithm, secret) = chosen;
    Ok((parse_key_name(&name)?, algorithm, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    // tsig-keygen -a hmac-sha256 kmsdns-test (a throwaway test secret)
    const KEYGEN: &str = "key \"kmsdns-test\" {\n\talgorithm hmac-sha256;\n\tsecret \"4nL0Vq3m2oQm0l4p0m8Qe5l0a7Bq3Xw8u2h8Wn1b6xY=\";\n};\n";

    #[test]
    fn reads_tsig_keygen_output() {
        let (name, alg, secret) = parse_key_file(KEYGEN, None).unwrap();
        assert_eq!(name.to_ascii(), "kmsdns-test");
        assert_eq!(alg, TsigAlgorithm::HmacSha256);
        assert_eq!(secret.expose().len(), 32);
    }

    #[test]
    fn accepts_comments_and_picks_by_name() {
        let two = format!("# test keys\n/* two */ {KEYGEN}// other\nkey other {{ algorithm hmac-sha512; secret \"AAAA\"; }};\n");
        assert!(parse_key_file(&two, None).unwrap_err().contains("2 keys"));
        let (name, alg, _) = parse_key_file(&two, Some("other")).unwrap();
        assert_eq!(
            (name.to_ascii().as_str(), alg),
            ("other", TsigAlgorithm::HmacSha512)
        );
        assert!(parse_key_file(&two, Some("nope"))
            .unwrap_err()
            .contains("no key named"));
    }

    #[test]
    fn errors_name_the_line_and_never_the_secret() {
        let cases = [
            (
                "key \"k\" {\n algorithm hmac-sha256;\n secret \"!!notbase64\";\n};\n",
                "line 3",
            ),
            (
                "key \"k\" {\n algorithm hmac-foo;\n secret \"AAAA\";\n};\n",
                "unsupported algorithm",
            ),
            ("key \"k\" {\n algorithm hmac-sha256;\n};\n", "no secret"),
            (
                "key \"k\" {\n algorithm hmac-sha256\n secret \"AAAA\";\n};\n",
                "expected ';'",
            ),
            ("key \"k\" {\n secret \"AAAA", "not closed"),
            ("zone \"x\" { };", "expected a key statement"),
            ("", "no key statement"),
        ];
        for (text, want) in cases {
            let err = parse_key_file(text, None).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains("AAAA") && !err.contains("notbase64"), "{err}");
        }
    }

    #[test]
    fn reads_dnssec_keygen_hmac_pairs() {
        // Issue 18: what dnssec-keygen -a HMAC-SHA512 -b 512 -n HOST wrote
        // before BIND 9.13 (a throwaway test secret).
        const SECRET: &str =
            "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0=";
        let private = format!(
            "Private-key-format: v1.3\nAlgorithm: 165 (HMAC_SHA512)\nKey: {SECRET}\nBits: AAA=\nCreated: 20140101000000\nPublish: 20140101000000\nActivate: 20140101000000\n"
        );
        let path = std::path::PathBuf::from("/etc/bind/Kkms-publisher.+165+41851.private");
        let key = parse_key_text(&private, None, KeyOrigin::File(path.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.name.to_ascii(), "kms-publisher");
        assert_eq!(key.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(key.secret.expose().len(), 56);
        assert!(parse_key_text(
            &private,
            Some("kms-publisher."),
            KeyOrigin::File(path.clone())
        )
        .is_ok());
        let other = parse_key_text(&private, Some("other"), KeyOrigin::File(path)).err();
        assert!(other
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("no key named"));

        let record = format!(
            "; a comment\nkms-publisher. IN KEY 512 3 165 {}\n {}\n",
            &SECRET[..20],
            ""
        );
        let record = record.replace(
            &SECRET[..20],
            &format!("{} {}", &SECRET[..20], &SECRET[20..]),
        );
        let key = parse_key_text(
            &record,
            None,
            KeyOrigin::File("Kkms-publisher.+165+41851.key".into()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.name.to_ascii(), "kms-publisher.");
        assert_eq!(key.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(key.secret.expose().len(), 56);

        // A DNSSEC key pair is not a TSIG key, and says so.
        let dnssec = "Private-key-format: v1.3\nAlgorithm: 8 (RSASHA256)\nModulus: AAAA\n";
        let error = parse_key_text(dnssec, None, KeyOrigin::File("Kx.+008+1.private".into()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("not an HMAC algorithm"), "{error}");
        // Without its file name, a .private file cannot name its key.
        let error = parse_key_text(&private, None, KeyOrigin::Env("X".into()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("K<name>.+<algorithm>+<id>.private"),
            "{error}"
        );
        assert!(!error.contains(SECRET));
    }

    #[test]
    fn latin1_comments_do_not_refuse_a_key_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("kms.key");
        let mut bytes = b"# cl\xe9 de l'\xe9quipe r\xe9seau\n".to_vec();
        bytes.extend_from_slice(KEYGEN.as_bytes());
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
        let key = load_key_file(&path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.name.to_ascii(), "kmsdns-test");
        let keygen = dir.path().join("Kkms-publisher.+163+00001.private");
        std::fs::write(
            &keygen,
            "Private-key-format: v1.2\nAlgorithm: 163 (HMAC_SHA256)\nKey: 4nL0Vq3m2oQm0l4p0m8Qe5l0a7Bq3Xw8u2h8Wn1b6xY=\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let key = load_key_file(&keygen, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (key.name.to_ascii().as_str(), key.algorithm),
            ("kms-publisher", TsigAlgorithm::HmacSha256)
        );
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        let (_, _, secret) = parse_key_file(KEYGEN, None).unwrap();
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn reads_environment_form() {
        let var = "KMSDNS_TEST_KEY_UNIT";
        let key = parse_key_env(var, Some("kmsdns-test:hmac-sha512:AAAA".into())).unwrap();
        assert_eq!(key.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(key.secret.expose(), &[0, 0, 0]);
        assert!(matches!(key.origin, KeyOrigin::Env(ref v) if v == var));
        assert!(parse_key_env(var, Some("kmsdns-test:hmac-sha512".into()))
            .unwrap_err()
            .to_string()
            .contains("NAME:ALGORITHM:SECRET"));
        assert!(matches!(
            load_key_env("KMSDNS_TEST_KEY_UNSET"),
            Err(KeyError::EnvMissing(_))
        ));
    }
}
