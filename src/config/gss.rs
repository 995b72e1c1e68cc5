//! The `auth = "gss-tsig"` options of a domain: secure dynamic updates
//! signed with GSS-TSIG (RFC 3645), as Active Directory-integrated zones
//! require. The options are plain data and read in every build; signing
//! needs the `gssapi` cargo feature ([`crate::dns::gss`]).

use std::fmt;
use std::path::PathBuf;

use hickory_proto::rr::Name;

/// The GSS-API mechanism the security context is negotiated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GssMechanism {
    /// SPNEGO (RFC 4178), which Windows DNS servers and `nsupdate -g` use.
    #[default]
    Spnego,
    /// Raw Kerberos V5 (RFC 4121), as some older BIND set-ups expect.
    Kerberos,
}

impl fmt::Display for GssMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GssMechanism::Spnego => "spnego",
            GssMechanism::Kerberos => "kerberos",
        })
    }
}

/// How one domain's updates are signed with GSS-TSIG.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GssAuth {
    /// The client principal (`host/kms1.corp.example@CORP.EXAMPLE`,
    /// `KMS1$@CORP.EXAMPLE`); `None`: the credential cache's, or the
    /// keytab's first.
    pub principal: Option<String>,
    /// A client keytab to get the ticket from (no `kinit` needed); `None`:
    /// the current credential cache.
    pub keytab: Option<PathBuf>,
    /// The DNS server's host name in its service principal
    /// `DNS/<host>@REALM`; `None`: the zone's SOA MNAME, as `nsupdate -g`.
    pub service_host: Option<Name>,
    /// SPNEGO unless configured otherwise.
    pub mechanism: GssMechanism,
}

impl GssAuth {
    /// The principal to name in messages before the credential is known.
    pub fn principal_text(&self) -> String {
        match (&self.principal, &self.keytab) {
            (Some(principal), _) => principal.clone(),
            (None, Some(keytab)) => format!("the first principal of keytab {}", keytab.display()),
            (None, None) => "the principal of the credential cache".to_owned(),
        }
    }
}

/// The error a build without the `gssapi` feature gives for a
/// `gss-tsig` domain.
pub const NOT_BUILT: &str = "auth = \"gss-tsig\" needs kmsdns built with GSS-API support: \
     install libkrb5-dev libclang-dev pkg-config (Debian/Ubuntu) and build with \
     `cargo build --release --features gssapi`";

#[cfg(test)]
mod tests {
    use std::path::Path;

    const GSS_DOMAIN: &str = "publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n\
         [domain.\"corp.example\"]\nauth = \"gss-tsig\"\nprincipal = \"host/kms1.corp.example@CORP.EXAMPLE\"\n";

    #[cfg(not(feature = "gssapi"))]
    #[test]
    fn without_the_feature_gss_tsig_says_how_to_build() {
        let error = crate::config::parse(GSS_DOMAIN, Path::new("kmsdns.toml")).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("--features gssapi"), "{text}");
        assert!(text.contains("libkrb5-dev"), "{text}");
    }

    #[cfg(feature = "gssapi")]
    #[test]
    fn with_the_feature_gss_tsig_is_read() {
        let config = crate::config::parse(GSS_DOMAIN, Path::new("kmsdns.toml")).unwrap();
        let gss = config.domains[0].gss.as_ref().unwrap();
        assert_eq!(
            gss.principal.as_deref(),
            Some("host/kms1.corp.example@CORP.EXAMPLE")
        );
        assert_eq!(gss.mechanism, super::GssMechanism::Spnego);
        assert!(config.domains[0].key.is_none());
    }

    #[test]
    fn gss_options_need_gss_tsig() {
        let text = "publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n\
             [domain.\"corp.example\"]\nkeytab = \"x.keytab\"\n";
        let error = crate::config::parse(text, Path::new("kmsdns.toml")).unwrap_err();
        assert!(error.to_string().contains("auth = \"gss-tsig\""), "{error}");
    }
}
