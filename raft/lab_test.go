// The graders of labs 1 to 5 (`kanna lab check N`, docs/labs.md): black-box tests of the core's
// exported API, one per rule, each named after its rule and failing with the rule and the
// evidence. They read nothing unexported, so they grade any core that keeps the API, the
// learner's included.

package raft_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/kanna-cluster/kanna/raft"
)

// ---- Lab 1: elections (paper §5.2, §5.4.1) ----

func TestLab1_FollowerCampaignsAfterElectionTimeout(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, noGuards)
	n := net.nodes[1]
	et := raft.DefaultConfig().ElectionTick
	for i := 1; i < et; i++ {
		n.Tick()
		if st := n.Status(); st.Role != raft.Follower {
			t.Fatalf("rule §5.2: server 1 became %s after %d ticks, before the shortest election timeout (%d ticks)", st.Role, i, et)
		}
	}
	for i := et; i < 2*et; i++ {
		n.Tick()
		if n.Status().Role == raft.Candidate {
			return
		}
	}
	st := n.Status()
	t.Fatalf("rule §5.2: server 1 heard from no leader for %d ticks (timeouts are drawn from [%d, %d)) and is still %s in term %d; it should have become a candidate",
		2*et, et, 2*et, st.Role, st.Term)
}

func TestLab1_CandidateIncrementsTermAndVotesForItself(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, noGuards)
	before := net.nodes[1].Status()
	from := net.mark(1)
	net.tickUntilCampaign(1)
	st := net.nodes[1].Status()
	if st.Role != raft.Candidate {
		t.Fatalf("rule §5.2: server 1 never became a candidate (it is %s after 40 ticks)", st.Role)
	}
	if st.Term != before.Term+1 || st.Vote != 1 {
		t.Fatalf("rule §5.2: candidate 1 is in term %d having voted for %d; it should be in term %d (one more than %d) having voted for itself",
			st.Term, st.Vote, before.Term+1, before.Term)
	}
	if hs := net.disks[1].hs; hs.Term != st.Term || hs.Vote != 1 {
		t.Fatalf("rule §5.2: candidate 1's persisted HardState is term %d vote %d; its new term and self-vote must reach Ready.HardState", hs.Term, hs.Vote)
	}
	votes := ofType(net.sent(1, from), raft.MsgVote)
	got := map[uint64]raft.Message{}
	for _, m := range votes {
		got[m.To] = m
	}
	for _, peer := range []uint64{2, 3} {
		m, ok := got[peer]
		if !ok {
			t.Fatalf("rule §5.2: candidate 1 sent RequestVote to %v, not to server %d", slices.Collect(func(yield func(uint64) bool) {
				for id := range got {
					if !yield(id) {
						return
					}
				}
			}), peer)
		}
		if m.Term != st.Term || m.Index != st.LastIndex || m.LogTerm != 1 {
			t.Fatalf("rule §5.2: RequestVote to %d says term %d, last log index %d, last log term %d; want the candidate's term %d and its last entry (index %d, term 1)",
				peer, m.Term, m.Index, m.LogTerm, st.Term, st.LastIndex)
		}
	}
}

func TestLab1_CandidateWithMajorityBecomesLeader(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, noGuards)
	net.cut[3] = true // one vote of two is enough for a majority of three
	net.elect(1)
	if st := net.nodes[1].Status(); st.Role != raft.Leader {
		t.Fatalf("rule §5.2: server 1 holds votes from itself and server 2, a majority of 3, but is %s", st.Role)
	}

	// Refused by a majority, a candidate gives up its candidacy for this term.
	n, d := single(t, 1, 2, 3, withLog(), noGuards)
	campaignAlone(n, d)
	term := n.Status().Term
	for _, from := range []uint64{2, 3} {
		if err := n.Step(raft.Message{Type: raft.MsgVoteResp, From: from, To: 1, Term: term, Reject: true}); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.Status(); st.Role == raft.Leader || st.Role == raft.Candidate {
		t.Fatalf("rule §5.2: servers 2 and 3 refused candidate 1 in term %d, a majority against it, yet it is still %s", term, st.Role)
	}
}

