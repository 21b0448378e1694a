// The network a test cluster runs on, and the faults the kernel puts into it.
//
// Each node i has a namespace of its own holding one end of a veth pair (the inner end, with the
// node's address); the other end is a port of a bridge in the host's namespace, which also holds
// the bridge's own address, so the test process reaches every node as a client on the same LAN
// would. Names carry a tag unique to the network, so that several clusters, and several test runs
// on one machine, do not meet.
package netfault

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// network is one bridge and a namespace per node.
type network struct {
	t      *testing.T
	tag    string // prefix of every name: "kf" and 5 hex digits
	subnet string // the first three octets, "10.213.Y"
	nodes  int
}

// subnets hands out a distinct 10.213.Y.0/24 to each network of this process; ones that the host
// already uses (another run's) are skipped.
var subnets struct {
	sync.Mutex
	next int
}

// newNetwork builds a bridge with n namespaces on it, and removes it all when the test ends.
func newNetwork(t *testing.T, n int) *network {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	w := &network{t: t, tag: "kf" + hex.EncodeToString(b[:])[:5], nodes: n}
	w.subnet = freeSubnet(t, int(b[2]))
	t.Cleanup(w.remove)

	w.run("ip", "link", "add", w.bridge(), "type", "bridge")
	w.run("ip", "addr", "add", w.subnet+".1/24", "dev", w.bridge())
	w.run("ip", "link", "set", w.bridge(), "up")
	for i := 1; i <= n; i++ {
		w.run("ip", "netns", "add", w.ns(i))
		w.run("ip", "link", "add", w.outer(i), "type", "veth", "peer", "name", w.inner(i), "netns", w.ns(i))
		w.run("ip", "link", "set", w.outer(i), "master", w.bridge(), "up")
		w.run("ip", "-n", w.ns(i), "addr", "add", w.ip(i)+"/24", "dev", w.inner(i))
		w.run("ip", "-n", w.ns(i), "link", "set", w.inner(i), "up")
		w.run("ip", "-n", w.ns(i), "link", "set", "lo", "up")
	}
	return w
}

// freeSubnet picks 10.213.Y for some Y no interface of the host has an address in.
func freeSubnet(t *testing.T, start int) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("netfault: ip -4 addr show: %v: %s", err, out)
	}
	subnets.Lock()
	defer subnets.Unlock()
	for k := 0; k < 256; k++ {
		y := (start + subnets.next + k) % 256
		s := fmt.Sprintf("10.213.%d", y)
		if !strings.Contains(string(out), " "+s+".") {
			subnets.next += k + 1
			return s
		}
	}
	t.Fatalf("netfault: every 10.213.Y.0/24 is in use on this host")
	return ""
}

func (w *network) bridge() string     { return w.tag + "br" }
func (w *network) ns(i int) string    { return fmt.Sprintf("%s-n%d", w.tag, i) }
func (w *network) outer(i int) string { return fmt.Sprintf("%so%d", w.tag, i) } // the bridge's port
func (w *network) inner(i int) string { return fmt.Sprintf("%si%d", w.tag, i) } // in the namespace
func (w *network) ip(i int) string    { return fmt.Sprintf("%s.%d", w.subnet, 10+i) }
func (w *network) table() string      { return w.tag }

// addr is where node i serves.
func (w *network) addr(i int) string { return w.ip(i) + ":7000" }

// exec is the command prefix that runs a program in node i's namespace.
func (w *network) exec(i int) []string { return []string{"ip", "netns", "exec", w.ns(i)} }

// run runs one command and fails the test if it fails.
func (w *network) run(name string, args ...string) {
	w.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		w.t.Fatalf("netfault: %s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

// remove deletes the namespaces (and with them the veth pairs), the bridge and the bridge's table.
// Errors are ignored: a half-built network is removed as far as it got.
func (w *network) remove() {
	_ = exec.Command("nft", "delete", "table", "bridge", w.table()).Run()
	for i := 1; i <= w.nodes; i++ {
		_ = exec.Command("ip", "netns", "del", w.ns(i)).Run()
	}
	_ = exec.Command("ip", "link", "del", w.bridge()).Run()
}

// linkDown takes node i's link down whole: the bridge's end of its veth pair goes down, so nothing
// passes either way, and the node's end loses its carrier.
func (w *network) linkDown(i int) { w.run("ip", "link", "set", w.outer(i), "down") }

// linkUp brings node i's link back.
func (w *network) linkUp(i int) { w.run("ip", "link", "set", w.outer(i), "up") }

// muteOut stops everything node i sends: a queue of length zero on its end of the veth pair drops
// every packet, TCP's acknowledgements included. What others send still arrives.
func (w *network) muteOut(i int) {
	w.run("tc", "-n", w.ns(i), "qdisc", "add", "dev", w.inner(i), "root", "pfifo", "limit", "0")
}

// unmuteOut removes muteOut's queue.
func (w *network) unmuteOut(i int) {
	w.run("tc", "-n", w.ns(i), "qdisc", "del", "dev", w.inner(i), "root")
}

// deafen stops everything sent to node i: the same zero-length queue on the bridge's end, which
// sends towards the node. What the node sends still leaves.
func (w *network) deafen(i int) {
	w.run("tc", "qdisc", "add", "dev", w.outer(i), "root", "pfifo", "limit", "0")
}

// undeafen removes deafen's queue.
func (w *network) undeafen(i int) { w.run("tc", "qdisc", "del", "dev", w.outer(i), "root") }

// partition splits the bridge: frames between a port of group a and a port of group b are
// dropped as the bridge forwards them. The host's own address, the test's client, still reaches
// every node, as a client outside the cut would.
func (w *network) partition(a, b []int) {
	ports := func(ids []int) string {
		var names []string
		for _, i := range ids {
			names = append(names, fmt.Sprintf("%q", w.outer(i)))
		}
		return "{ " + strings.Join(names, ", ") + " }"
	}
	rules := fmt.Sprintf(`table bridge %s {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname %s oifname %s drop
		iifname %s oifname %s drop
	}
}
`, w.table(), ports(a), ports(b), ports(b), ports(a))
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("netfault: nft -f - (%s): %v: %s", rules, err, strings.TrimSpace(string(out)))
	}
}

// unpartition removes the partition's table.
func (w *network) unpartition() { w.run("nft", "delete", "table", "bridge", w.table()) }
