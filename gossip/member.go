// Members, their states, and the precedence rules that decide which news about a member wins.
//
// SWIM §4.2 ("Suspicion mechanism") orders the messages about a member Mj by incarnation number:
// only Mj itself raises its incarnation, to refute a suspicion, so a higher incarnation is always
// newer news. Within one incarnation the states are ranked alive < suspect < dead < left: a
// suspicion overrides the alive it doubts, a confirmation (dead) overrides both, and a graceful
// leave is final. precedes below is that whole table in one function.

package gossip

import (
	"fmt"
	"sort"
)

// State is what a member is believed to be.
type State uint8

const (
	// StateAlive: the member answers probes, or refuted the last suspicion.
	StateAlive State = iota
	// StateSuspect: a probe failed; the member has until the suspicion timeout to refute (§4.2).
	StateSuspect
	// StateDead: the suspicion timed out (SWIM's "confirm"). Only a higher incarnation revives it.
	StateDead
	// StateLeft: the member said goodbye (Leave). Final for its incarnation.
	StateLeft
)

func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Tag is one key/value pair of a member's metadata.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Meta is what a member tells the cluster about itself. Tags are kept sorted by key so that two
// equal metadata encode to the same bytes (a map would not).
type Meta struct {
	RaftAddr string `json:"raft,omitempty"`
	Tags     []Tag  `json:"tags,omitempty"`
}

// NewMeta builds Meta from a map of tags, sorted by key.
func NewMeta(raftAddr string, tags map[string]string) Meta {
	m := Meta{RaftAddr: raftAddr}
	for k, v := range tags {
		m.Tags = append(m.Tags, Tag{Key: k, Value: v})
	}
	sort.Slice(m.Tags, func(i, j int) bool { return m.Tags[i].Key < m.Tags[j].Key })
	return m
}

// Tag returns the value of the tag with key k, and whether it is there.
func (m Meta) Tag(k string) (string, bool) {
	i := sort.Search(len(m.Tags), func(i int) bool { return m.Tags[i].Key >= k })
	if i < len(m.Tags) && m.Tags[i].Key == k {
		return m.Tags[i].Value, true
	}
	return "", false
}

// Equal reports whether m and o hold the same address and tags.
func (m Meta) Equal(o Meta) bool {
	if m.RaftAddr != o.RaftAddr || len(m.Tags) != len(o.Tags) {
		return false
	}
	for i := range m.Tags {
		if m.Tags[i] != o.Tags[i] {
			return false
		}
	}
	return true
}

// Member is one member as this node sees it.
type Member struct {
	ID          string `json:"id"`
	Addr        string `json:"addr"`
	Meta        Meta   `json:"meta"`
	Incarnation uint64 `json:"inc"`
	State       State  `json:"state"`
}

// precedes reports whether news that a member is in state s at incarnation inc overrides what
// we believe, cur at curInc (SWIM §4.2). A higher incarnation always wins; within one
// incarnation, the higher-ranked state wins, so alive never overrides anything of its own
// incarnation, and left is never overridden by anything of its own incarnation.
func precedes(s State, inc uint64, cur State, curInc uint64) bool {
	if inc != curInc {
		return inc > curInc
	}
	return s > cur
}
