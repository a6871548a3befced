#!/bin/sh
# Install what echod needs to build, test and package, from Debian 12.
# Fast when everything is already there; otherwise one apt-get run.
set -eu

BUILD="build-essential cmake pkg-config libev-dev libsystemd-dev libcmocka-dev libsodium-dev libsqlite3-dev liburing-dev"
TEST="python3 systemd systemd-container socat iproute2 nftables nmap python3-uvloop nodejs procps"
TEST="$TEST ndiff libxml2-utils" # echoscan tests: ndiff and xmllint check its nmap XML
PACKAGE="lintian rpm rpmlint dpkg-dev file"

missing=""
for pkg in $BUILD $TEST $PACKAGE; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
        echo "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
