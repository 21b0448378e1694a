// The space-time diagram of a run, as data: a lane per node with its roles and terms, messages as
// arrows from send to delivery, faults as marks. Lamport drew distributed runs this way ("Time,
// Clocks, and the Ordering of Events", 1978, Figure 1), and the Raft paper's Figures 7 and 8 are
// the same picture of logs over terms. html.go turns it into a page; diagram.js draws it.
//
// The trace names no message: a delivery is paired with the oldest send still in flight that has
// the same sender, receiver, type, term and fields. Identical messages (two heartbeats with the
// same commit index) that overtake each other may be paired crosswise; the picture is the same.

package sim

import (
	"fmt"
	"strings"
	"time"
)

// HTMLOptions narrow what the diagram draws of a long run.
type HTMLOptions struct {
	// From and To bound the time window drawn; To zero means the end of the run.
	From, To time.Duration
	// MaxMessages caps the arrows drawn (default 6000): the first ones of the window are drawn
	// and the page says how many were left out.
	MaxMessages int
}

// DefaultMaxMessages is how many arrows a page draws unless told otherwise: enough for about ten
// seconds of a five-node cluster, few enough that a browser scrolls the page smoothly.
const DefaultMaxMessages = 6000

// diagram is what the page draws; its JSON field names are what diagram.js reads.
type diagram struct {
	Nodes    []uint64  `json:"nodes"`
	From     float64   `json:"from"` // window start, ms
	To       float64   `json:"to"`   // window end, ms
	Arrows   []arrow   `json:"arrows"`
	Segments []segment `json:"segments"`
	Marks    []mark    `json:"marks"`
	Types    []string  `json:"types"` // message types in legend order
	Drawn    int       `json:"drawn"` // arrows drawn
	Total    int       `json:"total"` // messages in the window
	// CapAt is when the first message past the cap was sent, ms; 0 when none was left out.
	CapAt float64 `json:"capAt"`

	TypeColors map[string]string `json:"typeColors"`
	RoleColors map[string]string `json:"roleColors"`

	// Logs is every node's log over time up to the window's end (logview.go), from the run's
	// start, so the page can rebuild the logs at any moment of the window.
	Logs []logFrame `json:"logs"`
}

// arrow is one message: sent at At by From, delivered (or dropped) at End to To. Times in ms.
type arrow struct {
	At     float64 `json:"at"`
	End    float64 `json:"end"`
	From   uint64  `json:"from"`
	To     uint64  `json:"to"`
	Type   string  `json:"type"`
	Term   uint64  `json:"term"`
	Detail string  `json:"detail"`
	// Fate is "deliver", "drop: <reason>", or "in flight" at the end of the window.
	Fate string `json:"fate"`
}

// segment is a stretch of one lane in one role and term; Role "down" or "paused" for faults.
type segment struct {
	Node uint64  `json:"node"`
	At   float64 `json:"at"`
	End  float64 `json:"end"`
	Role string  `json:"role"`
	Term uint64  `json:"term"`
}

// mark is an event drawn as a point on a lane (Node set) or a line across every lane (Node 0):
// faults, heals, phase changes, role changes, violations.
type mark struct {
	At     float64 `json:"at"`
	Node   uint64  `json:"node"`
	Kind   string  `json:"kind"`
	Term   uint64  `json:"term,omitempty"`
	Detail string  `json:"detail"`
}

