//! `kmsdns discover`: what the KMS clients of a domain would do, as an
//! RFC 2782 model (Windows' exact algorithm is undocumented).
//!
//! The lookups are the client's (primary suffix, then the search list, or
//! the pinned `/skms-domain`); the model is [`crate::commands::discover::judge`] and
//! [`crate::srv_order`]. Nothing is sent to the KMS hosts.

pub mod details;
pub mod judge;
mod observe;

use clap::Args;
use hickory_proto::rr::Name;

use crate::context::parse_domain;
use crate::context::Context;
use crate::dns::search_list;
use crate::error::Error;
use crate::report::{Finding, FindingId, Report, Severity};
use details::{DiscoverDetails, SuffixSource, MODEL, MODEL_NOTE};
use observe::Observed;

/// Show what KMS clients would do: which suffix's _vlmcs._tcp query they
/// use, the hosts in RFC 2782 order with each one's chance of being picked
/// first, and the failover.
///
/// A client asks its primary DNS suffix, then each domain of its suffix
/// search list, and uses the first answer with records (slmgr /skms-domain
/// pins one domain). Inside the lowest priority it picks a host by weight;
/// one that does not answer is dropped and another is picked; the host that
/// answers is cached. The chances are an RFC 2782 model: Windows honours
/// priority and weight, but its exact algorithm is undocumented. Weight 0
/// gets a very small chance next to weighted records, and equal chances when
/// all are 0. --simulate N runs N seeded client selections and shows the
/// observed shares next to the computed ones.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The client's primary DNS suffix (AD domain, or DHCP option 15), asked first
    #[arg(long, value_name = "DOMAIN", value_parser = parse_domain)]
    pub suffix: Option<Name>,

    /// The client's suffix search list, comma-separated [default: from /etc/resolv.conf or --resolv-conf]
    #[arg(long, value_name = "A,B,...", value_delimiter = ',', value_parser = parse_domain)]
    pub search: Vec<Name>,

    /// Ask only this domain, like slmgr /skms-domain
    #[arg(long, value_name = "DOMAIN", value_parser = parse_domain, conflicts_with_all = ["suffix", "search"])]
    pub skms_domain: Option<Name>,

    /// Run N seeded client selections and show the observed shares
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub simulate: Option<u64>,

    /// Seed of --simulate: the same seed gives the same run
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
}

/// Runs the client's lookups and models its choice.
pub async fn run(args: &DiscoverArgs, ctx: &Context) -> Result<Report<DiscoverDetails>, Error> {
    let mut report = Report::new("discover");
    let mut search = args.search.clone();
    let resolv_conf = ctx.resolv_conf();
    if args.skms_domain.is_none() && search.is_empty() {
        match search_list::read(resolv_conf) {
            Ok(list) => search = list,
            // With a primary suffix there is still something to ask.
            Err(error) if args.suffix.is_some() => report.push(Finding::new(
                FindingId::DnsReadFailed,
                Severity::Info,
                format!(
                    "no search list: cannot read {}: {error}; asking the primary suffix only",
                    resolv_conf.display()
                ),
            )),
            Err(source) => {
                return Err(Error::Read {
                    path: resolv_conf.to_path_buf(),
                    source,
                })
            }
        }
    }
    let candidates = judge::candidates(args.suffix.as_ref(), &search, args.skms_domain.as_ref());
    if candidates.is_empty() {
        return Err(Error::Usage(format!(
            "no domain to ask: {} has no search list; give --suffix, --search or --skms-domain",
            resolv_conf.display()
        )));
    }
    let (names, sources): (Vec<Name>, Vec<SuffixSource>) = candidates.into_iter().unzip();

    let resolver = ctx.resolver()?;
    let concurrency = usize::from(ctx.global.concurrency);
    let Observed {
        lookups,
        used,
        records,
        addresses,
    } = observe::observe(&resolver, &names, concurrency, ctx.deadline()).await;
    let mut groups = judge::groups(&records, &addresses);
    let simulation = match args.simulate {
        Some(clients) if !records.is_empty() => Some(judge::attach_simulation(
            &records,
            &mut groups,
            clients,
            args.seed,
        )),
        _ => None,
    };

    report.extend(judge::findings(
        &lookups,
        used,
        &groups,
        args.skms_domain.is_some(),
    ));
    Ok(report.with_details(DiscoverDetails {
        model: MODEL,
        model_note: MODEL_NOTE,
        resolver: resolver.via().to_string(),
        queries: judge::queries(&lookups, &sources, used),
        selected: used
            .and_then(|i| lookups.get(i))
            .map(|l| l.domain.to_ascii()),
        failover: judge::failover(&groups),
        notes: judge::notes(used.is_some()),
        groups,
        simulation,
    }))
}
