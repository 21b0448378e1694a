#!/usr/bin/env bash
# deps-proto.sh: installs protoc, the Protocol Buffers compiler that scripts/proto.sh runs to turn
# proto/kanna/v1/*.proto into Go. Only protoc comes from the system (Debian's protobuf-compiler;
# Kanna's .proto files import no well-known types, so libprotobuf-dev is not needed); the Go
# plugins protoc-gen-go and protoc-gen-go-grpc are pinned as `tool` directives in go.mod and built
# by scripts/proto.sh.
#
# Idempotent and quiet when protoc is already there. The package index is refreshed only when the
# first install attempt fails, so a machine with a fresh index makes no extra round trip.
#
# Installing needs root, or sudo that asks no password. Without either, outside CI, it says what
# to run and exits 0: the test of the generated code (proto/kannapb) then skips, saying why, and
# `make proto` and `make proto-check` stop, saying so. In CI (CI=true) a protoc that cannot be
# installed fails.
set -euo pipefail

if command -v protoc >/dev/null 2>&1; then
	exit 0
fi

how="apt-get install -y --no-install-recommends protobuf-compiler"

# cannot explains why protoc is not installed: an error in CI or under make proto, a note
# elsewhere.
cannot() {
	if [ "${CI:-}" = "true" ]; then
		echo "deps-proto: $1; install protoc ($how) and put it on PATH" >&2
		exit 1
	fi
	echo "deps-proto: $1. The test of the generated code in proto/kannapb will skip, and make proto" \
		"and make proto-check need it. To run them, install it as root ($how, or sudo $how)." >&2
	exit 0
}

if ! command -v apt-get >/dev/null 2>&1; then
	cannot "protoc is missing and apt-get is not available"
fi

source "$(dirname "$0")/apt.sh"
if ! apt_sudo; then
	cannot "protoc is missing, and installing it needs root: $apt_why"
fi

if ! apt_install deps-proto protobuf-compiler; then
	cannot "could not install protobuf-compiler (apt-get's output is above)"
fi

if ! command -v protoc >/dev/null 2>&1; then
	echo "deps-proto: protobuf-compiler installed but protoc is not on PATH; check the package" >&2
	exit 1
fi
