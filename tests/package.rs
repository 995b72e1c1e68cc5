//! The Debian package (`packaging/build-deb.sh`): built from this build's
//! binary with dpkg-deb, then unpacked (never installed here: `.ci/run`
//! installs and removes it) and checked: its control fields, every file it
//! must carry, the binary, man pages and completions that work, and an
//! example configuration kmsdns accepts.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::local::tool;
use common::run::Kmsdns;

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the tool runs");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn the_debian_package_carries_everything_and_works_unpacked() {
    let dpkg_deb = tool("dpkg-deb", "dpkg");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = run(Command::new(root.join("packaging/build-deb.sh"))
        .arg(env!("CARGO_BIN_EXE_kmsdns"))
        .arg(dir.path().join("out")));
    let deb = PathBuf::from(built.trim());
    assert!(deb.is_file(), "{built}");

    let info = run(Command::new(&dpkg_deb).args(["--field"]).arg(&deb));
    for field in [
        "Package: kmsdns",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
        "Depends: libc6, libgcc-s1, adduser",
    ] {
        assert!(info.lines().any(|l| l == field), "{field} missing:\n{info}");
    }

    let unpacked = dir.path().join("root");
    run(Command::new(&dpkg_deb).arg("-x").arg(&deb).arg(&unpacked));
    let files = [
        "usr/bin/kmsdns",
        "usr/share/man/man1/kmsdns.1.gz",
        "usr/share/man/man1/kmsdns-audit.1.gz",
        "usr/share/bash-completion/completions/kmsdns",
        "usr/share/zsh/vendor-completions/_kmsdns",
        "usr/share/fish/vendor_completions.d/kmsdns.fish",
        "usr/share/doc/kmsdns/examples/kmsdns.toml",
        "usr/share/doc/kmsdns/copyright",
        "usr/share/doc/kmsdns/contrib/nagios/kmsdns.cfg",
        "usr/share/doc/kmsdns/contrib/prometheus/kmsdns.rules.yml",
        "lib/systemd/system/kmsdns-audit.service",
        "lib/systemd/system/kmsdns-audit.timer",
    ];
    for file in files {
        let path = unpacked.join(file);
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .len();
        assert!(size > 0, "{file} is empty");
    }
    // The binary runs, and names the package's version.
    let version = run(Command::new(unpacked.join("usr/bin/kmsdns")).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("kmsdns {}", env!("CARGO_PKG_VERSION"))
    );
    // The man page renders.
    let page = run(Command::new(tool("man", "man-db"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .arg("-l")
        .arg(unpacked.join("usr/share/man/man1/kmsdns.1.gz")));
    assert!(page.contains("NAME") && page.contains("kmsdns"), "{page}");
    // The bash completion completes kmsdns's commands.
    let bash =
        std::fs::read_to_string(unpacked.join("usr/share/bash-completion/completions/kmsdns"))
            .expect("bash completion");
    assert!(
        bash.contains("complete -F _kmsdns") && bash.contains("audit"),
        "{bash}"
    );
    // The example configuration is one kmsdns accepts (`bind` reads it
    // without the network).
    let example = unpacked.join("usr/share/doc/kmsdns/examples/kmsdns.toml");
    let bind = Kmsdns::new()
        .args(["-c", example.to_str().expect("UTF-8"), "bind", "--out"])
        .arg(dir.path().join("bind"))
        .run();
    assert_eq!(bind.status, 0, "{bind}");
    // The maintainer scripts are valid sh.
    let control = dir.path().join("control");
    run(Command::new(&dpkg_deb).arg("-e").arg(&deb).arg(&control));
    for script in ["postinst", "postrm"] {
        run(Command::new("sh").arg("-n").arg(control.join(script)));
    }
}
