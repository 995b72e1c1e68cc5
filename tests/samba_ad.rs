//! kmsdns against Active Directory-integrated DNS: a Samba 4 AD DC with its
//! internal DNS server (`tests/common/samba.rs`), GSS-TSIG signed by the
//! KMS hosts' machine accounts, every result checked in the zone with `dig`
//! and, where the directory matters (who owns a name, which objects
//! exist), with `samba-tool` and `ldbsearch`.
//!
//! What Samba does that BIND does not, and these tests pin: it signs its
//! replies over the request MAC without its length; it answers errors
//! (access denied as SERVFAIL, a failed prerequisite as NXRRSET) by echoing
//! the request, kmsdns's own TSIG included; the principal that created a
//! name owns it.
#![cfg(feature = "gssapi")]

use crate::common;

use std::time::Duration;

use common::relay::{Fault, Kind, Rule};
use common::samba::{SambaDc, KMS1, KMS2};

const FOREIGN: &str = "3600 0 0 1688 foreign.ad.example.";

/// The ids of a JSON report's findings, in order.
fn finding_ids(doc: &serde_json::Value) -> Vec<&str> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|finding| finding["id"].as_str())
        .collect()
}

/// A JSON report's findings with the id `id`.
fn findings_with_id<'a>(doc: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["id"] == id)
        .collect()
}

fn ours(host: &str) -> String {
    format!("3600 0 0 1688 {host}.")
}

#[test]
fn publish_again_and_remove_verify_samba_signatures() {
    let dc = SambaDc::shared();
    let name = SambaDc::owner_name("pub");
    dc.seed(Some(KMS1), &name, 3600, "0 0 1688 foreign.ad.example.");
    let config = dc.config("pub", "kms1.ad.example", KMS1, "");

    let first = dc.kmsdns(&config, &["-v", "publish"]);
    assert_eq!(first.status, 0, "{first}");
    assert!(
        first
            .stderr
            .contains("verified (Samba's form: the request MAC without its length)"),
        "-v does not say which form verified:\n{first}"
    );
    assert!(
        first
            .stderr
            .contains("signed with GSS-TSIG as Kerberos principal KMS1$@AD.EXAMPLE"),
        "-v does not name the principal:\n{first}"
    );
    assert!(first.stdout.contains("update-applied"), "{first}");
    assert_eq!(
        dc.srv(&name),
        vec![FOREIGN.to_owned(), ours("kms1.ad.example")]
    );

    let second = dc.kmsdns(&config, &["publish"]);
    assert_eq!(second.status, 0, "{second}");
    assert!(second.stdout.contains("in-sync"), "{second}");
    assert_eq!(
        dc.srv(&name),
        vec![FOREIGN.to_owned(), ours("kms1.ad.example")]
    );

    let removed = dc.kmsdns(&config, &["remove"]);
    assert_eq!(removed.status, 0, "{removed}");
    assert_eq!(dc.srv(&name), vec![FOREIGN.to_owned()]);
    let directory = dc.directory_records(&name);
    assert!(directory.contains("foreign.ad.example."), "{directory}");
    assert!(!directory.contains("kms1.ad.example."), "{directory}");
}

#[test]
fn a_second_host_is_refused_on_the_first_hosts_name_with_the_ownership_explained() {
    let dc = SambaDc::shared();
    let name = SambaDc::owner_name("own");
    let first = dc.kmsdns(&dc.config("own", "kms1.ad.example", KMS1, ""), &["publish"]);
    assert_eq!(first.status, 0, "{first}");
    assert_eq!(dc.srv(&name), vec![ours("kms1.ad.example")]);
    // The directory says who created the name: the first host's account.
    assert_eq!(dc.node_owner(&name), dc.sid(KMS1));

    let second = dc.kmsdns(&dc.config("own", "kms2.ad.example", KMS2, ""), &["publish"]);
    assert_eq!(second.status, 2, "{second}");
    let text = second.text();
    for words in [
        "KMS2$@AD.EXAMPLE",
        "the principal that created a name owns it",
        "samba-tool dsacl get --objectdn=DC=_vlmcs._tcp.own,DC=ad.example,CN=MicrosoftDNS,DC=DomainDnsZones,DC=ad,DC=example",
        "Full Control",
        "one principal",
    ] {
        assert!(text.contains(words), "no {words:?} in:\n{second}");
    }
    assert!(!text.contains("TSIG verification"), "{second}");
    // Nothing changed, and the owner is still the first host.
    assert_eq!(dc.srv(&name), vec![ours("kms1.ad.example")]);
    assert_eq!(dc.node_owner(&name), dc.sid(KMS1));
}