func TestLab1_OneVotePerTerm(t *testing.T) {
	defer notWritten(t)
	n, d := single(t, 1, 2, 4, withLog(2), noGuards)
	ask := func(from uint64) (granted bool, answered bool) {
		if err := n.Step(raft.Message{Type: raft.MsgVote, From: from, To: 1, Term: 3, Index: 4, LogTerm: 2}); err != nil {
			t.Fatal(err)
		}
		for _, m := range drain(n, d) {
			if m.Type == raft.MsgVoteResp && m.To == from {
				return !m.Reject, true
			}
		}
		return false, false
	}
	if g, ok := ask(2); !ok || !g {
		t.Fatalf("rule §5.2: server 1 refused (or ignored) server 2's RequestVote in term 3, the first it saw in that term, from a candidate as up to date as itself")
	}
	if g, _ := ask(3); g {
		t.Fatalf("rule §5.2: server 1 granted its vote in term 3 to server 3 after granting it to server 2 in the same term; each server votes at most once per term")
	}
	if g, ok := ask(2); !ok || !g {
		t.Fatalf("rule §5.2: server 1 refused server 2's repeated RequestVote in term 3; it voted for 2 in this term, so it must answer the same again (the first answer may have been lost)")
	}
	if hs := d.hs; hs.Term != 3 || hs.Vote != 2 {
		t.Fatalf("rule §5.2: server 1's persisted HardState is term %d vote %d after voting for 2 in term 3; a vote must reach Ready.HardState", hs.Term, hs.Vote)
	}
}

func TestLab1_VoteOnlyForUpToDateLog(t *testing.T) {
	defer notWritten(t)
	// Server 2 holds the founding entries 1-3, then index 4 of term 2 and index 5 of term 3.
	cases := []struct {
		lastIndex, lastTerm uint64
		grant               bool
	}{
		{10, 2, false}, // longer, but its last term is older
		{4, 3, false},  // same last term, shorter
		{5, 3, true},   // identical
		{6, 3, true},   // same last term, longer
		{2, 4, true},   // shorter, but a later last term
	}
	for i, c := range cases {
		n, d := single(t, 2, 3, 3, withLog(2, 3), noGuards)
		term := uint64(4 + i)
		if err := n.Step(raft.Message{Type: raft.MsgVote, From: 3, To: 2, Term: term, Index: c.lastIndex, LogTerm: c.lastTerm}); err != nil {
			t.Fatal(err)
		}
		var resp *raft.Message
		for _, m := range drain(n, d) {
			if m.Type == raft.MsgVoteResp {
				resp = &m
			}
		}
		switch {
		case resp == nil:
			t.Fatalf("rule §5.4.1: server 2 did not answer server 3's RequestVote in term %d", term)
		case !resp.Reject && !c.grant:
			t.Fatalf("rule §5.4.1: server 2 granted its vote in term %d to server 3, whose log (last term %d, index %d) is behind its own (last term 3, index 5)",
				term, c.lastTerm, c.lastIndex)
		case resp.Reject && c.grant:
			t.Fatalf("rule §5.4.1: server 2 refused its vote in term %d to server 3, whose log (last term %d, index %d) is at least as up to date as its own (last term 3, index 5)",
				term, c.lastTerm, c.lastIndex)
		}
	}
}

func TestLab1_RandomizedTimeoutsSpread(t *testing.T) {
	defer notWritten(t)
	et := raft.DefaultConfig().ElectionTick
	seen := map[int]bool{}
	for seed := range 30 {
		net := newLabNet(t, 3, func(c *raft.Config) {
			noGuards(c)
			c.Rand.Seed(int64(seed)*7919 + int64(c.ID))
		})
		n := net.nodes[1]
		ticks := 0
		for n.Status().Role == raft.Follower && ticks < 3*et {
			n.Tick()
			ticks++
		}
		if ticks < et || ticks >= 2*et {
			t.Fatalf("rule §5.2: server 1 (seed %d) campaigned after %d ticks; election timeouts must fall in [ElectionTick, 2*ElectionTick) = [%d, %d)",
				seed, ticks, et, 2*et)
		}
		seen[ticks] = true
	}
	if len(seen) < 4 {
		t.Fatalf("rule §5.2: over 30 seeds server 1 campaigned after only %d distinct timeouts %v; draw each timeout at random from [%d, %d) with Config.Rand, or split votes repeat forever",
			len(seen), seen, et, 2*et)
	}
}

// ---- Lab 2: replication (paper §5.3, §5.4.2) ----

