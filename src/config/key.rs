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

/// Reads a BIND key file as `tsig-keygen` writes it:
/// `key "name" { algorithm hmac-sha256; secret "base64"; };`
/// (comments `#`, `//` and `/* */` allowed). With `name`, picks that key
/// from a file holding several.
pub fn load_key_file(path: &std::path::Path, name: Option<&str>) -> Result<TsigKey, KeyError> {
    let text = crate::local_file::read_to_string(path, crate::local_file::Limit::KEY_FILE)
        .map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
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
    parse_key_file(text, name)
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
    let value = std::env::var(var).map_err(|_| KeyError::EnvMissing(var.to_string()))?;
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
    fn secret_is_redacted_in_debug() {
        let (_, _, secret) = parse_key_file(KEYGEN, None).unwrap();
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn reads_environment_form() {
        std::env::set_var("KMSDNS_TEST_KEY_UNIT", "kmsdns-test:hmac-sha512:AAAA");
        let key = load_key_env("KMSDNS_TEST_KEY_UNIT").unwrap();
        assert_eq!(key.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(key.secret.expose(), &[0, 0, 0]);
        std::env::set_var("KMSDNS_TEST_KEY_UNIT2", "kmsdns-test:hmac-sha512");
        assert!(load_key_env("KMSDNS_TEST_KEY_UNIT2")
            .unwrap_err()
            .to_string()
            .contains("NAME:ALGORITHM:SECRET"));
        assert!(matches!(
            load_key_env("KMSDNS_TEST_KEY_UNSET"),
            Err(KeyError::EnvMissing(_))
        ));
    }
}
