// The leader dies mid-game: players keep playing through any node while the leader is killed
// with SIGKILL. Checks the Raft paper's promises: a new leader is elected within an election
// timeout or two (§5.2, §9.3 of the thesis for the timing), no acknowledged command is lost (Leader
// Completeness, §5.4) or applied twice (client sessions, §8), the whole history is linearizable
// (§8), and the dead node, restarted from its data, catches up through a snapshot because the
// leader compacted its log past it (§7).
package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// snapshotEvery is small so that the survivors compact their logs past the dead node's within a
// second or two of play.
const snapshotEvery = "32"

// startPlayers makes rooms × perRoom players, the first of each room its host, each preferring a
// different node, and sets the rooms up through the recorded history.
func startPlayers(t *testing.T, c *cluster, h *history, rooms []string, perRoom int) []*player {
	t.Helper()
	ids := c.ids()
	var players []*player
	for r, room := range rooms {
		for i := 0; i < perRoom; i++ {
			pid := len(players)
			p := &player{
				h: h, pid: pid, clientID: fmt.Sprintf("e2e-%s-%d", room, i), room: room,
				name: fmt.Sprintf("p%d", i), host: i == 0, at: (r + i) % len(ids),
				rng: rand.New(rand.NewSource(int64(pid + 1))),
			}
			for _, id := range ids {
				p.nodes = append(p.nodes, c.game(id))
			}
			players = append(players, p)
		}
	}
	ctx := context.Background()
	for _, p := range players {
		if p.host {
			require.Equal(t, codes.OK, p.create(ctx).code, "create room %s", p.room)
		}
		require.Equal(t, codes.OK, p.join(ctx).code, "join room %s as %s", p.room, p.name)
	}
	return players
}

// runPlayers starts every player in its own goroutine; stop asks them to finish their request
// under way and stop, wait waits until they have. stop may be called more than once.
func runPlayers(players []*player) (stop func(), wait func()) {
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for _, p := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.play(context.Background(), done)
		}()
	}
	return func() { once.Do(func() { close(done) }) }, wg.Wait
}

// checkHistory runs porcupine on the history and the direct checks of lost and doubled commands.
func checkHistory(t *testing.T, h *history) {
	t.Helper()
	ops := h.operations()
	book := learnWords(ops)
	rounds := map[string]uint64{}
	newRounds := map[string]int{}
	unknown := 0
	for _, op := range ops {
		in, out := op.Input.(hangInput), op.Output.(hangOutput)
		if out.unknown {
			unknown++
			continue
		}
		if out.code == codes.OK {
			rounds[in.room] = max(rounds[in.room], out.state.round)
			if in.kind == opNewRound {
				newRounds[in.room]++
			}
		}
	}
	for room, last := range rounds {
		for r := uint64(1); r <= last; r++ {
			require.Contains(t, book[room], r, "no answer showed the word of round %d of %s: the history cannot be checked", r, room)
		}
		if unknown == 0 {
			require.Equal(t, uint64(newRounds[room]+1), last,
				"room %s: %d acknowledged new rounds should make round %d (a lost or doubled new round)", room, newRounds[room], newRounds[room]+1)
		}
	}

	// An acknowledged guess is never lost: once an answer showed its letter guessed in a round, the
	// letter is among the guessed letters when that round is seen to end.
	ended := map[string]map[uint64]roomView{}
	for _, op := range ops {
		in, out := op.Input.(hangInput), op.Output.(hangOutput)
		if !out.unknown && out.code == codes.OK && out.state.word != "" {
			if ended[in.room] == nil {
				ended[in.room] = map[uint64]roomView{}
			}
			ended[in.room][out.state.round] = out.state
		}
	}
	for _, op := range ops {
		in, out := op.Input.(hangInput), op.Output.(hangOutput)
		if in.kind == opGuess && !out.unknown && out.code == codes.OK && strings.Contains(out.state.guessed, in.letter) {
			end := ended[in.room][out.state.round]
			require.Contains(t, end.guessed, in.letter, "guess %q in round %d of %s was acknowledged, then lost", in.letter, out.state.round, in.room)
		}
	}

	res, info := porcupine.CheckOperationsVerbose(hangmanModel(book), observations(ops), time.Minute)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("kanna-e2e-%s.html", t.Name()))
		if f, err := os.Create(path); err == nil {
			_ = porcupine.Visualize(hangmanModel(book), info, f)
			_ = f.Close()
			t.Logf("porcupine visualization: %s", path)
		}
	}
	require.Equal(t, porcupine.Ok, res, "the history of %d operations is not linearizable", len(ops))
	t.Logf("%d operations (%d unknown) over %d rooms, linearizable", len(ops), unknown, len(rounds))
}