// appendTo steps one MsgApp into n and returns its answer.
func appendTo(t *testing.T, n *raft.Node, d *labDisk, m raft.Message) raft.Message {
	t.Helper()
	m.Type, m.From, m.To = raft.MsgApp, 1, n.ID()
	if err := n.Step(m); err != nil {
		t.Fatal(err)
	}
	for _, r := range drain(n, d) {
		if r.Type == raft.MsgAppResp {
			return r
		}
	}
	t.Fatalf("server %d did not answer an append (prevLogIndex %d, prevLogTerm %d)", n.ID(), m.Index, m.LogTerm)
	return raft.Message{}
}

func entriesOf(term uint64, from, to uint64) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Term: term, Index: i, Type: raft.EntryNormal, Data: fmt.Appendf(nil, "e%d", i)})
	}
	return out
}

func logOf(d *labDisk) string {
	var s []string
	for _, e := range d.ents {
		s = append(s, fmt.Sprintf("%d/t%d", e.Index, e.Term))
	}
	return fmt.Sprint(s)
}

func TestLab2_RejectAppendWithoutMatchingPrevEntry(t *testing.T) {
	defer notWritten(t)
	n, d := single(t, 2, 2, 3, withLog(2), nil) // log ends at index 4, term 2
	for _, c := range []struct{ index, term uint64 }{{5, 2}, {4, 1}, {3, 2}} {
		r := appendTo(t, n, d, raft.Message{Term: 2, Index: c.index, LogTerm: c.term, Entries: entriesOf(2, c.index+1, c.index+1)})
		if !r.Reject {
			t.Fatalf("rule §5.3: server 2 accepted an append after index %d of term %d, but its log %s holds no such entry", c.index, c.term, logOf(d))
		}
		if st := n.Status(); st.LastIndex != 4 {
			t.Fatalf("rule §5.3: after refusing an append after index %d of term %d, server 2's log ends at %d; a refused append must change nothing", c.index, c.term, st.LastIndex)
		}
	}
	r := appendTo(t, n, d, raft.Message{Term: 2, Index: 4, LogTerm: 2, Entries: entriesOf(2, 5, 5)})
	if r.Reject || r.Index != 5 {
		t.Fatalf("rule §5.3: server 2 holds index 4 of term 2, yet answered an append after it with reject=%v index=%d; want success with index 5", r.Reject, r.Index)
	}
}

func TestLab2_TruncateConflictingEntries(t *testing.T) {
	defer notWritten(t)
	n, d := single(t, 2, 2, 3, withLog(2, 2, 2), nil) // 4/t2 5/t2 6/t2, commit 3
	r := appendTo(t, n, d, raft.Message{Term: 3, Index: 4, LogTerm: 2, Entries: entriesOf(3, 5, 5)})
	if r.Reject {
		t.Fatalf("rule §5.3: server 2 refused an append after index 4 of term 2, which it holds")
	}
	st := n.Status()
	last := d.ents[len(d.ents)-1]
	if st.LastIndex != 5 || last.Index != 5 || last.Term != 3 {
		t.Fatalf("rule §5.3: the leader of term 3 sent index 5 of term 3 after 4/t2; server 2's log is now %s (last index %d): index 5 of term 2 conflicts and it and everything after it (index 6) must go",
			logOf(d), st.LastIndex)
	}
}

func TestLab2_KeepEntriesOnStaleAppend(t *testing.T) {
	defer notWritten(t)
	n, d := single(t, 2, 2, 3, withLog(2, 2, 2), nil) // 4/t2 5/t2 6/t2
	// A late duplicate of an append the follower already took: entries 4 and 5, which match.
	r := appendTo(t, n, d, raft.Message{Term: 2, Index: 3, LogTerm: 1, Entries: withLog(2, 2)[3:]})
	if r.Reject {
		t.Fatalf("rule §5.3: server 2 refused an append after index 3 of term 1, which it holds")
	}
	if st := n.Status(); st.LastIndex != 6 {
		t.Fatalf("rule §5.3: a late copy of entries 4-5, which server 2 already holds, cut its log to %s (last index %d); only a conflicting entry may truncate, and index 6 conflicts with nothing",
			logOf(d), st.LastIndex)
	}
	if r.Index != 5 {
		t.Fatalf("rule §5.3: server 2 answered the append of entries 4-5 with index %d; it should acknowledge what that append proved, index 5", r.Index)
	}
}

