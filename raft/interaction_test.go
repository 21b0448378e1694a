// Interaction scripts (raft/testdata/*.txt): stories of a few servers told as commands (add
// nodes, campaign, propose, deliver or drop messages, tick) with the core's answers printed after
// each, in the manner of etcd-io/raft's interaction tests. Each script is a golden test: the
// printed output must match what the file records. After a deliberate change of behaviour,
// rewrite the files with
//
//	go test ./raft/ -run TestInteraction -rewrite
//
// and read the diff: it is the change's story. The language:
//
//	add-nodes N [prevote=B] [checkquorum=B] [chunk=BYTES] [maxsize=BYTES]
//	set-log ID term=T commit=C [vote=V] [terms=T1,T2,...]   restart ID from this disk
//	campaign ID              tick ID until its election timeout fires
//	tick ID [N]              tick one server N times (its messages wait for deliver)
//	tick-all N               tick every server N times, delivering after each round
//	propose ID DATA          read-index ID CTX          transfer FROM TO
//	compact ID INDEX DATA    isolate ID...              heal ID...        restart ID
//	deliver [drop=TYPE,...]  deliver every message until none is left, printing each
//	stabilize                deliver silently, then print every server's status
//	status [ID...]           log [ID...]                read-states ID

package raft_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kanna-cluster/kanna/raft"
)

var rewrite = flag.Bool("rewrite", false, "rewrite raft/testdata/*.txt with the output of this run")

func TestInteraction(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no interaction scripts in raft/testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := runScript(t, file, string(src))
			if got == string(src) {
				return
			}
			if *rewrite {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Errorf("%s: the output differs from the script (go test ./raft/ -run TestInteraction -rewrite rewrites it; read the diff first):\n%s",
				file, firstDiff(string(src), got))
		})
	}
}

// firstDiff shows the first line where want and got part.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  script: %q\n  now:    %q", i+1, wl, gl)
		}
	}
	return ""
}

// runScript runs every command of a script and returns the script with each command's output
// in place of what it recorded.
func runScript(t *testing.T, file, src string) string {
	var out strings.Builder
	lines := strings.Split(strings.TrimRight(src, "\n"), "\n")
	s := &script{t: t}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command %q must be followed by a line of ----", file, i+1, line)
		}
		result := s.run(file, i+1, line)
		out.WriteString(line + "\n----\n" + result)
		// Skip what the script recorded: up to the next blank line.
		for i += 2; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		}
		if i < len(lines) {
			out.WriteString("\n")
		}
	}
	return out.String()
}

type script struct {
	t   *testing.T
	net *labNet
	buf bytes.Buffer
}

func (s *script) printf(format string, args ...any) { fmt.Fprintf(&s.buf, format, args...) }

