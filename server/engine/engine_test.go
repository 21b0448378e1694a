// Tests of the engine (engine.go, ready.go) on a three-node cluster in memory, each named
// after the rule it checks: state machine replication (Raft paper §5.3), client interaction (§8,
// thesis §6.3), linearizable reads (thesis §6.4) and snapshots (§7).

package engine

import (
	"errors"
	"math/rand"
	"testing"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/stretchr/testify/require"
)

func TestGuessProposedOnTheLeaderAppliesOnEveryEngineWithTheSameResult(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(lead, cl, "kanna kamui")

	pid := c.propose(lead, cl.next(guessLetter("den", "kanna", "a")))
	res := c.mustResult(lead, pid)
	require.NoError(t, res.Err)
	require.Equal(t, &res.Room, res.Result.State, "the answer's room is the one the guess left")
	got := res.Result
	got.State = nil
	require.Equal(t, game.Result{Kind: game.KindGuess, Room: "den", Player: "kanna", Round: 1, Letter: "a",
		Hit: true, Revealed: 3, Points: 3, Status: game.Playing}, got)
	require.Equal(t, "_a__a _a___", res.Room.Masked)
	require.Equal(t, c.applied[lead][len(c.applied[lead])-1].Index, res.Room.Version, "the room's version is the guess's log index")

	// Every node applied the guess at the same index with the same result.
	leaderEntry := c.applied[lead][len(c.applied[lead])-1]
	require.Equal(t, game.KindGuess, leaderEntry.Command.Kind)
	for _, id := range c.ids {
		entries := c.applied[id]
		require.Equal(t, leaderEntry, entries[len(entries)-1], "node %d", id)
		view, err := c.engines[id].LocalRoom("den")
		require.NoError(t, err)
		require.Equal(t, res.Room, view, "node %d", id)
	}
	c.requireSameGame()
}

func TestFollowerProposeReturnsNotLeaderErrorNamingTheLeader(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	for _, id := range c.ids {
		if id == lead {
			continue
		}
		_, err := c.engines[id].Propose(createRoom("den", "tohru"))
		var nl *raft.NotLeaderError
		require.ErrorAs(t, err, &nl)
		require.Equal(t, lead, nl.Leader, "node %d", id)

		_, err = c.engines[id].Read("den")
		require.ErrorAs(t, err, &nl)
		require.Equal(t, lead, nl.Leader)
	}
}

func TestProposeRejectsAMalformedCommandWithoutUsingALogSlot(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	last := c.engines[lead].Status().LastIndex

	_, err := c.engines[lead].Propose(game.Command{Kind: game.KindGuess, ClientID: "c", Seq: 1, Room: "den", Player: "kanna", Letter: "ab"})
	require.Equal(t, game.InvalidArgument, game.CodeOf(err))
	require.Equal(t, last, c.engines[lead].Status().LastIndex)
}

func TestLeaderFillsInTheWordOfANewRoomFromTheWordList(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	pid := c.propose(lead, (&client{id: "c"}).next(createRoom("den", "")))
	require.NoError(t, c.mustResult(lead, pid).Result.Error())

	entry := c.applied[lead][len(c.applied[lead])-1]
	require.Contains(t, game.Words(), entry.Command.Word)
	require.Empty(t, c.mustResult(lead, pid).Room.Word, "the word stays hidden while the round is played")
	c.requireSameGame()
}

func TestGameRejectionIsAResultNotAnError(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	pid := c.propose(lead, (&client{id: "c"}).next(joinRoom("nowhere", "kanna")))
	res := c.mustResult(lead, pid)
	require.NoError(t, res.Err, "the game's verdict is not a failure to get one")
	require.Equal(t, game.NotFound, game.CodeOf(res.Result.Error()))
}

