//! `kmsdns probe`: prove end to end that KMS clients reach a working host.
//!
//! For each domain, as a client does (DESIGN §2–3): the `_vlmcs._tcp` SRV
//! lookup through the resolver, the targets in RFC 2782 order, every A and
//! AAAA address of each, then a TCP connect and a DCE/RPC bind for the KMS
//! interface on each address ([`crate::rpc`]). Only a bind is ever sent,
//! never an activation request, so the host's client count is untouched.

pub mod details;
pub mod judge;
pub mod observe;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;
use hickory_proto::rr::Name;

use crate::config::DEFAULT_KMS_PORT;
use crate::context::{parse_domain, split_port, Context, DOMAIN_SEPARATOR};
use crate::dns::name::parse_name;
use crate::dns::search_list;
use crate::error::Error;
use crate::report::{Report, Severity};
use crate::rpc::Timeouts;
use details::ProbeDetails;
use judge::{domain_findings, host_findings, search_list_finding, Role};
use observe::{probe_domains, probe_hosts, HostName, HostSpec, Settings};

/// Prove that KMS clients reach a host: SRV lookup, RFC 2782 order, every A
/// and AAAA address, and a DCE/RPC bind for the KMS interface on each.
///
/// Domains come from the configuration's publish list, from --domain, or
/// from this machine's suffix search list (--search); --host probes a host
/// directly, as a client pinned with slmgr /skms would reach it. Each
/// address gets a verdict: kms, rpc-not-kms, rpc-bind-refused, not-rpc,
/// tcp-refused, tcp-timeout, reset or dns-failed, with the time of each
/// step. A domain where no address answers as a KMS host is critical
/// (clients get 0x800706BA, then 0xC004F074); some failing addresses are a
/// warning. Only a bind is sent, never an activation request: the host's
/// client count does not change. --timeout bounds each TCP step and
/// --concurrency the probes at once.
#[derive(Debug, Args)]
// No argument group of the struct's options: clap would record each
// `--domain` in it a second time (about 360 bytes), and nothing asks it.
#[group(skip)]
pub struct ProbeArgs {
    /// Probe this domain instead of the publish list; repeat for several
    #[arg(long, value_name = "DOMAIN", value_parser = parse_domain, value_delimiter = DOMAIN_SEPARATOR)]
    pub domain: Vec<Name>,

    /// Probe every domain of this machine's suffix search list
    #[arg(long)]
    pub search: bool,

    /// Probe this host directly, like slmgr /skms: NAME, ADDR, NAME:PORT or [IPv6]:PORT; repeat for several
    #[arg(long, value_name = "NAME[:PORT]", value_parser = parse_host_spec)]
    pub host: Vec<HostSpec>,

    /// Warn when connect plus bind takes longer than MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub slow: u64,

    /// Probe N domains at a time: memory grows with N, not with the estate (--search and --host: all at once)
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
}

/// `NAME`, `NAME:PORT`, `ADDR`, `ADDR:PORT`, `[IPv6]` or `[IPv6]:PORT`;
/// the port defaults to 1688.
pub fn parse_host_spec(text: &str) -> Result<HostSpec, String> {
    let text = text.trim();
    let ip = |ip: IpAddr, port: u16| HostSpec {
        host: HostName::Ip(ip),
        port,
    };
    if let Ok(address) = text.parse::<IpAddr>() {
        return Ok(ip(address, DEFAULT_KMS_PORT));
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        if address.port() == 0 {
            return Err("port 0 is not a port; use 1 to 65535".into());
        }
        return Ok(ip(address.ip(), address.port()));
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return inner
            .parse::<IpAddr>()
            .map(|address| ip(address, DEFAULT_KMS_PORT))
            .map_err(|_| format!("\"{inner}\" is not an IPv6 address"));
    }
    // Like `slmgr /skms`, any name: a single label resolves through the
    // search list.
    let (name, port) = split_port(text)?;
    Ok(HostSpec {
        host: HostName::Name(parse_name(name)?),
        port,
    })
}