// run runs one command and returns its output, never empty.
func (s *script) run(file string, lineNo int, line string) string {
	s.buf.Reset()
	fields := strings.Fields(line)
	cmd, args := fields[0], fields[1:]
	kv := map[string]string{}
	var pos []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	fail := func(format string, a ...any) {
		s.t.Fatalf("%s:%d: %s: %s", file, lineNo, line, fmt.Sprintf(format, a...))
	}
	num := func(x string) uint64 {
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			fail("%q is not a number", x)
		}
		return v
	}
	ids := func() []uint64 {
		if len(pos) == 0 {
			return s.net.ids
		}
		var out []uint64
		for _, p := range pos {
			out = append(out, num(p))
		}
		return out
	}
	if cmd != "add-nodes" && s.net == nil {
		fail("start with add-nodes")
	}
	node := func(i int) *raft.Node {
		if i >= len(pos) {
			fail("missing argument %d", i+1)
		}
		n := s.net.nodes[num(pos[i])]
		if n == nil {
			fail("no server %s", pos[i])
		}
		return n
	}
	switch cmd {
	case "add-nodes":
		if len(pos) != 1 {
			fail("want add-nodes N")
		}
		s.net = newLabNet(s.t, int(num(pos[0])), func(c *raft.Config) {
			c.PreVote = kv["prevote"] != "false"
			c.CheckQuorum = kv["checkquorum"] != "false"
			if v, ok := kv["chunk"]; ok {
				c.SnapshotChunkSize = num(v)
			}
			if v, ok := kv["maxsize"]; ok {
				c.MaxSizePerMsg = num(v)
			}
		})
		s.net.deliver(nil)
	case "set-log":
		n := node(0)
		ents := bootLog(len(s.net.ids))
		if v := kv["terms"]; v != "" {
			for _, f := range strings.Split(v, ",") {
				ents = append(ents, raft.Entry{Term: num(f), Index: uint64(len(ents) + 1), Type: raft.EntryNormal, Data: []byte("t" + f)})
			}
		}
		hs := raft.HardState{Term: num(kv["term"]), Commit: num(kv["commit"])}
		if v, ok := kv["vote"]; ok {
			hs.Vote = num(v)
		}
		d := &labDisk{hs: hs, ents: ents, applied: hs.Commit}
		s.net.disks[n.ID()] = d
		s.net.restart(n.ID())
		s.status(n.ID())
	case "campaign":
		n := node(0)
		for range 100 {
			if n.Status().Role != raft.Follower {
				break
			}
			n.Tick()
		}
		s.net.ready(n.ID())
		s.status(n.ID())
	case "tick":
		n := node(0)
		times := uint64(1)
		if len(pos) > 1 {
			times = num(pos[1])
		}
		for range times {
			n.Tick()
			s.net.ready(n.ID())
		}
		s.status(n.ID())
	case "tick-all":
		s.net.tickAll(int(num(pos[0])))
		s.status(s.net.ids...)
	case "propose":
		n := node(0)
		index, term, err := n.Propose([]byte(strings.Join(pos[1:], " ")))
		if err != nil {
			s.printf("error: %v\n", err)
			break
		}
		s.net.ready(n.ID())
		s.printf("index %d term %d\n", index, term)
	case "read-index":
		n := node(0)
		if err := n.ReadIndex([]byte(pos[1])); err != nil {
			s.printf("error: %v\n", err)
			break
		}
		s.net.ready(n.ID())
	case "read-states":
		n := node(0)
		for _, rd := range s.net.readies[n.ID()] {
			for _, rs := range rd.ReadStates {
				s.printf("read %q at index %d\n", rs.Context, rs.Index)
			}
		}
	case "transfer":
		n := node(0)
		if err := n.TransferLeadership(num(pos[1])); err != nil {
			s.printf("error: %v\n", err)
			break
		}
		s.net.ready(n.ID())
	case "compact":
		n := node(0)
		meta, err := n.Compact(num(pos[1]), []byte(strings.Join(pos[2:], " ")))
		if err != nil {
			s.printf("error: %v\n", err)
			break
		}
		s.printf("snapshot index=%d term=%d voters=%v\n", meta.Index, meta.Term, meta.ConfState.Voters)
	case "isolate", "heal":
		for _, id := range ids() {
			s.net.cut[id] = cmd == "isolate"
		}
	case "restart":
		n := node(0)
		s.net.restart(n.ID())
		s.status(n.ID())
	case "deliver":
		var drop []string
		if v := kv["drop"]; v != "" {
			drop = strings.Split(v, ",")
		}
		s.deliver(drop)
	case "stabilize":
		s.net.deliver(nil)
		s.status(s.net.ids...)
	case "status":
		s.status(ids()...)
	case "log":
		for _, id := range ids() {
			d := s.net.disks[id]
			var terms []string
			for _, e := range d.ents {
				terms = append(terms, strconv.FormatUint(e.Term, 10))
			}
			snap := ""
			if d.snap != nil {
				snap = fmt.Sprintf(" snapshot=%d/%d(%q)", d.snap.Meta.Index, d.snap.Meta.Term, d.snap.Data)
			}
			last := uint64(0)
			if len(d.ents) > 0 {
				last = d.ents[len(d.ents)-1].Index
			} else if d.snap != nil {
				last = d.snap.Meta.Index
			}
			s.printf("%d: last=%d%s terms=[%s] applied=%v\n", id, last, snap, strings.Join(terms, " "), d.cmds)
		}
	default:
		fail("unknown command %q", cmd)
	}
	if s.buf.Len() == 0 {
		return "ok\n"
	}
	return s.buf.String()
}

