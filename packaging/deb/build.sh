#!/usr/bin/env bash
# Builds the kgent Debian package with dpkg-deb: kgentd (/usr/sbin) and kgentctl (/usr/bin),
# the systemd units, sysusers.d and tmpfiles.d snippets, /etc/kgent/kgentd.toml (a conffile:
# every key at its default, commented out), man pages and bash/zsh/fish completions generated
# from the binaries themselves, and the README. The maintainer scripts are in this directory.
#
#   packaging/deb/build.sh                      release build, package in target/debian/
#   packaging/deb/build.sh --bin-dir DIR        package binaries built already (e.g. target/debug)
#   packaging/deb/build.sh --out DIR --compress gzip|xz|none
#
# The model is not in the package: `bash setup.sh --no-build` fetches it (see README).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin_dir=""
out="$target/debian"
compress=xz

die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --compress) compress=$2; shift 2 ;;
        *) die "unknown argument $1 (expected --bin-dir DIR, --out DIR, --compress gzip|xz|none)" ;;
    esac
done
case "$compress" in xz|gzip|none) ;; *) die "--compress $compress: expected gzip, xz or none" ;; esac
if [ -z "$bin_dir" ]; then
    (cd "$root" && cargo build --release -p kgentd -p kgentctl)
    bin_dir="$target/release"
fi
for b in kgentd kgentctl; do [ -x "$bin_dir/$b" ] || die "$bin_dir/$b is missing"; done

version=$("$bin_dir/kgentctl" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# dpkg-shlibdeps reads debian/control and wants the files under debian/<package>/.
mkdir -p "$work/debian"
printf 'Source: kgent\n\nPackage: kgent\nArchitecture: any\n' > "$work/debian/control"
pkg="$work/debian/kgent"

install -d "$pkg/usr/sbin" "$pkg/usr/bin"
strip --strip-debug -o "$pkg/usr/sbin/kgentd" "$bin_dir/kgentd"
strip --strip-debug -o "$pkg/usr/bin/kgentctl" "$bin_dir/kgentctl"
chmod 0755 "$pkg/usr/sbin/kgentd" "$pkg/usr/bin/kgentctl"

# Units: the repository's, with the packaged binary's path.
install -d "$pkg/lib/systemd/system" "$pkg/usr/lib/sysusers.d" "$pkg/usr/lib/tmpfiles.d"
sed 's|^ExecStart=/usr/local/bin/kgentd|ExecStart=/usr/sbin/kgentd|' "$root/systemd/kgentd.service" \
    > "$pkg/lib/systemd/system/kgentd.service"
grep -q '^ExecStart=/usr/sbin/kgentd$' "$pkg/lib/systemd/system/kgentd.service" \
    || die "systemd/kgentd.service: ExecStart is not /usr/local/bin/kgentd any more; update build.sh"
install -m 0644 "$root/systemd/kgentd.socket" "$pkg/lib/systemd/system/kgentd.socket"
chmod 0644 "$pkg/lib/systemd/system/kgentd.service"
install -m 0644 "$root/systemd/kgent.sysusers" "$pkg/usr/lib/sysusers.d/kgent.conf"
install -m 0644 "$root/systemd/kgent.tmpfiles" "$pkg/usr/lib/tmpfiles.d/kgent.conf"

# The configuration: every key at its default, commented out, under its table.
install -d "$pkg/etc/kgent"
{
    echo "# kgentd configuration. Every key has a default (shown commented out); uncomment and"
    echo "# change what you need. \`kgentd --print-config\` prints the effective configuration."
    echo "# kgentd reads this file at start: sudo systemctl restart kgentd."
    echo
    "$bin_dir/kgentd" --config /dev/null --print-config \
        | sed -e '/^\[/!{/^$/!s/^/# /}'
} > "$pkg/etc/kgent/kgentd.toml"
"$bin_dir/kgentd" --config "$pkg/etc/kgent/kgentd.toml" --print-config >/dev/null \
    || die "the generated kgentd.toml does not read back"
chmod 0644 "$pkg/etc/kgent/kgentd.toml"

# Man pages and completions, from the binaries' own command-line definitions.
"$bin_dir/kgentctl" generate man "$pkg/usr/share/man/man1" >/dev/null
"$bin_dir/kgentd" generate man "$pkg/usr/share/man/man8" >/dev/null
gzip -9n "$pkg"/usr/share/man/man1/*.1 "$pkg"/usr/share/man/man8/*.8
install -d "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
    "$pkg/usr/share/fish/vendor_completions.d"
for b in kgentd kgentctl; do
    "$bin_dir/$b" generate completions bash > "$pkg/usr/share/bash-completion/completions/$b"
    "$bin_dir/$b" generate completions zsh > "$pkg/usr/share/zsh/vendor-completions/_$b"
    "$bin_dir/$b" generate completions fish > "$pkg/usr/share/fish/vendor_completions.d/$b.fish"
done

install -d "$pkg/usr/share/doc/kgent"
install -m 0644 "$root/README.md" "$pkg/usr/share/doc/kgent/README.md"
install -d "$pkg/usr/share/doc/kgent/examples"
install -m 0644 "$root/systemd/kgentd-network.conf" "$pkg/usr/share/doc/kgent/examples/kgentd-network.conf"
cat > "$pkg/usr/share/doc/kgent/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kgent

Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
find "$pkg/usr/share" -type f -exec chmod 0644 {} +

install -d "$pkg/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$pkg/DEBIAN/$s"; done
echo /etc/kgent/kgentd.toml > "$pkg/DEBIAN/conffiles"
shlibs=$(cd "$work" && dpkg-shlibdeps -O debian/kgent/usr/sbin/kgentd debian/kgent/usr/bin/kgentctl \
    | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: kgent
Version: $version
Architecture: $arch
Maintainer: kgent developers <kgent@localhost>
Installed-Size: $size
Depends: $shlibs, bpftrace, clang, llvm, bpftool, libbpf-dev, libc6-dev, python3
Section: admin
Priority: optional
Description: plain-English requests to eBPF programs verified on this host
 kgentd (root, socket-activated through kgentd.socket) reads this host's attach
 points, asks a language model for a bpftrace or C program, checks every
 candidate against the live kernel (catalog, bpftrace and the in-kernel
 verifier, a smoke run) and runs the approved ones. kgentctl is its client:
 ask, run, history, host, probes, jobs. Members of group kgent may use it.
 .
 The embedded model is not included: fetch it with setup.sh from the source
 tree, or point model.path (or the openai backend) at one.
CONTROL

mkdir -p "$out"
deb="$out/kgent_${version}_${arch}.deb"
case "$compress" in
    xz) dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null ;;
    gzip) dpkg-deb --root-owner-group -Zgzip -z1 --build "$pkg" "$deb" >/dev/null ;;
    none) dpkg-deb --root-owner-group -Znone --build "$pkg" "$deb" >/dev/null ;;
esac
echo "$deb"
