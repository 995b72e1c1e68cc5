//! The `update-policy` rules kmsdns writes: one `grant … name …` line per
//! owner name, as `kmsdns bind` puts them in a zone stanza and as a refused
//! UPDATE's hint quotes them (BIND ARM, `update-policy`: `name` matches the
//! owner exactly, so the identity can change nothing else).

/// `grant <identity> name <owner> <types>;`, e.g.
/// `grant kms-hosts name _vlmcs._tcp.corp.example. SRV;`.
pub fn name_grant(identity: &str, owner: &str, types: &[&str]) -> String {
    format!("grant {identity} name {owner} {};", types.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_owner_with_its_types() {
        assert_eq!(
            name_grant("kms-hosts", "kms1.corp.example.", &["A", "AAAA"]),
            "grant kms-hosts name kms1.corp.example. A AAAA;"
        );
    }
}
