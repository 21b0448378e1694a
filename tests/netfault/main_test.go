// Package netfault tests Kanna through real network faults: real `kanna node` processes of the
// built binary, each in a Linux network namespace of its own, joined by veth pairs to a bridge, and
// cut apart by the kernel rather than by the node itself (server's DropTraffic leaves the TCP and
// HTTP/2 connections underneath healthy, and so hides what a real cut does to them). The rules
// checked are Raft's (paper §5.2 election, §6 of Ongaro's thesis on check-quorum and pre-vote,
// §5.3 log catch-up) and SWIM's (§4.2: a member that stayed reachable is never declared dead), and
// the promise of docs/operations.md that a node and its clients are back within two seconds of a
// heal.
//
// The faults (network_test.go): a link taken down whole (`ip link set … down` on the bridge's
// side of the veth pair); one way only, the node unable to send or unable to receive (a root pfifo
// qdisc of zero length on the sending side of the veth); and a partition in the bridge (an
// nftables bridge-family table dropping frames between two groups of ports). Delay and loss would
// need sch_netem, which not every kernel has (the CI machine's has none); none of these tests use
// it.
//
// The tests need root and iproute2 and nftables (scripts/deps-netfault.sh installs the packages).
// Without them they skip and say why, except under CI=true as root, where skipping would hide a
// broken machine and they fail instead.
//
// This file builds the binary once and decides whether the tests can run.
package netfault

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/kanna-cluster/kanna/internal/kannabin"
)

// kannaBin is the binary TestMain built.
var kannaBin string

func TestMain(m *testing.M) {
	flag.Parse()
	// The scenarios share nothing and most of their time is a cut being waited out, so they all
	// run at once, whatever -parallel says for CPU-bound tests (GOMAXPROCS, two on CI): the
	// package then takes as long as its longest scenario.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(len(scenarios)))
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	bin, dir, err := kannabin.Build("kanna-netfault-bin-", filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "netfault:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kannaBin = bin
	return m.Run()
}

// missingRights says why this machine cannot run real network faults, or "" when it can.
func missingRights() string {
	if runtime.GOOS != "linux" {
		return "they need Linux network namespaces, and this is " + runtime.GOOS
	}
	if os.Geteuid() != 0 {
		return "they need root to create network namespaces, veth pairs, qdiscs and nftables rules; run the tests as root (CI does)"
	}
	for _, tool := range []string{"ip", "tc", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("%s is not on PATH; scripts/deps-netfault.sh installs iproute2 and nftables", tool)
		}
	}
	probe := fmt.Sprintf("kanna-probe-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		return fmt.Sprintf("cannot create a network namespace (ip netns add: %v: %s); a container needs CAP_SYS_ADMIN and CAP_NET_ADMIN", err, strings.TrimSpace(string(out)))
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
	return ""
}

// requireRights skips the test when the machine cannot cut real links, and fails it instead under
// CI=true as root, where the tests must run.
func requireRights(t *testing.T) {
	t.Helper()
	why := missingRights()
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
		t.Fatalf("real network fault tests cannot run under CI as root: %s", why)
	}
	t.Skipf("real network fault tests skipped: %s", why)
}
