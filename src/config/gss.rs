//! The `auth = "gss-tsig"` options of a domain: secure dynamic updates
//! signed with GSS-TSIG (RFC 3645), as Active Directory-integrated zones
//! require. The options are plain data and read in every build; signing
//! needs the `gssapi` cargo feature ([`crate::dns::gss`]).

pub use crate::dns::credentials::{GssAuth, GssMechanism};

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