func TestLab2_FollowerCommitIsMinOfLeaderCommitAndLastNew(t *testing.T) {
	defer notWritten(t)
	n, d := single(t, 2, 2, 3, withLog(2, 2, 2), nil) // 4/t2 5/t2 6/t2, commit 3
	appendTo(t, n, d, raft.Message{Term: 2, Index: 3, LogTerm: 1, Entries: withLog(2)[3:], Commit: 6})
	if c := n.Status().Commit; c != 4 {
		t.Fatalf("rule §5.3: leader commit 6, last new entry 4: server 2 set its commit index to %d, want min(6, 4) = 4 (entries 5 and 6 may not be the leader's)", c)
	}
	appendTo(t, n, d, raft.Message{Term: 2, Index: 4, LogTerm: 2, Entries: withLog(2, 2)[4:], Commit: 5})
	if c := n.Status().Commit; c != 5 {
		t.Fatalf("rule §5.3: leader commit 5, last new entry 5: server 2's commit index is %d, want 5", c)
	}
	if d.hs.Commit != 5 {
		t.Fatalf("rule §5.3: server 2 committed 5 but its persisted HardState says commit %d; the new commit index must reach Ready.HardState", d.hs.Commit)
	}
}

func TestLab2_LeaderCommitsOnMajority(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 5, nil)
	net.elect(1)
	net.cut[4], net.cut[5] = true, true
	i := net.propose(1, "guess a")
	if c := net.nodes[1].Status().Commit; c < i {
		t.Fatalf("rule §5.3: entry %d is on servers 1, 2 and 3, a majority of 5, but leader 1's commit index is %d", i, c)
	}
	if !slices.Contains(net.disks[2].cmds, "guess a") {
		t.Fatalf("rule §5.3: leader 1 committed entry %d but follower 2 never applied it (applied %v); the next append or heartbeat must carry the commit index", i, net.disks[2].cmds)
	}
	net.cut[3] = true
	j := net.propose(1, "guess b")
	if c := net.nodes[1].Status().Commit; c >= j {
		t.Fatalf("rule §5.3: entry %d is on servers 1 and 2 only, 2 of 5, yet leader 1 committed it (commit index %d)", j, c)
	}
}

func TestLab2_NoCommitOfOldTermByCounting(t *testing.T) {
	defer notWritten(t)
	// Figure 8: server 1 holds index 4 of term 2, never committed; it becomes leader of term 3
	// and appends its no-op at index 5.
	n, d := single(t, 1, 2, 3, withLog(2), noGuards)
	campaignAlone(n, d)
	term := n.Status().Term
	if err := n.Step(raft.Message{Type: raft.MsgVoteResp, From: 2, To: 1, Term: term}); err != nil {
		t.Fatal(err)
	}
	drain(n, d)
	if st := n.Status(); st.Role != raft.Leader || st.LastIndex != 5 {
		t.Fatalf("server 1 should lead term %d with its no-op at index 5; it is %s with last index %d", term, st.Role, st.LastIndex)
	}
	// Server 2 now holds index 4 (of term 2) too: a majority of three, by count.
	if err := n.Step(raft.Message{Type: raft.MsgAppResp, From: 2, To: 1, Term: term, Index: 4}); err != nil {
		t.Fatal(err)
	}
	drain(n, d)
	if c := n.Status().Commit; c >= 4 {
		t.Fatalf("rule §5.4.2 (Figure 8): leader 1 of term %d committed index 4 of term 2 because servers 1 and 2 hold it; an entry of an earlier term may still be overwritten by a leader that lacks it, so commit it only through an entry of the current term (commit index is %d)", term, c)
	}
	if err := n.Step(raft.Message{Type: raft.MsgAppResp, From: 2, To: 1, Term: term, Index: 5}); err != nil {
		t.Fatal(err)
	}
	drain(n, d)
	if c := n.Status().Commit; c != 5 {
		t.Fatalf("rule §5.4.2: servers 1 and 2 hold index 5 of the current term %d, a majority, so index 5 and everything before it commit; leader 1's commit index is %d", term, c)
	}
}

// ---- Lab 3: persistence and restart (paper Figure 2) ----

