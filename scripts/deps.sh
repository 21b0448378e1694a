#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine with Go. Idempotent and quiet when all is there.
set -euo pipefail
go mod download
# protoc, for the test that the committed generated code is up to date
bash "$(dirname "$0")/deps-proto.sh"
# chromium, for the browser tests in tests/browser
bash "$(dirname "$0")/deps-browser.sh"
# iproute2 and nftables, for the real-network tests in tests/netfault (as root only)
bash "$(dirname "$0")/deps-netfault.sh"
