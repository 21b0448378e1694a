# apt.sh: what the deps-*.sh scripts share to install Debian packages for the tests. Sourced, not
# run. apt_sudo finds how this user may install (root, or sudo that asks no password); apt_install
# installs without recommended packages, keeping apt's chatter out of sight unless it fails, and
# refreshes the package index and retries once only when the first attempt fails, so a machine
# with a fresh index makes no extra round trip.

export DEBIAN_FRONTEND=noninteractive
apt_log="$(mktemp)"
trap 'rm -f "$apt_log"' EXIT

# apt_run runs a command with its output in a log, shown only when the command fails.
apt_run() {
	if ! "$@" >"$apt_log" 2>&1; then
		cat "$apt_log" >&2
		return 1
	fi
}

# apt_sudo sets sudo to what installing needs: nothing for root, `sudo -n` for a user whose sudo
# asks no password. Otherwise it sets apt_why to the reason and returns 1.
apt_sudo() {
	sudo=()
	if [ "$(id -u)" -eq 0 ]; then
		return 0
	fi
	if ! command -v sudo >/dev/null 2>&1; then
		apt_why="this user is not root and there is no sudo"
		return 1
	fi
	if ! sudo -n true >/dev/null 2>&1; then
		apt_why="sudo here asks for a password, which make test cannot give"
		return 1
	fi
	sudo=(sudo -n)
}

# apt_install NAME PACKAGE...: installs the packages (as apt_sudo found), saying as NAME when it
# refreshes the index to try again.
apt_install() {
	local name=$1
	shift
	if apt_run "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"; then
		return 0
	fi
	echo "$name: apt-get install $* failed (above); refreshing the package index and retrying" >&2
	apt_run "${sudo[@]}" apt-get update -q && apt_run "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}
