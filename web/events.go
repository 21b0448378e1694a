// The dashboard's event log and the cluster's health as the game page shows it.
//
// Events come from the nodes themselves: the web server follows every node's Events stream
// (cluster.proto) from the moment it starts, so what is logged does not depend on a tab being
// open, each event carries the time the node saw it happen, and a node's ring of recent events
// replays the start-up election to a web server started after it. The web server adds only what
// no node can say about itself: that it stopped answering, or answers again; and, from the terms
// the nodes report, that a term ended with nobody elected (Raft paper §5.2, split votes).
//
// Health is what a player needs to know: whether a majority of the voters answers (without one
// nothing commits, §5.3) and whether a leader is known; trouble ends once the cluster commits
// again.
package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// name is how events call a node.
func (c nodeCard) name() string {
	if c.ID != 0 {
		return fmt.Sprintf("node %d", c.ID)
	}
	return "node at " + c.Address
}

// diffCards lists what the web server alone can tell of one node between two polls: that it went
// silent or came back.
func diffCards(prev, next nodeCard) []event {
	switch {
	case prev.Up && !next.Up:
		return []event{{Kind: "node", Text: next.name() + " stopped answering (" + next.Error + ")"}}
	case !prev.Up && next.Up:
		return []event{{Kind: "node", Text: next.name() + " answers again, in term " + fmt.Sprint(next.Term) + " as " + next.Role}}
	}
	return nil
}

// stamp formats a time for an event.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// follow streams node i's events into the log for as long as ctx lasts, reconnecting when the
// node goes away and resuming where it left off, or from the start of a new run of the node.
func (d *dashboard) follow(ctx context.Context, i int) {
	n := d.srv.pool.nodes[i]
	var boot, after uint64
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		stream, err := n.cluster.Events(ctx, &kannapb.EventsRequest{Boot: boot, After: after})
		for err == nil {
			var ev *kannapb.ClusterEvent
			if ev, err = stream.Recv(); err != nil {
				break
			}
			wait = 200 * time.Millisecond
			if ev.GetSeq() != 0 {
				boot, after = ev.GetBoot(), ev.GetSeq()
			}
			d.add(d.fromNode(ev)...)
		}
		if status.Code(err) == codes.Unimplemented {
			d.srv.log.Info("dashboard: node has no event stream; its events are not shown", "node", n.addr)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// fromNode turns a node's event into the log's, with a line before it when it shows that an
// earlier term went without a leader.
func (d *dashboard) fromNode(ev *kannapb.ClusterEvent) []event {
	kind := strings.ToLower(strings.TrimPrefix(ev.GetKind().String(), "CLUSTER_EVENT_KIND_"))
	out := event{Time: stamp(time.UnixMicro(ev.GetUnixMicros())), Kind: kind, Text: ev.GetText(), Node: ev.GetNode(), Term: ev.GetTerm()}
	d.mu.Lock()
	defer d.mu.Unlock()
	var evs []event
	switch ev.GetKind() {
	case kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_ROLE:
		if strings.Contains(ev.GetText(), "won the election") {
			out.Kind = "election"
			d.won[ev.GetTerm()] = ev.GetNode()
		}
	case kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_TERM:
		if t := ev.GetTerm(); t > d.term {
			if prev := d.term; prev != 0 && d.won[prev] == 0 {
				evs = append(evs, event{Time: out.Time, Kind: "term", Term: prev,
					Text: fmt.Sprintf("nobody won term %d: no candidate got votes from a majority before the next timeout", prev)})
			}
			d.term = t
		} else {
			return nil // another node joining a term already announced
		}
		out.Text = fmt.Sprintf("term %d began (%s)", ev.GetTerm(), ev.GetText())
	}
	return append(evs, out)
}

// add appends events to the log and sends them to every dashboard.
func (d *dashboard) add(evs ...event) {
	if len(evs) == 0 {
		return
	}
	d.mu.Lock()
	d.events = append(d.events, evs...)
	if len(d.events) > maxEvents {
		d.events = append([]event{}, d.events[len(d.events)-maxEvents:]...)
	}
	subs := d.subsLocked()
	d.mu.Unlock()
	msg := encode(eventsMsg{Type: typeEvents, Events: evs})
	for _, c := range subs {
		c.send(msg)
	}
}

// health is the cluster as a player needs to know it.
type health struct {
	Type string `json:"type"`
	// State is "ok", "electing" (a majority answers but no leader is known, or the new one has
	// not committed yet) or "no_majority".
	State  string `json:"state"`
	Text   string `json:"text"`
	Up     int    `json:"up"`     // voters answering
	Voters int    `json:"voters"` // voters in the configuration
	Needed int    `json:"needed"` // a majority of them
	Leader uint64 `json:"leader"`
	Term   uint64 `json:"term"`
}

// healthLocked judges the cluster from the cards. Trouble, once seen, lasts until some node's
// commit index passes what it was when the trouble began: a new leader commits an entry of its
// own term first (paper §5.4.2), so that is when writes go through again.
func (d *dashboard) healthLocked() health {
	h := health{Type: typeHealth}
	var voters []uint64
	var commit uint64
	for _, c := range d.cards {
		if !c.Up {
			continue
		}
		commit = max(commit, c.Commit)
		if c.Term >= h.Term {
			h.Term = c.Term
		}
		if c.Role == "leader" || voters == nil {
			voters = c.Voters
		}
	}
	for _, c := range d.cards {
		if c.Up && c.Role == "leader" && c.Term == h.Term {
			h.Leader = c.ID
		}
	}
	h.Voters = len(voters)
	if h.Voters == 0 {
		h.Voters = len(d.cards)
	}
	for _, c := range d.cards {
		if c.Up && (voters == nil || contains(voters, c.ID)) {
			h.Up++
		}
	}
	h.Needed = h.Voters/2 + 1
	switch {
	case h.Up < h.Needed:
		h.State = "no_majority"
		h.Text = fmt.Sprintf("waiting for a majority (%d of %d up): the cluster needs %d to commit a guess", h.Up, h.Voters, h.Needed)
	case h.Leader == 0 || (d.troubled && commit <= d.troubleCommit):
		h.State = "electing"
		h.Text = "electing a new leader…"
	default:
		h.State = "ok"
		h.Text = fmt.Sprintf("node %d leads term %d; %d of %d voters up", h.Leader, h.Term, h.Up, h.Voters)
	}
	if h.State != "ok" && !d.troubled {
		d.troubled, d.troubleCommit = true, commit
	} else if h.State == "ok" {
		d.troubled = false
	}
	return h
}

func contains(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