/// A concurrent change between kmsdns's read and its update: kmsdns (a
/// child process in the namespace, with its own Kerberos environment) goes
/// through a relay that holds its first UPDATE until the foreign record it
/// read has been deleted by another client (`nsupdate -g`). (Samba checks a
/// value-dependent prerequisite as "these records exist", so a record
/// *added* meanwhile would not trip it; one gone does.)
#[test]
fn a_concurrent_change_answered_by_an_echoed_nxrrset_is_retried() {
    let dc = SambaDc::shared();
    let name = SambaDc::owner_name("race");
    dc.seed(Some(KMS1), &name, 3600, "0 0 1688 foreign.ad.example.");
    let relay = dc.relay();
    relay.script(vec![Rule::new(Fault::Gate).updates().times(1)]);
    let config = dc.config_via(
        &dc.config("race", "kms1.ad.example", KMS1, ""),
        relay.addr(),
    );
    // One long attempt: the held UPDATE is not sent again meanwhile.
    let args = ["-v", "--timeout", "60s", "--format", "json", "publish"];
    let run = std::thread::scope(|scope| {
        let kmsdns = scope.spawn(|| dc.kmsdns(&config, &args));
        let held = relay.wait_received(Kind::Update, 1, Duration::from_secs(60));
        if held {
            dc.unseed(Some(KMS1), &name, "0 0 1688 foreign.ad.example.");
        }
        relay.open_gate();
        let run = kmsdns.join().expect("the kmsdns thread");
        assert!(held, "no UPDATE reached the relay:\n{run}\n{}", relay.log());
        run
    });
    let shown = format!(
        "{run}\nrecords now {:?}\n--- relay ---\n{}",
        dc.srv(&name),
        relay.log()
    );
    assert_eq!(run.status, 0, "{shown}");
    assert!(
        run.stderr
            .contains("answered NXRRSET by echoing the request"),
        "Samba's answer to the stale prerequisite is not an echoed NXRRSET:\n{shown}"
    );
    assert_eq!(relay.forwarded(Kind::Update), 2, "updated twice:\n{shown}");
    let doc: serde_json::Value = run.json();
    assert_eq!(doc["details"]["domains"][0]["retries"], 1, "{shown}");
    assert_eq!(
        doc["details"]["domains"][0]["outcome"], "applied",
        "{shown}"
    );
    assert_eq!(dc.srv(&name), vec![ours("kms1.ad.example")]);
}

#[test]
fn the_live_probe_is_keyed_only_creates_no_directory_object_and_blocks_nobody() {
    let dc = SambaDc::shared();
    let name = SambaDc::owner_name("probe");
    // Only this test's label: other tests publish on the shared DC meanwhile.
    let ours_only = |nodes: Vec<String>| -> Vec<String> {
        nodes.into_iter().filter(|n| n.contains("probe,")).collect()
    };
    let before = ours_only(dc.dns_nodes());
    let probe = dc.kmsdns(
        &dc.config("probe", "kms1.ad.example", KMS1, ""),
        &["--format", "json", "updates", "--live"],
    );
    assert_eq!(probe.status, 0, "{probe}");
    let doc: serde_json::Value = probe.json();
    let verdict = &doc["details"]["zones"][0]["live"][0];
    assert_eq!(verdict["software"], "active-directory", "{probe}");
    assert_eq!(verdict["unsigned"], "refused", "{probe}");
    assert_eq!(verdict["signed"], "accepted", "{probe}");
    assert_eq!(verdict["principal"], "KMS1$@AD.EXAMPLE", "{probe}");
    assert!(verdict.get("key").is_none(), "{probe}");
    let ids = finding_ids(&doc);
    assert_eq!(ids, ["keyed-only"], "{probe}");
    assert!(
        probe.stdout.contains("Kerberos principal KMS1$@AD.EXAMPLE"),
        "{probe}"
    );
    // No directory object appeared, not even a tombstoned one, and the
    // name is still free for another host's principal.
    assert_eq!(ours_only(dc.dns_nodes()), before);
    assert!(dc.srv(&name).is_empty());
    let other = dc.kmsdns(
        &dc.config("probe", "kms2.ad.example", KMS2, ""),
        &["publish"],
    );
    assert_eq!(other.status, 0, "{other}");
    assert_eq!(dc.srv(&name), vec![ours("kms2.ad.example")]);
    assert_eq!(dc.node_owner(&name), dc.sid(KMS2));
}

