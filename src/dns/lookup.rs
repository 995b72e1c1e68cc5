//! What a KMS client's lookups return: the `_vlmcs._tcp` SRV query of a
//! domain and the A/AAAA of each target, through the resolver (RD set), as
//! `probe` and `discover` both need them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::rr::Name;
use serde::Serialize;

use super::srv::{srv_owner, SrvRecord};
use super::{AnswerStatus, Resolver};
use crate::concurrency::{deadline, in_order};

/// What the `_vlmcs._tcp` query of a domain returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LookupStatus {
    /// SRV records.
    Records,
    /// The name exists without SRV records: clients report 0x8007251D.
    Nodata,
    /// The name does not exist: clients report 0x8007232B.
    Nxdomain,
    /// No usable answer (timeout, SERVFAIL, REFUSED…): see `error`.
    Failed,
}

/// A domain's `_vlmcs._tcp` lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The domain asked about.
    pub domain: Name,
    /// Records, none (which kind), or failed.
    pub answer: LookupStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// Set when it failed because `--deadline` passed, with the step it
    /// was on.
    pub overrun: Option<deadline::Overrun>,
    /// The SRV records, in the order of the answer.
    pub records: Vec<SrvRecord>,
}

/// What the A/AAAA lookup of one target gave: its addresses, IPv4 first,
/// or why there are none.
pub type AddressLookup = Result<Vec<IpAddr>, String>;

/// Names are compared as DNS does, without regard to case: the key of a
/// name in the map [`resolve_all`] returns.
pub fn key(name: &Name) -> String {
    name.to_ascii().to_ascii_lowercase()
}

/// The `_vlmcs._tcp` lookup of each domain, at most `concurrency` at once,
/// each within `limit` (`--deadline`), in the order given.
pub async fn lookup_all(
    resolver: &Resolver,
    domains: &[Name],
    concurrency: usize,
    limit: Duration,
) -> Vec<Lookup> {
    in_order(domains, concurrency, |domain| async move {
        deadline::within(limit, lookup_srv(resolver, domain))
            .await
            .unwrap_or_else(|overrun| Lookup {
                domain: domain.clone(),
                answer: LookupStatus::Failed,
                error: Some(overrun.to_string()),
                overrun: Some(overrun),
                records: Vec::new(),
            })
    })
    .collect()
    .await
}

async fn lookup_srv(resolver: &Resolver, domain: &Name) -> Lookup {
    match resolver.srv(&srv_owner(domain)).await {
        Ok(answer) => Lookup {
            domain: domain.clone(),
            answer: match answer.status {
                AnswerStatus::Records => LookupStatus::Records,
                AnswerStatus::NoData => LookupStatus::Nodata,
                AnswerStatus::NxDomain => LookupStatus::Nxdomain,
            },
            error: None,
            overrun: None,
            records: answer.records,
        },
        Err(error) => Lookup {
            domain: domain.clone(),
            answer: LookupStatus::Failed,
            error: Some(error.to_string()),
            overrun: None,
            records: Vec::new(),
        },
    }
}

/// Every A and AAAA address of each name, by [`key`], each lookup within
/// `limit` (`--deadline`).
pub async fn resolve_all(
    resolver: &Resolver,
    names: BTreeSet<Name>,
    concurrency: usize,
    limit: Duration,
) -> BTreeMap<String, AddressLookup> {
    in_order(names, concurrency, |name| async move {
        let found = deadline::within(limit, resolver.addresses(&name)).await;
        let result = match found {
            Err(overrun) => Err(overrun.to_string()),
            Ok(found) => match found {
                Ok(found) if found.is_empty() => Err(format!("{name} has no A or AAAA record")),
                // Sorted (IPv4 first): resolvers rotate address sets, and the
                // output should not change with them.
                Ok(found) => {
                    let mut ips = found.ips();
                    ips.sort();
                    Ok(ips)
                }
                Err(error) => Err(error.to_string()),
            },
        };
        (key(&name), result)
    })
    .collect()
    .await
    .into_iter()
    .collect()
}
