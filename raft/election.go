// Terms, roles and elections: the one Step every message goes through, and how a server moves
// between follower, pre-candidate, candidate and leader.
//
// Paper §5.1 (terms: a server that sees a higher term adopts it and becomes a follower; a message
// with a stale term is rejected), §5.2 (leader election with randomized timeouts, one vote per
// term) and §5.4.1 (the election restriction: vote only for a candidate whose log is at least as
// up to date). Thesis §9.6 adds two guards that keep a server that was cut off from deposing a
// healthy leader when it comes back: pre-vote (ask "would you vote for me?" before raising the
// term) and the leader lease of check-quorum (a server that heard from a leader within the
// election timeout ignores requests to elect another).

package raft

import (
	"bytes"
	"fmt"
)

// campaignTransfer marks the MsgVote of a leadership transfer (thesis §3.10), in Message.Context:
// voters grant it even though they heard from the current leader recently.
var campaignTransfer = []byte("CampaignTransfer")

// Step hands the core one message received from a peer. Terms are settled first (paper §5.1);
// then the role's handler (stepLeader, stepCandidate or stepFollower) takes it.
func (n *Node) Step(m Message) error {
	if m.From == None || (m.To != None && m.To != n.id) {
		return fmt.Errorf("raft: step %s on node %d: the message is not from a server to this one; check the transport's routing", m, n.id)
	}
	switch {
	case m.Term > n.term:
		if (m.Type == MsgVote || m.Type == MsgPreVote) && n.inLease(m) {
			// Thesis §9.6: a leader we heard from recently is alive, so this candidate was cut
			// off or is ahead of itself. Neither adopt its term nor answer.
			return nil
		}
		switch {
		case m.Type == MsgPreVote:
			// A pre-vote raises nobody's term: that is its whole point.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// The term in a granted pre-vote is the one we would campaign in, not one anybody holds.
		case m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap:
			n.becomeFollower(m.Term, m.From)
		default:
			n.becomeFollower(m.Term, None)
		}
	case m.Term < n.term:
		switch {
		case (n.cfg.CheckQuorum || n.cfg.PreVote) && (m.Type == MsgApp || m.Type == MsgHeartbeat):
			// A leader from an older term that we ignore would never learn it was deposed: with
			// pre-vote or the lease we may not be campaigning against it, so tell it our term.
			n.send(Message{To: m.From, Type: MsgAppResp})
		case m.Type == MsgPreVote:
			// Answer, so that a pre-candidate stuck at a lower term learns ours and stops asking.
			n.send(Message{To: m.From, Type: MsgPreVoteResp, Reject: true})
		}
		return nil
	}

	if m.Type == MsgVote || m.Type == MsgPreVote {
		n.handleVoteRequest(m)
		return nil
	}
	return n.step(n, m)
}

// inLease reports whether a vote request must be ignored because this server heard from a leader
// within the election timeout (the lease of check-quorum). The request of a leadership transfer
// is the exception: the leader itself asked for it.
//
//kanna:lab 5 "A server that heard from a leader within the election timeout ignores requests to elect another" thesis §9.6
func (n *Node) inLease(m Message) bool {
	transfer := m.Type == MsgVote && bytes.Equal(m.Context, campaignTransfer)
	return n.cfg.CheckQuorum && n.lead != None && n.electionElapsed < n.cfg.ElectionTick && !transfer
}

// handleVoteRequest answers RequestVote (paper §5.2, §5.4.1) and its pre-vote twin (thesis §9.6).
//
//kanna:lab 1 "Grant at most one vote per term, and only to a candidate whose log is at least as up to date as yours" §5.2, §5.4.1
func (n *Node) handleVoteRequest(m Message) {
	respType := MsgVoteResp
	if m.Type == MsgPreVote {
		respType = MsgPreVoteResp
	}
	if n.rec.on {
		// A server that lost what it acknowledged cannot vouch for any log (recovery.go).
		n.send(Message{To: m.From, Type: respType, Reject: true})
		return
	}
	canVote := n.vote == m.From || // a repeated request: answer the same
		(n.vote == None && n.lead == None) || // free to vote in this term
		(m.Type == MsgPreVote && m.Term > n.term) // a pre-vote for a future term binds nothing
	upToDate := n.cfg.bugs.VoteWithoutLogCheck || n.log.isUpToDate(m.Index, m.LogTerm)
	if canVote && upToDate {
		// The response carries the candidate's term, so it is not mistaken for a stale answer.
		n.send(Message{To: m.From, Type: respType, Term: m.Term})
		if m.Type == MsgVote {
			n.electionElapsed = 0
			n.vote = m.From
		}
		return
	}
	n.send(Message{To: m.From, Type: respType, Reject: true})
}

// stepFollower handles what reaches a follower in its own term.
func stepFollower(n *Node, m Message) error {
	switch m.Type {
	case MsgApp:
		n.electionElapsed = 0
		n.lead = m.From
		n.handleAppendEntries(m)
	case MsgHeartbeat:
		n.electionElapsed = 0
		n.lead = m.From
		n.handleHeartbeat(m)
	case MsgSnap:
		n.electionElapsed = 0
		n.lead = m.From
		n.handleSnapshot(m)
	case MsgTimeoutNow:
		// Thesis §3.10: the leader has caught us up and asks us to start an election at once,
		// skipping pre-vote, which the other servers would refuse while they hear from it.
		if n.promotable() {
			n.campaign(true)
		}
	}
	return nil
}