// TestProposalLostInALeaderChangeGetsErrProposalLost: a leader cut off from the others appends a
// proposal that can never commit; the new leader fills that index with entries of its own term,
// and when the old leader learns them, its proposal is answered as lost.
func TestProposalLostInALeaderChangeGetsErrProposalLost(t *testing.T) {
	c := newCluster(t, 3, 0)
	old := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(old, cl, "tohru")

	c.isolate(old)
	lostCmd := cl.next(guessLetter("den", "kanna", "t"))
	lost := c.propose(old, lostCmd)
	lead := c.tickUntilLeaderOtherThan(old)
	other := &client{id: "elma"}
	pid := c.propose(lead, other.next(createRoom("cave", "lucoa")))
	require.NoError(t, c.mustResult(lead, pid).Result.Error())

	c.heal()
	c.tick(5)
	r := c.mustResult(old, lost)
	require.ErrorIs(t, r.Err, ErrProposalLost)

	// The retry, same client and seq, goes to the new leader and applies once.
	retry := c.propose(lead, lostCmd)
	require.True(t, c.mustResult(lead, retry).Result.Hit)
	view, err := c.engines[old].LocalRoom("den")
	require.NoError(t, err)
	require.Equal(t, "t____", view.Masked)
	c.requireSameGame()
}

// TestRetriedRequestAppliesOnce: the leader commits a guess and crashes before answering; the
// client resends it, same client id and seq, to the new leader; the command is in the log twice
// but the game applies it once, and the retry gets the first result.
func TestRetriedRequestAppliesOnce(t *testing.T) {
	c := newCluster(t, 3, 0)
	old := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(old, cl, "kanna kamui")

	cmd := cl.next(guessLetter("den", "kanna", "k"))
	first := c.mustResult(old, c.propose(old, cmd))
	c.crash(old)
	lead := c.tickUntilLeaderOtherThan(old)

	retry := c.mustResult(lead, c.propose(lead, cmd))
	require.Equal(t, first.Result, retry.Result)
	require.Equal(t, 2, retry.Room.Players[0].Score, "two k's revealed once, not twice")

	var guesses int
	for _, e := range c.applied[lead] {
		if e.Command.Kind == game.KindGuess {
			guesses++
			require.Equal(t, first.Result, e.Result)
		}
	}
	require.Equal(t, 2, guesses, "the command is in the log twice")
	c.requireSameGame()
}

func TestLinearizableReadReturnsTheStateAfterAPrecedingWrite(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(lead, cl, "tohru")

	write, err := c.engines[lead].Propose(cl.next(guessLetter("den", "kanna", "o")))
	require.NoError(t, err)
	read, err := c.engines[lead].Read("den")
	require.NoError(t, err)
	c.stabilize()

	require.NoError(t, c.mustResult(lead, write).Result.Error())
	r := c.mustResult(lead, read)
	require.NoError(t, r.Err)
	require.Equal(t, "_o___", r.Room.Masked)
	require.Equal(t, "o", r.Room.Guessed)
}

func TestReadOfAnUnknownRoomIsNotFound(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	read, err := c.engines[lead].Read("nowhere")
	require.NoError(t, err)
	c.stabilize()
	require.Equal(t, game.NotFound, game.CodeOf(c.mustResult(lead, read).Err))
}

func TestPendingReadFailsWhenTheLeaderStepsDown(t *testing.T) {
	c := newCluster(t, 3, 0)
	old := c.tickUntilLeader()
	c.isolate(old)
	read, err := c.engines[old].Read("den")
	require.NoError(t, err)
	c.stabilize()
	_, answered := c.results[old][read]
	require.False(t, answered, "a read cannot be confirmed without a majority")

	// Check-quorum makes the cut-off leader step down within an election timeout.
	c.tick(3 * raft.DefaultConfig().ElectionTick)
	require.NotEqual(t, raft.Leader, c.engines[old].Status().Role)
	require.ErrorIs(t, c.mustResult(old, read).Err, ErrProposalLost)
}

func TestEngineRequiresRand(t *testing.T) {
	c := newCluster(t, 1, 0)
	cfg := c.config(1, []uint64{1}, nil)
	cfg.Rand = nil
	_, err := New(cfg)
	require.Error(t, err)
	cfg = c.config(1, []uint64{1}, nil)
	cfg.Raft.Rand = nil
	_, err = New(cfg)
	require.Error(t, err)
}

func TestSingleNodeClusterAnswersProposalsAndReads(t *testing.T) {
	c := newCluster(t, 1, 0)
	lead := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(lead, cl, "tohru")
	read, err := c.engines[lead].Read("den")
	require.NoError(t, err)
	c.stabilize()
	r := c.mustResult(lead, read)
	require.NoError(t, r.Err)
	require.Equal(t, []game.PlayerView{{Name: "kanna"}}, r.Room.Players)
}

