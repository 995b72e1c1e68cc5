//! Which domains a command works on: `--domain` values, or the
//! configuration's publish list. One parser and one selection for every
//! command.

use std::collections::HashSet;
use std::sync::Arc;

use hickory_proto::rr::Name;

use crate::config::{self, Config, Domain};
use crate::context::Context;
use crate::error::Error;

/// What separates the values of one `--domain` argument made of several
/// ([`crate::cli::join_domains`]): every `--domain` option splits its
/// value at it (`value_delimiter`). NUL, because no argument can hold
/// one: execve(2) takes C strings.
pub const DOMAIN_SEPARATOR: char = '\0';

/// `--domain` values: the configuration's name syntax.
pub fn parse_domain(text: &str) -> Result<Name, String> {
    crate::dns::name::parse_domain(text)
}

/// A KMS host to publish as `NAME` or `NAME:PORT` (`bind --host`): the name
/// must be usable as an SRV target; the port defaults to 1688.
pub fn parse_kms_host(text: &str) -> Result<(Name, u16), String> {
    let (name, port) = split_port(text)?;
    Ok((crate::dns::name::parse_srv_target(name)?, port))
}

/// `NAME` or `NAME:PORT`, split; the port defaults to 1688.
pub fn split_port(text: &str) -> Result<(&str, u16), String> {
    match text.rsplit_once(':') {
        Some((name, port)) => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("\"{port}\" is not a port from 1 to 65535"))?;
            Ok((name, port))
        }
        None => Ok((text, config::DEFAULT_KMS_PORT)),
    }
}

/// The domains a command works on, and the configuration when there is one.
pub struct Selection {
    pub config: Option<Arc<Config>>,
    pub domains: Vec<Name>,
}

impl Selection {
    /// `--domain` values when given (a configuration is then optional and
    /// read only if given or found), else every domain of the publish list.
    pub fn new(domains: &[Name], ctx: &Context) -> Result<Selection, Error> {
        Selection::of_given(domains.to_vec(), ctx)
    }

    /// [`Selection::new`] of `--domain` values it may keep: a copy of
    /// 100,000 names is 8 MB (issue 20).
    pub fn of_given(mut domains: Vec<Name>, ctx: &Context) -> Result<Selection, Error> {
        if domains.is_empty() {
            let config = ctx.config()?;
            let domains = config.domains.iter().map(|d| d.name.clone()).collect();
            return Ok(Selection::of(Some(config), domains));
        }
        let config = match config::locate(ctx.global.config.as_deref()) {
            Some(_) => Some(ctx.config()?),
            None => None,
        };
        keep_first_occurrences(&mut domains);
        Ok(Selection::of(config, domains))
    }

    fn of(config: Option<Arc<Config>>, domains: Vec<Name>) -> Selection {
        Selection { config, domains }
    }

    /// The domains alone; the rest is dropped.
    pub fn into_domains(self) -> Vec<Name> {
        self.domains
    }

    /// The configuration's entry for `domain`, if it is in a publish list.
    pub fn domain(&self, domain: &Name) -> Option<&Domain> {
        let at = self.position(domain)?;
        self.config.as_ref().map(|c| &c.domains[at])
    }

    /// Where `domain` is in the configuration's domains, if it is there.
    pub fn position(&self, domain: &Name) -> Option<usize> {
        self.config.as_ref()?.position(domain)
    }
}

/// Each domain once, where it first was, in place: marks first, then
/// drops the rest, so that the names are never copied.
fn keep_first_occurrences(domains: &mut Vec<Name>) {
    let first: Vec<bool> = {
        let mut seen = HashSet::with_capacity(domains.len());
        domains.iter().map(|domain| seen.insert(domain)).collect()
    };
    let mut first = first.into_iter();
    domains.retain(|_| first.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_given_twice_stays_where_it_first_was() {
        let mut domains: Vec<Name> = [
            "b.example",
            "a.example",
            "B.Example.",
            "c.example",
            "a.example",
        ]
        .iter()
        .map(|d| parse_domain(d).unwrap())
        .collect();
        keep_first_occurrences(&mut domains);
        let kept: Vec<String> = domains.iter().map(|d| d.to_ascii()).collect();
        assert_eq!(kept, ["b.example.", "a.example.", "c.example."]);
    }

    #[test]
    fn hosts_with_and_without_port() {
        let (name, port) = parse_kms_host("kms1.corp.example").unwrap();
        assert_eq!(
            (name.to_ascii().as_str(), port),
            ("kms1.corp.example.", 1688)
        );
        assert_eq!(parse_kms_host("kms1.corp.example:11688").unwrap().1, 11688);
        assert!(parse_kms_host("kms1.corp.example:0").is_err());
        assert!(parse_kms_host("kms1.corp.example:99999").is_err());
        assert!(parse_kms_host("bad name").is_err());
    }
}
