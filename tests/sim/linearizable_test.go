// Tests that the linearizability checker (Herlihy and Wing; Raft paper §8) catches corrupted
// answers in a real run's history.

package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// finishedSim runs one seed to its end and returns the simulation itself, for corrupting.
func finishedSim(t *testing.T) *sim {
	t.Helper()
	opts := Options{Seed: 21, Nodes: 3, Duration: 8 * time.Second}.withDefaults()
	bug, err := lookupBug("")
	require.NoError(t, err)
	allowed, err := parseFaults([]string{"crash", "loss"}, bug)
	require.NoError(t, err)
	s := newSim(opts, bug, allowed)
	require.NoError(t, s.run())
	require.Empty(t, s.check.violations)
	return s
}

func firstOp(t *testing.T, s *sim, match func(Operation) bool) int {
	t.Helper()
	for i, op := range s.history {
		if op.Done && match(op) {
			return i
		}
	}
	require.FailNow(t, "the run has no such operation")
	return -1
}

func TestLinearizabilityCatchesAWriteAnsweredWithAnotherResult(t *testing.T) {
	s := finishedSim(t)
	i := firstOp(t, s, func(op Operation) bool { return op.Input.Kind == OpGuess && op.Output.Result != nil })
	res := *s.history[i].Output.Result
	res.Points += 100
	s.history[i].Output.Result = &res
	s.checkLinearizable(s.replayLog())
	firedOnly(t, s.check, CheckLinearizability)
}

func TestLinearizabilityCatchesAWriteThatTookEffectBeforeItWasCalled(t *testing.T) {
	s := finishedSim(t)
	i := firstOp(t, s, func(op Operation) bool { return op.Input.Kind != OpRead && op.Output.Result != nil })
	s.history[i].Call = s.history[i].Return
	s.checkLinearizable(s.replayLog())
	firedOnly(t, s.check, CheckLinearizability)
}

func TestLinearizabilityCatchesAStaleRead(t *testing.T) {
	s := finishedSim(t)
	// The last read that found its room, answered "no such room" instead: the state before the
	// room's creation, long gone by then.
	i := -1
	for j, op := range s.history {
		if op.Done && op.Input.Kind == OpRead && op.Output.Room != nil {
			i = j
		}
	}
	require.NotEqual(t, -1, i, "the run has no read that found its room")
	s.history[i].Output.Room = nil
	s.history[i].Output.Err = "game: room does not exist"
	s.checkLinearizable(s.replayLog())
	firedOnly(t, s.check, CheckLinearizability)
}

func TestLinearizabilityCatchesAReadOfAStateNoPrefixShowed(t *testing.T) {
	s := finishedSim(t)
	i := firstOp(t, s, func(op Operation) bool { return op.Input.Kind == OpRead && op.Output.Room != nil })
	room := *s.history[i].Output.Room
	room.Lives += 100
	s.history[i].Output.Room = &room
	s.checkLinearizable(s.replayLog())
	firedOnly(t, s.check, CheckLinearizability)
	require.Contains(t, s.check.violations[0].Detail, "saw ")
}