// TestSameSeedGivesTheSameRun: the engine draws nothing but its injected randomness, so two runs
// from one seed apply the same entries with the same results on every node.
func TestSameSeedGivesTheSameRun(t *testing.T) {
	run := func() map[uint64][]AppliedEntry {
		c := newCluster(t, 3, 3)
		lead := c.tickUntilLeader()
		cl := &client{id: "riko"}
		c.propose(lead, cl.next(createRoom("den", "")))
		c.propose(lead, cl.next(joinRoom("den", "kanna")))
		rng := rand.New(rand.NewSource(42))
		for range 10 {
			c.propose(lead, cl.next(guessLetter("den", "kanna", string(rune('a'+rng.Intn(26))))))
		}
		c.tick(3)
		return c.applied
	}
	first, second := run(), run()
	require.Equal(t, first, second)
	require.NotEmpty(t, first[1])
}

func TestConfChangeProposalIsAnsweredWhenApplied(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	pid, err := c.engines[lead].ProposeConfChange(raft.ConfChange{Type: raft.AddLearner, NodeID: 4})
	require.NoError(t, err)
	c.stabilize()
	r := c.mustResult(lead, pid)
	require.NoError(t, r.Err)
	last := c.applied[lead][len(c.applied[lead])-1]
	require.Equal(t, raft.EntryConfChange, last.Type)
	require.Equal(t, raft.ConfChange{Type: raft.AddLearner, NodeID: 4}, last.ConfChange)

	_, err = c.engines[lead%3+1].ProposeConfChange(raft.ConfChange{Type: raft.AddLearner, NodeID: 5})
	var nl *raft.NotLeaderError
	require.True(t, errors.As(err, &nl))
}

func TestApplyConfChangeFollowsTheCoreSemantics(t *testing.T) {
	cs := raft.ConfState{Voters: []uint64{1, 2, 3}}
	cs = applyConfChange(cs, raft.ConfChange{Type: raft.AddLearner, NodeID: 4})
	require.Equal(t, raft.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, cs)
	cs = applyConfChange(cs, raft.ConfChange{Type: raft.AddLearner, NodeID: 2})
	require.Equal(t, raft.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, cs, "a voter stays a voter")
	cs = applyConfChange(cs, raft.ConfChange{Type: raft.AddVoter, NodeID: 4})
	require.Equal(t, raft.ConfState{Voters: []uint64{1, 2, 3, 4}, Learners: []uint64{}}, cs)
	cs = applyConfChange(cs, raft.ConfChange{Type: raft.RemoveNode, NodeID: 1})
	require.Equal(t, raft.ConfState{Voters: []uint64{2, 3, 4}, Learners: []uint64{}}, cs)
}

// TestUndecodableEntryIsRejectedTheSameOnEveryNode: bytes that are no command (written by a buggy
// or newer proposer) must not stop the nodes nor split them: each records the same rejection.
func TestUndecodableEntryIsRejectedTheSameOnEveryNode(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	index, _, err := c.engines[lead].Raft().Propose([]byte("not a command"))
	require.NoError(t, err)
	c.stabilize()
	c.tick(2)
	for _, id := range c.ids {
		var found bool
		for _, e := range c.applied[id] {
			if e.Index == index {
				found = true
				require.Equal(t, game.InvalidArgument, game.CodeOf(e.Result.Error()), "node %d", id)
			}
		}
		require.True(t, found, "node %d applied entry %d", id, index)
	}
	c.requireSameGame()
}

// TestProposalWhoseIndexIsReusedIsAnsweredLost: when a leader appends at an index where an older
// proposal of its own still waits (its entry was truncated away before this node applied that
// index), the older proposal can never be answered by its entry, so it is answered lost at once.
func TestProposalWhoseIndexIsReusedIsAnsweredLost(t *testing.T) {
	c := newCluster(t, 1, 0)
	e := c.engines[1]
	first := e.track(7, 2)
	second := e.track(7, 4)
	require.NotEqual(t, first, second)
	require.True(t, e.HasReady())
	out := e.Ready()
	require.Contains(t, out.Results, Result{ID: first, Err: ErrProposalLost})
	require.Equal(t, proposal{id: second, term: 4}, e.proposals[7])
	e.Advance(out)
}