func (s *script) status(ids ...uint64) {
	for _, id := range ids {
		st := s.net.nodes[id].Status()
		cut := ""
		if s.net.cut[id] {
			cut = " (isolated)"
		}
		s.printf("%d: %s term=%d vote=%d lead=%d commit=%d applied=%d log=%d..%d%s\n",
			id, st.Role, st.Term, st.Vote, st.Lead, st.Commit, st.Applied, st.FirstIndex, st.LastIndex, cut)
	}
}

// deliver delivers every queued message, and those they cause, printing each.
func (s *script) deliver(drop []string) {
	net := s.net
	net.process()
	for steps := 0; len(net.queue) > 0; steps++ {
		if steps > 10000 {
			s.t.Fatalf("messages still flowing after 10000 deliveries")
		}
		m := net.queue[0]
		net.queue = net.queue[1:]
		if net.cut[m.To] || net.cut[m.From] {
			s.printf("%s  (lost: isolated)\n", describe(m))
			continue
		}
		if slices.Contains(drop, m.Type.String()) {
			s.printf("%s  (dropped)\n", describe(m))
			continue
		}
		s.printf("%s\n", describe(m))
		if err := net.nodes[m.To].Step(m); err != nil {
			s.t.Fatalf("step %s: %v", m, err)
		}
		net.ready(m.To)
	}
}

// describe prints a message with the fields its type uses.
func describe(m raft.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d->%d %s term=%d", m.From, m.To, m.Type, m.Term)
	switch m.Type {
	case raft.MsgVote, raft.MsgPreVote:
		fmt.Fprintf(&b, " last=%d/%d", m.Index, m.LogTerm)
		if len(m.Context) > 0 {
			fmt.Fprintf(&b, " %s", m.Context)
		}
	case raft.MsgVoteResp, raft.MsgPreVoteResp:
		if m.Reject {
			b.WriteString(" rejected")
		} else {
			b.WriteString(" granted")
		}
	case raft.MsgApp:
		fmt.Fprintf(&b, " prev=%d/%d commit=%d entries=[", m.Index, m.LogTerm, m.Commit)
		for i, e := range m.Entries {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%d/%d", e.Index, e.Term)
		}
		b.WriteString("]")
	case raft.MsgAppResp:
		if m.Reject {
			fmt.Fprintf(&b, " rejected prev=%d hint=%d/%d", m.Index, m.RejectHint, m.ConflictTerm)
		} else {
			fmt.Fprintf(&b, " index=%d", m.Index)
		}
	case raft.MsgHeartbeat, raft.MsgHeartbeatResp:
		if m.Type == raft.MsgHeartbeat {
			fmt.Fprintf(&b, " commit=%d", m.Commit)
		}
		if len(m.Context) > 0 {
			fmt.Fprintf(&b, " ctx=%s", m.Context)
		}
	case raft.MsgSnap:
		fmt.Fprintf(&b, " snapshot=%d/%d offset=%d bytes=%d done=%v", m.Snapshot.Meta.Index, m.Snapshot.Meta.Term, m.Offset, len(m.Snapshot.Data), m.Done)
	case raft.MsgSnapResp:
		fmt.Fprintf(&b, " snapshot=%d want=%d", m.Index, m.Offset)
		if m.Reject {
			b.WriteString(" rejected")
		}
	}
	return b.String()
}
