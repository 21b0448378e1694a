// The dashboard's data: every node's Status polled a few times a second from the moment the web
// server starts, and a card per node sent to each dashboard: its Raft state (Raft paper Figure 2:
// currentTerm, votedFor, commitIndex, lastApplied; the leader's nextIndex and matchIndex per
// follower), the tail of its log, its election timer and message rates, and its SWIM view (SWIM
// §4.2). The same polls judge the cluster's health for the game page. events.go follows the
// nodes' event streams; control.go holds the buttons.
package web

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// maxEvents bounds the event log kept for a dashboard that opens later.
const maxEvents = 200

// rateWindow is how long the message counters run before a rate is computed from them.
const rateWindow = 2 * time.Second

// logTail is how many of each node's last log entries a dashboard draws.
const logTail = 40

// dashboard polls the nodes and fans out what it sees.
type dashboard struct {
	srv  *Server
	wake chan struct{}

	mu     sync.Mutex
	subs   map[*conn]struct{}
	cards  []nodeCard // one per configured node, in --nodes order
	events []event
	seen   bool              // cards hold at least one poll
	term   uint64            // the highest term the nodes reported
	won    map[uint64]uint64 // term -> the node that won it
	health []byte            // the last health message sent

	troubled      bool   // health was not ok at the last poll
	troubleCommit uint64 // the highest commit index when the trouble began
}

// nodeCard is one node as the dashboard shows it.
type nodeCard struct {
	Address     string         `json:"address"`
	ID          uint64         `json:"id"` // 0 until the node has answered once
	Up          bool           `json:"up"`
	Error       string         `json:"error,omitempty"`
	Role        string         `json:"role"`
	Term        uint64         `json:"term"`
	Vote        uint64         `json:"vote"`
	Leader      uint64         `json:"leader"`
	Commit      uint64         `json:"commit"`
	Applied     uint64         `json:"applied"`
	FirstIndex  uint64         `json:"first_index"`
	LastIndex   uint64         `json:"last_index"`
	LogSize     uint64         `json:"log_size"`
	Voters      []uint64       `json:"voters"`
	Learners    []uint64       `json:"learners"`
	Gossip      []gossipJSON   `json:"gossip"`
	LocalHealth uint32         `json:"local_health"`
	DropRules   []dropRuleJSON `json:"drop_rules"`
	Progress    []progressJSON `json:"progress"`
	Log         []logEntryJSON `json:"log"`
	ElectionMs  uint32         `json:"election_elapsed_ms"`
	TimeoutMs   uint32         `json:"election_timeout_ms"`
	RaftRate    float64        `json:"raft_per_s"`   // Raft messages sent and received per second
	GossipRate  float64        `json:"gossip_per_s"` // gossip packets likewise

	counted  time.Time // when the counters below were read
	raftMsgs uint64
	gossip   uint64
}

type logEntryJSON struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	Kind  string `json:"kind"` // command, noop, conf_change
	Text  string `json:"text"`
}

type gossipJSON struct {
	ID          uint64 `json:"id"`
	Address     string `json:"address"`
	State       string `json:"state"`
	Incarnation uint64 `json:"incarnation"`
}

type dropRuleJSON struct {
	Peer      uint64 `json:"peer"`
	Direction string `json:"direction"`
	Traffic   string `json:"traffic"`
}

type progressJSON struct {
	ID      uint64 `json:"id"`
	Match   uint64 `json:"match"`
	Next    uint64 `json:"next"`
	Learner bool   `json:"learner"`
	Active  bool   `json:"recent_active"`
}

// event is one line of the event log.
type event struct {
	Time string `json:"time"` // RFC 3339 with milliseconds, UTC: when it happened
	Kind string `json:"kind"` // start, term, role, election, commit, membership, gossip, gap, node, action
	Text string `json:"text"`
	Node uint64 `json:"node,omitempty"` // the node that told it; 0 for the web server's own
	Term uint64 `json:"term,omitempty"`
}

type clusterMsg struct {
	Type    string     `json:"type"`
	Nodes   []nodeCard `json:"nodes"`
	Control bool       `json:"control"`
}

type eventsMsg struct {
	Type   string  `json:"type"`
	Events []event `json:"events"`
}