func TestLab3_HardStateCarriesTermVoteCommit(t *testing.T) {
	defer notWritten(t)
	n, _ := single(t, 2, 2, 3, withLog(2), noGuards)
	if err := n.Step(raft.Message{Type: raft.MsgVote, From: 3, To: 2, Term: 5, Index: 4, LogTerm: 2}); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	if rd.HardState.Term != 5 || rd.HardState.Vote != 3 {
		t.Fatalf("rule Figure 2: server 2 voted for 3 in term 5, but the Ready's HardState is term %d vote %d; currentTerm and votedFor must be handed out to be persisted", rd.HardState.Term, rd.HardState.Vote)
	}
	n.Advance(rd)
	if err := n.Step(raft.Message{Type: raft.MsgApp, From: 3, To: 2, Term: 5, Index: 4, LogTerm: 2, Commit: 4}); err != nil {
		t.Fatal(err)
	}
	rd = n.Ready()
	if rd.HardState.Commit != 4 {
		t.Fatalf("rule Figure 2: server 2 learned commit index 4, but the Ready's HardState says commit %d", rd.HardState.Commit)
	}
	n.Advance(rd)
	if n.HasReady() {
		if rd := n.Ready(); !rd.HardState.IsEmpty() {
			t.Fatalf("rule Figure 2: nothing changed since the last Advance, yet the Ready hands out HardState %+v again", rd.HardState)
		}
	}
}

func TestLab3_MustSyncBeforeVoteOrAppendLeaves(t *testing.T) {
	defer notWritten(t)
	n, _ := single(t, 2, 2, 3, withLog(2), noGuards)
	if err := n.Step(raft.Message{Type: raft.MsgVote, From: 3, To: 2, Term: 5, Index: 4, LogTerm: 2}); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	if !rd.MustSync {
		t.Fatalf("rule Figure 2: the Ready granting server 3 a vote in term 5 has MustSync false; a vote must be on stable storage before the answer leaves, or a crash lets server 2 vote twice")
	}
	n.Advance(rd)
	if err := n.Step(raft.Message{Type: raft.MsgApp, From: 3, To: 2, Term: 5, Index: 4, LogTerm: 2, Entries: entriesOf(5, 5, 5)}); err != nil {
		t.Fatal(err)
	}
	rd = n.Ready()
	if !rd.MustSync || len(rd.Entries) != 1 {
		t.Fatalf("rule Figure 2: the Ready acknowledging entry 5 has MustSync %v and %d entries; an entry must be durable before its acknowledgement leaves", rd.MustSync, len(rd.Entries))
	}
	n.Advance(rd)
	if err := n.Step(raft.Message{Type: raft.MsgHeartbeat, From: 3, To: 2, Term: 5, Commit: 5}); err != nil {
		t.Fatal(err)
	}
	rd = n.Ready()
	if rd.HardState.Commit != 5 || rd.MustSync {
		t.Fatalf("rule Figure 2: a Ready that only moves the commit index to 5 has commit %d and MustSync %v; the commit index is not a promise to anybody and need not be synced (Ready.MustSync's contract)", rd.HardState.Commit, rd.MustSync)
	}
}

func TestLab3_RestartKeepsTermVoteAndLog(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	net.elect(1)
	net.propose(1, "guess a")
	net.propose(1, "guess b")
	before := net.nodes[2].Status()
	applied := slices.Clone(net.disks[2].cmds)
	net.restart(2)
	after := net.nodes[2].Status()
	if after.Term != before.Term || after.Vote != before.Vote || after.LastIndex != before.LastIndex {
		t.Fatalf("rule Figure 2: server 2 held term %d, vote %d, log up to %d; restarted from its disk it has term %d, vote %d, log up to %d",
			before.Term, before.Vote, before.LastIndex, after.Term, after.Vote, after.LastIndex)
	}
	if after.Commit < before.Commit || after.Applied < before.Applied {
		t.Fatalf("rule Figure 2: restarted server 2 has commit %d and applied %d, behind the %d and %d it persisted", after.Commit, after.Applied, before.Commit, before.Applied)
	}
	if !slices.Equal(net.disks[2].cmds, applied) {
		t.Fatalf("rule Figure 2: restarted server 2 applied again what it had applied: %v, then %v", applied, net.disks[2].cmds)
	}
	net.propose(1, "guess c")
	if !slices.Contains(net.disks[2].cmds, "guess c") {
		t.Fatalf("rule Figure 2: restarted server 2 does not take new entries from its leader (applied %v)", net.disks[2].cmds)
	}
}

