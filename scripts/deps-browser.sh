#!/usr/bin/env bash
# deps-browser.sh: installs Debian's chromium for the browser tests in tests/browser (driven by
# chromedp), without the recommended packages the tests do not use. Idempotent and quiet when a
# browser is already there; the package index is refreshed only when the first install attempt
# fails.
#
# Installing needs root, or sudo that asks no password. Without either, outside CI, it says what
# to run and exits 0: the browser tests then skip, each saying why, and the rest of `make test`
# runs. In CI (CI=true) a browser that cannot be installed fails, since there the browser tests
# must run.
set -euo pipefail

for name in chromium chromium-browser google-chrome; do
	if command -v "$name" >/dev/null 2>&1; then
		exit 0
	fi
done
if [ -n "${KANNA_CHROMIUM:-}" ] && [ -x "$KANNA_CHROMIUM" ]; then
	exit 0
fi

packages=(chromium)
how="apt-get install -y --no-install-recommends ${packages[*]}"

# cannot explains why chromium is not installed: an error in CI, a note that the browser tests
# will skip elsewhere.
cannot() {
	if [ "${CI:-}" = "true" ]; then
		echo "deps-browser: $1; CI=true, so the browser tests must run: install chromium ($how)" >&2
		exit 1
	fi
	echo "deps-browser: $1. The browser tests in tests/browser will skip. To run them, install" \
		"chromium as root ($how, or sudo $how), or set KANNA_CHROMIUM to a Chrome or Chromium binary." >&2
	exit 0
}

if ! command -v apt-get >/dev/null 2>&1; then
	cannot "no chromium on PATH and no apt-get to install it"
fi

source "$(dirname "$0")/apt.sh"
if ! apt_sudo; then
	cannot "no chromium on PATH, and installing it needs root: $apt_why"
fi

echo "deps-browser: installing Debian's chromium for the browser tests (once)" >&2
if ! apt_install deps-browser "${packages[@]}"; then
	cannot "could not install chromium (apt-get's output is above)"
fi
