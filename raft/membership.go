// Membership: who votes, who only listens, and how one change at a time alters that.
//
// Thesis §4.1 (single-server changes): adding or removing one voter at a time keeps every majority
// of the old configuration overlapping every majority of the new one, so no joint consensus is
// needed. A server uses the latest configuration in its log, committed or not, from the moment
// the entry is appended; if the entry is later truncated away, the server falls back to the one
// before it. Only one change may be uncommitted at a time. Learners (thesis §4.2.1) receive the
// log but neither vote nor count toward a majority until an AddVoter promotes them.

package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// config is one cluster configuration. Both lists are sorted, so that everything the core does
// for each member happens in the same order on every run.
type config struct {
	voters   []uint64
	learners []uint64
}

func configFrom(cs ConfState) config {
	return config{voters: slices.Clone(cs.Voters), learners: slices.Clone(cs.Learners)}
}

// confState returns c as the public type, with nil (not empty) lists, so that equal
// configurations compare equal.
func (c config) confState() ConfState {
	clone := func(ids []uint64) []uint64 {
		if len(ids) == 0 {
			return nil
		}
		return slices.Clone(ids)
	}
	return ConfState{Voters: clone(c.voters), Learners: clone(c.learners)}
}

func (c config) isVoter(id uint64) bool   { return slices.Contains(c.voters, id) }
func (c config) isLearner(id uint64) bool { return slices.Contains(c.learners, id) }
func (c config) isMember(id uint64) bool  { return c.isVoter(id) || c.isLearner(id) }

// members returns voters and learners, sorted.
func (c config) members() []uint64 {
	all := append(slices.Clone(c.voters), c.learners...)
	slices.Sort(all)
	return all
}

// apply returns the configuration after cc. It never fails: a change that makes no sense for
// this configuration (checked by ProposeConfChange on the leader) leaves it as it is.
func (c config) apply(cc ConfChange) config {
	without := func(ids []uint64, id uint64) []uint64 {
		return slices.DeleteFunc(slices.Clone(ids), func(x uint64) bool { return x == id })
	}
	with := func(ids []uint64, id uint64) []uint64 {
		if slices.Contains(ids, id) {
			return ids
		}
		out := append(slices.Clone(ids), id)
		slices.Sort(out)
		return out
	}
	switch cc.Type {
	case AddLearner:
		if !c.isVoter(cc.NodeID) {
			c.learners = with(c.learners, cc.NodeID)
		}
	case AddVoter:
		c.learners = without(c.learners, cc.NodeID)
		c.voters = with(c.voters, cc.NodeID)
	case RemoveNode:
		c.learners = without(c.learners, cc.NodeID)
		c.voters = without(c.voters, cc.NodeID)
	}
	return c
}

// confChangeSize is the encoded size of a ConfChange: one byte of type, eight of node id.
const confChangeSize = 9

// Marshal encodes cc for the Data of an EntryConfChange entry.
func (cc ConfChange) Marshal() []byte {
	b := make([]byte, confChangeSize)
	b[0] = byte(cc.Type)
	binary.BigEndian.PutUint64(b[1:], cc.NodeID)
	return b
}

// errBadConfChange is wrapped by every decoding failure of UnmarshalConfChange.
var errBadConfChange = errors.New("raft: malformed ConfChange")

// UnmarshalConfChange decodes what ConfChange.Marshal encoded.
func UnmarshalConfChange(b []byte) (ConfChange, error) {
	if len(b) != confChangeSize {
		return ConfChange{}, fmt.Errorf("%w: %d bytes, want %d; was the entry written by ConfChange.Marshal?",
			errBadConfChange, len(b), confChangeSize)
	}
	cc := ConfChange{Type: ConfChangeType(b[0]), NodeID: binary.BigEndian.Uint64(b[1:])}
	if cc.Type > RemoveNode {
		return ConfChange{}, fmt.Errorf("%w: unknown type %d", errBadConfChange, b[0])
	}
	return cc, nil
}

// configAt folds the configuration entries of the log, starting from the snapshot's configuration,
// up to and including index. Truncation and compaction use it; appends apply changes one by one.
func (n *Node) configAt(index uint64) config {
	c := configFrom(n.log.snapshot.Meta.ConfState)
	for _, e := range n.log.entries {
		if e.Index > index {
			break
		}
		if e.Type == EntryConfChange {
			c = c.apply(mustConfChange(e))
		}
	}
	return c
}

func mustConfChange(e Entry) ConfChange {
	cc, err := UnmarshalConfChange(e.Data)
	if err != nil {
		panic(fmt.Sprintf("raft: entry %d of term %d: %v", e.Index, e.Term, err))
	}
	return cc
}