func TestLab3_RestartedVoterDoesNotVoteTwice(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, noGuards)
	n := net.nodes[2]
	if err := n.Step(raft.Message{Type: raft.MsgVote, From: 3, To: 2, Term: 5, Index: 3, LogTerm: 1}); err != nil {
		t.Fatal(err)
	}
	net.ready(2)
	net.queue = nil
	net.restart(2)
	from := net.mark(2)
	if err := net.nodes[2].Step(raft.Message{Type: raft.MsgVote, From: 1, To: 2, Term: 5, Index: 3, LogTerm: 1}); err != nil {
		t.Fatal(err)
	}
	net.ready(2)
	for _, m := range ofType(net.sent(2, from), raft.MsgVoteResp) {
		if m.To == 1 && !m.Reject {
			t.Fatalf("rule Figure 2 (votedFor is persistent): server 2 voted for 3 in term 5, restarted, and then granted its vote in term 5 to server 1 as well; two leaders can now be elected in one term")
		}
	}
}

// ---- Lab 4: snapshots (paper §7, Figure 13) ----

func TestLab4_CompactKeepsIndexTermAndConf(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	net.elect(1)
	net.propose(1, "guess a")
	i := net.propose(1, "guess b")
	n := net.nodes[1]
	term := n.Status().Term
	meta, err := n.Compact(i, []byte("a,b"))
	if err != nil {
		t.Fatalf("rule §7: Compact(%d) of an applied index failed: %v", i, err)
	}
	if meta.Index != i || meta.Term != term || !slices.Equal(meta.ConfState.Voters, []uint64{1, 2, 3}) {
		t.Fatalf("rule §7: Compact(%d) returned snapshot metadata index %d term %d voters %v; want index %d, term %d (the entry's) and voters [1 2 3]",
			i, meta.Index, meta.Term, meta.ConfState.Voters, i, term)
	}
	if st := n.Status(); st.FirstIndex != i+1 || st.LastIndex != i {
		t.Fatalf("rule §7: after Compact(%d) the log holds %d..%d; the snapshot replaces everything up to %d", i, st.FirstIndex, st.LastIndex, i)
	}
	j := net.propose(1, "guess c")
	if c := n.Status().Commit; c < j {
		t.Fatalf("rule §7: after compacting, leader 1 no longer commits: entry %d stays uncommitted (commit %d); the entry after the snapshot must still pass the consistency check with the snapshot's index and term", j, c)
	}
}

func TestLab4_CompactRefusesUnappliedIndex(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	net.elect(1)
	i := net.propose(1, "guess a")
	n := net.nodes[1]
	if _, err := n.Compact(i+1, nil); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("rule §7: Compact(%d) past the applied index %d returned %v; want an error wrapping ErrUnavailable (only applied state can be snapshotted)", i+1, i, err)
	}
	if _, err := n.Compact(i, nil); err != nil {
		t.Fatalf("rule §7: Compact(%d) of the applied index failed: %v", i, err)
	}
	if _, err := n.Compact(i, nil); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("rule §7: compacting to %d a second time returned %v; want an error wrapping ErrCompacted", i, err)
	}
}

func TestLab4_LaggingFollowerGetsSnapshotInChunks(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, func(c *raft.Config) { c.SnapshotChunkSize = 4 })
	net.elect(1)
	net.cut[3] = true
	var i uint64
	for _, g := range []string{"a", "b", "c"} {
		i = net.propose(1, "guess "+g)
	}
	data := []byte("state-after-a-b-c") // 17 bytes: five chunks of at most 4
	if _, err := net.nodes[1].Compact(i, data); err != nil {
		t.Fatalf("Compact(%d): %v", i, err)
	}
	net.cut[3] = false
	from := net.mark(1)
	net.tickAll(3)
	chunks := 0
	var next uint64
	for _, m := range ofType(net.sent(1, from), raft.MsgSnap) {
		if m.To != 3 {
			continue
		}
		if m.Snapshot == nil || uint64(len(m.Snapshot.Data)) > 4 {
			t.Fatalf("rule §7: leader 1 sent a MsgSnap of %v bytes with SnapshotChunkSize 4", m.Snapshot)
		}
		if m.Offset == next {
			chunks++
			next += uint64(len(m.Snapshot.Data))
		}
	}
	if chunks < 5 || next != uint64(len(data)) {
		t.Fatalf("rule §7, Figure 13: leader 1 sent follower 3 %d chunks in order covering %d of the snapshot's %d bytes; with 4-byte chunks it takes 5, at offsets 0, 4, 8, 12, 16", chunks, next, len(data))
	}
	snap := net.disks[3].snap
	if snap == nil || string(snap.Data) != string(data) || snap.Meta.Index != i {
		t.Fatalf("rule Figure 13: follower 3 persisted snapshot %+v; want index %d with data %q, reassembled from the chunks", snap, i, data)
	}
	j := net.propose(1, "guess d")
	if !slices.Contains(net.disks[3].cmds, "guess d") || net.nodes[3].Status().Commit < j {
		t.Fatalf("rule §7: after installing the snapshot, follower 3 does not follow the log on (applied %v, commit %d, want %d)", net.disks[3].cmds, net.nodes[3].Status().Commit, j)
	}
}

