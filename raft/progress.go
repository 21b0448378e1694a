// The leader's view of each follower: nextIndex and matchIndex (paper Figure 2, "volatile state on
// leaders"), plus the flow control that decides when the leader may send it more.
//
// A follower's progress is in one of three states, as in etcd-io/raft:
//   - probe: the leader does not know where the logs match; it sends one append and waits for the
//     answer (each rejection moves Next back, a whole term at a time; paper §5.3);
//   - replicate: the logs match up to Match; the leader streams appends optimistically, at most
//     MaxInflight of them unacknowledged (pipelining);
//   - snapshot: the entries the follower needs are compacted; the leader sends the snapshot in
//     chunks, one at a time, and sends nothing else until it is installed (paper §7).

package raft

type progressState uint8

const (
	stateProbe progressState = iota
	stateReplicate
	stateSnapshot
)

// progress is one follower's replication state on the leader.
type progress struct {
	match, next uint64
	state       progressState
	learner     bool

	// probeSent pauses a probing follower after one append, until it answers or a heartbeat
	// round-trip shows it is alive.
	probeSent bool

	// inflight holds the last index of each append sent in replicate state and not yet
	// acknowledged, oldest first; the leader stops sending when it holds maxInflight of them.
	inflight    []uint64
	maxInflight int

	// snap is the snapshot being sent in snapshot state, and snapOffset the first byte of the
	// chunk the follower asked for next.
	snap       *Snapshot
	snapOffset uint64

	// recentActive records that the follower answered during the current election timeout; a
	// leader that cannot count a majority of such followers steps down (check-quorum).
	recentActive bool

	// recovering: the follower said its storage lost state it had acknowledged (recovery.go);
	// its Match does not count toward commitment until it says otherwise.
	recovering bool
}

func newProgress(next uint64, maxInflight int) *progress {
	return &progress{next: next, maxInflight: maxInflight}
}

func (pr *progress) becomeProbe() {
	if pr.state == stateSnapshot {
		// The snapshot is installed (or abandoned): resume after it at the earliest.
		pr.next = max(pr.match+1, pr.snap.Meta.Index+1)
	} else {
		pr.next = pr.match + 1
	}
	pr.state = stateProbe
	pr.probeSent = false
	pr.inflight = pr.inflight[:0]
	pr.snap = nil
}

func (pr *progress) becomeReplicate() {
	pr.state = stateReplicate
	pr.next = pr.match + 1
	pr.probeSent = false
	pr.inflight = pr.inflight[:0]
	pr.snap = nil
}

func (pr *progress) becomeSnapshot(snap *Snapshot) {
	pr.state = stateSnapshot
	pr.snap = snap
	pr.snapOffset = 0
	pr.inflight = pr.inflight[:0]
}

// paused reports whether the leader must not send this follower another append now.
func (pr *progress) paused() bool {
	switch pr.state {
	case stateProbe:
		return pr.probeSent
	case stateReplicate:
		return len(pr.inflight) >= pr.maxInflight
	}
	return true
}

// sentEntries records an append carrying entries up to last.
func (pr *progress) sentEntries(last uint64) {
	switch pr.state {
	case stateReplicate:
		pr.next = last + 1
		pr.inflight = append(pr.inflight, last)
	case stateProbe:
		pr.probeSent = true
	}
}

// maybeUpdate records an acknowledgement that the follower's log matches up to index. It reports
// whether Match moved (a stale or duplicated answer does not move it).
func (pr *progress) maybeUpdate(index uint64) bool {
	updated := index > pr.match
	if updated {
		pr.match = index
		pr.probeSent = false
	}
	pr.next = max(pr.next, index+1)
	return updated
}

// freeInflight forgets the appends acknowledged by an answer covering index.
func (pr *progress) freeInflight(index uint64) {
	i := 0
	for i < len(pr.inflight) && pr.inflight[i] <= index {
		i++
	}
	pr.inflight = append(pr.inflight[:0], pr.inflight[i:]...)
}

// maybeDecrTo handles a rejected append whose previous index was rejected; hint is the highest
// index that may still match. It reports whether Next moved, false for a stale rejection.
func (pr *progress) maybeDecrTo(rejected, hint uint64) bool {
	if rejected <= pr.match {
		// Entries up to Match are known to match, so a rejection at or below it is stale (or,
		// with a teaching bug on, a lie that retrying would only repeat).
		return false
	}
	if pr.state == stateReplicate {
		pr.next = pr.match + 1
		return true
	}
	// In probe state only the answer to the latest probe counts.
	if pr.next-1 != rejected {
		return false
	}
	pr.next = max(min(rejected, hint+1), pr.match+1)
	pr.probeSent = false
	return true
}

// public returns the exported picture of pr for Status.
func (pr *progress) public() Progress {
	return Progress{
		Match:        pr.match,
		Next:         pr.next,
		Learner:      pr.learner,
		Inflight:     len(pr.inflight),
		Snapshotting: pr.state == stateSnapshot,
		RecentActive: pr.recentActive,
		Recovering:   pr.recovering,
	}
}
