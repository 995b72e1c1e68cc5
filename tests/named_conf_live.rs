//! The differential test of issue 18: kmsdns's static update audit against
//! what a live named 9.18 does with the same named.conf.
//!
//! A fixed-seed generator builds named.conf files from the parts of the
//! grammar the audit reads: views chosen by `match-clients` (addresses,
//! keys, negation, nested lists, ACLs) and `match-destinations`, keys at the
//! top and in views, ACLs with negation, nesting, chains and names in any
//! case, `allow-update` and `allow-query` in zones, views and `options`,
//! `update-policy` with every rule type (`name`, `subdomain`, `zonesub`,
//! `wildcard`, `self`, `selfsub`, `selfwild`, the `krb5-*` and `ms-*`
//! types, `tcp-self`, `6to4-self`, `external`), `grant` and `deny`, `*` and
//! wildcard identities, type lists with SRV, NS, CNAME, DNAME and ANY,
//! `update-policy local`, zone names with escapes; and, now and then, what
//! named refuses to load (a zone twice, an undefined ACL, an ACL loop,
//! `allow-update` beside `update-policy`, a byte order mark).
//!
//! One named runs for the whole test, on 127.53.18.1 and a free high port;
//! each configuration is loaded with `rndc reconfig`. Then every UPDATE that
//! matters is sent: for `_vlmcs._tcp.z1.test` and `_vlmcs._tcp.kms.z2.test`,
//! an SRV record, and NS, DNAME and CNAME records at the name and at each
//! name above it in the zone (those that would send the lookup elsewhere
//! count for the verdict, the others check the decisions too);
//! unsigned and signed with each key (the session key of `update-policy
//! local` included), from 127.0.0.1 and 127.53.18.2, over UDP, and unsigned
//! over TCP too. Each UPDATE carries a prerequisite that fails (`name is in
//! use` for a name that never exists), so named checks the permission first
//! and then changes nothing: NXDOMAIN means "allowed", REFUSED or NOTAUTH
//! "not allowed", and the zones stay as they are for the next
//! configuration.
//!
//! For every request, kmsdns's decision (`named_conf::Server::decide`) must
//! be named's; a configuration named refuses must be one kmsdns says named
//! will not load, and the other way round; and the verdict of the audit for
//! each zone of each view (anyone / addresses / key holders / nobody, and
//! which keys) must agree with what named let through. Every disagreement
//! fails the test, printing the configuration and the request.
//!
//! `KMSDNS_DIFFERENTIAL_CONFIGS=N` (default 500) sets the number of
//! configurations, `KMSDNS_DIFFERENTIAL_SEED=S` the seed (each
//! configuration is replayable from the seed and its index, both printed
//! on failure).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use futures_util::stream::{self, StreamExt};
use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::{CNAME, NS, NULL, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use kmsdns::named_conf::{audit_domains, Endpoint, NamedConf, Reach, Server, UpdateRequest};

use crate::common::bind::Named;
use crate::common::local::{ensure_loopback, free_port, random_u64, tool};

/// The server's address, and the two addresses requests come from.
const SERVER: Ipv4Addr = Ipv4Addr::new(127, 53, 18, 1);
const SOURCES: [Ipv4Addr; 2] = [Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 53, 18, 2)];

/// The zones, and the domain whose `_vlmcs._tcp` name is probed in each.
const DOMAINS: [(&str, &str); 2] = [("z1.test", "z1.test"), ("z2.test", "kms.z2.test")];

/// Keys defined at the top of every configuration (besides `rndc-key`).
const TOP_KEYS: [&str; 4] = ["k1", "k2", "K3", "_vlmcs._tcp.z1.test"];
/// Keys defined inside view vN, when it has one.
const VIEW_KEYS: [&str; 3] = ["vk1", "vk2", "vk3"];
/// The rndc key: a TSIG key like any other to named.
const RNDC_KEY: &str = "rndc-key";

/// DNAME, which hickory-proto 0.25 has no variant for.
const DNAME: RecordType = RecordType::Unknown(39);

/// A record type as named.conf writes it.
fn type_text(rtype: RecordType) -> &'static str {
    match rtype {
        RecordType::SRV => "SRV",
        RecordType::CNAME => "CNAME",
        RecordType::NS => "NS",
        _ => "DNAME",
    }
}

/// Configurations per run, unless `KMSDNS_DIFFERENTIAL_CONFIGS` says.
const DEFAULT_CONFIGS: usize = 500;

// ---------------------------------------------------------------------------
// A small deterministic generator

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A secret for a key name, the same in every configuration.
fn secret(key: &str) -> Vec<u8> {
    format!("kmsdns-differential-{}", key.to_ascii_lowercase()).into_bytes()
}

fn key_statement(name: &str) -> String {
    format!(
        "key \"{name}\" {{ algorithm hmac-sha256; secret \"{}\"; }};\n",
        base64::engine::general_purpose::STANDARD.encode(secret(name))
    )
}

/// What a generated configuration is made of, beside its text.
struct Generated {
    text: String,
    /// The views (none: the default view), for the zone files.
    views: Vec<String>,
}

/// Builds one configuration.
struct Generator<'a> {
    rng: Rng,
    acls: Vec<String>,
    /// View keys defined so far.
    view_keys: Vec<&'a str>,
}

