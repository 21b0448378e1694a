#!/usr/bin/env bash
# deps-netfault.sh: installs what the real-network tests in tests/netfault use to cut links:
# iproute2 (ip: namespaces, veth pairs, a bridge; tc: the qdiscs of one-way cuts) and nftables
# (nft: a partition inside the bridge), from Debian with --no-install-recommends. Idempotent and
# quiet when both are there. Only root can use them, so a non-root run installs nothing and the
# tests skip, saying why; the package index is refreshed only when the first install fails.
set -euo pipefail

missing=()
command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
if [ ${#missing[@]} -eq 0 ] || [ "$(id -u)" -ne 0 ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps-netfault: ${missing[*]} missing and no apt-get; install them to run tests/netfault" >&2
	exit 1
fi

source "$(dirname "$0")/apt.sh"
sudo=()
echo "deps-netfault: installing Debian's ${missing[*]} for the real-network tests (once)" >&2
if ! apt_install deps-netfault "${missing[@]}"; then
	echo "deps-netfault: could not install ${missing[*]}; tests/netfault needs them" >&2
	exit 1
fi