func newDashboard(s *Server) *dashboard {
	d := &dashboard{srv: s, wake: make(chan struct{}, 1), subs: map[*conn]struct{}{}, won: map[uint64]uint64{}}
	for _, n := range s.pool.nodes {
		d.cards = append(d.cards, nodeCard{Address: n.addr, Role: "unknown"})
	}
	return d
}

func (d *dashboard) subscribe(c *conn) {
	d.mu.Lock()
	d.subs[c] = struct{}{}
	var first [][]byte
	if d.seen {
		first = append(first, d.clusterLocked())
	}
	first = append(first, encode(eventsMsg{Type: typeEvents, Events: append([]event{}, d.events...)}))
	d.mu.Unlock()
	for _, m := range first {
		c.send(m)
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dashboard) unsubscribe(c *conn) {
	d.mu.Lock()
	delete(d.subs, c)
	d.mu.Unlock()
}

func (d *dashboard) clusterLocked() []byte {
	return encode(clusterMsg{Type: typeCluster, Nodes: d.cards, Control: d.srv.cfg.Control != nil})
}

// run follows every node's events and polls every node's status until ctx ends.
func (d *dashboard) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range d.srv.pool.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.follow(ctx, i)
		}()
	}
	tick := time.NewTicker(d.srv.cfg.StatusInterval)
	defer tick.Stop()
	for {
		d.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.wake:
		}
	}
}

// poll asks every node for its Status at once, updates the cards, logs what changed and sends the
// result to every dashboard, and the cluster's health to every page when it changed. The log's
// tail is asked for only while a dashboard is open.
func (d *dashboard) poll(ctx context.Context) {
	d.mu.Lock()
	var tail uint32
	if len(d.subs) > 0 {
		tail = logTail
	}
	d.mu.Unlock()
	nodes := d.srv.pool.nodes
	statuses := make([]*kannapb.NodeStatus, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, statusTimeout(d.srv.cfg.StatusInterval))
			defer cancel()
			statuses[i], errs[i] = n.cluster.Status(cctx, &kannapb.StatusRequest{LogTail: tail})
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	d.mu.Lock()
	var evs []event
	for i := range nodes {
		prev := d.cards[i]
		next := cardOf(prev, statuses[i], errs[i], now)
		if d.seen {
			evs = append(evs, diffCards(prev, next)...)
		}
		d.cards[i] = next
	}
	d.seen = true
	for i := range evs {
		evs[i].Time = stamp(now)
	}
	cluster := d.clusterLocked()
	h := encode(d.healthLocked())
	changed := !bytes.Equal(h, d.health)
	d.health = h
	subs := d.subsLocked()
	d.mu.Unlock()
	d.add(evs...)
	for _, c := range subs {
		c.send(cluster)
	}
	if changed {
		for _, c := range d.srv.openConns() {
			c.send(h)
		}
	}
}

// sendHealth sends the cluster's health as last judged to one page, if a poll has judged it.
func (d *dashboard) sendHealth(c *conn) {
	d.mu.Lock()
	h := d.health
	d.mu.Unlock()
	if h != nil {
		c.send(h)
	}
}

// statusTimeout bounds one Status call: Status never waits on other nodes, so a node that takes
// longer than this is hung or gone. Two poll intervals, but at least half a second, so that a
// node slowed by a busy machine is not shown down.
func statusTimeout(interval time.Duration) time.Duration {
	return max(2*interval, 500*time.Millisecond)
}

func (d *dashboard) subsLocked() []*conn {
	out := make([]*conn, 0, len(d.subs))
	for c := range d.subs {
		out = append(out, c)
	}
	return out
}

// record logs an event that the dashboard itself caused (a button pressed).
func (d *dashboard) record(kind, text string) {
	d.add(event{Time: stamp(time.Now()), Kind: kind, Text: text})
}

