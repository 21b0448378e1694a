// Log replication: AppendEntries from the leader's side and the follower's, and heartbeats.
//
// Paper §5.3: the leader sends each follower the entries after nextIndex along with the index and
// term of the entry before them; a follower accepts only if it holds that entry (the consistency
// check), which by the log matching property means its whole log matches up to there. On a
// rejection the leader moves nextIndex back; the follower's hint lets it skip a whole term of
// mismatched entries per round trip ("fast backtracking", end of §5.3). Appends are batched (all
// proposals since the last Ready in one message, up to MaxSizePerMsg) and pipelined (up to
// MaxInflight unacknowledged per follower once the logs are known to match).

package raft

// stepLeader handles what reaches a leader in its own term.
func stepLeader(n *Node, m Message) error {
	pr := n.prs[m.From]
	if pr == nil {
		return nil // not a member (any more)
	}
	switch m.Type {
	case MsgAppResp:
		pr.recentActive = true
		n.handleAppendResponse(m, pr)
	case MsgHeartbeatResp:
		pr.recentActive = true
		n.handleHeartbeatResponse(m, pr)
	case MsgSnapResp:
		pr.recentActive = true
		n.handleSnapshotResponse(m, pr)
	}
	return nil
}

// tickHeartbeat is the leader's clock: heartbeats every HeartbeatTick, and every ElectionTick the
// check-quorum test (thesis §6.2) and the deadline of a leadership transfer (thesis §3.10).
func tickHeartbeat(n *Node) {
	n.heartbeatElapsed++
	n.electionElapsed++
	if n.electionElapsed >= n.cfg.ElectionTick {
		n.electionElapsed = 0
		if n.cfg.CheckQuorum && !n.checkQuorumActive() {
			n.becomeFollower(n.term, None)
			return
		}
		n.abortLeaderTransfer()
	}
	if n.heartbeatElapsed >= n.cfg.HeartbeatTick {
		n.heartbeatElapsed = 0
		n.bcastHeartbeat(n.reads.lastPending())
	}
}

// peers returns the members other than this server, sorted: every broadcast walks them in this
// order so that a run's messages come out the same every time.
func (n *Node) peers() []uint64 {
	all := n.conf.members()
	out := all[:0]
	for _, id := range all {
		if id != n.id {
			out = append(out, id)
		}
	}
	return out
}

// flushAppends sends what proposals and commits since the last Ready left pending.
func (n *Node) flushAppends() {
	if n.role != Leader || (!n.bcastPending && !n.commitPending) {
		n.bcastPending, n.commitPending = false, false
		return
	}
	n.bcastAppend(n.commitPending)
	n.bcastPending, n.commitPending = false, false
}

// bcastAppend sends every follower what it lacks; with sendEmpty, also an empty append to those
// that lack nothing, to carry a new commit index.
func (n *Node) bcastAppend(sendEmpty bool) {
	for _, id := range n.peers() {
		n.sendAppends(id, sendEmpty)
	}
}

// sendAppends sends id as many appends as its flow control allows.
func (n *Node) sendAppends(id uint64, sendEmpty bool) {
	for n.sendAppend(id, sendEmpty) {
		sendEmpty = false
	}
}

// sendAppend sends id one append, or the first chunk of a snapshot if the entries it needs are
// compacted. It reports whether it sent an append that moved the follower's progress on.
func (n *Node) sendAppend(id uint64, sendEmpty bool) bool {
	pr := n.prs[id]
	if pr == nil || pr.paused() {
		return false
	}
	prevIndex := pr.next - 1
	prevTerm, errTerm := n.log.term(prevIndex)
	ents, errEnts := n.log.slice(pr.next, n.log.lastIndex()+1, n.cfg.MaxSizePerMsg)
	if errTerm != nil || errEnts != nil {
		n.sendSnapshot(id, pr)
		return false
	}
	if len(ents) == 0 && !sendEmpty {
		return false
	}
	n.send(Message{To: id, Type: MsgApp, Index: prevIndex, LogTerm: prevTerm, Entries: ents, Commit: n.log.committed,
		Recovering: pr.recovering})
	if len(ents) > 0 {
		pr.sentEntries(ents[len(ents)-1].Index)
		return pr.state == stateReplicate
	}
	if pr.state == stateProbe {
		pr.probeSent = true
	}
	return false
}

// handleAppendEntries is the follower's side of AppendEntries (paper Figure 2, receiver rules 2-5).
//
//kanna:lab 2 "Reply false without an entry at prevLogIndex of term prevLogTerm; else truncate conflicts, append, and set commitIndex = min(leaderCommit, last new index)" §5.3, Figure 2
func (n *Node) handleAppendEntries(m Message) {
	if m.Index < n.log.committed {
		// Everything up to our commit index already matches any leader's log (Leader Completeness);
		// say so, and the leader resends from there.
		n.send(Message{To: m.From, Type: MsgAppResp, Index: n.log.committed, Recovering: n.rec.on})
		return
	}
	if !n.log.matchTerm(m.Index, m.LogTerm) {
		// Hint at the highest index that can still match: at most our last index, and no entry
		// above it has a term at or below the leader's prevLogTerm.
		hint := n.log.findConflictByTerm(min(m.Index, n.log.lastIndex()), m.LogTerm)
		hintTerm, _ := n.log.term(hint)
		n.send(Message{To: m.From, Type: MsgAppResp, Index: m.Index, Reject: true, RejectHint: hint, ConflictTerm: hintTerm,
			Recovering: n.rec.on})
		return
	}
	lastNew := m.Index + uint64(len(m.Entries))
	// Entries start after m.Index, which is at least our commit index: a conflict can only
	// replace uncommitted entries.
	if ci := n.log.findConflict(m.Entries); ci != 0 {
		n.appendToLog(m.Entries[ci-m.Index-1:])
	}
	n.log.commitTo(min(m.Commit, lastNew))
	n.maybeEndRecovery(m, lastNew)
	n.send(Message{To: m.From, Type: MsgAppResp, Index: lastNew, Recovering: n.rec.on})
}

