// Helpers for the paper-rule tests: a core built with a given log and configuration, and quick
// ways to step it and read what it sends.

package raft

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// newTestNode builds a follower whose log holds one entry per term given (indexes 1, 2, ...),
// already durable, in the given term, with voters as its configuration.
func newTestNode(t testing.TB, id uint64, voters []uint64, term uint64, logTerms ...uint64) *Node {
	c := DefaultConfig()
	c.ID = id
	c.Rand = rand.New(rand.NewSource(int64(id)))
	return newTestNodeWith(t, c, voters, term, logTerms...)
}

func newTestNodeWith(t testing.TB, c Config, voters []uint64, term uint64, logTerms ...uint64) *Node {
	n, err := New(c)
	require.NoError(t, err)
	n.log.snapshot.Meta.ConfState = ConfState{Voters: voters}
	for i, lt := range logTerms {
		n.log.entries = append(n.log.entries, Entry{Index: uint64(i + 1), Term: lt, Data: []byte{byte(i)}})
	}
	n.log.stabled = n.log.lastIndex()
	n.log.written = n.log.stabled
	n.conf = n.configAt(n.log.lastIndex())
	n.becomeFollower(term, None)
	n.prevHard = n.hardState()
	n.prevSoft = n.softState()
	return n
}

// ready takes one Ready from n, advances it as if the driver had done everything, and returns it.
func ready(n *Node) Ready {
	rd := n.Ready()
	n.Advance(rd)
	return rd
}

// sent returns the messages n wants sent now (advancing its Ready).
func sent(n *Node) []Message {
	var out []Message
	for n.HasReady() {
		out = append(out, ready(n).Messages...)
	}
	return out
}

// sentOfType returns the messages of type typ that n wants sent now.
func sentOfType(n *Node, typ MessageType) []Message {
	var out []Message
	for _, m := range sent(n) {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

func step(t testing.TB, n *Node, m Message) {
	m.To = n.id
	require.NoError(t, n.Step(m))
}

// makeLeader turns n into the leader of the next term as if every voter had voted for it.
func makeLeader(t testing.TB, n *Node) {
	elect(n)
	require.Equal(t, Leader, n.role)
	sent(n)
}

// elect makes n leader of the next term, leaving its first appends unsent.
func elect(n *Node) {
	n.becomeCandidate()
	for _, id := range n.conf.voters {
		n.poll(id, true)
	}
	n.becomeLeader()
}
