// The trace of a run: one deterministic line per event, hashed, and the same events kept as
// structured records for the space-time diagram.
//
// A trace hash is how determinism is checked (FoundationDB's "same seed, same run"): the text of
// every line is fed to one SHA-256, so two runs of one seed must print the same trace_hash.

package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
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
	EventError     EventKind = "error"     // the engine reported a problem it carried on after
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
func (e Event) String() string { return string(e.appendTo(nil)) }

// appendTo appends the trace line to b. It is the hot path of every run, so it appends with
// strconv rather than formatting with fmt.
func (e Event) appendTo(b []byte) []byte {
	us := int64(e.At / time.Microsecond)
	secs := strconv.FormatInt(us/1e6, 10)
	for i := len(secs); i < 4; i++ {
		b = append(b, '0')
	}
	b = append(b, secs...)
	b = append(b, '.')
	frac := strconv.FormatInt(us%1e6, 10)
	for i := len(frac); i < 6; i++ {
		b = append(b, '0')
	}
	b = append(b, frac...)
	b = append(b, ' ')
	b = append(b, e.Kind...)
	for i := len(e.Kind); i < 9; i++ {
		b = append(b, ' ')
	}
	if e.MsgType != "" {
		b = append(b, ' ')
		b = strconv.AppendUint(b, e.From, 10)
		b = append(b, "->"...)
		b = strconv.AppendUint(b, e.To, 10)
		b = append(b, ' ')
		b = append(b, e.MsgType...)
	} else if e.Node != 0 {
		b = append(b, " n"...)
		b = strconv.AppendUint(b, e.Node, 10)
	}
	if e.Term != 0 {
		b = append(b, " term="...)
		b = strconv.AppendUint(b, e.Term, 10)
	}
	if e.Detail != "" {
		b = append(b, ' ')
		b = append(b, e.Detail...)
	}
	return b
}

// tracer hashes every line and, when asked, keeps events and text.
type tracer struct {
	hash   hash.Hash
	count  int
	keep   bool
	events []Event
	text   io.Writer // nil: no text output
	line   []byte    // reused for each line
}

func newTracer(keep bool, text io.Writer) *tracer {
	return &tracer{hash: sha256.New(), keep: keep, text: text}
}

func (t *tracer) add(e Event) {
	t.line = append(e.appendTo(t.line[:0]), '\n')
	t.hash.Write(t.line)
	t.count++
	if t.keep {
		t.events = append(t.events, e)
	}
	if t.text != nil {
		t.text.Write(t.line)
	}
}

// sum is the hex SHA-256 of every line so far.
func (t *tracer) sum() string { return hex.EncodeToString(t.hash.Sum(nil)) }