// snapshotTo sends n a whole snapshot in one chunk and returns the answers.
func snapshotTo(t *testing.T, n *raft.Node, d *labDisk, term uint64, meta raft.SnapshotMeta) []raft.Message {
	t.Helper()
	m := raft.Message{Type: raft.MsgSnap, From: 1, To: n.ID(), Term: term, Done: true,
		Snapshot: &raft.Snapshot{Meta: meta, Data: []byte("state")}}
	if err := n.Step(m); err != nil {
		t.Fatal(err)
	}
	return drain(n, d)
}

func TestLab4_InstallSnapshotDiscardsConflictingLog(t *testing.T) {
	defer notWritten(t)
	n, d := single(t, 2, 3, 3, withLog(2, 2), nil) // 4/t2 5/t2, commit 3
	meta := raft.SnapshotMeta{Index: 6, Term: 3, ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}}}
	msgs := snapshotTo(t, n, d, 3, meta)
	st := n.Status()
	if d.snap == nil || d.snap.Meta.Index != 6 {
		t.Fatalf("rule Figure 13: server 2 got a complete snapshot through index 6 of term 3 but did not hand it to the driver in Ready.Snapshot (persisted: %+v)", d.snap)
	}
	if st.FirstIndex != 7 || st.LastIndex != 6 || st.Commit != 6 {
		t.Fatalf("rule Figure 13, steps 7-8: server 2's log (up to 5/t2) does not hold the snapshot's last entry 6/t3, so it must be discarded; its log is now %d..%d with commit %d, want empty after 6 with commit 6",
			st.FirstIndex, st.LastIndex, st.Commit)
	}
	acked := false
	for _, m := range msgs {
		if m.Type == raft.MsgAppResp && !m.Reject && m.Index == 6 {
			acked = true
		}
	}
	if !acked {
		t.Fatalf("rule Figure 13: server 2 installed the snapshot through 6 but did not tell the leader it now holds index 6 (sent %v)", msgs)
	}
}

func TestLab4_InstallSnapshotKeepsFollowingEntries(t *testing.T) {
	defer notWritten(t)
	n, d := single(t, 2, 2, 3, withLog(2, 2, 2), nil) // 4/t2 5/t2 6/t2, commit 3
	snapshotTo(t, n, d, 2, raft.SnapshotMeta{Index: 5, Term: 2, ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}}})
	st := n.Status()
	if st.LastIndex != 6 {
		t.Fatalf("rule Figure 13, step 6: server 2's log holds the snapshot's last entry 5/t2, so the entries after it must stay; its log now ends at %d, want 6", st.LastIndex)
	}
	if st.Commit < 5 {
		t.Fatalf("rule Figure 13: after a snapshot through 5, server 2's commit index is %d; everything a snapshot covers is committed", st.Commit)
	}
}

// ---- Lab 5: pre-vote and check-quorum (thesis §9.6, §6.2) ----

func TestLab5_PreVoteDoesNotRaiseTerm(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	n := net.nodes[1]
	term := n.Status().Term
	from := net.mark(1)
	net.tickUntilCampaign(1)
	st := n.Status()
	if st.Role != raft.PreCandidate {
		t.Fatalf("rule thesis §9.6: with PreVote, server 1's election timeout made it %s; it should first become a pre-candidate", st.Role)
	}
	if st.Term != term || st.Vote != 0 {
		t.Fatalf("rule thesis §9.6: pre-candidate 1 is in term %d having voted for %d; a pre-vote raises no term and casts no vote (it was term %d)", st.Term, st.Vote, term)
	}
	pre := ofType(net.sent(1, from), raft.MsgPreVote)
	if len(pre) != 2 || pre[0].Term != term+1 {
		t.Fatalf("rule thesis §9.6: pre-candidate 1 sent %d pre-votes (%v); want one to each of servers 2 and 3, for the term it would campaign in, %d", len(pre), pre, term+1)
	}
}

