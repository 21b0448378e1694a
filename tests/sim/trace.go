// The trace of a run: one deterministic record per event, hashed, and, when someone reads it, the
// same events as text lines and as structured records for the space-time diagram.
//
// A trace hash is how determinism is checked (FoundationDB's "same seed, same run"). What is
// hashed is a compact binary record of each event: every field its text line shows, numbers as
// varints and strings length-prefixed, so two runs hash the same exactly when their text traces
// are the same. The text is formatted only when it is written (--trace) or kept (the diagram, the
// stories): a run of a few hundred thousand events would otherwise spend much of its time
// printing lines nobody reads.

package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"time"

	"github.com/kanna-cluster/kanna/raft"
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

// tracer hashes every event and, when asked, keeps events and text.
type tracer struct {
	hash   hash.Hash
	rec    []byte // binary records not yet hashed
	count  int
	keep   bool
	events []Event
	text   io.Writer // nil: no text output
	line   []byte    // reused for each line
	detail []byte    // reused to format a detail
}

// flushAt is how many bytes of records are gathered before they are hashed in one write.
const flushAt = 16 << 10

func newTracer(keep bool, text io.Writer) *tracer {
	return &tracer{hash: sha256.New(), keep: keep, text: text}
}

// formatted reports whether anyone reads the events: only then are they formatted.
func (t *tracer) formatted() bool { return t.keep || t.text != nil }

// Record tags: the first byte of each binary record says which fields follow.
const (
	recEvent   = 1 // any event: its fields as they are
	recMessage = 2 // a message event: the raft.Message fields its detail shows
	recCommit  = 3 // a commit event: the entry's index and its summary
)

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBytes(b []byte, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// head starts a record: it returns the records with what every record starts with appended, for
// the caller to append the rest to and hand to done. The record is built in a local slice, not
// in t.rec, so that each field appended is not a store to the tracer.
func (t *tracer) head(tag byte, at time.Duration, kind EventKind) []byte {
	b := append(t.rec, tag)
	b = binary.AppendVarint(b, int64(at))
	return appendString(b, string(kind))
}

// done keeps the records with one more appended, counts it, and hashes the gathered records once
// there are enough.
func (t *tracer) done(rec []byte) {
	t.rec = rec
	t.count++
	if len(t.rec) >= flushAt {
		t.hash.Write(t.rec)
		t.rec = t.rec[:0]
	}
}

// add records an event whose fields are all in the Event.
func (t *tracer) add(e Event) {
	b := t.head(recEvent, e.At, e.Kind)
	b = binary.AppendUvarint(b, e.Node)
	b = binary.AppendUvarint(b, e.From)
	b = binary.AppendUvarint(b, e.To)
	b = appendString(b, e.MsgType)
	b = binary.AppendUvarint(b, e.Term)
	b = appendString(b, e.Detail)
	t.done(b)
	t.show(e)
}

// show writes and keeps a formatted event.
func (t *tracer) show(e Event) {
	if t.keep {
		t.events = append(t.events, e)
	}
	if t.text != nil {
		t.line = append(e.appendTo(t.line[:0]), '\n')
		t.text.Write(t.line)
	}
}

// message records a message event: the fields of m a reader of the trace needs, and a note (why
// it was dropped, or that it is duplicated).
func (t *tracer) message(at time.Duration, kind EventKind, m *raft.Message, note string) {
	b := t.head(recMessage, at, kind)
	b = binary.AppendUvarint(b, m.From)
	b = binary.AppendUvarint(b, m.To)
	b = append(b, byte(m.Type))
	b = binary.AppendUvarint(b, m.Term)
	b = binary.AppendUvarint(b, m.Index)
	b = binary.AppendUvarint(b, m.LogTerm)
	b = binary.AppendUvarint(b, m.Commit)
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	snap := uint64(0)
	flags := byte(0)
	if m.Reject {
		flags |= 1
	}
	if m.Snapshot != nil {
		flags |= 2
		snap = m.Snapshot.Meta.Index
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, snap)
	b = appendString(b, note)
	t.done(b)
	if !t.formatted() {
		return
	}
	b = t.detail[:0]
	b = append(b, "idx="...)
	b = strconv.AppendUint(b, m.Index, 10)
	b = append(b, " lt="...)
	b = strconv.AppendUint(b, m.LogTerm, 10)
	b = append(b, " c="...)
	b = strconv.AppendUint(b, m.Commit, 10)
	b = append(b, " n="...)
	b = strconv.AppendInt(b, int64(len(m.Entries)), 10)
	if m.Reject {
		b = append(b, " reject"...)
	}
	if m.Snapshot != nil {
		b = append(b, " snap="...)
		b = strconv.AppendUint(b, snap, 10)
	}
	if note != "" {
		b = append(b, ' ')
		b = append(b, note...)
	}
	t.detail = b
	t.show(Event{At: at, Kind: kind, From: m.From, To: m.To, MsgType: m.Type.String(), Term: m.Term, Detail: string(b)})
}

// commit records that node applied the entry a; its detail is the index and the entry's summary.
func (t *tracer) commit(at time.Duration, node uint64, a *appliedEntry) {
	rec := t.head(recCommit, at, EventCommit)
	rec = binary.AppendUvarint(rec, node)
	rec = binary.AppendUvarint(rec, a.Term)
	rec = binary.AppendUvarint(rec, a.Index)
	b := append(t.detail[:0], "index="...)
	b = strconv.AppendUint(b, a.Index, 10)
	b = append(b, ' ')
	summary := len(b)
	b = appendSummary(b, a)
	t.detail = b
	t.done(appendBytes(rec, b[summary:]))
	if !t.formatted() {
		return
	}
	t.show(Event{At: at, Kind: EventCommit, Node: node, Term: a.Term, Detail: string(b)})
}

// sum is the hex SHA-256 of every record so far.
func (t *tracer) sum() string {
	t.hash.Write(t.rec)
	t.rec = t.rec[:0]
	return hex.EncodeToString(t.hash.Sum(nil))
}
