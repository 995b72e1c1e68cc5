//! Domain and host names as users write them, turned into DNS names.

use hickory_proto::rr::Name;

/// The longest name in presentation form, without the final dot (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 253;
/// The longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Parses a DNS domain or host name: trailing dot optional, case kept,
/// internationalised names converted to punycode (IDNA). Labels may hold
/// letters, digits, hyphens (not first or last) and underscores.
pub fn parse_name(text: &str) -> Result<Name, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty name".into());
    }
    if text == "." {
        return Err("the root \".\" is not a domain that can hold KMS records".into());
    }
    let ascii = if text.is_ascii() {
        text.to_string()
    } else {
        Name::from_utf8(text)
            .map_err(|e| format!("\"{text}\" is not a valid internationalised name: {e}"))?
            .to_ascii()
    };
    let bare = ascii.strip_suffix('.').unwrap_or(&ascii);
    if bare.len() > MAX_NAME_LEN {
        return Err(format!(
            "\"{text}\" is {} characters long; DNS names have at most {MAX_NAME_LEN}",
            bare.len()
        ));
    }
    for label in bare.split('.') {
        check_label(text, label)?;
    }
    let mut name =
        Name::from_ascii(bare).map_err(|e| format!("\"{text}\" is not a valid DNS name: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

fn check_label(text: &str, label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err(format!(
            "\"{text}\" has an empty label (two dots in a row?)"
        ));
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(format!(
            "\"{text}\": the label \"{label}\" is {} characters long; labels have at most {MAX_LABEL_LEN}",
            label.len()
        ));
    }
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "\"{text}\" contains {bad:?}, which is not allowed in a DNS name"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!(
            "\"{text}\": the label \"{label}\" starts or ends with a hyphen"
        ));
    }
    Ok(())
}

/// Shows a name for people: Unicode for punycode labels, with the final dot.
pub fn display_name(name: &Name) -> String {
    name.to_utf8()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_names_with_or_without_dot() {
        assert_eq!(
            parse_name("corp.example").unwrap().to_ascii(),
            "corp.example."
        );
        assert_eq!(
            parse_name("corp.example.").unwrap().to_ascii(),
            "corp.example."
        );
        assert_eq!(
            parse_name(" Corp.Example ").unwrap().to_ascii(),
            "Corp.Example."
        );
        assert_eq!(
            parse_name("_vlmcs._tcp.corp.example").unwrap().num_labels(),
            4
        );
        assert!(parse_name("corp").is_ok());
    }

    #[test]
    fn converts_idn_to_punycode_and_back() {
        let name = parse_name("bücher.example").unwrap();
        assert_eq!(name.to_ascii(), "xn--bcher-kva.example.");
        assert_eq!(display_name(&name), "bücher.example.");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            ".",
            "a..b",
            "-a.example",
            "a-.example",
            "a b.example",
            "*.example",
            "a/b",
            "corp.example..",
        ] {
            assert!(parse_name(bad).is_err(), "{bad:?} accepted");
        }
        let long_label = format!("{}.example", "a".repeat(64));
        assert!(parse_name(&long_label).unwrap_err().contains("63"));
        let long_name = vec!["abcdefghi"; 26].join(".");
        assert!(parse_name(&long_name).unwrap_err().contains("253"));
        let max_name = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "a".repeat(61));
        assert_eq!(max_name.len(), 253);
        assert!(parse_name(&max_name).is_ok());
    }
}
