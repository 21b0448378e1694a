// The trace of a run: one deterministic line per event, hashed, and the same events kept as
// structured records for the space-time diagram.
//
// A trace hash is how determinism is checked (FoundationDB's "same seed, same run"): the text of
// every line is fed to one SHA-256, so two runs of one seed must print the same trace_hash.
package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// EventKind names what happened.
type EventKind string

// The kinds of event a trace records.
const (
	EventSend      EventKind = "send"      // a node handed a message to the network
	EventDeliver   EventKind = "deliver"   // the message arrived and the node stepped it
	EventDrop      EventKind = "drop"      // the network lost it (Detail says why)
	EventRole      EventKind = "role"      // a node's role or term changed
	EventCommit    EventKind = "commit"    // a node applied a committed entry
	EventCrash     EventKind = "crash"     // a node lost its memory and unsynced writes
	EventRestart   EventKind = "restart"   // a node came back from its disk
	EventPause     EventKind = "pause"     // a node stopped ticking and handling input
	EventResume    EventKind = "resume"    // it went on with what queued up
	EventPartition EventKind = "partition" // links were cut
	EventHeal      EventKind = "heal"      // every link works again
	EventCall      EventKind = "call"      // a client sent a request (Detail: the operation)
	EventReturn    EventKind = "return"    // the client got its final answer
	EventPhase     EventKind = "phase"     // the run moved from safety to liveness
	EventViolation EventKind = "violation" // a checker fired
)

// Event is one structured trace record. Which fields mean something depends on Kind: From, To,
// MsgType for messages; Node for everything that happens at one node; Term where one is known.
type Event struct {
	At      time.Duration
	Kind    EventKind
	Node    uint64
	From    uint64
	To      uint64
	MsgType string
	Term    uint64
	Detail  string
}

// String renders the event as its trace line.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%011.6f %-9s", e.At.Seconds(), e.Kind)
	if e.MsgType != "" {
		fmt.Fprintf(&b, " %d->%d %s", e.From, e.To, e.MsgType)
	} else if e.Node != 0 {
		fmt.Fprintf(&b, " n%d", e.Node)
	}
	if e.Term != 0 {
		fmt.Fprintf(&b, " term=%d", e.Term)
	}
	if e.Detail != "" {
		b.WriteString(" ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// tracer hashes every line and, when asked, keeps events and text.
type tracer struct {
	hash   hash.Hash
	count  int
	keep   bool
	events []Event
	text   io.Writer // nil: no text output
}

func newTracer(keep bool, text io.Writer) *tracer {
	return &tracer{hash: sha256.New(), keep: keep, text: text}
}

func (t *tracer) add(e Event) {
	line := e.String()
	t.hash.Write([]byte(line))
	t.hash.Write([]byte{'\n'})
	t.count++
	if t.keep {
		t.events = append(t.events, e)
	}
	if t.text != nil {
		fmt.Fprintln(t.text, line)
	}
}

// sum is the hex SHA-256 of every line so far.
func (t *tracer) sum() string { return hex.EncodeToString(t.hash.Sum(nil)) }