#[test]
fn audit_of_a_healthy_samba_zone_is_not_critical() {
    let dc = SambaDc::shared();
    // The DC itself as the KMS host: a target with an address. The KMS
    // probe is skipped: nothing listens on the KMS port in the namespace.
    let config = dc.config("audit", "dc1.ad.example", KMS1, "");
    let published = dc.kmsdns(&config, &["publish"]);
    assert_eq!(published.status, 0, "{published}");
    let audit = dc.kmsdns(&config, &["--format", "json", "audit", "--no-probe"]);
    let doc: serde_json::Value = audit.json();
    assert_eq!(doc["summary"]["critical"], 0, "{audit}");
    assert_ne!(audit.status, 2, "{audit}");
    let ids = finding_ids(&doc);
    assert!(ids.contains(&"keyed-only"), "{audit}");
    // One DC, one serial: replicated, and no serial finding.
    assert!(ids.contains(&"replicated"), "{audit}");
    assert!(!ids.iter().any(|id| id.starts_with("serial-")), "{audit}");
    assert_eq!(
        dc.srv(&SambaDc::owner_name("audit")),
        vec!["3600 0 0 1688 dc1.ad.example.".to_owned()]
    );
}

#[test]
fn replication_recognises_the_multi_master_zone_and_compares_no_serials() {
    let dc = SambaDc::shared();
    let config = dc.config("repl", "kms1.ad.example", KMS1, "");
    let published = dc.kmsdns(&config, &["publish"]);
    assert_eq!(published.status, 0, "{published}");
    let run = dc.kmsdns(
        &config,
        &["--format", "json", "replication", "--wait", "5s"],
    );
    assert_eq!(run.status, 0, "{run}");
    let doc: serde_json::Value = run.json();
    let ids = finding_ids(&doc);
    assert_eq!(ids, ["replicated"], "{run}");
    let message = doc["findings"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("multi-master"), "{run}");
    assert!(!message.contains("serial 1"), "{run}");
    assert_eq!(
        dc.srv(&SambaDc::owner_name("repl")),
        vec![ours("kms1.ad.example")]
    );
}

/// Issue 16: with a keytab and no `principal =`, the probe names the
/// principal of the negotiated context, not "the first principal of
/// keytab …".
#[test]
fn the_probe_names_the_negotiated_principal_when_none_is_configured() {
    let dc = SambaDc::shared();
    let configured = dc.config("anyprincipal", "kms1.ad.example", KMS1, "");
    let text = std::fs::read_to_string(&configured).expect("config");
    let keytab_only: String = text
        .lines()
        .filter(|line| !line.starts_with("principal ="))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(keytab_only, text, "the configuration named no principal");
    let path = configured.with_extension("keytab-only.toml");
    std::fs::write(&path, keytab_only).expect("config");
    let probe = dc.kmsdns(&path, &["--format", "json", "updates", "--live"]);
    assert_eq!(probe.status, 0, "{probe}");
    let doc: serde_json::Value = probe.json();
    let principal = doc["details"]["zones"][0]["live"][0]["principal"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        principal.ends_with("@AD.EXAMPLE") && !principal.contains("keytab"),
        "{principal:?}\n{probe}"
    );
    // publish's JSON carries the identity it signed with.
    let published = dc.kmsdns(&path, &["--format", "json", "publish"]);
    assert_eq!(published.status, 0, "{published}");
    let doc: serde_json::Value = published.json();
    let domain = &doc["details"]["domains"][0];
    assert_eq!(domain["principal"], principal.as_str(), "{published}");
    assert!(domain.get("key").is_none(), "{published}");
}