// stepCandidate handles what reaches a pre-candidate or candidate in its own term.
func stepCandidate(n *Node, m Message) error {
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		// Paper §5.2: another server won this term; recognise it and take its message.
		n.becomeFollower(m.Term, m.From)
		return n.step(n, m)
	case MsgPreVoteResp, MsgVoteResp:
		if (m.Type == MsgPreVoteResp) != (n.role == PreCandidate) {
			return nil // an answer to a round we are no longer in
		}
		switch n.poll(m.From, !m.Reject) {
		case voteWon:
			if n.role == PreCandidate {
				n.campaign(false)
			} else {
				n.becomeLeader()
			}
		case voteLost:
			n.becomeFollower(n.term, None)
		}
	}
	return nil
}

// promotable reports whether this server may campaign: only voters may (learners and servers
// without a configuration just follow), and only once they hold what they promised (recovery.go).
func (n *Node) promotable() bool { return n.conf.isVoter(n.id) && !n.rec.on }

// tickElection is the follower's and candidate's clock: after a randomized timeout without hearing
// from a leader, campaign (paper §5.2).
//
//kanna:lab 1 "A follower that hears from no leader for a randomized election timeout starts an election" §5.2
func tickElection(n *Node) {
	n.electionElapsed++
	if n.promotable() && n.electionElapsed >= n.randomizedElectionTimeout {
		n.electionElapsed = 0
		n.hup()
	}
}

// hup starts an election: with pre-vote, a pre-election first.
func (n *Node) hup() {
	if n.role == Leader || !n.promotable() {
		return
	}
	if n.cfg.PreVote {
		n.preCampaign()
		return
	}
	n.campaign(false)
}

// preCampaign asks the voters whether they would vote for us in the next term, without raising
// ours (thesis §9.6).
//
//kanna:lab 5 "Before raising its term, a candidate asks whether a majority would vote for it" thesis §9.6
func (n *Node) preCampaign() {
	n.becomePreCandidate()
	n.requestVotes(MsgPreVote, n.term+1, nil)
	if n.poll(n.id, true) == voteWon {
		n.campaign(false)
	}
}

// campaign raises the term, votes for itself and asks the voters for theirs (paper §5.2).
//
//kanna:lab 1 "To begin an election, increment the term, vote for yourself and send RequestVote to every other voter" §5.2
func (n *Node) campaign(transfer bool) {
	n.becomeCandidate()
	var ctx []byte
	if transfer {
		ctx = campaignTransfer
	}
	n.requestVotes(MsgVote, n.term, ctx)
	if n.poll(n.id, true) == voteWon {
		n.becomeLeader()
	}
}

func (n *Node) requestVotes(t MessageType, term uint64, ctx []byte) {
	for _, id := range n.conf.voters {
		if id == n.id {
			continue
		}
		n.send(Message{To: id, Type: t, Term: term, Index: n.log.lastIndex(), LogTerm: n.log.lastTerm(), Context: ctx})
	}
}

// reset prepares a role change: a new term forgets the vote; every role starts with fresh timers.
func (n *Node) reset(term uint64) {
	if term < n.term {
		// Paper Figure 2: currentTerm only grows. A server that went back could vote twice in a
		// term it already voted in.
		panic(invariantf("term going backwards from %d to %d", n.term, term))
	}
	if term != n.term {
		n.term = term
		n.vote = None
	}
	n.lead = None
	n.electionElapsed = 0
	n.heartbeatElapsed = 0
	// Thesis §9.3: spreading timeouts over [T, 2T) makes split votes rare.
	n.randomizedElectionTimeout = n.cfg.ElectionTick + n.cfg.Rand.Intn(n.cfg.ElectionTick)
	n.votes = map[uint64]bool{}
	n.abortLeaderTransfer()
	n.reads = readQueue{}
	n.bcastPending, n.commitPending = false, false
	n.prs = map[uint64]*progress{}
	for _, id := range n.conf.members() {
		pr := newProgress(n.log.lastIndex()+1, n.cfg.MaxInflight)
		pr.learner = n.conf.isLearner(id)
		n.prs[id] = pr
	}
	n.pendingConfIndex = 0
}

func (n *Node) becomeFollower(term, lead uint64) {
	n.reset(term)
	n.lead = lead
	n.role = Follower
	n.step = stepFollower
	n.tick = tickElection
}

func (n *Node) becomePreCandidate() {
	// Neither the term nor the vote changes: a pre-candidate has promised nothing.
	n.votes = map[uint64]bool{}
	n.lead = None
	n.role = PreCandidate
	n.step = stepCandidate
	n.tick = tickElection
}

func (n *Node) becomeCandidate() {
	n.reset(n.term + 1)
	n.vote = n.id
	n.role = Candidate
	n.step = stepCandidate
	n.tick = tickElection
}

// becomeLeader takes office and appends a no-op of the new term (paper §8): until an entry of its
// own term commits, a leader cannot know which earlier entries are committed.
func (n *Node) becomeLeader() {
	n.reset(n.term)
	n.lead = n.id
	n.role = Leader
	n.step = stepLeader
	n.tick = tickHeartbeat
	if self := n.prs[n.id]; self != nil {
		self.match = n.log.stabled
		self.becomeReplicate()
	}
	e := n.appendLeaderEntry(Entry{Type: EntryNoop})
	// Any configuration change in the uncommitted tail, and the no-op itself, must commit before
	// this leader proposes another change (thesis §4.1 errata).
	n.pendingConfIndex = e.Index
}
