#!/bin/sh
# Install what echod needs from Debian 12, by purpose:
#   ./scripts/deps.sh [build] [test] [package] [fresh]     (no argument: all of them)
# build: compile and run the programs; test: the test suite (also needs
# build); package: the .deb and .rpm and their linters; fresh: the fresh-
# machine test (a new Debian 12 root made with mmdebstrap).
# Fast when everything is already there; otherwise one apt-get run.
# Each list is what a root made with "mmdebstrap --variant=important bookworm"
# lacks (the fresh-machine test, fresh.readme_test, proves it), so recommends
# are never relied on: a package a test needs is named here.
set -eu

BUILD="build-essential cmake pkg-config libev-dev libsystemd-dev libsodium-dev libsqlite3-dev liburing-dev libhiredis-dev libssl-dev"
TEST="libcmocka-dev python3 systemd systemd-container socat iproute2 nftables nmap python3-uvloop nodejs procps"
TEST="$TEST ndiff libxml2-utils" # echoscan tests: ndiff and xmllint check its nmap XML
# libFuzzer targets (label fuzz): clang-14 only recommends its runtimes
# (libclang_rt.fuzzer, asan, ubsan), and we install without recommends.
TEST="$TEST clang libclang-rt-14-dev bash-completion" # and the completion tests
TEST="$TEST redis-server" # the multi-node chat tests start their own Redis
TEST="$TEST openssl" # TLS tests: openssl req for throwaway certificates, s_client as a client
TEST="$TEST haproxy stunnel4" # the PROXY protocol tests put their own balancer in front (issue 19)
PACKAGE="lintian rpm rpmlint dpkg-dev file elfutils"
FRESH="mmdebstrap git ca-certificates systemd-container"

[ $# -gt 0 ] || set -- build test package fresh
wanted=""
for set in "$@"; do
        case $set in
        build) wanted="$wanted $BUILD" ;;
        test) wanted="$wanted $BUILD $TEST" ;;
        package) wanted="$wanted $BUILD $PACKAGE" ;;
        fresh) wanted="$wanted $FRESH" ;;
        *) echo "deps.sh: unknown set '$set' (build, test, package or fresh)" >&2; exit 2 ;;
        esac
done

missing=""
for pkg in $wanted; do
        case " $missing " in *" $pkg "*) continue ;; esac
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
        echo "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
