// Tests of the porcupine checker (Herlihy and Wing's linearizability, searched for by porcupine):
// hand-written histories of one room, and a real run's history with a planted stale read.

package sim

import (
	"github.com/kanna-cluster/kanna/internal/hangmanmodel"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/game"
)

var kannaWords = hangmanmodel.Words{"shrine": {1: "kanna"}}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// answeredWrite is an answered write of player-1 in the shrine.
func answeredWrite(call, ret int, kind OpKind, letter string, res game.Result) Operation {
	res.Kind, res.Room = game.Kind(kind), "shrine"
	return Operation{ClientID: "client-1", Call: ms(call), Return: ms(ret), Done: true,
		Input:  Input{Kind: kind, Room: "shrine", Player: "player-1", Letter: letter},
		Output: Output{Result: &res}}
}

// answeredRead is an answered read of the shrine by client-2.
func answeredRead(call, ret int, v game.RoomView) Operation {
	return Operation{ClientID: "client-2", Call: ms(call), Return: ms(ret), Done: true,
		Input: Input{Kind: OpRead, Room: "shrine"}, Output: Output{Room: &v}}
}

// roomAfterK is the shrine once player-1 guessed k in "kanna".
func roomAfterK() game.RoomView {
	return game.RoomView{Name: "shrine", Round: 1, Status: game.Playing, Masked: "k____", Lives: 6, Guessed: "k",
		Players: []game.PlayerView{{Name: "player-1", Score: 1}}}
}

// roomBeforeK is the shrine after player-1 joined, before any guess.
func roomBeforeK() game.RoomView {
	return game.RoomView{Name: "shrine", Round: 1, Status: game.Playing, Masked: "_____", Lives: 6,
		Players: []game.PlayerView{{Name: "player-1", Score: 0}}}
}

func guessedK() []Operation {
	return []Operation{
		answeredWrite(0, 10, OpCreateRoom, "", game.Result{Round: 1}),
		answeredWrite(20, 30, OpJoin, "", game.Result{Round: 1}),
		answeredWrite(40, 50, OpGuess, "k", game.Result{Round: 1, Hit: true, Revealed: 1, Points: 1}),
	}
}

func TestPorcupineAcceptsAReadThatSeesAnAcknowledgedGuess(t *testing.T) {
	h := append(guessedK(), answeredRead(60, 70, roomAfterK()))
	require.Equal(t, porcupine.Ok, checkHistory(h, kannaWords, time.Second).Result)
}

func TestPorcupineCatchesAReadMissingAnAcknowledgedGuess(t *testing.T) {
	h := append(guessedK(), answeredRead(60, 70, roomBeforeK()))
	require.Equal(t, porcupine.Illegal, checkHistory(h, kannaWords, time.Second).Result)
}

func TestPorcupineLetsAReadConcurrentWithAGuessSeeEitherState(t *testing.T) {
	for _, v := range []game.RoomView{roomBeforeK(), roomAfterK()} {
		h := append(guessedK(), answeredRead(45, 55, v))
		require.Equal(t, porcupine.Ok, checkHistory(h, kannaWords, time.Second).Result, "read saw %q", v.Masked)
	}
}

func TestPorcupineCatchesAGuessAnsweredWithTheWrongPoints(t *testing.T) {
	h := guessedK()
	h[2].Output.Result.Points = 3
	require.Equal(t, porcupine.Illegal, checkHistory(h, kannaWords, time.Second).Result)
}

func TestPorcupineTakesAnUnansweredGuessAsPossiblyApplied(t *testing.T) {
	for _, v := range []game.RoomView{roomBeforeK(), roomAfterK()} {
		h := guessedK()
		h[2].Done, h[2].Return, h[2].Output = false, 0, Output{}
		h = append(h, answeredRead(60, 70, v))
		rep := checkHistory(h, kannaWords, time.Second)
		require.Equal(t, porcupine.Ok, rep.Result, "read saw %q", v.Masked)
		require.Equal(t, 1, rep.Unknown)
	}
}

func TestPorcupineRejectsAGuessInARoundNoEntryStarted(t *testing.T) {
	h := guessedK()
	require.Equal(t, porcupine.Illegal, checkHistory(h, hangmanmodel.Words{}, time.Second).Result,
		"without the round's word the guess cannot be explained")
}

func TestPorcupineHoldsOnARealRun(t *testing.T) {
	r, err := Execute(Options{Seed: 9, Nodes: 5, Duration: 10 * time.Second})
	require.NoError(t, err)
	require.False(t, r.Failed(), "%v", r.Violations)
	require.NotNil(t, r.Linearizable)
	require.Equal(t, porcupine.Ok, r.Linearizable.Result)
	require.Equal(t, len(r.History), r.Linearizable.Ops)
}

// TestPorcupineCatchesAStaleReadPlantedInARealRun makes a read that came after an acknowledged
// guess answer with the room as an earlier read saw it before that guess: what a node serving reads
// from a stale state (without ReadIndex, thesis §6.4) would answer.
func TestPorcupineCatchesAStaleReadPlantedInARealRun(t *testing.T) {
	s := finishedSim(t)
	stale, target := staleReadPair(s.history)
	require.NotEqual(t, -1, target, "the run has no two reads with an acknowledged guess between them")
	s.history[target].Output.Room = s.history[stale].Output.Room

	s.checkPorcupine(s.replayLog().words)
	firedOnly(t, s.check, CheckPorcupine)
	var page strings.Builder
	require.NoError(t, s.linearizable.Visualize(&page))
	require.Contains(t, page.String(), "<html")
}

// staleReadPair finds two reads of one room, the first returned before an acknowledged guess in
// that room was called, the second called after it returned, that saw different rooms.
func staleReadPair(h []Operation) (before, after int) {
	isRead := func(op Operation) bool { return op.Input.Kind == OpRead && op.Output.Room != nil }
	for g, guess := range h {
		res := guess.Output.Result
		if guess.Input.Kind != OpGuess || res == nil || res.Err != nil || res.Repeated {
			continue
		}
		for i, r1 := range h {
			if !isRead(r1) || r1.Input.Room != guess.Input.Room || r1.Return >= guess.Call {
				continue
			}
			for j := g + 1; j < len(h); j++ {
				r2 := h[j]
				if isRead(r2) && r2.Input.Room == guess.Input.Room && r2.Call > guess.Return &&
					!sameView(*r1.Output.Room, *r2.Output.Room) {
					return i, j
				}
			}
		}
	}
	return -1, -1
}