func TestLeaderCrashElectsNewLeaderLosesNoAcknowledgedGuessAndStaysLinearizable(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-every", snapshotEvery)
	h := newHistory()
	players := startPlayers(t, c, h, []string{"kobayashi", "tohru", "elma"}, 3)

	stop, wait := runPlayers(players)
	defer func() { stop(); wait() }()

	require.Eventually(t, func() bool { return h.okCount() >= 60 }, 30*time.Second, 20*time.Millisecond, "players make no progress")
	all := c.ids()
	old := c.leaderOf(all...)
	require.NotZero(t, old)
	before := c.status(old)
	require.NotNil(t, before)
	require.NoError(t, c.sup.Crash(old))
	killed := time.Now()
	survivors := c.others(old)

	require.Eventually(t, func() bool {
		l := c.leaderOf(survivors...)
		return l != 0 && l != old
	}, 2*time.Second, 10*time.Millisecond, "no new leader within two seconds of killing leader %d", old)
	t.Logf("new leader %d elected %v after leader %d was killed", c.leaderOf(survivors...), time.Since(killed).Round(time.Millisecond), old)

	// The game goes on, and the survivors compact their logs past everything the dead node holds
	// (its last index before the kill, plus what it may have appended in the moment after).
	afterKill := h.okCount()
	past := before.LastIndex + 64
	require.Eventually(t, func() bool {
		if h.okCount() < afterKill+60 {
			return false
		}
		for _, id := range survivors {
			if st := c.status(id); st == nil || st.FirstIndex <= past {
				return false
			}
		}
		return true
	}, 60*time.Second, 50*time.Millisecond, "survivors did not compact past index %d while play went on", past)

	require.NoError(t, c.sup.Restart(old))
	leader := c.leaderOf(survivors...)
	require.Eventually(t, func() bool {
		st, lst := c.status(old), c.status(leader)
		return st != nil && lst != nil && st.Applied >= lst.Commit && st.FirstIndex > past
	}, 60*time.Second, 50*time.Millisecond, "restarted node %d did not catch up through a snapshot", old)

	stop()
	wait()
	for _, p := range players {
		if p.host {
			p.finish(context.Background())
		}
	}
	require.Eventually(t, func() bool { return c.converged(all...) }, 30*time.Second, 50*time.Millisecond,
		"nodes did not converge to identical rooms")
	checkHistory(t, h)
}

// TestModelRejectsALostGuessAndADoubledNewRound shows the checker can fail: histories that lose an
// acknowledged guess, or apply one new round twice, are not linearizable under the model.
func TestModelRejectsALostGuessAndADoubledNewRound(t *testing.T) {
	book := wordBook{"r": {1: "ab", 2: "cd"}}
	st := func(round uint64, masked, guessed string, status kannapb.RoundStatus, word string, lives uint32, scores string) roomView {
		return roomView{masked: masked, lives: lives, guessed: guessed, status: status, round: round, scores: scores, word: word}
	}
	playing, won := kannapb.RoundStatus_ROUND_STATUS_PLAYING, kannapb.RoundStatus_ROUND_STATUS_WON
	op := func(call, ret int64, in hangInput, out hangOutput) porcupine.Operation {
		return porcupine.Operation{Input: in, Call: call, Return: ret, Output: out}
	}
	ok := func(v roomView) hangOutput { return hangOutput{code: codes.OK, state: v} }
	prefix := []porcupine.Operation{
		op(0, 1, hangInput{kind: opCreate, room: "r"}, ok(st(1, "__", "", playing, "", 6, ""))),
		op(2, 3, hangInput{kind: opJoin, room: "r", player: "p"}, ok(st(1, "__", "", playing, "", 6, "p=0"))),
		op(4, 5, hangInput{kind: opGuess, room: "r", player: "p", letter: "a"}, ok(st(1, "a_", "a", playing, "", 6, "p=1"))),
	}
	good := append(append([]porcupine.Operation(nil), prefix...),
		op(6, 7, hangInput{kind: opGuess, room: "r", player: "p", letter: "b"}, ok(st(1, "ab", "ab", won, "ab", 6, "p=7"))),
		op(8, 9, hangInput{kind: opNewRound, room: "r"}, ok(st(2, "__", "", playing, "", 6, "p=7"))),
		op(10, 11, hangInput{kind: opRead, room: "r"}, ok(st(2, "__", "", playing, "", 6, "p=7"))),
	)
	require.True(t, porcupine.CheckOperations(hangmanModel(book), observations(good)))

	lost := append(append([]porcupine.Operation(nil), prefix...),
		op(6, 7, hangInput{kind: opRead, room: "r"}, ok(st(1, "__", "", playing, "", 6, "p=0"))))
	require.False(t, porcupine.CheckOperations(hangmanModel(book), observations(lost)), "a read after an acknowledged guess must see it")

	doubled := append(append([]porcupine.Operation(nil), good...),
		op(12, 13, hangInput{kind: opRead, room: "r"}, ok(st(3, "___", "", playing, "", 6, "p=7"))))
	require.False(t, porcupine.CheckOperations(hangmanModel(book), observations(doubled)), "one new round must not move the room two rounds on")

	impossible := append(append([]porcupine.Operation(nil), prefix...),
		op(6, 7, hangInput{kind: opGuess, room: "r", player: "p", letter: "b"}, ok(st(1, "ab", "ab", won, "ab", 5, "p=7"))))
	require.False(t, porcupine.CheckOperations(hangmanModel(book), observations(impossible)), "a hit costs no life")

	laterAnswer := append(append([]porcupine.Operation(nil), prefix...),
		op(6, 20, hangInput{kind: opGuess, room: "r", player: "p", letter: "z"}, ok(st(1, "a_", "ayz", playing, "", 4, "p=1"))),
		op(7, 8, hangInput{kind: opGuess, room: "r", player: "p", letter: "y"}, ok(st(1, "a_", "ay", playing, "", 5, "p=1"))))
	require.True(t, porcupine.CheckOperations(hangmanModel(book), observations(laterAnswer)),
		"a retried write may be answered with the room as it is after later writes")

	unknownThenSeen := append(append([]porcupine.Operation(nil), prefix...),
		op(6, 1<<62, hangInput{kind: opGuess, room: "r", player: "p", letter: "z"}, hangOutput{unknown: true}),
		op(7, 8, hangInput{kind: opRead, room: "r"}, ok(st(1, "a_", "az", playing, "", 5, "p=1"))))
	require.True(t, porcupine.CheckOperations(hangmanModel(book), observations(unknownThenSeen)), "an unanswered guess may have been applied")
}
