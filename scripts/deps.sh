#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine with Go. Idempotent and quiet when all is there.
set -euo pipefail
go mod download
