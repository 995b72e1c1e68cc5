//! What `discover` asks, as a client would: the `_vlmcs._tcp` SRV query of
//! each candidate suffix through the resolver, then every A and AAAA of
//! the targets of the suffix whose query answers.

use std::collections::BTreeMap;
use std::time::Duration;

use hickory_proto::rr::Name;

use super::judge;
use crate::dns::lookup::{lookup_all, resolve_all, AddressLookup, Lookup};
use crate::dns::{Resolver, SrvRecord};

/// What the client's lookups gave.
pub(super) struct Observed {
    /// Each candidate's SRV lookup, in the order asked.
    pub lookups: Vec<Lookup>,
    /// The candidate whose records a client would use.
    pub used: Option<usize>,
    /// Its SRV records.
    pub records: Vec<SrvRecord>,
    /// Every target's addresses, by [`crate::dns::lookup::key`].
    pub addresses: BTreeMap<String, AddressLookup>,
}

/// Asks every candidate suffix, then the addresses of the one a client uses.
pub(super) async fn observe(
    resolver: &Resolver,
    names: &[Name],
    concurrency: usize,
    limit: Duration,
) -> Observed {
    let lookups = lookup_all(resolver, names, concurrency, limit).await;
    let used = judge::selected(&lookups);
    let records = used
        .and_then(|i| lookups.get(i))
        .map(|l| l.records.clone())
        .unwrap_or_default();
    let targets = records
        .iter()
        .filter(|r| !r.target.is_root())
        .map(|r| r.target.clone())
        .collect();
    let addresses = if records.is_empty() {
        BTreeMap::new()
    } else {
        resolve_all(resolver, targets, concurrency, limit).await
    };
    Observed {
        lookups,
        used,
        records,
        addresses,
    }
}
