#!/usr/bin/env bash
# Builds pbx_VERSION_amd64.deb (dpkg-deb) and, where rpmbuild exists, pbx-VERSION.x86_64.rpm
# from already built binaries.
#   packaging/build-packages.sh [BIN_DIR] [OUT_DIR]     (defaults: target/release, target/packages)
# PBX_PACKAGE_FAST=1 compresses lightly (for tests that build packages of debug binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=${1:-target/release}
out_dir=${2:-target/packages}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

# Lays out the installed file tree under $1.
stage() {
    local root=$1
    install -Dm755 "$bin_dir/pbxd" "$root/usr/bin/pbxd"
    install -Dm755 "$bin_dir/pbxctl" "$root/usr/bin/pbxctl"
    install -Dm644 systemd/pbxd.service "$root/lib/systemd/system/pbxd.service"
    install -Dm640 packaging/pbxd.toml "$root/etc/pbx/pbxd.toml"
    install -Dm644 packaging/pbx.sysusers "$root/usr/lib/sysusers.d/pbx.conf"
    install -Dm644 packaging/pbx.tmpfiles "$root/usr/lib/tmpfiles.d/pbx.conf"
    install -Dm644 schemas/tenant.schema.json "$root/usr/share/pbx/schemas/tenant.schema.json"
    install -Dm644 schemas/pbxd.schema.json "$root/usr/share/pbx/schemas/pbxd.schema.json"
    install -Dm644 README.md "$root/usr/share/doc/pbx/README.md"
    mkdir -p "$root/usr/share/doc/pbx/examples"
    cp -r examples/tenants "$root/usr/share/doc/pbx/examples/"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# .deb
deb_root=$work/deb
stage "$deb_root"
mkdir -p "$deb_root/DEBIAN"
install -m755 packaging/postinst packaging/prerm "$deb_root/DEBIAN/"
echo "/etc/pbx/pbxd.toml" > "$deb_root/DEBIAN/conffiles"
cat > "$deb_root/DEBIAN/control" <<CONTROL
Package: pbx
Version: $version
Architecture: amd64
Maintainer: pbx developers <pbx@example.net>
Depends: libc6 (>= 2.36), systemd
Suggests: mariadb-server | postgresql, nftables
Section: net
Priority: optional
Description: multi-tenant IP PBX: pbxd daemon and pbxctl CLI
 SIP registrar and B2BUA with its own media engine, call applications, storage on
 SQLite, MariaDB or PostgreSQL, and git-ops tenant management with pbxctl.
CONTROL
deb_compress=() rpm_compress=()
if [ "${PBX_PACKAGE_FAST:-}" = 1 ]; then
    deb_compress=(-Zgzip -z1) rpm_compress=(--define "_binary_payload w1.gzdio")
fi
dpkg-deb "${deb_compress[@]}" --root-owner-group --build "$deb_root" "$out_dir/pbx_${version}_amd64.deb" >/dev/null
echo "$out_dir/pbx_${version}_amd64.deb"

# .rpm
if command -v rpmbuild >/dev/null; then
    rpm_root=$work/rpm
    stage "$rpm_root/stage"
    mkdir -p "$rpm_root/SPECS"
    sed -e "s/@VERSION@/$version/" packaging/pbx.spec > "$rpm_root/SPECS/pbx.spec"
    rpmbuild --quiet -bb "${rpm_compress[@]}" --define "_topdir $rpm_root" --define "_rpmdir $out_dir" \
        --define "_build_name_fmt %%{NAME}-%%{VERSION}.%%{ARCH}.rpm" \
        --define "staged $rpm_root/stage" --buildroot "$rpm_root/root" "$rpm_root/SPECS/pbx.spec"
    echo "$out_dir/pbx-${version}.x86_64.rpm"
fi
