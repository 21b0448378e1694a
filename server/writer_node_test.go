// A test of the writer inside a running node: a node stopped while proposals are in flight has
// made durable everything it acknowledged (Raft paper Figure 2: a leader answers only what is
// committed, and committed entries must survive; the persistence contract of docs/design.md).

package server

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

func TestNodeStoppedDuringWritesKeepsEveryAcknowledgedCommand(t *testing.T) {
	c := newTestCluster(t, 1)
	lead := c.waitLeader()
	g := c.game(lead)

	const players = 16
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stopped := make(chan struct{})
	for p := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopped:
					return
				default:
				}
				room := fmt.Sprintf("room-%d-%d", p, i)
				if _, err := g.CreateRoom(c.ctx(), &kannapb.CreateRoomRequest{ClientId: room, Seq: 1, Room: room}); err != nil {
					return // the node stopped under this call: its fate is unknown, so it is not counted
				}
				mu.Lock()
				acked = append(acked, room)
				mu.Unlock()
			}
		}()
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	}, settle, poll, "the node never acknowledged 200 rooms")
	c.kill(lead) // while the players keep proposing
	close(stopped)
	wg.Wait()

	c.start(lead)
	c.waitLeader()
	var names map[string]bool
	require.Eventually(t, func() bool {
		resp, err := c.game(lead).ListRooms(c.ctx(), &kannapb.ListRoomsRequest{})
		if err != nil {
			return false
		}
		names = map[string]bool{}
		for _, r := range resp.Rooms {
			names[r.Room] = true
		}
		return len(names) >= len(acked)
	}, settle, poll, "the restarted node never applied its log")
	for _, room := range acked {
		require.True(t, names[room], "room %s was acknowledged before the stop but is gone after the restart", room)
	}
}
