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

/// A KMS host's name as an SRV target (RFC 2782): a host name with at least
/// two labels. An IP address or a single label would be published as a
/// target (`192.0.2.1.`, `kms1.`) that no client can resolve.
pub fn parse_srv_target(text: &str) -> Result<Name, String> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    if trimmed.parse::<std::net::IpAddr>().is_ok()
        || bare.is_some_and(|b| b.parse::<std::net::IpAddr>().is_ok())
    {
        return Err(format!(
            "\"{trimmed}\" is an IP address; an SRV target must be a host name (RFC 2782), \
             e.g. kms1.corp.example, with an A or AAAA record"
        ));
    }
    let name = parse_name(trimmed)?;
    if name.num_labels() < 2 {
        return Err(format!(
            "\"{trimmed}\" is a single label; clients take an SRV target as an absolute \
             name, so give the host's full name, e.g. {trimmed}.corp.example"
        ));
    }
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

/// The SRV owner prefix every publish-list domain gets (`_vlmcs._tcp.`).
const SRV_PREFIX_LEN: usize = "_vlmcs._tcp.".len();

/// The longest domain that can hold `_vlmcs._tcp.<domain>`: 241 characters.
pub const MAX_DOMAIN_LEN: usize = MAX_NAME_LEN - SRV_PREFIX_LEN;

/// Parses a domain that is to hold KMS records, as [`parse_name`] does,
/// and refuses one so long that `_vlmcs._tcp.<domain>` would exceed the
/// 255 octets of a DNS name (RFC 1035 §3.1): no such record can exist, and
/// building its owner name would fail.
pub fn parse_domain(text: &str) -> Result<Name, String> {
    let name = parse_name(text)?;
    let length = name.to_ascii().trim_end_matches('.').len();
    if length > MAX_DOMAIN_LEN {
        return Err(format!(
            "\"{}\" is {length} characters long; _vlmcs._tcp.<domain> must fit in a DNS name, so a domain has at most {MAX_DOMAIN_LEN}",
            text.trim()
        ));
    }
    Ok(name)
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

    /// 63+1+63+1+63+1+`tail`: a name of exactly `63·3 + 3 + tail` characters.
    fn name_of_length(length: usize) -> String {
        let name = format!(
            "{}.{}",
            vec!["a".repeat(63); 3].join("."),
            "b".repeat(length - 192)
        );
        assert_eq!(name.len(), length);
        name
    }

    #[test]
    fn names_of_253_characters_pass_and_254_do_not() {
        // RFC 1035 §2.3.4 / §3.1: 255 octets on the wire, 253 characters
        // written without the final dot; the final dot does not count.
        let max = name_of_length(253);
        let name = parse_name(&max).unwrap();
        assert_eq!(name.to_ascii(), format!("{max}."));
        assert_eq!(parse_name(&format!("{max}.")).unwrap(), name);
        let err = parse_name(&name_of_length(254)).unwrap_err();
        assert!(
            err.contains("254 characters") && err.contains("253"),
            "{err}"
        );
        assert!(parse_name(&format!("{}.", name_of_length(254))).is_err());
        // An IDN whose punycode form is too long is measured as punycode.
        let idn = format!(
            "{}.bücher.{}",
            vec!["a".repeat(63); 3].join("."),
            "c".repeat(48)
        );
        assert_eq!(idn.chars().count(), 247);
        let err = parse_name(&idn).unwrap_err();
        assert!(err.contains("255"), "{err}");
    }

    #[test]
    fn a_domain_leaves_room_for_vlmcs_tcp() {
        let longest = name_of_length(MAX_DOMAIN_LEN);
        let domain = parse_domain(&longest).unwrap();
        let owner = crate::dns::srv_owner(&domain);
        assert_eq!(owner.to_ascii(), format!("_vlmcs._tcp.{longest}."));
        let err = parse_domain(&name_of_length(MAX_DOMAIN_LEN + 1)).unwrap_err();
        assert!(err.contains("_vlmcs._tcp") && err.contains("241"), "{err}");
        // A 253-character name is a fine host name, not a domain.
        assert!(parse_name(&name_of_length(253)).is_ok());
        assert!(parse_domain(&name_of_length(253)).is_err());
    }

    #[test]
    fn case_and_final_dot_do_not_make_another_name() {
        let names = ["corp.example", "CORP.Example.", " corp.EXAMPLE "];
        let parsed: Vec<Name> = names.iter().map(|n| parse_name(n).unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] == w[1]));
        // The spelling is kept for display.
        assert_eq!(parsed[1].to_ascii(), "CORP.Example.");
    }

    #[test]
    fn an_srv_target_is_a_host_name_of_two_labels_or_more() {
        assert_eq!(
            parse_srv_target("kms1.corp.example").unwrap().to_ascii(),
            "kms1.corp.example."
        );
        let ip = parse_srv_target("192.0.2.1").unwrap_err();
        assert!(ip.contains("is an IP address"), "{ip}");
        assert!(parse_srv_target("2001:db8::1").is_err());
        assert!(parse_srv_target("[2001:db8::1]").is_err());
        let single = parse_srv_target("kms1").unwrap_err();
        assert!(single.contains("single label"), "{single}");
        assert!(parse_srv_target("kms1.").is_err());
    }
}