// appendToLog writes entries to the log and makes any configuration they carry effective at
// once. If the append replaced entries, the configuration is recomputed, which rolls back a
// change whose entry was truncated away.
func (n *Node) appendToLog(ents []Entry) {
	n.checkTermsAscend(ents)
	if n.log.append(ents) {
		n.setConfig(n.configAt(n.log.lastIndex()))
		return
	}
	for _, e := range ents {
		if e.Type == EntryConfChange {
			n.setConfig(n.conf.apply(mustConfChange(e)))
		}
	}
}

// checkTermsAscend panics if ents, appended to the log, would make its terms go down: a leader
// appends entries of its own term after entries of no later term, and followers copy its log, so
// the terms along any log never decrease (paper §5.3). A teaching bug that loses storage can break
// this, and then the simulator's checkers, not a panic, must show the damage.
func (n *Node) checkTermsAscend(ents []Entry) {
	if len(ents) == 0 || n.bugsOn() {
		return
	}
	prev, err := n.log.term(ents[0].Index - 1)
	if err != nil {
		return // the entry before is compacted, and the log's own append check says the rest
	}
	for _, e := range ents {
		if e.Term < prev {
			panic(invariantf("log: entry %d of term %d would follow an entry of term %d", e.Index, e.Term, prev))
		}
		prev = e.Term
	}
}

// setConfig switches to a new configuration and, on a leader, brings the progress table in line.
func (n *Node) setConfig(c config) {
	n.conf = c
	if n.role != Leader {
		return
	}
	for id := range n.prs {
		if !c.isMember(id) {
			delete(n.prs, id)
		}
	}
	for _, id := range c.members() {
		pr, ok := n.prs[id]
		if !ok {
			// Start at the entry that added it, so the first append goes out at once and its
			// answer (an empty log rejects it) starts the probe.
			pr = newProgress(max(n.log.lastIndex(), 1), n.cfg.MaxInflight)
			n.prs[id] = pr
		}
		pr.learner = c.isLearner(id)
	}
	if n.leadTransferee != None && !c.isVoter(n.leadTransferee) {
		n.abortLeaderTransfer()
	}
	// Removing a lagging voter can shrink the majority to servers that already hold an entry.
	n.maybeCommit()
}

// ProposeConfChange proposes one membership change (thesis §4.1). It fails with
// ErrConfChangePending while an earlier change is uncommitted, which also covers a new leader's
// first term until its no-op commits (the fix to the single-server change bug, thesis §4.1 errata).
func (n *Node) ProposeConfChange(cc ConfChange) (index, term uint64, err error) {
	if err := n.checkProposal(); err != nil {
		return 0, 0, err
	}
	if n.pendingConfIndex > n.log.committed && !n.cfg.bugs.ManyConfChanges {
		return 0, 0, ErrConfChangePending
	}
	if err := n.validateConfChange(cc); err != nil {
		return 0, 0, err
	}
	// Mark the change pending before appending it: the append puts the new configuration in
	// force, which may move the commit index, and a leader removing itself must not take that
	// for the commitment of its removal.
	n.pendingConfIndex = n.log.lastIndex() + 1
	e := n.appendLeaderEntry(Entry{Type: EntryConfChange, Data: cc.Marshal()})
	return e.Index, e.Term, nil
}

func (n *Node) validateConfChange(cc ConfChange) error {
	var why string
	switch {
	case cc.Type > RemoveNode:
		why = "unknown change type"
	case cc.NodeID == None:
		why = "node id 0 is reserved; give the server a non-zero id"
	case cc.Type == AddLearner && n.conf.isVoter(cc.NodeID):
		why = "it is already a voter; remove it first to demote it"
	case cc.Type == RemoveNode && !n.conf.isMember(cc.NodeID):
		why = "it is not a member; nothing to remove"
	case cc.Type == RemoveNode && n.conf.isVoter(cc.NodeID) && len(n.conf.voters) == 1:
		why = "it is the last voter; add another voter first"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s %d: %s", ErrInvalidConfChange, cc.Type, cc.NodeID, why)
}

// maybeStepDownRemoved ends the leadership of a leader that removed itself, once that change is
// committed (thesis §4.2.2). Until then it kept replicating, without counting itself.
func (n *Node) maybeStepDownRemoved() {
	if n.role != Leader || n.conf.isMember(n.id) || n.pendingConfIndex > n.log.committed {
		return
	}
	// Tell the others the change is committed before going quiet, so they need not wait for the
	// next leader to learn it.
	n.bcastAppend(true)
	// Hand over at once to a voter that holds the whole log, as a leadership transfer would
	// (thesis §3.10); otherwise the others wait out their leases and an election timeout.
	if to := n.mostUpToDateVoter(); to != None {
		n.sendTimeoutNow(to)
	}
	n.becomeFollower(n.term, None)
}

// mostUpToDateVoter returns the lowest-numbered voter whose log matches the leader's to its last
// entry, or None.
func (n *Node) mostUpToDateVoter() uint64 {
	for _, id := range n.conf.voters {
		if pr := n.prs[id]; pr != nil && id != n.id && pr.match == n.log.lastIndex() {
			return id
		}
	}
	return None
}