/// Samba keeps a TTL per record: an add with another TTL changes only the
/// record added. `--set-ttl` re-adds our record with the configured TTL,
/// the foreign record keeps 3600, the plan says so, the read-back accepts
/// it, the next publish is in sync, and `check` calls the mixed RRset
/// normal (`ttl-mixed` at info).
#[test]
fn set_ttl_changes_our_record_and_the_foreign_record_keeps_its_ttl() {
    let dc = SambaDc::shared();
    let name = SambaDc::owner_name("ttl");
    dc.seed(Some(KMS1), &name, 3600, "0 0 1688 foreign.ad.example.");
    dc.seed(Some(KMS1), &name, 600, "0 0 1688 dc1.ad.example.");
    let before = vec![
        FOREIGN.to_owned(),
        "600 0 0 1688 dc1.ad.example.".to_owned(),
    ];
    assert_eq!(dc.srv(&name), before, "Samba keeps a TTL per record");
    // The DC itself as the KMS host: a target with an address.
    let config = dc.config("ttl", "dc1.ad.example", KMS1, "ttl = 300");

    let plan = dc.kmsdns(&config, &["plan", "--set-ttl"]);
    assert_eq!(plan.status, 1, "{plan}");
    assert!(
        plan.stdout.contains(&format!(
            "= {name} 3600 IN SRV 0 0 1688 foreign.ad.example. (foreign record keeps TTL 3600)"
        )),
        "{plan}"
    );
    assert!(
        plan.stdout.contains("TTL 600 -> 300 for our records"),
        "{plan}"
    );
    assert_eq!(dc.srv(&name), before, "plan changes nothing");

    let published = dc.kmsdns(&config, &["publish", "--set-ttl"]);
    assert_eq!(published.status, 0, "{published}");
    assert!(published.stdout.contains("update-applied"), "{published}");
    let after = vec![
        "300 0 0 1688 dc1.ad.example.".to_owned(),
        FOREIGN.to_owned(),
    ];
    assert_eq!(dc.srv(&name), after);

    for args in [&["publish", "--set-ttl"][..], &["publish"]] {
        let again = dc.kmsdns(&config, args);
        assert_eq!(again.status, 0, "{again}");
        assert!(again.stdout.contains("in-sync"), "{again}");
        assert!(!again.stdout.contains("update-applied"), "{again}");
        assert_eq!(dc.srv(&name), after);
    }

    let check = dc.kmsdns(&config, &["--format", "json", "check"]);
    assert_ne!(check.status, 2, "{check}");
    let doc: serde_json::Value = check.json();
    assert_eq!(doc["summary"]["critical"], 0, "{check}");
    let mixed = findings_with_id(&doc, "ttl-mixed");
    assert_eq!(mixed.len(), 1, "{check}");
    assert_eq!(mixed[0]["severity"], "info", "{check}");
    let message = mixed[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("300 s: dc1.ad.example.; 3600 s: foreign.ad.example."),
        "{check}"
    );
    assert!(message.contains("Active Directory"), "{check}");
    assert!(!finding_ids(&doc).contains(&"ttl-differs"), "{check}");
    // Each record with its own TTL in the details.
    let mut served: Vec<(String, u64)> = doc["details"]["domains"][0]["authoritative"]["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let target = r["target"].as_str().unwrap_or_default().to_owned();
            (target, r["ttl"].as_u64().unwrap_or_default())
        })
        .collect();
    served.sort();
    assert_eq!(
        served,
        [
            ("dc1.ad.example.".to_owned(), 300),
            ("foreign.ad.example.".to_owned(), 3600)
        ],
        "{check}"
    );

    // audit reports it once (check's), at info, and is not critical.
    let audit = dc.kmsdns(&config, &["--format", "json", "audit", "--no-probe"]);
    assert_ne!(audit.status, 2, "{audit}");
    let doc: serde_json::Value = audit.json();
    let mixed = findings_with_id(&doc, "ttl-mixed");
    assert_eq!(mixed.len(), 1, "{audit}");
    assert_eq!(mixed[0]["severity"], "info", "{audit}");
    assert_eq!(dc.srv(&name), after);
}

/// Issue 16: one TTL for the whole RRset, but not the configured one (no
/// mixed TTLs): `check` still reads what the zone keeps a TTL for, and
/// Samba's DC locator record makes it one per record, so the hint of
/// `ttl-differs` says `--set-ttl` changes our records only.
#[test]
fn check_reads_the_ttl_scope_when_the_ttl_is_not_the_configured_one() {
    let dc = SambaDc::shared();
    let name = SambaDc::owner_name("ttlscope");
    dc.seed(Some(KMS1), &name, 3600, "0 0 1688 dc1.ad.example.");
    let config = dc.config("ttlscope", "dc1.ad.example", KMS1, "ttl = 300");
    let check = dc.kmsdns(&config, &["--format", "json", "check"]);
    assert_ne!(check.status, 2, "{check}");
    let doc: serde_json::Value = check.json();
    let differs = findings_with_id(&doc, "ttl-differs");
    assert_eq!(differs.len(), 1, "{check}");
    assert_eq!(differs[0]["severity"], "info", "{check}");
    assert!(
        differs[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("3600 s") && m.contains("300 s")),
        "{check}"
    );
    assert!(
        differs[0]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("to our records only: this zone keeps a TTL per record")),
        "{check}"
    );
    assert!(findings_with_id(&doc, "ttl-mixed").is_empty(), "{check}");
    assert_eq!(dc.srv(&name), ["3600 0 0 1688 dc1.ad.example."]);
}
