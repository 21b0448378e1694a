// Helpers for the scenario stories of story_test.go: a quiet cluster that keeps its trace events,
// a runner that carries on past a violation (a teaching story wants to show what happens next),
// and small readers of the trace (who led, which terms, which entries each node applied). They
// serve stories on Raft paper §5.2-§5.4 and §7, and thesis §9.6.

package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// storySim builds a quiet simulation, like quietSim, that keeps its events so a story can read
// them back. tune adjusts the (empty) fault mix before any node starts: compaction, append size.
func storySim(t *testing.T, bug string, duration time.Duration, tune func(*FaultMix)) *sim {
	t.Helper()
	s := quietSim(t, bug, duration)
	if tune != nil {
		tune(&s.mix)
	}
	s.trace = newTracer(true, nil)
	return s
}

// runPast runs a story to its end even after a checker fired: a story about a teaching bug shows
// the first violation and the overwrite that follows it, where a sweep would stop at the first.
// Final checks run only on a run that stayed clean, since after a violation they report fallout.
func runPast(t *testing.T, s *sim) {
	t.Helper()
	s.emit(Event{Kind: EventPhase, Detail: "story"})
	for _, id := range s.ids {
		require.NoError(t, s.nodes[id].start())
	}
	for _, c := range s.clients {
		c.start()
	}
	s.q.at(s.safetyEnd, s.startLiveness)
	for {
		seen := len(s.check.violations)
		if !s.q.step(s.opts.Duration) {
			break
		}
		for _, v := range s.check.violations[seen:] {
			s.emit(Event{Kind: EventViolation, Node: v.Node, Detail: v.Checker + ": " + v.Detail})
		}
	}
	if len(s.check.violations) == 0 {
		s.q.now = s.opts.Duration
		s.finalChecks()
	}
}

// partitionNow applies a partition the story chose, and tells the trace and the disruption checker.
func (s *sim) partitionNow(p partition) {
	s.net.apply(p)
	s.emit(Event{Kind: EventPartition, Detail: p.kind + " " + p.desc})
	s.faultChanged(false)
}

// checkersFired lists the distinct checkers that fired, in the order they first did.
func (s *sim) checkersFired() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s.check.violations {
		if !seen[v.Checker] {
			seen[v.Checker] = true
			out = append(out, v.Checker)
		}
	}
	return out
}

// highestTerm is the highest term any running node is in.
func (s *sim) highestTerm() uint64 {
	var m uint64
	for _, id := range s.ids {
		if n := s.nodes[id]; !n.crashed && n.term > m {
			m = n.term
		}
	}
	return m
}

// electionsBetween counts the terms in which someone became leader between two times, from the
// trace.
func (s *sim) electionsBetween(from, to time.Duration) int {
	terms := map[uint64]bool{}
	for _, e := range s.trace.events {
		if e.Kind == EventRole && e.At >= from && e.At < to && strings.Contains(e.Detail, "->Leader") {
			terms[e.Term] = true
		}
	}
	return len(terms)
}

// appliedSince returns, by index, what a node applied at or after a time: the command and its
// result as the trace shows them.
func (s *sim) appliedSince(node uint64, since time.Duration) map[uint64]string {
	out := map[uint64]string{}
	for _, e := range s.trace.events {
		if e.Kind != EventCommit || e.Node != node || e.At < since {
			continue
		}
		var index uint64
		_, err := fmt.Sscanf(e.Detail, "index=%d", &index)
		if err == nil {
			out[index] = fmt.Sprintf("term %d %s", e.Term, strings.TrimPrefix(e.Detail, fmt.Sprintf("index=%d ", index)))
		}
	}
	return out
}

// returnsFrom counts the answers clients got from one node between two times.
func (s *sim) returnsFrom(node uint64, from, to time.Duration) int {
	n := 0
	for _, e := range s.trace.events {
		if e.Kind == EventReturn && e.Node == node && e.At >= from && e.At < to {
			n++
		}
	}
	return n
}

// delivered counts the messages of one type delivered to a node.
func (s *sim) delivered(to uint64, typ raft.MessageType) int {
	n := 0
	for _, e := range s.trace.events {
		if e.Kind == EventDeliver && e.To == to && e.MsgType == typ.String() {
			n++
		}
	}
	return n
}

// storyRoom names a room only a story creates, so its entries are easy to find in the trace.
func storyRoom(i int) string { return fmt.Sprintf("story-%d", i) }

// onceTrue runs then as soon as cond holds, checking every 100 µs of virtual time: finer than any
// message's latency, so a story can act between a message's arrival and the next one's.
func (s *sim) onceTrue(cond func() bool, then func()) {
	var poll func()
	poll = func() {
		if cond() {
			then()
			return
		}
		s.q.after(100*time.Microsecond, poll)
	}
	s.q.after(0, poll)
}

// diskHolds reports whether a node's disk holds an entry of term at index.
func (s *sim) diskHolds(node, index, term uint64) bool {
	t, ok := s.nodes[node].disk.termAt(index)
	return ok && t == term
}

// isLeading reports whether a node runs and leads.
func (s *sim) isLeading(node uint64) bool {
	n := s.nodes[node]
	return !n.crashed && n.eng.Status().Role == raft.Leader
}
