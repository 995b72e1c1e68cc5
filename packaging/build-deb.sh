#!/usr/bin/env bash
# Builds the Debian package of kmsdns with dpkg-deb, from a built binary:
#
#   packaging/build-deb.sh [BINARY [OUTDIR]]
#
# BINARY defaults to target/release/kmsdns (run `cargo build --release`
# first), OUTDIR to target/debian. Prints the path of the .deb it wrote.
#
# The package holds the binary, the man pages and shell completions that
# the binary generates (`kmsdns man`, `kmsdns completions`), an example
# configuration, the systemd units (not enabled), and contrib/ under
# /usr/share/doc/kmsdns. The binary is one built without the gssapi feature
# (its Depends name no Kerberos library): no GSS-TSIG for Active Directory
# zones. Its postinst creates the system user kmsdns that
# kmsdns-audit.service runs as.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="$(realpath "${1:-$root/target/release/kmsdns}")"
outdir="${2:-$root/target/debian}"
[[ -x $binary ]] || { echo "build-deb: no executable at $binary (cargo build --release)" >&2; exit 1; }

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
arch="$(dpkg --print-architecture)"
name="kmsdns_${version}_${arch}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/$name"

install -D -m 0755 "$binary" "$pkg/usr/bin/kmsdns"
strip --strip-unneeded "$pkg/usr/bin/kmsdns" 2>/dev/null || true

# Man pages: kmsdns(1) and kmsdns-COMMAND(1), compressed as policy wants.
mkdir -p "$pkg/usr/share/man/man1"
"$pkg/usr/bin/kmsdns" man --out "$pkg/usr/share/man/man1"
gzip -9n "$pkg"/usr/share/man/man1/*.1

# Completions, where each shell's package looks for them.
completions() { "$pkg/usr/bin/kmsdns" completions "$1"; }
install -d "$pkg/usr/share/bash-completion/completions" \
  "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d"
completions bash >"$pkg/usr/share/bash-completion/completions/kmsdns"
completions zsh >"$pkg/usr/share/zsh/vendor-completions/_kmsdns"
completions fish >"$pkg/usr/share/fish/vendor_completions.d/kmsdns.fish"

# Documentation, the example configuration and contrib/.
doc="$pkg/usr/share/doc/kmsdns"
install -D -m 0644 "$root/packaging/kmsdns.example.toml" "$doc/examples/kmsdns.toml"
install -D -m 0644 "$root/README.md" "$doc/README.md"
cp -r "$root/contrib" "$doc/contrib"
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kmsdns
License: MIT or Apache-2.0

Files: *
License: MIT or Apache-2.0
COPYRIGHT
install -D -m 0644 "$root/contrib/systemd/kmsdns-audit.service" "$pkg/lib/systemd/system/kmsdns-audit.service"
install -D -m 0644 "$root/contrib/systemd/kmsdns-audit.timer" "$pkg/lib/systemd/system/kmsdns-audit.timer"
install -d -m 0755 "$pkg/etc/kmsdns"
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg/usr/share" "$pkg/lib" -type f -exec chmod 0644 {} +

mkdir -p "$pkg/DEBIAN"
size="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: kmsdns
Version: $version
Architecture: $arch
Maintainer: kmsdns maintainers <kmsdns@localhost>
Installed-Size: $size
Depends: libc6, libgcc-s1, adduser
Recommends: bind9-dnsutils
Suggests: prometheus-node-exporter
Section: net
Priority: optional
Description: publish, check and audit the DNS SRV records of KMS hosts
 kmsdns publishes, checks and removes the _vlmcs._tcp SRV records through
 which Windows machines find their KMS activation hosts, with RFC 2136
 updates signed with TSIG or GSS-TSIG, and audits them from cron, systemd,
 Nagios or Prometheus.
CONTROL
cat >"$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# The user kmsdns-audit.service runs as.
set -e
if [ "$1" = configure ] && ! getent passwd kmsdns >/dev/null; then
  adduser --system --group --no-create-home --home /nonexistent --quiet kmsdns
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
POSTINST
cat >"$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
POSTRM
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/postrm"

mkdir -p "$outdir"
dpkg-deb --root-owner-group --build "$pkg" "$outdir/$name.deb" >/dev/null
echo "$outdir/$name.deb"
