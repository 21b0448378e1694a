// A property test of the engine under random faults: whatever the schedule of cuts, crashes and
// restarts, every node applies the same command with the same result at each index (Raft paper
// §5.4.3, State Machine Safety), the nodes end with identical games, and once the faults heal every
// request a live node accepted has been answered. Each seed replays exactly.

package engine

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/stretchr/testify/require"
)

func TestRandomFaultsNeverSplitTheGameAndEveryRequestIsAnswered(t *testing.T) {
	for seed := int64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runRandomFaults(t, seed) })
	}
}

// randomCommand draws a command from a small space, so that rooms, players and letters collide.
func randomCommand(rng *rand.Rand) game.Command {
	rooms := []string{"den", "cave"}
	players := []string{"kanna", "riko"}
	room, player := rooms[rng.Intn(len(rooms))], players[rng.Intn(len(players))]
	switch rng.Intn(6) {
	case 0:
		return createRoom(room, "")
	case 1:
		return joinRoom(room, player)
	case 2:
		return game.Command{Kind: game.KindNewRound, Room: room}
	default:
		return guessLetter(room, player, string(rune('a'+rng.Intn(26))))
	}
}

func runRandomFaults(t *testing.T, seed int64) {
	c := newSeededCluster(t, 3, 4, seed)
	rng := rand.New(rand.NewSource(seed))
	clients := []*client{{id: "kanna"}, {id: "riko"}, {id: "tohru"}}
	pick := func() uint64 { return c.ids[rng.Intn(len(c.ids))] }
	up := func(id uint64) bool { return !c.down[id] }

	for range 400 {
		switch r := rng.Intn(20); {
		case r == 0:
			c.isolate(pick())
		case r == 1:
			c.heal()
		case r == 2 && len(c.down) == 0:
			c.crash(pick())
		case r == 3:
			for _, id := range c.ids {
				if !up(id) {
					c.restart(id)
				}
			}
		case r < 10:
			id := pick()
			if !up(id) {
				continue
			}
			cl := clients[rng.Intn(len(clients))]
			_, err := c.engines[id].Propose(cl.next(randomCommand(rng)))
			var nl *raft.NotLeaderError
			require.True(t, err == nil || errors.As(err, &nl), "propose: %v", err)
		case r < 12:
			if id := pick(); up(id) {
				_, _ = c.engines[id].Read("den")
			}
		default:
			c.tick(1)
		}
		c.stabilize()
	}

	// Liveness: heal everything, elect a leader, and write past every index a lost proposal held.
	c.heal()
	for _, id := range c.ids {
		if !up(id) {
			c.restart(id)
		}
	}
	lead := c.tickUntilLeader()
	for range 10 {
		c.propose(lead, clients[0].next(randomCommand(rng)))
	}
	c.tick(c.engines[lead].readTimeout + 5)

	c.requireSameGame()
	byIndex := map[uint64]AppliedEntry{}
	for _, id := range c.ids {
		for _, e := range c.applied[id] {
			if first, ok := byIndex[e.Index]; ok {
				require.Equal(t, first, e, "node %d applied something else at index %d", id, e.Index)
			} else {
				byIndex[e.Index] = e
			}
		}
		e := c.engines[id]
		require.Empty(t, e.proposals, "node %d still has unanswered proposals", id)
		require.Empty(t, e.reads, "node %d still has unanswered reads", id)
	}
}