func TestLab5_PreVoteWonLeadsToCampaign(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	term := net.nodes[1].Status().Term
	net.elect(1)
	if st := net.nodes[1].Status(); st.Term != term+1 {
		t.Fatalf("rule thesis §9.6: server 1 won its pre-vote and election, and leads in term %d; the pre-vote should have raised nothing and the election one term, to %d", st.Term, term+1)
	}
	// Refused by a majority, a pre-candidate goes back to following without raising its term.
	n, d := single(t, 1, 4, 3, withLog(), nil)
	campaignAlone(n, d)
	for _, from := range []uint64{2, 3} {
		if err := n.Step(raft.Message{Type: raft.MsgPreVoteResp, From: from, To: 1, Term: 4, Reject: true}); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.Status(); st.Role != raft.Follower || st.Term != 4 {
		t.Fatalf("rule thesis §9.6: a majority refused pre-candidate 1; it is %s in term %d, want a follower still in term 4", st.Role, st.Term)
	}
}

func TestLab5_RejoiningServerDoesNotDepose(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	net.elect(1)
	term := net.nodes[1].Status().Term
	net.cut[3] = true
	net.tickAll(100) // server 3 times out again and again, alone
	net.cut[3] = false
	net.tickAll(30)
	st := net.nodes[1].Status()
	if st.Role != raft.Leader || st.Term != term {
		t.Fatalf("rule thesis §9.6: server 3 was cut off for 100 ticks and rejoined; leader 1 of term %d, heard by server 2 all along, is now %s in term %d: the rejoining server deposed it",
			term, st.Role, st.Term)
	}
	if st3 := net.nodes[3].Status(); st3.Lead != 1 {
		t.Fatalf("rule thesis §9.6: 30 ticks after rejoining, server 3 follows %d in term %d, not leader 1", st3.Lead, st3.Term)
	}
}

func TestLab5_LeaderStepsDownWithoutQuorum(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	net.elect(1)
	net.cut[2], net.cut[3] = true, true
	et := raft.DefaultConfig().ElectionTick
	for i := range 2 * et {
		net.nodes[1].Tick()
		net.deliver(nil)
		if net.nodes[1].Status().Role != raft.Leader {
			if i < et-1 {
				t.Fatalf("rule thesis §6.2: leader 1 stepped down after %d ticks, before a whole election timeout (%d ticks) passed", i+1, et)
			}
			return
		}
	}
	t.Fatalf("rule thesis §6.2: leader 1 heard from nobody for %d ticks (two election timeouts) and still leads; with CheckQuorum it must step down", 2*et)
}

func TestLab5_VoterInLeaseIgnoresVoteRequest(t *testing.T) {
	defer notWritten(t)
	net := newLabNet(t, 3, nil)
	net.elect(1)
	net.tickAll(2)
	n := net.nodes[2]
	st := n.Status()
	from := net.mark(2)
	for _, typ := range []raft.MessageType{raft.MsgPreVote, raft.MsgVote} {
		if err := n.Step(raft.Message{Type: typ, From: 3, To: 2, Term: st.Term + 1, Index: 100, LogTerm: st.Term}); err != nil {
			t.Fatal(err)
		}
		net.ready(2)
		if after := n.Status(); after.Term != st.Term || after.Lead != 1 {
			t.Fatalf("rule thesis §9.6: server 2 heard from leader 1 a tick ago, then took server 3's %s for term %d: it is now in term %d following %d", typ, st.Term+1, after.Term, after.Lead)
		}
	}
	if resp := slices.DeleteFunc(net.sent(2, from), func(m raft.Message) bool { return m.To != 3 }); len(resp) > 0 {
		t.Fatalf("rule thesis §9.6: server 2, within its leader's lease, answered server 3's requests: %v", resp)
	}
	// A leadership transfer's election is the exception: the leader itself asked for it.
	if err := n.Step(raft.Message{Type: raft.MsgVote, From: 3, To: 2, Term: st.Term + 1, Index: 100, LogTerm: st.Term, Context: []byte("CampaignTransfer")}); err != nil {
		t.Fatal(err)
	}
	net.ready(2)
	if after := n.Status(); after.Vote != 3 {
		t.Fatalf("rule thesis §3.10: server 2 refused a vote to server 3 in a leadership transfer (Context CampaignTransfer); the lease does not hold against a transfer (vote %d, term %d)", after.Vote, after.Term)
	}
}