// TestReadNotConfirmedInTimeIsAnsweredLost: when the answers to a read's heartbeat round are lost,
// the leader may keep its office and never confirm the read; the engine gives up after two
// election timeouts, and the client's retry starts a new round.
func TestReadNotConfirmedInTimeIsAnsweredLost(t *testing.T) {
	c := newCluster(t, 3, 0)
	lead := c.tickUntilLeader()
	c.drop = func(m raft.Message) bool { return m.Type == raft.MsgHeartbeatResp && len(m.Context) > 0 }
	read, err := c.engines[lead].Read("den")
	require.NoError(t, err)
	c.tick(c.engines[lead].readTimeout - 1)
	_, answered := c.results[lead][read]
	require.False(t, answered, "the engine waits a while for the confirmation")

	c.tick(1)
	require.ErrorIs(t, c.mustResult(lead, read).Err, ErrProposalLost)
	require.Empty(t, c.engines[lead].reads)
}

// TestLeaderAnswersOnlyOnceItsOwnBackgroundWriteIsDurable: with AdvanceAsync a single voter's
// proposal is not committed, and so not answered, until StableTo reports its entry durable
// (thesis §10.2.1); meanwhile HasResults tells the shell there is nothing to answer yet.
func TestLeaderAnswersOnlyOnceItsOwnBackgroundWriteIsDurable(t *testing.T) {
	c := newCluster(t, 1, 0)
	lead := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(lead, cl, "tohru")
	e := c.engines[lead]

	pid, err := e.Propose(cl.next(guessLetter("den", "kanna", "o")))
	require.NoError(t, err)
	out := e.Ready()
	require.Len(t, out.Entries, 1)
	require.Empty(t, out.Results)
	e.AdvanceAsync(out)
	require.False(t, e.HasResults(), "nothing is committed while the only copy is being written")
	require.False(t, e.HasReady(), "the entry being written is not handed out again")

	last := out.Entries[0]
	e.StableTo(last.Index, last.Term)
	require.True(t, e.HasResults())
	out = e.Ready()
	require.Empty(t, out.Entries)
	require.Len(t, out.Results, 1)
	require.Equal(t, pid, out.Results[0].ID)
	require.NoError(t, out.Results[0].Err)
	require.True(t, out.Results[0].Result.Hit)
	e.AdvanceAsync(out)
}

func TestRecycledOutputArraysChangeNothingAppliedOrSent(t *testing.T) {
	run := func(recycle bool) (map[uint64][]AppliedEntry, map[uint64]map[ProposalID]Result) {
		c := newSeededCluster(t, 3, 0, 5)
		c.recycle = recycle
		lead := c.tickUntilLeader()
		cl := &client{id: "riko"}
		c.seedRoom(lead, cl, "kanna kamui")
		for _, l := range []string{"a", "e", "k", "z", "m"} {
			c.propose(lead, cl.next(guessLetter("den", "kanna", l)))
		}
		c.requireSameGame()
		return c.applied, c.results
	}
	applied, results := run(false)
	recycledApplied, recycledResults := run(true)
	require.Equal(t, applied, recycledApplied, "what every node applied, in order")
	require.Equal(t, results, recycledResults, "what every node answered")
}

func TestRecycledAppliedArrayIsFilledByTheNextReady(t *testing.T) {
	c := newCluster(t, 1, 0)
	lead := c.tickUntilLeader()
	e := c.engines[lead]
	given := make([]AppliedEntry, 3, 16)
	e.RecycleApplied(given)
	_, err := e.Propose((&client{id: "riko"}).next(createRoom("den", "kanna kamui")))
	require.NoError(t, err)
	var out Output
	for len(out.Applied) == 0 {
		require.True(t, e.HasReady(), "the proposal was never applied")
		out = e.Ready()
		c.disks[lead].persist(out)
		e.Advance(out)
	}
	require.Len(t, out.Applied, 1)
	require.Same(t, &given[0], &out.Applied[0], "the handed-back array is filled, not a new one")
	require.Equal(t, game.KindCreateRoom, out.Applied[0].Command.Kind)

	e.RecycleApplied(out.Applied)
	require.Zero(t, given[0], "a recycled array keeps no command or result alive")
	e.RecycleApplied(make([]AppliedEntry, 0, 2))
	require.Equal(t, 16, cap(e.spareApplied), "a smaller array does not replace a larger one")
}
