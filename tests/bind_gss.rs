//! `kmsdns bind` for `auth = "gss-tsig"` domains: the generated material
//! is real BIND configuration — named-checkconf accepts the stanzas with
//! the `tkey-gssapi-keytab` snippet included inside `options`, and
//! named-checkzone the zones — and a TSIG domain next to them keeps its
//! key grant. Needs the `gssapi` feature (a build without it refuses
//! `auth = "gss-tsig"`), no KDC: named-checkconf does not open the keytab.
#![cfg(feature = "gssapi")]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::run::Kmsdns;

fn tool(name: &str) -> Command {
    let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: apt-get install bind9 bind9-utils"));
    Command::new(found)
}

fn run(mut command: Command) -> (bool, String) {
    let output = command.output().expect("the tool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn check(command: Command) -> String {
    let description = format!("{command:?}");
    let (ok, text) = run(command);
    assert!(ok, "{description} failed:\n{text}");
    text
}

fn key_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/keys/kmsdns-secure.key")
}

/// A keytab with one made-up DNS/ service key, written by ktutil (MIT), or
/// an empty file where ktutil is missing: BIND only opens it at run time.
fn make_keytab(path: &Path) {
    let script = format!(
        "addent -password -p DNS/ns1.corp.example@CORP.EXAMPLE -k 1 -e aes256-cts-hmac-sha1-96\n\
         not-a-real-password\nwkt {}\nquit\n",
        path.display()
    );
    let written = Command::new("ktutil")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())?;
            child.wait()
        })
        .is_ok_and(|status| status.success());
    if !written || !path.is_file() {
        std::fs::write(path, b"").expect("keytab");
    }
}

