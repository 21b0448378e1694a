// The dashboard's data: every node's Status polled a few times a second while someone watches, a
// card per node sent to each dashboard, and an event log of what changed between two polls
// (elections, terms, configurations, gossip states, nodes going silent and coming back).
//
// The events are derived, not reported by the nodes: a poll every quarter second sees every
// election that lasts longer than that, which is every election a person could notice. What each
// event means is in the Raft paper (§5.2 elections, §5.1 terms), the thesis (§4.1 one-server
// configuration changes) and SWIM (§4.2 suspicion).
package web

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// maxEvents bounds the event log kept for a dashboard that opens later.
const maxEvents = 200

// dashboard polls the nodes and fans out what it sees.
type dashboard struct {
	srv  *Server
	wake chan struct{}

	mu     sync.Mutex
	subs   map[*conn]struct{}
	cards  []nodeCard // one per configured node, in --nodes order
	events []event
	seen   bool   // cards hold at least one poll
	term   uint64 // the highest term seen
	config string // the leader's configuration, as text
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
	Time string `json:"time"` // RFC 3339 with milliseconds, UTC
	Kind string `json:"kind"` // election, term, membership, gossip, node, action
	Text string `json:"text"`
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
	d := &dashboard{srv: s, wake: make(chan struct{}, 1), subs: map[*conn]struct{}{}}
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

// run polls while at least one dashboard is open, and sleeps otherwise.
func (d *dashboard) run(ctx context.Context) {
	tick := time.NewTicker(d.srv.cfg.StatusInterval)
	defer tick.Stop()
	for {
		d.mu.Lock()
		watched := len(d.subs) > 0
		d.mu.Unlock()
		if watched {
			d.poll(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.wake:
		}
	}
}

// poll asks every node for its Status at once, updates the cards, logs what changed and sends the
// result to every dashboard.
func (d *dashboard) poll(ctx context.Context) {
	nodes := d.srv.pool.nodes
	statuses := make([]*kannapb.NodeStatus, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 2*d.srv.cfg.StatusInterval)
			defer cancel()
			statuses[i], errs[i] = n.cluster.Status(cctx, &kannapb.StatusRequest{})
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
		next := cardOf(prev, statuses[i], errs[i])
		if d.seen {
			evs = append(evs, diffCards(prev, next)...)
		}
		d.cards[i] = next
	}
	// A new term starts before anyone wins it: list it first.
	evs = append(d.clusterEventsLocked(), evs...)
	d.seen = true
	for i := range evs {
		evs[i].Time = now.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	d.events = append(d.events, evs...)
	if len(d.events) > maxEvents {
		d.events = append([]event{}, d.events[len(d.events)-maxEvents:]...)
	}
	msgs := [][]byte{d.clusterLocked()}
	if len(evs) > 0 {
		msgs = append(msgs, encode(eventsMsg{Type: typeEvents, Events: evs}))
	}
	subs := d.subsLocked()
	d.mu.Unlock()
	for _, c := range subs {
		for _, m := range msgs {
			c.send(m)
		}
	}
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
	ev := event{Time: time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), Kind: kind, Text: text}
	d.mu.Lock()
	d.events = append(d.events, ev)
	subs := d.subsLocked()
	d.mu.Unlock()
	msg := encode(eventsMsg{Type: typeEvents, Events: []event{ev}})
	for _, c := range subs {
		c.send(msg)
	}
}

// cardOf builds a node's card from its Status, or marks it down keeping what it last said.
func cardOf(prev nodeCard, s *kannapb.NodeStatus, err error) nodeCard {
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
		Progress: []progressJSON{},
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

// name is how events call a node.
func (c nodeCard) name() string {
	if c.ID != 0 {
		return fmt.Sprintf("node %d", c.ID)
	}
	return "node at " + c.Address
}

// diffCards lists what changed on one node between two polls.
func diffCards(prev, next nodeCard) []event {
	var evs []event
	switch {
	case prev.Up && !next.Up:
		return []event{{Kind: "node", Text: next.name() + " stopped answering (" + next.Error + ")"}}
	case !prev.Up && next.Up:
		evs = append(evs, event{Kind: "node", Text: next.name() + " answers again, in term " + fmt.Sprint(next.Term) + " as " + next.Role})
	case !next.Up:
		return nil
	}
	if next.Role == "leader" && (prev.Role != "leader" || prev.Term != next.Term) {
		evs = append(evs, event{Kind: "election", Text: fmt.Sprintf("%s won the election for term %d", next.name(), next.Term)})
	} else if prev.Role == "leader" && next.Role != "leader" && prev.Up {
		evs = append(evs, event{Kind: "election", Text: fmt.Sprintf("%s stepped down in term %d, now %s", next.name(), next.Term, next.Role)})
	}
	if prev.Up {
		old := map[uint64]string{}
		for _, m := range prev.Gossip {
			old[m.ID] = m.State
		}
		for _, m := range next.Gossip {
			if was, ok := old[m.ID]; ok && was != m.State && m.ID != next.ID {
				evs = append(evs, event{Kind: "gossip", Text: fmt.Sprintf("%s sees node %d as %s (was %s)", next.name(), m.ID, m.State, was)})
			} else if !ok && prev.ID != 0 && m.ID != next.ID {
				evs = append(evs, event{Kind: "gossip", Text: fmt.Sprintf("%s learned of node %d (%s)", next.name(), m.ID, m.State)})
			}
		}
	}
	return evs
}

// clusterEventsLocked lists what changed across nodes: a new highest term, a new configuration at
// the leader.
func (d *dashboard) clusterEventsLocked() []event {
	var evs []event
	var maxTerm uint64
	var by string
	for _, c := range d.cards {
		if c.Up && c.Term > maxTerm {
			maxTerm, by = c.Term, c.name()
		}
	}
	if maxTerm > d.term {
		if d.seen {
			evs = append(evs, event{Kind: "term", Text: fmt.Sprintf("term %d began (first seen on %s)", maxTerm, by)})
		}
		d.term = maxTerm
	}
	for _, c := range d.cards {
		if !c.Up || c.Role != "leader" {
			continue
		}
		cfg := fmt.Sprintf("voters %v, learners %v", c.Voters, c.Learners)
		if cfg != d.config {
			if d.config != "" {
				evs = append(evs, event{Kind: "membership", Text: fmt.Sprintf("configuration changed on leader %s: %s (was %s)", c.name(), cfg, d.config)})
			}
			d.config = cfg
		}
		break
	}
	return evs
}

// control carries out a dashboard button.
func (d *dashboard) control(ctx context.Context, req request) error {
	switch req.Action {
	case actionCrash, actionRestart:
		ctl := d.srv.cfg.Control
		if ctl == nil {
			return refuse(codeFailedPrecondition, "no control endpoint configured: start the web server with --control URL (kanna demo does)")
		}
		do := ctl.Crash
		if req.Action == actionRestart {
			do = ctl.Restart
		}
		if err := do(req.Node); err != nil {
			return refuse(codeUnavailable, "%s node %d failed: %v", req.Action, req.Node, err)
		}
		d.record("action", fmt.Sprintf("%s node %d (from the dashboard)", req.Action, req.Node))
	case actionIsolate:
		n, peers := d.nodeAndPeers(req.Node)
		if n == nil {
			return refuse(codeNotFound, "node %d has not answered a status poll; wait for its card to show it up", req.Node)
		}
		if len(peers) == 0 {
			return refuse(codeFailedPrecondition, "node %d knows no peers to cut it off from", req.Node)
		}
		cctx, cancel := context.WithTimeout(ctx, d.srv.attemptTimeout())
		defer cancel()
		if _, err := n.cluster.DropTraffic(cctx, &kannapb.DropTrafficRequest{ToPeers: peers, FromPeers: peers,
			Traffic: kannapb.TrafficClass_TRAFFIC_CLASS_ALL}); err != nil {
			return err
		}
		d.record("action", fmt.Sprintf("isolated node %d from nodes %v (from the dashboard)", req.Node, peers))
	case actionHeal:
		var failed []string
		for _, n := range d.srv.pool.nodes {
			cctx, cancel := context.WithTimeout(ctx, d.srv.attemptTimeout())
			_, err := n.cluster.Heal(cctx, &kannapb.HealRequest{})
			cancel()
			if err != nil {
				failed = append(failed, n.addr+": "+err.Error())
			}
		}
		text := "healed every link (from the dashboard)"
		if len(failed) > 0 {
			text += "; not reached: " + strings.Join(failed, "; ")
		}
		d.record("action", text)
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// nodeAndPeers finds the node with id and every other node it knows of, from the last poll.
func (d *dashboard) nodeAndPeers(id uint64) (*node, []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n *node
	peers := map[uint64]bool{}
	for i, c := range d.cards {
		if c.ID == id && c.Up {
			n = d.srv.pool.nodes[i]
			for _, v := range append(append([]uint64{}, c.Voters...), c.Learners...) {
				peers[v] = true
			}
			for _, g := range c.Gossip {
				peers[g.ID] = true
			}
		} else if c.ID != 0 {
			peers[c.ID] = true
		}
	}
	delete(peers, id)
	delete(peers, 0)
	out := make([]uint64, 0, len(peers))
	for p := range peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return n, out
}