// handleAppendResponse is the leader's side of an AppendEntries answer.
func (n *Node) handleAppendResponse(m Message, pr *progress) {
	if m.Recovering && m.Index > n.log.lastIndex() && !m.Reject {
		// A recovering follower only ever holds what a leader sent it; a claim past our log is an
		// answer to a deposed leader's append and says nothing about ours.
		return
	}
	if m.Reject {
		hint := m.RejectHint
		if m.ConflictTerm > 0 {
			// Skip every entry of ours whose term is above the follower's conflicting term: none
			// of them can be on the follower (paper §5.3, fast backtracking).
			hint = n.log.findConflictByTerm(m.RejectHint, m.ConflictTerm)
		}
		if m.Recovering && !pr.recovering {
			// Its log went backwards: the Match we hold is void, probe from its true end now
			// rather than waiting for a snapshot (recovery.go).
			pr.noteRecovering(true, min(hint, n.log.lastIndex())+1)
			n.sendAppends(m.From, false)
			return
		}
		pr.noteRecovering(m.Recovering, 0)
		if pr.maybeDecrTo(m.Index, hint) {
			if pr.state == stateReplicate {
				pr.becomeProbe()
			}
			n.sendAppends(m.From, false)
		}
		return
	}
	if m.Index > n.log.lastIndex() {
		// The follower claims entries this leader never had. Leader Completeness rules that out;
		// only a teaching bug (or storage that lost acknowledged writes) gets here.
		if !n.bugsOn() {
			panic(invariantf("follower %d matches up to %d, past the leader's last index %d", m.From, m.Index, n.log.lastIndex()))
		}
		m.Index = n.log.lastIndex()
	}
	wasRecovering := pr.recovering
	pr.noteRecovering(m.Recovering, n.log.lastIndex()+1)
	if wasRecovering && !pr.recovering {
		// It caught up: its Match counts again, and may complete a majority at once.
		n.maybeCommit()
	}
	if !pr.maybeUpdate(m.Index) {
		return
	}
	switch {
	case pr.state == stateProbe:
		pr.becomeReplicate()
	case pr.state == stateSnapshot && pr.match >= pr.snap.Meta.Index:
		pr.becomeProbe()
		pr.becomeReplicate()
	case pr.state == stateReplicate:
		pr.freeInflight(m.Index)
	}
	// A new commit index goes out with the next Ready's appends (commitPending).
	n.maybeCommit()
	if n.role != Leader {
		return // a leader that removed itself steps down once the removal commits
	}
	n.sendAppends(m.From, false)
	if m.From == n.leadTransferee && pr.match == n.log.lastIndex() {
		n.sendTimeoutNow(m.From)
	}
}

// bcastHeartbeat sends every follower a heartbeat carrying ctx (a ReadIndex round, or nil).
func (n *Node) bcastHeartbeat(ctx []byte) {
	for _, id := range n.peers() {
		pr := n.prs[id]
		// A follower may not hold every committed entry yet; never tell it to commit past Match.
		commit := min(pr.match, n.log.committed)
		n.send(Message{To: id, Type: MsgHeartbeat, Commit: commit, Context: ctx})
	}
}

// handleHeartbeat is the follower's side: learn the commit index, answer with the context.
func (n *Node) handleHeartbeat(m Message) {
	n.log.commitTo(min(m.Commit, n.log.lastIndex()))
	n.send(Message{To: m.From, Type: MsgHeartbeatResp, Context: m.Context, Recovering: n.rec.on})
}

// handleHeartbeatResponse resumes a follower that the leader had stopped sending to, and counts
// the answer toward a ReadIndex round.
func (n *Node) handleHeartbeatResponse(m Message, pr *progress) {
	if m.Recovering && !pr.recovering {
		// A heartbeat carries no index, so the follower's true end is unknown: probe from ours,
		// and its rejection walks back to where the logs match.
		pr.noteRecovering(true, n.log.lastIndex()+1)
	}
	switch pr.state {
	case stateProbe:
		pr.probeSent = false
	case stateReplicate:
		if len(pr.inflight) >= pr.maxInflight {
			// The follower is alive, yet every append in flight is unanswered: some were lost.
			// Free one slot so that an append gets through and exposes the gap.
			pr.inflight = pr.inflight[1:]
		}
	case stateSnapshot:
		n.sendSnapshotChunk(m.From, pr)
	}
	if pr.match < n.log.lastIndex() {
		// Send even if nothing new is due: if appends in flight were lost, the follower's
		// rejection of this one reveals it (paper §5.3: the leader retries indefinitely).
		n.sendAppends(m.From, true)
	}
	if len(m.Context) > 0 {
		n.ackRead(m.From, m.Context)
	}
}