// cardOf builds a node's card from its Status, or marks it down keeping what it last said. Message
// rates come from the counters' change over rateWindow, within one run of the node.
func cardOf(prev nodeCard, s *kannapb.NodeStatus, err error, now time.Time) nodeCard {
	if err != nil {
		prev.Up, prev.Error = false, shortError(err)
		return prev
	}
	c := nodeCard{
		Address: prev.Address, ID: s.GetId(), Up: true, Role: roleWord(s.GetRole()), Term: s.GetTerm(),
		Vote: s.GetVote(), Leader: s.GetLeader(), Commit: s.GetCommit(), Applied: s.GetApplied(),
		FirstIndex: s.GetFirstIndex(), LastIndex: s.GetLastIndex(),
		Voters: append([]uint64{}, s.GetVoters()...), Learners: append([]uint64{}, s.GetLearners()...),
		Gossip: []gossipJSON{}, LocalHealth: s.GetLocalHealth(), DropRules: []dropRuleJSON{},
		Progress: []progressJSON{}, Log: []logEntryJSON{},
		ElectionMs: s.GetElectionElapsedMs(), TimeoutMs: s.GetElectionTimeoutMs(),
		counted: now, raftMsgs: s.GetRaftSent() + s.GetRaftReceived(), gossip: s.GetGossipSent() + s.GetGossipReceived(),
	}
	switch secs := now.Sub(prev.counted).Seconds(); {
	case !prev.Up || prev.ID != c.ID || c.raftMsgs < prev.raftMsgs || c.gossip < prev.gossip:
		// A new run of the node, or its first answer: its counters start here.
	case secs < rateWindow.Seconds():
		// Gossip sends a packet or two a second: measured over one poll, most polls would
		// say zero. Keep the baseline and the last rates until the window has passed.
		c.counted, c.raftMsgs, c.gossip = prev.counted, prev.raftMsgs, prev.gossip
		c.RaftRate, c.GossipRate = prev.RaftRate, prev.GossipRate
	default:
		c.RaftRate = float64(c.raftMsgs-prev.raftMsgs) / secs
		c.GossipRate = float64(c.gossip-prev.gossip) / secs
	}
	for _, e := range s.GetLog() {
		c.Log = append(c.Log, logEntryJSON{Index: e.GetIndex(), Term: e.GetTerm(),
			Kind: strings.ToLower(strings.TrimPrefix(e.GetKind().String(), "LOG_ENTRY_KIND_")), Text: e.GetText()})
	}
	if s.GetLastIndex()+1 > s.GetFirstIndex() {
		c.LogSize = s.GetLastIndex() + 1 - s.GetFirstIndex()
	}
	for _, m := range s.GetGossipMembers() {
		c.Gossip = append(c.Gossip, gossipJSON{ID: m.GetId(), Address: m.GetAddress(), State: memberWord(m.GetState()), Incarnation: m.GetIncarnation()})
	}
	for _, r := range s.GetDropRules() {
		c.DropRules = append(c.DropRules, dropRuleJSON{Peer: r.GetPeer(),
			Direction: strings.ToLower(strings.TrimPrefix(r.GetDirection().String(), "DIRECTION_")),
			Traffic:   strings.ToLower(strings.TrimPrefix(r.GetTraffic().String(), "TRAFFIC_CLASS_"))})
	}
	for _, p := range s.GetProgress() {
		c.Progress = append(c.Progress, progressJSON{ID: p.GetId(), Match: p.GetMatch(), Next: p.GetNext(), Learner: p.GetLearner(), Active: p.GetRecentActive()})
	}
	return c
}

func roleWord(r kannapb.NodeRole) string {
	switch r {
	case kannapb.NodeRole_NODE_ROLE_FOLLOWER:
		return "follower"
	case kannapb.NodeRole_NODE_ROLE_PRE_CANDIDATE:
		return "pre-candidate"
	case kannapb.NodeRole_NODE_ROLE_CANDIDATE:
		return "candidate"
	case kannapb.NodeRole_NODE_ROLE_LEADER:
		return "leader"
	}
	return "unknown"
}

func memberWord(s kannapb.MemberState) string {
	switch s {
	case kannapb.MemberState_MEMBER_STATE_ALIVE:
		return "alive"
	case kannapb.MemberState_MEMBER_STATE_SUSPECT:
		return "suspect"
	case kannapb.MemberState_MEMBER_STATE_DEAD:
		return "dead"
	case kannapb.MemberState_MEMBER_STATE_LEFT:
		return "left"
	}
	return "unknown"
}

// shortError says in a few words why a node did not answer: gRPC's messages for a refused or
// broken connection nest three layers deep, and the last is the one a person needs.
func shortError(err error) string {
	s := status.Convert(err)
	switch s.Code() {
	case codes.DeadlineExceeded:
		return "no answer in time"
	case codes.Unavailable:
		msg := strings.TrimRight(s.Message(), `"`)
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		if msg == "EOF" {
			msg = "connection closed"
		}
		return "unreachable: " + msg
	}
	return s.Code().String() + ": " + s.Message()
}