// messageTypes fixes the legend's order and so each type's colour.
var messageTypes = []string{
	"MsgApp", "MsgAppResp", "MsgHeartbeat", "MsgHeartbeatResp", "MsgVote", "MsgVoteResp",
	"MsgPreVote", "MsgPreVoteResp", "MsgSnap", "MsgSnapResp", "MsgTimeoutNow",
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// messageKey is what pairs a send with its delivery: the fields of the event without the note
// the network or receiver appended (dup, loss, partition, receiver down).
func messageKey(e Event) string {
	fields := strings.Fields(e.Detail)
	n := 0
	for _, f := range fields {
		if f == "reject" || strings.Contains(f, "=") {
			n++
			continue
		}
		break
	}
	return fmt.Sprintf("%d>%d %s %d %s", e.From, e.To, e.MsgType, e.Term, strings.Join(fields[:n], " "))
}

// note is the part of a message event's detail after its fields.
func note(e Event) string {
	fields := strings.Fields(e.Detail)
	for i, f := range fields {
		if f != "reject" && !strings.Contains(f, "=") {
			return strings.Join(fields[i:], " ")
		}
	}
	return ""
}

// buildDiagram lays out a run's events within the options' window.
func buildDiagram(run *Run, opts HTMLOptions) diagram {
	if opts.MaxMessages <= 0 {
		opts.MaxMessages = DefaultMaxMessages
	}
	to := opts.To
	if to <= 0 || to > run.SimTime {
		to = run.SimTime
	}
	d := diagram{From: millis(opts.From), To: millis(to), Types: messageTypes}
	for i := 1; i <= run.Options.Nodes; i++ {
		d.Nodes = append(d.Nodes, uint64(i))
	}
	inWindow := func(at time.Duration) bool { return at >= opts.From && at <= to }

	// Lanes: each node's role and term from the start, whatever the window, so the first
	// segment drawn knows what the node was.
	lanes := map[uint64]*lane{}
	for _, n := range d.Nodes {
		lanes[n] = &lane{role: "Follower"}
	}
	// pending maps a message key to the sends in flight: indexes in d.Arrows, or undrawn for a
	// send before the window or past the cap, whose arrival is then not drawn either.
	pending := map[string][]int{}
	for _, e := range run.Events {
		if e.At > to {
			break
		}
		at := millis(e.At)
		switch e.Kind {
		case EventSend:
			d.send(e, at, pending, inWindow(e.At), opts.MaxMessages)
		case EventDeliver, EventDrop:
			d.arrive(e, at, pending, inWindow(e.At), opts.MaxMessages)
		case EventRole, EventCrash, EventRestart, EventPause, EventResume:
			l := lanes[e.Node]
			if l == nil {
				continue
			}
			d.closeSegment(e.Node, l, at)
			words := roleWords(l, e)
			l.change(e)
			if e.Kind == EventRole {
				e.Detail = words
			}
		}
		if e.Kind != EventSend && e.Kind != EventDeliver && e.Kind != EventDrop && e.Kind != EventCommit &&
			e.Kind != EventCall && e.Kind != EventReturn && inWindow(e.At) {
			d.Marks = append(d.Marks, mark{At: at, Node: e.Node, Kind: string(e.Kind), Term: e.Term, Detail: e.Detail})
		}
	}
	for _, n := range d.Nodes {
		d.closeSegment(n, lanes[n], d.To)
	}
	for _, f := range run.logs {
		if f.At > d.To {
			break
		}
		d.Logs = append(d.Logs, f)
	}
	return d
}

// roleWords says a role event as a person reads it, from the lane before it and the trace's
// "Follower->Candidate lead=0": "term 4→5: Follower → Candidate, no leader known".
func roleWords(before *lane, e Event) string {
	from, rest, ok := strings.Cut(e.Detail, "->")
	if !ok {
		return e.Detail
	}
	to, lead, _ := strings.Cut(rest, " ")
	var b strings.Builder
	if e.Term != before.term {
		fmt.Fprintf(&b, "term %d→%d: ", before.term, e.Term)
	} else {
		fmt.Fprintf(&b, "term %d: ", e.Term)
	}
	if from == to {
		b.WriteString("still " + to)
	} else {
		b.WriteString(from + " → " + to)
	}
	switch lead = strings.TrimPrefix(lead, "lead="); {
	case to == "Leader":
		b.WriteString(", won the election")
	case lead == "0" || lead == "":
		b.WriteString(", no leader known")
	default:
		b.WriteString(", follows node " + lead)
	}
	return b.String()
}

// lane is what a node is from At on.
type lane struct {
	at   float64
	role string // Follower, PreCandidate, Candidate, Leader
	term uint64
	out  string // "down" while crashed, "paused" while paused, else empty
}

func (l *lane) shown() string {
	if l.out != "" {
		return l.out
	}
	return l.role
}

// change moves the lane on by one event of its node.
func (l *lane) change(e Event) {
	switch e.Kind {
	case EventRole:
		role := e.Detail
		if _, after, ok := strings.Cut(role, "->"); ok {
			role, _, _ = strings.Cut(after, " ")
		}
		l.role, l.term = role, e.Term
	case EventCrash:
		l.out = "down"
	case EventPause:
		l.out = "paused"
	case EventRestart:
		l.out, l.role = "", "Follower" // a restarted node begins as a follower (paper §5.2)
		if e.Term != 0 {
			l.term = e.Term
		}
	case EventResume:
		l.out = ""
	}
}

// closeSegment ends a lane's current stretch at at, merging it into the previous one of the same
// node when nothing visible changed.
func (d *diagram) closeSegment(node uint64, l *lane, at float64) {
	from, end := max(l.at, d.From), min(at, d.To)
	l.at = at
	if end <= from {
		return
	}
	for i := len(d.Segments) - 1; i >= 0; i-- {
		prev := &d.Segments[i]
		if prev.Node != node {
			continue
		}
		if prev.End == from && prev.Role == l.shown() && prev.Term == l.term {
			prev.End = end
			return
		}
		break
	}
	d.Segments = append(d.Segments, segment{Node: node, At: from, End: end, Role: l.shown(), Term: l.term})
}

const undrawn = -1

// send starts an arrow (two for a message the network duplicates).
func (d *diagram) send(e Event, at float64, pending map[string][]int, inWindow bool, limit int) {
	k := messageKey(e)
	copies := 1
	if note(e) == "dup" {
		copies = 2
	}
	if inWindow {
		d.Total++
	}
	if inWindow && d.Drawn >= limit && d.CapAt == 0 {
		d.CapAt = at
	}
	if !inWindow || d.Drawn >= limit {
		for range copies {
			pending[k] = append(pending[k], undrawn)
		}
		return
	}
	d.Drawn++
	for range copies {
		pending[k] = append(pending[k], len(d.Arrows))
		d.Arrows = append(d.Arrows, arrow{At: at, End: d.To, From: e.From, To: e.To, Type: e.MsgType,
			Term: e.Term, Detail: e.Detail, Fate: "in flight"})
	}
}

// arrive ends the arrow of the send a delivery or drop belongs to. A drop with no send in flight
// was lost as it left (the network never carried it) and is drawn as a stub at its sender.
func (d *diagram) arrive(e Event, at float64, pending map[string][]int, inWindow bool, limit int) {
	k := messageKey(e)
	why := note(e)
	if q := pending[k]; len(q) > 0 && (e.Kind == EventDeliver || why != "loss") {
		pending[k] = q[1:]
		if q[0] == undrawn {
			return
		}
		a := &d.Arrows[q[0]]
		a.End, a.Fate = at, string(e.Kind)
		if e.Kind == EventDrop {
			a.Fate = "drop: " + why
		}
		return
	}
	if e.Kind != EventDrop || !inWindow {
		return
	}
	d.Total++
	if d.Drawn >= limit {
		return
	}
	d.Drawn++
	d.Arrows = append(d.Arrows, arrow{At: at, End: at, From: e.From, To: e.To, Type: e.MsgType,
		Term: e.Term, Detail: e.Detail, Fate: "drop: " + why})
}
