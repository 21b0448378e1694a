#!/usr/bin/env bash
# deps-browser.sh: installs Debian's chromium for the browser tests in tests/browser (driven by
# chromedp). Idempotent and quiet when a browser is already there; the package index is refreshed
# only when the first install attempt fails.
set -euo pipefail

for name in chromium chromium-browser google-chrome; do
	if command -v "$name" >/dev/null 2>&1; then
		exit 0
	fi
done

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps-browser: no chromium on PATH and no apt-get; install chromium (or set KANNA_CHROMIUM" \
		"to a Chrome/Chromium binary) to run the browser tests" >&2
	exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
run() {
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		return 1
	fi
}
install() { run $sudo apt-get install -y -q chromium; }

echo "deps-browser: installing Debian's chromium for the browser tests (once)" >&2
if ! install; then
	echo "deps-browser: refreshing the package index and retrying" >&2
	if ! run $sudo apt-get update -q || ! install; then
		echo "deps-browser: could not install chromium; the browser tests need it" >&2
		exit 1
	fi
fi
