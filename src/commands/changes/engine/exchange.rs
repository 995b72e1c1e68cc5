//! The DNS exchanges the engine makes, behind a trait (as NLnet Labs'
//! dnst puts its I/O behind `Env`): [`Dns`] makes them over
//! [`crate::dns`]; the unit tests script them, so the safety loop is
//! tested without a server.

use std::future::Future;
use std::net::SocketAddr;

use hickory_proto::rr::{Name, Record, RecordType};

use super::Target;
use crate::commands::changes::planner::TtlScope;
use crate::config::Domain;
use crate::dns::identify::{self, Software};
use crate::dns::{
    self, DiscoveryError, DnsOptions, ReadError, ReadFailure, Resolver, SrvRrset, UpdateError,
    UpdateRequest,
};

/// What the engine asks of DNS.
pub trait Exchange {
    /// The zone of `domain`'s `_vlmcs._tcp` name and where its updates go.
    fn find_target(&self, domain: &Domain) -> impl Future<Output = Result<Target, DiscoveryError>>;

    /// The SRV RRset of `owner` at `server`, authoritatively.
    fn read_srv(
        &self,
        server: SocketAddr,
        owner: &Name,
    ) -> impl Future<Output = Result<SrvRrset, ReadError>>;

    /// The `rtype` records of `name` at `server`, authoritatively.
    fn read_records(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
    ) -> impl Future<Output = Result<Vec<Record>, ReadFailure>>;

    /// The types of the RRsets at `name` on `server` (an ANY query,
    /// authoritatively); empty when the name does not exist (NXDOMAIN).
    fn types_at(
        &self,
        server: SocketAddr,
        name: &Name,
    ) -> impl Future<Output = Result<Vec<RecordType>, ReadFailure>>;

    /// The software of the primary at `server` (authoritative for `zone`),
    /// when it tells: only to word a failure in its terms.
    fn identify(&self, server: SocketAddr, zone: &Name) -> impl Future<Output = Option<Software>>;

    /// What the primary at `server` keeps a TTL for in `zone`: each record
    /// in an Active Directory-integrated zone, else the RRset.
    fn ttl_scope(&self, server: SocketAddr, zone: &Name) -> impl Future<Output = TtlScope>;

    /// One atomic UPDATE of `requests` to `server`, signed as `domain` says
    /// (its TSIG key, or GSS-TSIG).
    fn send(
        &self,
        server: SocketAddr,
        requests: &[UpdateRequest],
        domain: &Domain,
    ) -> impl Future<Output = Result<(), UpdateError>>;
}

/// The real exchanges, over [`crate::dns`].
pub struct Dns<'a> {
    pub opts: &'a DnsOptions,
    pub resolver: &'a Resolver,
}

impl Exchange for Dns<'_> {
    async fn find_target(&self, domain: &Domain) -> Result<Target, DiscoveryError> {
        let owner = domain.srv_name();
        let info =
            dns::find_primary(&owner, domain.server.as_deref(), self.resolver, self.opts).await?;
        Ok(Target {
            zone: info.zone,
            primary: info.primary,
        })
    }

    async fn read_srv(&self, server: SocketAddr, owner: &Name) -> Result<SrvRrset, ReadError> {
        dns::read_srv(server, owner, self.opts)
            .await
            .map(dns::SrvAnswer::into_rrset)
    }

    async fn read_records(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Vec<Record>, ReadFailure> {
        let response = dns::query(server, name, rtype, self.opts).await?;
        Ok(response.records_of(name, rtype)?)
    }

    async fn types_at(
        &self,
        server: SocketAddr,
        name: &Name,
    ) -> Result<Vec<RecordType>, ReadFailure> {
        let response = dns::query(server, name, RecordType::ANY, self.opts).await?;
        if response.status()? == dns::AnswerStatus::NxDomain {
            return Ok(Vec::new());
        }
        let mut types: Vec<RecordType> = response
            .answers()
            .iter()
            .filter(|record| record.name() == name)
            .map(Record::record_type)
            .collect();
        types.sort_unstable();
        types.dedup();
        Ok(types)
    }

    async fn identify(&self, server: SocketAddr, zone: &Name) -> Option<Software> {
        let version = identify::version_bind(server, self.opts).await;
        match version.as_deref().and_then(Software::from_version) {
            Some(software) => Some(software),
            None => identify::fingerprint(server, zone, self.opts).await,
        }
    }

    async fn ttl_scope(&self, server: SocketAddr, zone: &Name) -> TtlScope {
        dns::ttl::ttl_scope(server, zone, self.opts).await
    }

    async fn send(
        &self,
        server: SocketAddr,
        requests: &[UpdateRequest],
        domain: &Domain,
    ) -> Result<(), UpdateError> {
        let key = domain.key.as_deref();
        #[cfg(feature = "gssapi")]
        if let Some(gss) = &domain.gss {
            return dns::gss::send_zone_update_gss(server, requests, gss, self.opts)
                .await
                .map(drop);
        }
        dns::send_zone_update(server, requests, key, self.opts)
            .await
            .map(drop)
    }
}