impl Generator<'_> {
    /// A key as a grant or an ACL names it: any case, with or without the
    /// final dot, now and then one named does not know.
    fn key_ref(&mut self) -> String {
        let mut pool: Vec<&str> = TOP_KEYS.to_vec();
        pool.push(RNDC_KEY);
        pool.extend(self.view_keys.iter().copied());
        let name = if self.rng.chance(5) {
            "ghost".to_string()
        } else {
            self.rng.pick(&pool).to_string()
        };
        let name = match self.rng.below(4) {
            0 => name.to_ascii_uppercase(),
            1 => format!("{name}."),
            _ => name,
        };
        if self.rng.chance(30) {
            format!("\"{name}\"")
        } else {
            name
        }
    }

    /// An ACL name as a list refers to it, in some case.
    fn acl_ref(&mut self, name: &str) -> String {
        match self.rng.below(3) {
            0 => name.to_ascii_uppercase(),
            1 => name.to_ascii_lowercase(),
            _ => name.to_string(),
        }
    }

    fn element(&mut self, depth: usize) -> String {
        let negated = if self.rng.chance(25) { "!" } else { "" };
        let body = match self.rng.below(11) {
            0 | 1 => self
                .rng
                .pick(&[
                    "127.0.0.1",
                    "127.53.18.2",
                    "127.0.0.0/8",
                    "127.53.18.0/24",
                    "10.0.0.0/8",
                    "192.0.2.1",
                    "127.0.0.1/32",
                ])
                .to_string(),
            2 => "any".into(),
            3 => "none".into(),
            4 => self.rng.pick(&["localhost", "localnets"]).to_string(),
            5 | 6 => format!("key {}", self.key_ref()),
            7 if depth < 2 => self.list(depth + 1),
            8 | 9 if !self.acls.is_empty() => {
                let name = self.rng.pick(&self.acls).clone();
                self.acl_ref(&name)
            }
            _ => "any".into(),
        };
        format!("{negated}{body}")
    }

    /// `{ element; … }`.
    fn list(&mut self, depth: usize) -> String {
        let n = 1 + self.rng.below(3);
        let mut text = String::from("{ ");
        for _ in 0..n {
            let element = self.element(depth);
            let _ = write!(text, "{element}; ");
        }
        text.push('}');
        text
    }

    fn rule(&mut self, zone: &str, domain: &str) -> String {
        const TYPES: [&str; 18] = [
            "name",
            "subdomain",
            "zonesub",
            "wildcard",
            "self",
            "selfsub",
            "selfwild",
            "krb5-self",
            "krb5-selfsub",
            "krb5-subdomain",
            "krb5-subdomain-self-rhs",
            "ms-self",
            "ms-selfsub",
            "ms-subdomain",
            "ms-subdomain-self-rhs",
            "tcp-self",
            "6to4-self",
            "external",
        ];
        let mode = if self.rng.chance(20) { "deny" } else { "grant" };
        // The common types more often.
        let rule_type = if self.rng.chance(55) {
            *self.rng.pick(&TYPES[..4])
        } else {
            *self.rng.pick(&TYPES)
        };
        let names = [
            format!("_vlmcs._tcp.{domain}."),
            format!("_tcp.{domain}."),
            format!("{domain}."),
            format!("{zone}."),
            format!("x.{domain}."),
        ];
        let wildcard_identity = |g: &mut Self| {
            g.rng
                .pick(&["*", "*.z1.test", "*.test", "*._tcp.z1.test"])
                .to_string()
        };
        let (identity, name) = match rule_type {
            "name" | "subdomain" => {
                let identity = if self.rng.chance(25) {
                    wildcard_identity(self)
                } else {
                    self.key_ref()
                };
                (identity, Some(self.rng.pick(&names).clone()))
            }
            "zonesub" => {
                let identity = if self.rng.chance(25) {
                    wildcard_identity(self)
                } else {
                    self.key_ref()
                };
                (identity, None)
            }
            "wildcard" => {
                let identity = self.key_ref();
                let pattern = self
                    .rng
                    .pick(&[
                        format!("*.{domain}."),
                        format!("*._tcp.{domain}."),
                        format!("*.{zone}."),
                    ])
                    .clone();
                (identity, Some(pattern))
            }
            "self" | "selfsub" | "selfwild" => {
                if self.rng.chance(50) {
                    ("*".to_string(), Some(".".to_string()))
                } else {
                    let identity = self
                        .rng
                        .pick(&["*.z1.test", "*", "_vlmcs._tcp.z1.test", "*.test"])
                        .to_string();
                    let name = if self.rng.chance(50) {
                        identity.clone()
                    } else {
                        ".".into()
                    };
                    (identity, Some(name))
                }
            }
            "krb5-self" | "krb5-selfsub" | "ms-self" | "ms-selfsub" => {
                ("KMSDNS.TEST".into(), Some(".".into()))
            }
            "krb5-subdomain"
            | "krb5-subdomain-self-rhs"
            | "ms-subdomain"
            | "ms-subdomain-self-rhs" => {
                let name = if self.rng.chance(30) {
                    ".".to_string()
                } else {
                    self.rng.pick(&names).clone()
                };
                ("KMSDNS.TEST".into(), Some(name))
            }
            "tcp-self" | "6to4-self" => (
                self.rng.pick(&["*", ".", "*.in-addr.arpa"]).to_string(),
                Some(".".into()),
            ),
            _ => (
                "\"local:/nonexistent/kmsdns-differential.sock\"".into(),
                Some(".".into()),
            ),
        };
        let mut types: Vec<&str> = Vec::new();
        if !self.rng.chance(25) {
            for _ in 0..1 + self.rng.below(3) {
                let t = *self.rng.pick(&[
                    "SRV", "SRV", "NS", "CNAME", "DNAME", "A", "TXT", "ANY", "srv",
                ]);
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
        let mut text = format!("{mode} {identity} {rule_type}");
        if let Some(name) = name {
            let _ = write!(text, " {name}");
        }
        for t in types {
            let _ = write!(text, " {t}");
        }
        text
    }

    /// How a zone lets updates in.
    fn updates(&mut self, zone: &str, domain: &str) -> String {
        match self.rng.below(20) {
            0 | 1 => String::new(),
            2..=8 => format!("allow-update {};", self.list(0)),
            9 => "update-policy local;".into(),
            _ => {
                let mut text = String::from("update-policy {\n");
                for _ in 0..1 + self.rng.below(4) {
                    let rule = self.rule(zone, domain);
                    let _ = writeln!(text, "            {rule};");
                }
                text.push_str("        };");
                text
            }
        }
    }

    /// A zone statement; its name written as BIND allows.
    fn zone(&mut self, view: &str, zone: &str, domain: &str) -> String {
        let written = match self.rng.below(8) {
            0 => zone.to_ascii_uppercase(),
            1 => format!("{zone}."),
            // `\122` is `z`.
            2 => format!("\\122{}", &zone[1..]),
            _ => zone.to_string(),
        };
        let mut text = format!(
            "    zone \"{written}\" {{\n        type primary;\n        file \"{view}-{zone}.db\";\n"
        );
        let updates = self.updates(zone, domain);
        if !updates.is_empty() {
            let _ = writeln!(text, "        {updates}");
        }
        if self.rng.chance(5) {
            let list = self.list(0);
            let _ = writeln!(text, "        allow-query {list};");
        }
        text.push_str("    };\n");
        text
    }

    fn generate(&mut self, infra: &str) -> Generated {
        let mut text = String::new();
        text.push_str(infra);
        let mut options_extra = String::new();
        if self.rng.chance(8) {
            let _ = writeln!(options_extra, "    allow-update {};", self.list(0));
        }
        if self.rng.chance(4) {
            let _ = writeln!(options_extra, "    allow-query {};", self.list(0));
        }
        text = text.replace("    # more options\n", &options_extra);
        for key in TOP_KEYS {
            text.push_str(&key_statement(key));
        }
        // ACLs, each referring to those before it.
        let count = self.rng.below(4);
        let names = ["lan", "Trusted", "ops", "Mix"];
        for name in names.iter().take(count) {
            let list = self.list(0);
            let _ = writeln!(text, "acl \"{name}\" {list};");
            self.acls.push(name.to_string());
        }
        let mut views: Vec<String> = Vec::new();
        if self.rng.chance(35) {
            views.push("_default".into());
            for (zone, domain) in DOMAINS {
                if self.rng.chance(85) {
                    let z = self.zone("_default", zone, domain);
                    text.push_str(&z);
                }
            }
        } else {
            let n = 1 + self.rng.below(3);
            for (index, key) in VIEW_KEYS.iter().enumerate().take(n) {
                let view = format!("v{}", index + 1);
                let mut body = String::new();
                if self.rng.chance(50) {
                    body.push_str(&format!("    {}", key_statement(key)));
                    self.view_keys.push(key);
                }
                if self.rng.chance(75) {
                    let list = self.list(0);
                    let _ = writeln!(body, "    match-clients {list};");
                }
                if self.rng.chance(15) {
                    let list = self
                        .rng
                        .pick(&[
                            "{ 127.53.18.1; }",
                            "{ !127.53.18.1; any; }",
                            "{ 10.0.0.0/8; }",
                            "{ 127.53.18.0/24; }",
                            "{ localhost; }",
                        ])
                        .to_string();
                    let _ = writeln!(body, "    match-destinations {list};");
                }
                if self.rng.chance(12) {
                    let list = self.list(0);
                    let _ = writeln!(body, "    allow-update {list};");
                }
                for (zone, domain) in DOMAINS {
                    if self.rng.chance(80) {
                        let z = self.zone(&view, zone, domain);
                        body.push_str(&z);
                    }
                }
                let _ = write!(text, "view \"{view}\" {{\n{body}}};\n");
                views.push(view);
            }
        }
        // Now and then, what named refuses to load.
        if self.rng.chance(5) {
            match self.rng.below(5) {
                0 => {
                    // The same zone twice (in the last view, or at the top).
                    let zone =
                        "zone \"Z1.TEST.\" { type primary; file \"dup-z1.db\"; };\n".to_string();
                    if views.len() == 1 && views[0] == "_default" {
                        text.push_str(&zone);
                        text.push_str(
                            &zone.replace("Z1.TEST.", "z1.test").replace("dup-", "dup2-"),
                        );
                    } else {
                        let last = text.rfind("};\n").unwrap_or(text.len());
                        text.insert_str(
                            last,
                            &format!("    {zone}    {}", zone.replace("dup-", "dup2-")),
                        );
                    }
                }
                1 => {
                    text.push_str("acl \"loop-a\" { \"loop-b\"; };\nacl \"loop-b\" { 10.0.0.1; \"loop-a\"; };\n");
                    text = text.replacen("allow-update {", "allow-update { loop-a;", 1);
                    if !text.contains("loop-a;") {
                        text = text.replacen(
                            "type primary;",
                            "type primary; allow-update { loop-a; };",
                            1,
                        );
                    }
                }
                2 => {
                    text = text.replacen(
                        "type primary;",
                        "type primary; allow-query { undefined-acl; };",
                        1,
                    );
                }
                3 => {
                    text = text.replacen(
                        "update-policy {",
                        "allow-update { any; };\n        update-policy {",
                        1,
                    );
                    text = text.replacen(
                        "update-policy local;",
                        "allow-update { any; }; update-policy local;",
                        1,
                    );
                }
                _ => text.insert(0, '\u{feff}'),
            }
        }
        Generated { text, views }
    }
}

// ---------------------------------------------------------------------------
// The server

/// One named for the whole test, reconfigured for each configuration.
struct Live {
    dir: tempfile::TempDir,
    port: u16,
    infra: String,
    rndc: PathBuf,
    _named: Named,
}

impl Live {
    fn start() -> Live {
        for address in std::iter::once(SERVER).chain(SOURCES) {
            ensure_loopback(IpAddr::V4(address));
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let path = dir.path().to_path_buf();
        let ips = [IpAddr::V4(SERVER)];
        let port = free_port(&ips);
        let control = loop {
            let p = free_port(&ips);
            if p != port {
                break p;
            }
        };
        let quoted = |p: &Path| format!("\"{}\"", p.display());
        // What every instance needs (tests/common/bind.rs says why), and a
        // control channel for `rndc reconfig`.
        let infra = format!(
            "options {{\n    directory {dir};\n    pid-file {pid};\n    session-keyfile {session};\n    managed-keys-directory {dir};\n    listen-on port {port} {{ {SERVER}; }};\n    listen-on-v6 {{ none; }};\n    port {port};\n    query-source address {SERVER};\n    automatic-interface-scan no;\n    recursion no;\n    dnssec-validation no;\n    empty-zones-enable no;\n    max-cache-size 16m;\n    notify no;\n    # more options\n}};\n{rndc_key}controls {{ inet {SERVER} port {control} allow {{ any; }} keys {{ \"{RNDC_KEY}\"; }}; }};\n",
            dir = quoted(&path),
            pid = quoted(&path.join("named.pid")),
            session = quoted(&path.join("session.key")),
            rndc_key = key_statement(RNDC_KEY),
        );
        let rndc = path.join("rndc.conf");
        fs::write(
            &rndc,
            format!(
                "{}options {{ default-key \"{RNDC_KEY}\"; default-server {SERVER}; default-port {control}; }};\n",
                key_statement(RNDC_KEY)
            ),
        )
        .unwrap_or_else(|e| panic!("rndc.conf: {e}"));
        let conf = path.join("named.conf");
        fs::write(&conf, infra.replace("    # more options\n", ""))
            .unwrap_or_else(|e| panic!("named.conf: {e}"));
        let named = Named::start(&conf, &path, IpAddr::V4(SERVER), port);
        Live {
            dir,
            port,
            infra,
            rndc,
            _named: named,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the zone files a configuration names, once each.
    fn zone_files(&self, views: &[String]) {
        let mut files: Vec<(String, &str)> = Vec::new();
        for view in views {
            for (zone, _) in DOMAINS {
                files.push((format!("{view}-{zone}.db"), zone));
            }
        }
        files.push(("dup-z1.db".into(), "z1.test"));
        files.push(("dup2-z1.db".into(), "z1.test"));
        for (file, zone) in files {
            let path = self.path().join(&file);
            if !path.exists() {
                let text = format!(
                    "$TTL 300\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300\n@ IN NS ns.{zone}.\nns IN A {SERVER}\n"
                );
                fs::write(&path, text).unwrap_or_else(|e| panic!("{file}: {e}"));
            }
        }
    }

    /// Loads `text`: `Ok` when named took it, `Err` with named's words.
    fn load(&self, text: &str) -> Result<(), String> {
        fs::write(self.path().join("named.conf"), text)
            .unwrap_or_else(|e| panic!("named.conf: {e}"));
        let output = Command::new(tool("rndc", "bind9-utils"))
            .arg("-c")
            .arg(&self.rndc)
            .arg("reconfig")
            .output()
            .unwrap_or_else(|e| panic!("rndc: {e}"));
        if output.status.success() {
            Ok(())
        } else {
            let log = fs::read_to_string(self.path().join("named.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(6).collect();
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&output.stderr),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    }

    fn server(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(SERVER), self.port)
    }
}

// ---------------------------------------------------------------------------
// Probes

/// One UPDATE.
#[derive(Debug, Clone)]
struct Probe {
    zone: &'static str,
    owner: String,
    rtype: RecordType,
    /// Counted by the verdict (see [`targets`]).
    redirects: bool,
    source: Ipv4Addr,
    /// The key it is signed with, as named knows it.
    signer: Option<String>,
    tcp: bool,
}

/// The records probed for `_vlmcs._tcp.<domain>`, and whether each
/// changes or sends elsewhere its SRV records (what the verdict counts):
/// SRV, CNAME and NS at the name and NS and DNAME above it do; a DNAME at
/// the name (it redirects what is below it) and a CNAME above it (it
/// aliases that name only) do not, and are sent to check the decisions.
fn targets(zone: &str, domain: &str) -> Vec<(String, RecordType, bool)> {
    let name = format!("_vlmcs._tcp.{domain}.");
    let mut out = vec![
        (name.clone(), RecordType::SRV, true),
        (name.clone(), RecordType::CNAME, true),
        (name.clone(), RecordType::NS, true),
        (name.clone(), DNAME, false),
    ];
    let mut above = name.as_str();
    while let Some((_, rest)) = above.split_once('.') {
        above = rest;
        if above.is_empty() || above.len() < zone.len() + 1 {
            break;
        }
        out.push((above.to_string(), RecordType::NS, true));
        out.push((above.to_string(), DNAME, true));
        out.push((above.to_string(), RecordType::CNAME, false));
    }
    out
}

fn probes(signers: &[String]) -> Vec<Probe> {
    let mut out = Vec::new();
    for (zone, domain) in DOMAINS {
        for (owner, rtype, redirects) in targets(zone, domain) {
            for source in SOURCES {
                for signer in std::iter::once(None).chain(signers.iter().cloned().map(Some)) {
                    out.push(Probe {
                        zone,
                        owner: owner.clone(),
                        rtype,
                        redirects,
                        source,
                        signer,
                        tcp: false,
                    });
                }
                out.push(Probe {
                    zone,
                    owner: owner.clone(),
                    rtype,
                    redirects,
                    source,
                    signer: None,
                    tcp: true,
                });
            }
        }
    }
    out
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The UPDATE of a probe, signed when it says so.
fn message(probe: &Probe, keys: &HashMap<String, Vec<u8>>, id: u16) -> Vec<u8> {
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Update);
    let mut zone = Query::query(name(&format!("{}.", probe.zone)), RecordType::SOA);
    zone.set_query_class(DNSClass::IN);
    message.add_zone(zone);
    // "Name is in use" for a name that never exists: named checks the
    // permission, then this fails (NXDOMAIN) and nothing changes.
    let mut absent = Record::update0(
        name(&format!("kmsdns-absent.{}.", probe.zone)),
        0,
        RecordType::ANY,
    );
    absent.set_dns_class(DNSClass::ANY);
    message.add_pre_requisite(absent);
    let owner = name(&probe.owner);
    let rdata = match probe.rtype {
        RecordType::SRV => RData::SRV(SRV::new(0, 0, 1688, name("kms.invalid."))),
        RecordType::CNAME => RData::CNAME(CNAME(name("kms.invalid."))),
        RecordType::NS => RData::NS(NS(name("ns.invalid."))),
        _ => RData::Unknown {
            code: RecordType::Unknown(39),
            rdata: NULL::with(name("invalid.").to_bytes().unwrap_or_default()),
        },
    };
    let mut add = Record::from_rdata(owner, 300, rdata);
    add.set_dns_class(DNSClass::IN);
    message.add_update(add);
    if let Some(signer) = &probe.signer {
        let secret = keys.get(signer).cloned().unwrap_or_else(|| secret(signer));
        // The key name in lower case: RFC 8945 §4.3.3 covers it in canonical
        // form, and hickory-proto signs it as given.
        let tsigner = TSigner::new(
            secret,
            TsigAlgorithm::HmacSha256,
            name(&format!("{}.", signer.to_ascii_lowercase())),
            300,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        message
            .finalize(&tsigner, now)
            .unwrap_or_else(|e| panic!("sign: {e}"));
    }
    message.to_vec().unwrap_or_else(|e| panic!("encode: {e}"))
}

/// Sends one probe and returns named's RCODE; SERVFAIL (a zone still
/// loading) and silence are tried again.
async fn send(
    server: SocketAddr,
    probe: &Probe,
    keys: &HashMap<String, Vec<u8>>,
) -> Result<ResponseCode, String> {
    let mut last = String::new();
    for attempt in 0..40 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let id = random_u64() as u16;
        let wire = message(probe, keys, id);
        let local = SocketAddr::new(IpAddr::V4(probe.source), 0);
        let exchange = async {
            if probe.tcp {
                let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
                socket.bind(local).map_err(|e| e.to_string())?;
                let mut stream = socket.connect(server).await.map_err(|e| e.to_string())?;
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&wire);
                stream.write_all(&framed).await.map_err(|e| e.to_string())?;
                let mut length = [0u8; 2];
                stream
                    .read_exact(&mut length)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut reply = vec![0u8; usize::from(u16::from_be_bytes(length))];
                stream
                    .read_exact(&mut reply)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<Vec<u8>, String>(reply)
            } else {
                let socket = tokio::net::UdpSocket::bind(local)
                    .await
                    .map_err(|e| e.to_string())?;
                socket.connect(server).await.map_err(|e| e.to_string())?;
                socket.send(&wire).await.map_err(|e| e.to_string())?;
                let mut buffer = vec![0u8; 4096];
                loop {
                    let len = socket.recv(&mut buffer).await.map_err(|e| e.to_string())?;
                    if len >= 2 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
                        return Ok(buffer[..len].to_vec());
                    }
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(2), exchange).await {
            Ok(Ok(reply)) => match Message::from_vec(&reply) {
                Ok(reply) if reply.response_code() == ResponseCode::ServFail => {
                    last = "SERVFAIL".into();
                }
                Ok(reply) => return Ok(reply.response_code()),
                Err(e) => last = format!("unparsable reply: {e}"),
            },
            Ok(Err(e)) => last = e,
            Err(_) => last = "no answer within 2 s".into(),
        }
    }
    Err(format!("no usable answer: {last}"))
}

// ---------------------------------------------------------------------------
// The test

fn env_number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| {
            let v = v.trim();
            v.strip_prefix("0x")
                .map_or_else(|| v.parse().ok(), |hex| u64::from_str_radix(hex, 16).ok())
        })
        .unwrap_or(default)
}

fn endpoint(address: Ipv4Addr) -> Endpoint {
    // Both sources and the server's address are on lo: in named's
    // localhost and localnets.
    Endpoint {
        address: IpAddr::V4(address),
        localhost: true,
        localnets: true,
        geoip: false,
    }
}

/// The constructs each run must have tried (in configurations named
/// loaded), by a piece of their text.
const CONSTRUCTS: &[&str] = &[
    "match-clients",
    "match-destinations",
    "key \"vk",
    "acl \"",
    "!",
    "{ {",
    "LAN",
    "localhost",
    "localnets",
    "none",
    "key k",
    "allow-update",
    "allow-query",
    "update-policy local",
    "update-policy {",
    "grant ",
    "deny ",
    "grant * ",
    "grant *.",
    " name ",
    " subdomain ",
    " zonesub",
    " wildcard ",
    " self ",
    " selfsub ",
    " selfwild ",
    " krb5-self ",
    " krb5-selfsub ",
    " krb5-subdomain ",
    " krb5-subdomain-self-rhs ",
    " ms-self ",
    " ms-selfsub ",
    " ms-subdomain ",
    " ms-subdomain-self-rhs ",
    " tcp-self ",
    " 6to4-self ",
    " external ",
    " SRV",
    " NS",
    " CNAME",
    " DNAME",
    " ANY",
    "\\122",
    "Z1.TEST",
    "view \"v3\"",
];

/// What went wrong with one configuration.
struct Disagreement {
    index: usize,
    text: String,
    problems: Vec<String>,
}

/// What named did with one configuration, beside disagreeing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loaded {
    /// Both named and kmsdns load it.
    Both,
    /// Both refuse it.
    Neither,
    /// They differ (a problem is recorded).
    Differ,
}

/// A live named and what is needed to question it.
struct Bench {
    live: Live,
    runtime: tokio::runtime::Runtime,
    signers: Vec<String>,
    keys: HashMap<String, Vec<u8>>,
    requests: usize,
    accepted: usize,
    verdicts: HashMap<String, usize>,
}

impl Bench {
    fn start() -> Bench {
        let mut signers: Vec<String> = TOP_KEYS.iter().map(|k| k.to_string()).collect();
        signers.push(RNDC_KEY.into());
        signers.extend(VIEW_KEYS.iter().map(|k| k.to_string()));
        signers.push("local-ddns".into());
        Bench {
            live: Live::start(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}")),
            signers,
            keys: HashMap::new(),
            requests: 0,
            accepted: 0,
            verdicts: HashMap::new(),
        }
    }

    /// Loads `text` into named, sends every probe, and compares named's
    /// answers and kmsdns's decisions and verdicts; the problems found.
    fn compare(&mut self, text: &str, views: &[String]) -> (Loaded, Vec<String>) {
        self.live.zone_files(views);
        let path = self.live.path().join("named.conf");
        let mut problems = Vec::new();
        let named = self.live.load(text);
        let conf = match NamedConf::parse_str(&path, text) {
            Ok(conf) => conf,
            Err(e) => {
                problems.push(format!("kmsdns cannot read it: {e}"));
                return (Loaded::Differ, problems);
            }
        };
        match (&named, conf.loads()) {
            (Ok(()), true) => {}
            (Err(_), false) => return (Loaded::Neither, problems),
            (Ok(()), false) => {
                problems.push(format!(
                    "named loads it, kmsdns says it would not: {:#?}",
                    conf.rejections
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                ));
                return (Loaded::Differ, problems);
            }
            (Err(why), true) => {
                problems.push(format!("named refuses it, kmsdns says it loads:\n{why}"));
                return (Loaded::Differ, problems);
            }
        }
        // The session key of this named (it is written at start).
        if !self.keys.contains_key("local-ddns") {
            let key =
                kmsdns::config::key::load_key_file(&self.live.path().join("session.key"), None)
                    .unwrap_or_else(|e| panic!("session key: {e}"));
            self.keys
                .insert("local-ddns".into(), key.secret.expose().to_vec());
        }
        let server = Server::new(&conf);
        let all = probes(&self.signers);
        let address = self.live.server();
        let keys = &self.keys;
        let answers: Vec<Result<ResponseCode, String>> = self.runtime.block_on(async {
            stream::iter(all.iter())
                .map(|probe| send(address, probe, keys))
                .buffered(32)
                .collect()
                .await
        });
        let mut observed: Vec<(Probe, bool, Option<String>)> = Vec::new();
        for (probe, answer) in all.iter().zip(answers) {
            self.requests += 1;
            let answer = match answer {
                Ok(rcode) => rcode,
                Err(e) => {
                    problems.push(format!("{probe:?}: {e}"));
                    continue;
                }
            };
            let named_accepts = answer == ResponseCode::NXDomain;
            self.accepted += usize::from(named_accepts);
            let decision = server.decide(&UpdateRequest {
                source: endpoint(probe.source),
                destination: endpoint(SERVER),
                signer: probe.signer.clone(),
                tcp: probe.tcp,
                zone: probe.zone.into(),
                name: probe.owner.clone(),
                rtype: type_text(probe.rtype).into(),
                target: Some("kms.invalid.".into()),
            });
            if decision.accepted() != named_accepts {
                problems.push(format!(
                    "{} {} {} from {}{} signed by {}: named answers {answer}, kmsdns decides {:?} in view {:?}",
                    if named_accepts { "ACCEPTED" } else { "REFUSED" },
                    type_text(probe.rtype),
                    probe.owner,
                    probe.source,
                    if probe.tcp { " over TCP" } else { "" },
                    probe.signer.as_deref().unwrap_or("nobody"),
                    decision.outcome,
                    decision.view,
                ));
            }
            observed.push((probe.clone(), named_accepts, decision.view));
        }
        // The verdicts: what named let through, per zone of each view.
        let domains: Vec<&str> = DOMAINS.iter().map(|(_, d)| *d).collect();
        for audit in audit_domains(&conf, &domains) {
            let view = audit.view.clone().unwrap_or_else(|| "_default".into());
            if audit.zone.is_none() {
                continue;
            }
            for (vlmcs, access) in &audit.access {
                *self
                    .verdicts
                    .entry(access.verdict().to_string())
                    .or_default() += 1;
                let domain = vlmcs
                    .trim_start_matches("_vlmcs._tcp.")
                    .trim_end_matches('.');
                let Some((zone, _)) = DOMAINS.iter().find(|(_, d)| *d == domain) else {
                    continue;
                };
                // Whether named let `signer` through, from `source` or from
                // either, for a request this view takes.
                let through = |signer: Option<&str>, source: Option<Ipv4Addr>| {
                    observed.iter().any(|(p, ok, v)| {
                        *ok && p.zone == *zone
                            && p.redirects
                            && v.as_deref() == Some(view.as_str())
                            && p.signer.as_deref() == signer
                            && source.is_none_or(|s| p.source == s)
                    })
                };
                let mut who: Vec<(String, Option<&str>, Reach)> = vec![(
                    "unsigned requests".into(),
                    None,
                    access.unsigned.unwrap_or(Reach::Nobody),
                )];
                for signer in &self.signers {
                    let reach = access
                        .keys
                        .iter()
                        .find(|(k, _)| k.trim_end_matches('.').eq_ignore_ascii_case(signer))
                        .map_or(Reach::Nobody, |(_, r)| *r);
                    who.push((
                        format!("requests signed with {signer}"),
                        Some(signer.as_str()),
                        reach,
                    ));
                }
                for (label, signer, reach) in who {
                    let any = through(signer, None);
                    let both = SOURCES.iter().all(|s| through(signer, Some(*s)));
                    // "Some": from some addresses, which need not be ours.
                    let wrong = match reach {
                        Reach::Nobody => any,
                        Reach::Everyone => !both,
                        Reach::Some => false,
                    };
                    if wrong {
                        problems.push(format!(
                            "verdict on {vlmcs} in view {view}: kmsdns says {label} get through from {reach:?}, named let them through from {}",
                            if both {
                                "both our addresses"
                            } else if any {
                                "one of our addresses"
                            } else {
                                "neither of our addresses"
                            }
                        ));
                    }
                }
            }
        }
        let loaded = if problems.is_empty() {
            Loaded::Both
        } else {
            Loaded::Differ
        };
        (loaded, problems)
    }

    /// Fails with the configurations that disagree.
    fn fail(self, what: &str, disagreements: &[Disagreement]) -> ! {
        let kept = self.live.dir.keep();
        let mut report = format!(
            "{} {what} disagree (files in {}):\n",
            disagreements.len(),
            kept.display()
        );
        for d in disagreements.iter().take(5) {
            let _ = writeln!(
                report,
                "\n=== configuration {} ===\n{}\n--- {} problem(s):",
                d.index,
                d.text,
                d.problems.len()
            );
            for p in d.problems.iter().take(12) {
                let _ = writeln!(report, "  {p}");
            }
        }
        panic!("{report}");
    }
}

#[test]
fn static_audit_agrees_with_a_live_named() {
    let configs = env_number("KMSDNS_DIFFERENTIAL_CONFIGS", DEFAULT_CONFIGS as u64) as usize;
    let seed = env_number("KMSDNS_DIFFERENTIAL_SEED", 0x1818_2026_d1ff);
    let started = Instant::now();
    let mut bench = Bench::start();
    let mut disagreements: Vec<Disagreement> = Vec::new();
    let mut loaded = 0usize;
    let mut refused = 0usize;
    let mut tried: HashMap<&str, usize> = HashMap::new();
    for index in 0..configs {
        let mut generator = Generator {
            rng: Rng::new(seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            acls: Vec::new(),
            view_keys: Vec::new(),
        };
        let generated = generator.generate(&bench.live.infra);
        let (outcome, problems) = bench.compare(&generated.text, &generated.views);
        match outcome {
            Loaded::Both => {
                loaded += 1;
                for construct in CONSTRUCTS {
                    if generated.text.contains(construct) {
                        *tried.entry(construct).or_default() += 1;
                    }
                }
            }
            Loaded::Neither => refused += 1,
            Loaded::Differ => disagreements.push(Disagreement {
                index,
                text: generated.text,
                problems,
            }),
        }
    }
    eprintln!(
        "differential: {configs} configurations (seed {seed:#x}): {loaded} loaded, {refused} refused by both; {} requests, {} accepted; verdicts {:?}; {:.1} s",
        bench.requests,
        bench.accepted,
        bench.verdicts,
        started.elapsed().as_secs_f64()
    );
    if !disagreements.is_empty() {
        let what = format!(
            "of {configs} configurations (seed {seed:#x}: KMSDNS_DIFFERENTIAL_SEED={seed:#x} replays them)"
        );
        bench.fail(&what, &disagreements);
    }
    assert!(
        loaded >= configs / 2,
        "too few configurations loaded: {loaded} of {configs}"
    );
    // Every construct was tried, and named both took and refused some.
    if configs >= 200 {
        let missing: Vec<&&str> = CONSTRUCTS
            .iter()
            .filter(|c| tried.get(**c).copied().unwrap_or(0) < 3)
            .collect();
        assert!(missing.is_empty(), "constructs not tried: {missing:?}");
        assert!(refused >= 3, "only {refused} configurations refused");
        for verdict in [
            "anyone",
            "some addresses, unsigned",
            "key holders",
            "nobody",
        ] {
            assert!(
                bench.verdicts.get(verdict).copied().unwrap_or(0) >= 3,
                "verdict {verdict} seen too rarely: {:?}",
                bench.verdicts
            );
        }
    }
}

/// The six verdicts issue 18 found wrong, and its parsing cases, each
/// against named: its answers, kmsdns's decisions, and the verdict kmsdns
/// gives for `_vlmcs._tcp.z1.test` (in the first view that holds it).
#[test]
fn issue_18_cases_agree_with_a_live_named() {
    const Z2: &str = "zone \"z2.test\" { type primary; file \"VIEW-z2.test.db\"; };";
    let zone = |clause: &str| {
        format!(
            "zone \"z1.test\" {{ type primary; file \"_default-z1.test.db\"; {clause} }};\n{}",
            Z2.replace("VIEW", "_default")
        )
    };
    let view = |name: &str, head: &str, clause: &str| {
        format!(
            "view \"{name}\" {{ {head}\n zone \"z1.test\" {{ type primary; file \"{name}-z1.test.db\"; {clause} }}; {} }};\n",
            Z2.replace("VIEW", name)
        )
    };
    // (what, configuration after the keys, verdict, keys that get through)
    let cases: Vec<(&str, String, Option<&str>, Vec<&str>)> = vec![
        ("D1 ACL names ignore case", format!("acl Open {{ any; }};\n{}", zone("allow-update { OPEN; };")), Some("anyone"), vec![]),
        ("D2 !none is any", zone("allow-update { !none; };"), Some("anyone"), vec![]),
        ("D3 none then any is nobody", zone("allow-update { none; any; };"), Some("nobody"), vec![]),
        (
            "D4 a view reached with a key only",
            format!(
                "{}{}",
                view("v1", "key \"vk1\" { algorithm hmac-sha256; secret \"a21zZG5zLWRpZmZlcmVudGlhbC12azE=\"; }; match-clients { key vk1; };", "allow-update { any; };"),
                view("v2", "", "")
            ),
            Some("key holders"),
            vec!["vk1"],
        ),
        (
            "D4 a view limited to an address",
            format!(
                "{}{}",
                view("v1", "match-clients { 127.53.18.2; };", "allow-update { any; };"),
                view("v2", "", "")
            ),
            Some("some addresses, unsigned"),
            vec!["k1", "k2", "K3", "_vlmcs._tcp.z1.test", "rndc-key", "local-ddns"],
        ),
        (
            "D5 * is every key named knows",
            zone("update-policy { grant * name _vlmcs._tcp.z1.test. SRV; };"),
            Some("key holders"),
            // The rndc key is a key statement like the others.
            vec!["rndc-key", "k1", "k2", "K3", "_vlmcs._tcp.z1.test", "local-ddns"],
        ),
        (
            "D6 NS, DNAME and CNAME redirect",
            zone("update-policy { grant k1 name _tcp.z1.test. DNAME; grant k2 subdomain z1.test. NS; grant K3 name _vlmcs._tcp.z1.test. CNAME; };"),
            Some("key holders"),
            vec!["k1", "k2", "K3"],
        ),
        ("escaped zone name", format!("zone \"\\1221.test\" {{ type primary; file \"_default-z1.test.db\"; allow-update {{ any; }}; }};\n{}", Z2.replace("VIEW", "_default")), Some("anyone"), vec![]),
        (
            // named opens the module (a dyndb one would have to exist);
            // its parameters are bracketed text, as dyndb's are.
            "plugin parameters as free text",
            format!(
                "plugin query \"filter-aaaa.so\" {{ filter-aaaa-on-v4 yes; }};\n{}",
                zone("allow-update { key k1; };")
            ),
            Some("key holders"),
            vec!["k1"],
        ),
        ("duplicate zone", format!("{}zone \"Z1.test.\" {{ type primary; file \"dup-z1.db\"; }};\n", zone("")), None, vec![]),
        ("duplicate update-policy", zone("update-policy { grant k1 zonesub ANY; }; update-policy { grant k1 zonesub ANY; };"), None, vec![]),
        ("undefined ACL", zone("allow-update { nosuch; };"), None, vec![]),
        ("byte order mark", format!("\u{feff}{}", zone("")), None, vec![]),
        ("a 2,001-deep ACL chain", {
            let mut text = String::new();
            for i in 0..2001 {
                let _ = writeln!(text, "acl a{i} {{ a{}; }};", i + 1);
            }
            text.push_str("acl a2001 { any; };\n");
            text.push_str(&zone("allow-update { a0; };"));
            text
        }, Some("anyone"), vec![]),
    ];
    let mut bench = Bench::start();
    let mut disagreements = Vec::new();
    for (index, (what, body, verdict, keys)) in cases.into_iter().enumerate() {
        let mut text = bench.live.infra.replace("    # more options\n", "");
        let bom = body.starts_with('\u{feff}');
        for key in TOP_KEYS {
            text.push_str(&key_statement(key));
        }
        text.push_str(body.trim_start_matches('\u{feff}'));
        if bom {
            text.insert(0, '\u{feff}');
        }
        let views = vec!["_default".to_string(), "v1".into(), "v2".into()];
        let (loaded, mut problems) = bench.compare(&text, &views);
        match (loaded, verdict) {
            (Loaded::Both, Some(expected)) => {
                let conf = NamedConf::parse_str(&bench.live.path().join("named.conf"), &text)
                    .unwrap_or_else(|e| panic!("{e}"));
                let audit = audit_domains(&conf, &["z1.test"])
                    .into_iter()
                    .find(|a| !a.access.is_empty())
                    .unwrap_or_else(|| panic!("{what}: no verdict"));
                let access = &audit.access[0].1;
                // Which keys, where only key holders get through.
                let keys_differ = expected == "key holders" && access.key_names() != keys;
                if access.verdict().to_string() != expected || keys_differ {
                    problems.push(format!(
                        "{what}: kmsdns says {} ({:?}), expected {expected} ({keys:?})",
                        access.verdict(),
                        access.key_names()
                    ));
                }
            }
            (Loaded::Neither, None) => {}
            (Loaded::Differ, _) => {}
            (loaded, expected) => problems.push(format!(
                "{what}: {loaded:?}, expected a verdict of {expected:?}"
            )),
        }
        if !problems.is_empty() {
            disagreements.push(Disagreement {
                index,
                text,
                problems,
            });
        }
    }
    if !disagreements.is_empty() {
        bench.fail("issue 18 cases", &disagreements);
    }
}
