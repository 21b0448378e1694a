// Tests of the engine's snapshots (ready.go, New): compaction, catching a lagging
// node up with the leader's snapshot (Raft paper §7), and rebuilding the game on restart.

package engine

import (
	"fmt"
	"testing"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/stretchr/testify/require"
)

// TestLaggingEngineCatchesUpThroughASnapshot: while a follower is cut off, the leader applies
// enough entries to compact its log; on healing, the follower can only be brought up to date with
// the snapshot, and ends with byte-identical game state.
func TestLaggingEngineCatchesUpThroughASnapshot(t *testing.T) {
	c := newCluster(t, 3, 5)
	lead := c.tickUntilLeader()
	lagging := lead%3 + 1
	cl := &client{id: "riko"}
	c.seedRoom(lead, cl, "quetzalcoatl")

	c.isolate(lagging)
	for _, letter := range "quetzalcoatl" {
		c.propose(lead, cl.next(guessLetter("den", "kanna", string(letter))))
	}
	require.NotEmpty(t, c.compacted[lead], "the leader compacts every 5 entries")
	require.Greater(t, c.engines[lead].Status().FirstIndex, c.engines[lagging].Applied()+1,
		"the entries the follower lacks are compacted away")

	c.heal()
	c.tick(5)
	require.Equal(t, 1, c.snapshots[lagging])
	require.Equal(t, c.engines[lead].Applied(), c.engines[lagging].Applied())
	view, err := c.engines[lagging].LocalRoom("den")
	require.NoError(t, err)
	require.Equal(t, game.Won, view.Status)
	c.requireSameGame()
}

func TestCompactedSnapshotCarriesTheAppliedTermAndConfiguration(t *testing.T) {
	c := newCluster(t, 3, 4)
	lead := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(lead, cl, "tohru")
	c.propose(lead, cl.next(guessLetter("den", "kanna", "t")))
	c.propose(lead, cl.next(guessLetter("den", "kanna", "o")))

	snaps := c.compacted[lead]
	require.NotEmpty(t, snaps)
	s := snaps[len(snaps)-1]
	require.Equal(t, []uint64{1, 2, 3}, s.Meta.ConfState.Voters)
	require.Empty(t, s.Meta.ConfState.Learners)
	require.Equal(t, c.engines[lead].Status().Term, s.Meta.Term)
	restored := game.NewState()
	require.NoError(t, restored.Restore(s.Data))
}

// TestRestartRebuildsTheGameFromSnapshotAndCommittedEntries: a node restarts from its disk alone;
// its game comes back from the snapshot, then the entries committed after it are applied again,
// before it hears from anybody.
func TestRestartRebuildsTheGameFromSnapshotAndCommittedEntries(t *testing.T) {
	c := newCluster(t, 3, 4)
	lead := c.tickUntilLeader()
	cl := &client{id: "riko"}
	c.seedRoom(lead, cl, "quetzalcoatl")
	for _, letter := range "quetz" {
		c.propose(lead, cl.next(guessLetter("den", "kanna", string(letter))))
	}
	follower := lead%3 + 1
	c.tick(2) // heartbeats carry the last commit index to the followers
	before := c.engines[follower].Game().Snapshot()
	applied := c.engines[follower].Applied()
	require.NotNil(t, c.disks[follower].snap, "the follower compacted its own log")
	require.Less(t, c.disks[follower].snap.Meta.Index, applied, "some applied entries are after the snapshot")

	c.crash(follower)
	c.isolate(follower)
	// A shell may remember how far its state machine got; the game lived in memory, so the engine
	// must ignore that and have the core hand out every committed entry after the snapshot again.
	restore := c.disks[follower].restored()
	restore.Applied = applied
	c.start(follower, nil, restore)
	c.drain(follower)
	require.Equal(t, applied, c.engines[follower].Applied())
	require.Equal(t, string(before), string(c.engines[follower].Game().Snapshot()))

	c.heal()
	c.tick(3)
	c.requireSameGame()
}

func TestEngineRefusesToStartFromACorruptSnapshot(t *testing.T) {
	c := newCluster(t, 1, 0)
	cfg := c.config(1, nil, &raft.Restored{
		HardState: raft.HardState{Term: 2, Commit: 3},
		Snapshot:  &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 3, Term: 2, ConfState: raft.ConfState{Voters: []uint64{1}}}, Data: []byte("{")},
	})
	_, err := New(cfg)
	require.ErrorContains(t, err, "snapshot at index 3")

	cfg.GameSnapshot = game.NewState().Snapshot()
	e, err := New(cfg)
	require.NoError(t, err, "GameSnapshot takes precedence over the snapshot's data")
	require.Equal(t, uint64(3), e.Applied())
}

// TestCorruptSnapshotFromTheLeaderStopsTheNode: the core has already replaced its log with the
// snapshot, so a game that cannot read it would serve a state matching no log; the engine panics
// with a message saying what to do instead of running on.
func TestCorruptSnapshotFromTheLeaderStopsTheNode(t *testing.T) {
	c := newCluster(t, 3, 0)
	e := c.engines[2]
	e.Step(raft.Message{
		Type: raft.MsgSnap, From: 1, To: 2, Term: 5, Done: true,
		Snapshot: &raft.Snapshot{
			Meta: raft.SnapshotMeta{Index: 50, Term: 5, ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}}},
			Data: []byte("not a game"),
		},
	})
	require.True(t, e.HasReady())
	var msg string
	func() {
		defer func() { msg = fmt.Sprint(recover()) }()
		e.Ready()
	}()
	require.Contains(t, msg, "node 2: restore game from the leader's snapshot at index 50")
	require.Contains(t, msg, "wipe this node's data and let it rejoin")
}
