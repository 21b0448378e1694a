// Checkers: the safety properties of Raft paper Figure 3, stated across the whole simulated
// cluster and checked after every event.
//
//   - Election Safety: at most one leader can be elected in a given term (§5.2).
//   - Log Matching: if two logs contain an entry with the same index and term, the logs are
//     identical in all entries up through that index (§5.3). Checked on durable logs.
//   - Leader Completeness: if an entry is committed, it is present in the logs of the leaders of
//     all later terms (§5.4).
//   - State Machine Safety: if a server has applied an entry at an index, no other server ever
//     applies a different entry at that index (§5.4.3).
//   - Commit safety (the argument of §5.4.3, and Figure 8): once an entry is committed, no node
//     that lacks it can still collect a majority of votes under the election restriction of
//     §5.4.1. A leader that commits unsafely is caught at once, before the overwrite happens.
//   - Commit monotonicity: a node's commit index never moves back while it is up.
//   - Disruption (thesis §9.6): a server that rejoins after being cut off must not depose a leader
//     that kept a connected quorum throughout; pre-vote and check-quorum exist to prevent it.

package sim

import (
	"fmt"
	"time"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// Violation is one broken invariant.
type Violation struct {
	Checker string        `json:"checker"`
	At      time.Duration `json:"at_ns"`
	Node    uint64        `json:"node,omitempty"`
	Detail  string        `json:"detail"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s at %v (node %d): %s", v.Checker, v.At, v.Node, v.Detail)
}

// The checker names, as they appear in violations and docs/simulation.md.
const (
	CheckElectionSafety     = "election-safety"
	CheckLogMatching        = "log-matching"
	CheckLeaderCompleteness = "leader-completeness"
	CheckStateMachineSafety = "state-machine-safety"
	CheckCommitMonotonic    = "commit-monotonic"
	CheckCommitSafety       = "commit-safety"
	CheckDisruption         = "disruption"
	CheckLiveness           = "liveness"
	CheckRestart            = "restart"
	// CheckGossipConvergence: once every fault heals, every node's gossip view shows every member
	// alive within a bound, and still does at the end of the run (gossip.go).
	CheckGossipConvergence = "gossip-convergence"
)

type entryKey struct{ index, term uint64 }

// chainLog maps the (index, term) of every entry made durable anywhere to its chain hash. It is
// read and written for every entry that becomes durable on every node, so the first term seen at
// an index sits in a table by index, and only the terms of entries that later leaders overwrote
// (and a term 0, which no entry has) go to a map.
type chainLog struct {
	first []termChain // by index; term 0 where no entry was durable yet
	more  map[entryKey]chainHash
}

type termChain struct {
	term  uint64
	chain chainHash
}

func (l *chainLog) get(k entryKey) (chainHash, bool) {
	if k.term != 0 && k.index < uint64(len(l.first)) {
		switch f := &l.first[k.index]; f.term {
		case k.term:
			return f.chain, true
		case 0:
			return chainHash{}, false // put fills the table first
		}
	}
	h, ok := l.more[k]
	return h, ok
}

// put records the chain hash of an entry get does not know.
func (l *chainLog) put(k entryKey, h chainHash) {
	if k.term != 0 {
		if n := uint64(len(l.first)); k.index >= n {
			l.first = append(l.first, make([]termChain, k.index+1-n)...)
		}
		if f := &l.first[k.index]; f.term == 0 {
			*f = termChain{k.term, h}
			return
		}
	}
	if l.more == nil {
		l.more = map[entryKey]chainHash{}
	}
	l.more[k] = h
}

// bootstrapTerm is the term of the configuration entries every founding node starts with; no
// leader is ever elected in it.
const bootstrapTerm = 1

// appliedRecord is the first application of an index seen anywhere in the cluster.
type appliedRecord struct {
	entry appliedEntry // the command and its result, or the configuration change
	node  uint64
	at    time.Duration // when it was first applied: the entry takes effect then
}

// command is the game command the entry carried; nil for entries that are not commands.
func (r *appliedRecord) command() *game.Command {
	if r.entry.Type != raft.EntryNormal {
		return nil
	}
	return &r.entry.Command
}

// nodeWatch is what the checkers remember about one node between events.
type nodeWatch struct {
	lastApplied uint64
	lastCommit  uint64
	term        uint64
	leading     bool
	// campaignCommit is the highest entry known committed when this node last became a candidate:
	// Leader Completeness demands the leader it may become holds it.
	campaignCommit entryKey
	campaignTerm   uint64
}

// leaderWatch follows one leader's term for the disruption checker.
type leaderWatch struct {
	node, term uint64
	disturbed  bool            // its quorum was not connected at some point, or it stepped down itself
	cutOff     map[uint64]bool // nodes cut off from it during its term
}

// checkers holds the cluster-wide state the invariants are checked against.
type checkers struct {
	violations []Violation

	leaders   map[uint64]uint64       // term -> the one node elected in it
	logged    chainLog                // (index, term) -> chain hash, as first made durable
	applied   []*appliedRecord        // by index: what was first applied there; nil where nothing yet
	committed entryKey                // the highest entry known committed (applied somewhere)
	nodes     map[uint64]*nodeWatch   // by node id
	leading   map[uint64]*leaderWatch // by node id: leaders whose term is being watched
	byID      []*nodeWatch            // nodes' entries again, indexed by id
}

func newCheckers() *checkers {
	return &checkers{
		leaders: map[uint64]uint64{},
		nodes:   map[uint64]*nodeWatch{},
		leading: map[uint64]*leaderWatch{},
	}
}

func (c *checkers) watch(node uint64) *nodeWatch {
	// Looked up after every event: by index in a table, the map only for ids out of its range.
	if node < uint64(len(c.byID)) && c.byID[node] != nil {
		return c.byID[node]
	}
	w, ok := c.nodes[node]
	if !ok {
		w = &nodeWatch{}
		c.nodes[node] = w
	}
	if node < 1024 {
		for uint64(len(c.byID)) <= node {
			c.byID = append(c.byID, nil)
		}
		c.byID[node] = w
	}
	return w
}

func (c *checkers) fail(at time.Duration, checker string, node uint64, format string, args ...any) {
	c.violations = append(c.violations, Violation{Checker: checker, At: at, Node: node, Detail: fmt.Sprintf(format, args...)})
}

// chainFor finds the chain hash some durable log recorded for an entry.
func (c *checkers) chainFor(index, term uint64) (chainHash, bool) {
	return c.logged.get(entryKey{index, term})
}

// durable checks Log Matching for entries that just became durable on a node.
func (c *checkers) durable(at time.Duration, node uint64, entries []durableEntry) {
	for _, e := range entries {
		k := entryKey{e.index, e.term}
		if prev, ok := c.logged.get(k); ok {
			if prev != e.chain {
				c.fail(at, CheckLogMatching, node,
					"entry %d of term %d is durable on node %d with a different entry or prefix than on another node",
					e.index, e.term, node)
			}
			continue
		}
		c.logged.put(k, e.chain)
	}
}

// role checks Election Safety and Leader Completeness when a node's role or term is observed, and
// notes campaigns. d is the node's disk (its durable log).
func (c *checkers) role(at time.Duration, node, term uint64, leader, candidate bool, d *disk) {
	w := c.watch(node)
	if candidate && w.campaignTerm != term {
		w.campaignTerm = term
		w.campaignCommit = c.committed
	}
	if leader && !(w.leading && w.term == term) {
		if other, ok := c.leaders[term]; ok && other != node {
			c.fail(at, CheckElectionSafety, node, "nodes %d and %d were both elected leader of term %d", other, node, term)
		} else {
			c.leaders[term] = node
		}
		if w.campaignTerm == term && w.campaignCommit.index > 0 {
			k := w.campaignCommit
			want, known := c.logged.get(k)
			got, held := d.chainAt(k.index)
			// An entry compacted into the leader's snapshot is covered by it: snapshots hold only
			// committed state, and state machine safety compares what they produce.
			compacted := k.index < d.firstIndex()-1
			if known && !compacted && (!held || got != want) {
				c.fail(at, CheckLeaderCompleteness, node,
					"leader of term %d lacks entry %d of term %d, committed before its campaign began",
					term, k.index, k.term)
			}
		}
	}
	w.term, w.leading = term, leader
}

// commit checks that a node's commit index never goes back while it is up.
func (c *checkers) commit(at time.Duration, node, commit uint64) {
	w := c.watch(node)
	if commit < w.lastCommit {
		c.fail(at, CheckCommitMonotonic, node, "commit index went back from %d to %d", w.lastCommit, commit)
	}
	w.lastCommit = commit
}

// restarted forgets what a node held only in memory.
func (c *checkers) restarted(node, applied, commit uint64) {
	w := c.watch(node)
	w.lastApplied, w.lastCommit, w.leading, w.campaignTerm = applied, commit, false, 0
}

// snapshotRestored moves a node's applied index to a snapshot it installed.
func (c *checkers) snapshotRestored(node, index uint64) {
	w := c.watch(node)
	if index > w.lastApplied {
		w.lastApplied = index
	}
}

// apply checks State Machine Safety for one applied entry; it reports whether the index was
// applied for the first time anywhere, that is, newly known to be committed. The first application
// of each index is kept, and later ones are compared with it field by field (sameApplied); the
// digests that show how they differ are written only for a violation.
func (c *checkers) apply(at time.Duration, node uint64, a *appliedEntry) (first bool) {
	index, term := a.Index, a.Term
	w := c.watch(node)
	if index <= w.lastApplied {
		c.fail(at, CheckStateMachineSafety, node, "applied index %d after already applying %d", index, w.lastApplied)
	}
	w.lastApplied = index
	if index < uint64(len(c.applied)) && c.applied[index] != nil {
		rec := c.applied[index]
		if rec.entry.Term != term || !sameApplied(&rec.entry, a) {
			c.fail(at, CheckStateMachineSafety, node,
				"node %d applied %s (term %d) at index %d, but node %d applied %s (term %d) there",
				node, appendAppliedDigest(nil, a), term, index, rec.node, appendAppliedDigest(nil, &rec.entry), rec.entry.Term)
		}
	} else {
		if n := uint64(len(c.applied)); index >= n {
			c.applied = append(c.applied, make([]*appliedRecord, index+1-n)...)
		}
		c.applied[index] = &appliedRecord{entry: *a, node: node, at: at}
		first = true
	}
	if index > c.committed.index {
		c.committed = entryKey{index, term}
	}
	return first
}

// lastEntry is the (term, index) of a durable log's last entry, by which §5.4.1 compares logs.
func lastEntry(d *disk) (term, index uint64) {
	index = d.lastIndex()
	term, _ = d.termAt(index)
	return term, index
}

// upToDate reports whether a log ending at (term, index) is at least as up-to-date as one ending
// at (otherTerm, otherIndex) (paper §5.4.1).
func upToDate(term, index, otherTerm, otherIndex uint64) bool {
	return term > otherTerm || (term == otherTerm && index >= otherIndex)
}

// commitSafety checks, when an entry is first known committed, that every node lacking it would
// lose an election: fewer than a majority hold logs no more up-to-date than its own. A node whose
// storage lost state and that has not caught up (disk.recovering) neither campaigns nor votes
// (raft/recovery.go), so it is no candidate and no voter here. ids and disks are in the same order.
func (c *checkers) commitSafety(at time.Duration, index, term uint64, ids []uint64, disks []*disk, electorate func(i int) (voters []int, size int)) {
	if term <= bootstrapTerm {
		return // committed by fiat when the cluster was founded, identically on every node
	}
	for i, d := range disks {
		if index < d.firstIndex() {
			continue // inside its snapshot: it holds the entry's effect
		}
		if t, ok := d.termAt(index); (ok && t == term) || d.recovering {
			continue
		}
		nTerm, nIndex := lastEntry(d)
		// The nodes whose votes could elect node i, and the size of the configuration a majority
		// is counted of: every node, or with membership changes the voters of the configuration
		// in node i's own log.
		others, size := electorate(i)
		var voters []uint64
		for _, j := range others {
			vTerm, vIndex := lastEntry(disks[j])
			if !disks[j].recovering && upToDate(nTerm, nIndex, vTerm, vIndex) {
				voters = append(voters, ids[j])
			}
		}
		if size > 0 && len(voters) > size/2 {
			c.fail(at, CheckCommitSafety, ids[i],
				"entry %d of term %d is committed, yet node %d lacks it and could be elected by %v, whose logs are no more up-to-date than its own (last entry %d of term %d)",
				index, term, ids[i], voters, nIndex, nTerm)
			return
		}
	}
}
