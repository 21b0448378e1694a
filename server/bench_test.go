// A benchmark of the whole shell: three nodes on loopback gRPC with fsync'd logs, and concurrent
// players sending guesses through the leader. It measures the path of docs/architecture.md ("A
// guess, end to end") and is the in-process twin of `kanna bench`, for profiling with
// go test -bench BenchmarkGuess -cpuprofile.

package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

func BenchmarkGuessThroughTheLeader(b *testing.B) {
	c := newTestCluster(b, 3)
	lead := c.waitLeader()
	const players = 64
	clients := make([]kannapb.GameClient, players)
	for i := range clients {
		clients[i] = c.game(lead)
		room := fmt.Sprintf("room-%d", i)
		_, err := clients[i].CreateRoom(c.ctx(), &kannapb.CreateRoomRequest{ClientId: room, Seq: 1, Room: room})
		require.NoError(b, err)
		_, err = clients[i].JoinRoom(c.ctx(), &kannapb.JoinRoomRequest{ClientId: room, Seq: 2, Room: room, Player: "p"})
		require.NoError(b, err)
	}
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			room := fmt.Sprintf("room-%d", i)
			for seq := uint64(3); next.Add(1) <= int64(b.N); seq++ {
				// Guessing a letter already guessed changes nothing but still goes through the log.
				_, err := clients[i].Guess(context.Background(), &kannapb.GuessRequest{ClientId: room, Seq: seq, Room: room, Player: "p", Letter: "q"})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