/// Probes every domain and host asked for.
pub async fn run(args: &ProbeArgs, ctx: &Context) -> Result<Report<ProbeDetails>, Error> {
    let settings = Settings {
        timeouts: Timeouts {
            connect: ctx.global.timeout,
            reply: ctx.global.timeout,
        },
        concurrency: usize::from(ctx.global.concurrency),
        deadline: ctx.deadline(),
    };
    let slow = Duration::from_millis(args.slow);

    // Which domains, and how much a missing record matters in each.
    let mut domains: Vec<(Name, Role)> = args
        .domain
        .iter()
        .map(|d| (d.clone(), Role::Required))
        .collect();
    // What reading the configuration found (a key file every user can
    // read), reported like every other command that reads it does.
    let mut config_warnings = Vec::new();
    if !args.search && args.domain.is_empty() && args.host.is_empty() {
        let config = ctx.config()?;
        config_warnings.extend(config.warnings.iter().cloned());
        if config.domains.is_empty() {
            return Err(Error::Usage(
                "the configuration has no domain to probe; give --domain, --search or --host"
                    .into(),
            ));
        }
        domains.extend(
            config
                .domains
                .iter()
                .map(|d| (d.name.clone(), Role::Required)),
        );
    }
    if args.search {
        let resolv_conf = ctx.resolv_conf();
        let list = search_list::read(resolv_conf).map_err(|source| Error::Read {
            path: resolv_conf.to_path_buf(),
            source,
        })?;
        if list.is_empty() {
            return Err(Error::Usage(format!(
                "{} has no search list (no `search` or `domain` line); give --domain",
                resolv_conf.display()
            )));
        }
        for name in list {
            if !domains.iter().any(|(d, _)| *d == name) {
                domains.push((name, Role::SearchList));
            }
        }
    }

    let needs_dns = !domains.is_empty() || args.host.iter().any(HostSpec::needs_dns);
    let resolver = if needs_dns {
        Some(ctx.resolver()?)
    } else {
        None
    };

    let names: Vec<Name> = domains.iter().map(|(d, _)| d.clone()).collect();
    let mut probed = match &resolver {
        Some(resolver) if !names.is_empty() => probe_domains(resolver, &names, settings).await,
        _ => Vec::new(),
    };
    let hosts = probe_hosts(resolver.as_ref(), &args.host, settings).await;

    let mut report = Report::new("probe");
    report.extend(config_warnings);
    for (domain, (_, role)) in probed.iter_mut().zip(&domains) {
        let findings = domain_findings(domain, *role, slow);
        domain.status = findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok);
        report.extend(findings);
    }
    if args.search {
        let searched: Vec<_> = probed
            .iter()
            .zip(&domains)
            .filter(|(_, (_, role))| *role == Role::SearchList)
            .map(|(d, _)| d.clone())
            .collect();
        if !searched.is_empty() && args.domain.is_empty() {
            report.extend(search_list_finding(&searched));
        }
    }
    for host in &hosts {
        report.extend(host_findings(host, slow));
    }
    Ok(report.with_details(ProbeDetails {
        resolver: resolver.as_ref().map(|r| r.via().to_string()),
        timeout_ms: u64::try_from(ctx.global.timeout.as_millis()).unwrap_or(u64::MAX),
        slow_ms: args.slow,
        domains: probed,
        hosts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<(String, u16)> {
        parse_host_spec(text).ok().map(|spec| {
            let host = match spec.host {
                HostName::Name(name) => name.to_ascii(),
                HostName::Ip(ip) => format!("ip {ip}"),
            };
            (host, spec.port)
        })
    }

    #[test]
    fn host_specs_like_slmgr_skms() {
        let some = |host: &str, port| Some((host.to_string(), port));
        assert_eq!(
            parsed("kms1.corp.example"),
            some("kms1.corp.example.", 1688)
        );
        assert_eq!(
            parsed("kms1.corp.example:1700"),
            some("kms1.corp.example.", 1700)
        );
        assert_eq!(parsed("192.0.2.7"), some("ip 192.0.2.7", 1688));
        assert_eq!(parsed("192.0.2.7:1689"), some("ip 192.0.2.7", 1689));
        assert_eq!(parsed("2001:db8::7"), some("ip 2001:db8::7", 1688));
        assert_eq!(parsed("[2001:db8::7]"), some("ip 2001:db8::7", 1688));
        assert_eq!(parsed("[::1]:1690"), some("ip ::1", 1690));
        assert_eq!(parsed("192.0.2.7:0"), None);
        assert_eq!(parsed("kms1.corp.example:99999"), None);
        assert_eq!(parsed("[not-v6]"), None);
        assert_eq!(parsed("bad name"), None);
    }
}