#[test]
fn gss_material_passes_named_checkconf_and_named_checkzone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let config = d.join("kmsdns.toml");
    std::fs::write(
        &config,
        format!(
            "publish-list = [\"corp.example\", \"branch.corp.example\", \"lab.example\", \"ad.example\", \"secure.example\"]\n\
             [[host]]\nname = \"kms1.corp.example\"\naddresses = [\"192.0.2.10\", \"2001:db8::10\"]\n\
             [domain.\"corp.example\"]\nauth = \"gss-tsig\"\nprincipal = \"host/kms1.corp.example@CORP.EXAMPLE\"\n\
             [domain.\"lab.example\"]\nauth = \"gss-tsig\"\n\
             [domain.\"ad.example\"]\nauth = \"gss-tsig\"\nprincipal = \"KMS1$\"\n\
             [domain.\"secure.example\"]\nkey = \"secure\"\n\
             [tsig-key.secure]\nfile = \"{}\"\n",
            key_file().display()
        ),
    )
    .expect("config");
    let out = d.join("out");
    let zone_dir = d.join("zones");
    std::fs::create_dir_all(&zone_dir).expect("zone dir");
    let run_bind = Kmsdns::new()
        .cwd(d)
        .args(["bind", "-c"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .arg("--zone-dir")
        .arg(&zone_dir)
        .run();
    // A warning (exit 1) is allowed: a fresh checkout's key file is 0644.
    assert!(matches!(run_bind.status, 0 | 1), "{run_bind}");

    let read = |name: &str| {
        std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let corp = read("corp.example.named.conf");
    assert!(
        corp.contains(
            "grant \"host/kms1.corp.example@CORP.EXAMPLE\" name _vlmcs._tcp.branch.corp.example. SRV;"
        ),
        "{corp}"
    );
    assert!(
        corp.contains(
            "grant \"host/kms1.corp.example@CORP.EXAMPLE\" name kms1.corp.example. A AAAA;"
        ),
        "{corp}"
    );
    let lab = read("lab.example.named.conf");
    assert!(
        lab.contains("grant LAB.EXAMPLE krb5-subdomain _vlmcs._tcp.lab.example. SRV;"),
        "{lab}"
    );
    let ad = read("ad.example.named.conf");
    assert!(
        ad.contains("grant \"KMS1$@AD.EXAMPLE\" name _vlmcs._tcp.ad.example. SRV;"),
        "{ad}"
    );
    // The TSIG domain keeps its key grant and no Kerberos material.
    let secure = read("secure.example.named.conf");
    assert!(
        secure.contains("grant kmsdns-secure name _vlmcs._tcp.secure.example. SRV;"),
        "{secure}"
    );
    // Only the statements: the comments name files by path, and the
    // checkout's path may itself hold "gss" (a worktree named so).
    let statements: Vec<&str> = secure
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect();
    assert!(
        !statements
            .iter()
            .any(|line| line.contains("gss") || line.contains("krb5")),
        "{secure}"
    );
    let index = read("kmsdns.named.conf");
    assert!(index.contains("kmsdns.gss-options.conf"), "{index}");
    let options = read("kmsdns.gss-options.conf");
    assert!(
        options.contains("tkey-gssapi-keytab \"/etc/bind/dns.keytab\";"),
        "{options}"
    );

    // Zone files around the generated records.
    for zone in [
        "corp.example",
        "lab.example",
        "ad.example",
        "secure.example",
    ] {
        let fragment = out.join(format!("{zone}.kmsdns.db"));
        let file = zone_dir.join(format!("{zone}.db"));
        std::fs::write(
            &file,
            format!(
                "$ORIGIN {zone}.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\n\
                 ns1 A 192.0.2.1\n$INCLUDE \"{}\"\n",
                fragment.display()
            ),
        )
        .expect("zone file");
        let mut checkzone = tool("named-checkzone");
        checkzone.args(["-i", "local", zone]).arg(&file);
        check(checkzone);
    }

    // named.conf as the administrator writes it: the snippet included
    // inside options (pointed at a keytab made here), the index at the top.
    let keytab = d.join("dns.keytab");
    make_keytab(&keytab);
    let snippet = d.join("gss-options.conf");
    std::fs::write(
        &snippet,
        options.replace("/etc/bind/dns.keytab", &keytab.display().to_string()),
    )
    .expect("snippet");
    let named_conf = |snippet: &Path| {
        format!(
            "options {{\n\tdirectory \"{}\";\n\tinclude \"{}\";\n}};\ninclude \"{}\";\n",
            d.display(),
            snippet.display(),
            out.join("kmsdns.named.conf").display()
        )
    };
    let conf = d.join("named.conf");
    std::fs::write(&conf, named_conf(&snippet)).expect("named.conf");
    let mut checkconf = tool("named-checkconf");
    checkconf.arg("-z").arg(&conf);
    check(checkconf);
    // named-checkconf -p shows the keytab inside options and every grant.
    let mut print = tool("named-checkconf");
    print.arg("-p").arg(&conf);
    let printed = check(print);
    assert!(
        printed.contains(&format!("tkey-gssapi-keytab \"{}\";", keytab.display())),
        "{printed}"
    );
    assert!(printed.contains("krb5-subdomain"), "{printed}");

    // named-checkconf does not open the keytab: the generated default path
    // passes as well, whether or not it exists on this machine (named itself
    // needs the file at run time).
    std::fs::write(&conf, named_conf(&out.join("kmsdns.gss-options.conf"))).expect("named.conf");
    let mut checkconf = tool("named-checkconf");
    checkconf.arg(&conf);
    check(checkconf);

    // At the top level the snippet is an error: it belongs in options.
    std::fs::write(
        &conf,
        format!(
            "include \"{}\";\ninclude \"{}\";\n",
            snippet.display(),
            out.join("kmsdns.named.conf").display()
        ),
    )
    .expect("named.conf");
    let mut misplaced = tool("named-checkconf");
    misplaced.arg(&conf);
    let (ok, text) = run(misplaced);
    assert!(
        !ok,
        "tkey-gssapi-keytab at the top level is accepted:\n{text}"
    );
}
