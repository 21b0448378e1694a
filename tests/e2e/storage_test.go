// Storage faults on real processes: a node whose disk lost or damaged what it had acknowledged
// must not help elect a leader that lacks it (Alagappan et al., "Protocol-Aware Recovery for
// Consensus-Based Storage", FAST 2018; docs/wal.md, "Lost state"). Each test damages a stopped
// node's write-ahead log the way issue 12's testers did, restarts it, and checks that every
// acknowledged write is still on every node afterwards, that no process panicked, and that all
// replicas converge on one state.
package e2e

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// createRoom creates room through node via and reports whether the cluster acknowledged it.
func (c *cluster) createRoom(via uint64, client, room string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := c.game(via).CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: client, Seq: 1, Room: room})
	return err
}

// roomNames lists the rooms node id holds, or nil when it does not answer.
func (c *cluster) roomNames(id uint64) []string {
	rooms, ok := c.rooms(id)
	if !ok {
		return nil
	}
	var names []string
	for _, r := range rooms {
		names = append(names, r.Room)
	}
	slices.Sort(names)
	return names
}

// holdsAll reports whether every running node holds every room in want.
func (c *cluster) holdsAll(want []string) bool {
	for _, id := range c.ids() {
		names := c.roomNames(id)
		for _, w := range want {
			if !slices.Contains(names, w) {
				return false
			}
		}
	}
	return true
}

// signal sends sig to node id's process (SIGSTOP pauses it with its memory intact, SIGCONT resumes).
func (c *cluster) signal(id uint64, sig syscall.Signal) {
	c.t.Helper()
	require.NoError(c.t, syscall.Kill(c.sup.Node(id).PID, sig))
}

// lastSegment returns the newest WAL segment of node id and its size.
func (c *cluster) lastSegment(id uint64) (string, int64) {
	c.t.Helper()
	segs := segments(c.t, c.sup.Node(id).DataDir)
	info, err := os.Stat(segs[len(segs)-1])
	require.NoError(c.t, err)
	return segs[len(segs)-1], info.Size()
}

// caughtUp waits until node id's log ends where the leader's does and it applied all of it.
func (c *cluster) caughtUp(id, leader uint64) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		st, ls := c.status(id), c.status(leader)
		return st != nil && ls != nil && st.LastIndex == ls.LastIndex && st.Applied == st.LastIndex
	}, formTimeout, 50*time.Millisecond, "node %d did not catch up with leader %d", id, leader)
}

// requireNoPanic checks that no node's log holds a panic.
func (c *cluster) requireNoPanic() {
	c.t.Helper()
	for _, n := range c.sup.Nodes() {
		text, err := os.ReadFile(n.LogFile)
		require.NoError(c.t, err)
		require.NotContains(c.t, string(text), "panic:", "node %d panicked", n.ID)
	}
}

// requireLogged waits until node id's log holds want.
func (c *cluster) requireLogged(id uint64, want string) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		text, err := os.ReadFile(c.sup.Node(id).LogFile)
		return err == nil && strings.Contains(string(text), want)
	}, formTimeout, 50*time.Millisecond, "node %d never logged %q", id, want)
}

// TestFindingBTruncatedLogDoesNotElectALeaderWithoutTheAcknowledgedWrite replays issue 12's
// finding B step by step. Roles: L leads, F (n3 of the report) and P acknowledge W with it, A and
// B are cut off and miss W.
func TestFindingBTruncatedLogDoesNotElectALeaderWithoutTheAcknowledgedWrite(t *testing.T) {
	c := startCluster(t, 5)
	leader := c.waitFormed()
	var rest []uint64
	for _, id := range c.ids() {
		if id != leader {
			rest = append(rest, id)
		}
	}
	f, p, a, b := rest[0], rest[1], rest[2], rest[3]
	require.NoError(t, c.createRoom(leader, "e2e-before", "before", 10*time.Second))
	for _, id := range c.ids() {
		c.caughtUp(id, leader)
	}

	// 1. Cut A and B off.
	c.cut(a, []uint64{leader, f, p, b})
	c.cut(b, []uint64{leader, f, p})
	// 2. W: three rooms acknowledged by L, F and P.
	seg, preW := c.lastSegment(f)
	w := []string{"acked-1", "acked-2", "acked-3"}
	for i, room := range w {
		require.NoError(t, c.createRoom(leader, fmt.Sprintf("e2e-w%d", i), room, 10*time.Second))
	}
	c.caughtUp(f, leader)
	// 3. SIGKILL F and cut its segment back to its length before W, on a record boundary.
	require.NoError(t, c.sup.Crash(f))
	_, postW := c.lastSegment(f)
	require.Greater(t, postW, preW)
	require.NoError(t, os.Truncate(seg, preW))
	// 4. SIGSTOP L and P, heal A and B, restart F.
	c.signal(leader, syscall.SIGSTOP)
	c.signal(p, syscall.SIGSTOP)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			c.signal(leader, syscall.SIGCONT)
			c.signal(p, syscall.SIGCONT)
		}
	})
	for _, id := range []uint64{a, b} {
		_, err := c.admin(id).Heal(context.Background(), &kannapb.HealRequest{})
		require.NoError(t, err)
	}
	require.NoError(t, c.sup.Restart(f))
	c.requireLogged(f, "acknowledged entries were lost")
	require.Eventually(t, func() bool {
		st := c.status(f)
		return st != nil && st.Recovering
	}, formTimeout, 50*time.Millisecond, "F must say it is recovering")

	// 5. F, A and B must not elect a leader: F does not vote, and A and B lack W.
	require.Never(t, func() bool { return c.leaderOf(f, a, b) != 0 }, 4*time.Second, 100*time.Millisecond,
		"a leader without W was elected among F, A and B")
	require.Error(t, c.createRoom(a, "e2e-after", "after", 2*time.Second), "nothing commits without L or P")

	// 6. Resume L and P: one of the three that hold W leads, F recovers, W is everywhere.
	c.signal(leader, syscall.SIGCONT)
	c.signal(p, syscall.SIGCONT)
	resumed = true
	c.heal()
	require.Eventually(t, func() bool { return c.createRoom(c.ids()[0], "e2e-after", "after", 2*time.Second) == nil },
		formTimeout, 100*time.Millisecond, "the cluster did not take a write after L and P resumed")
	want := append([]string{"after", "before"}, w...)
	require.Eventually(t, func() bool { return c.holdsAll(want) && c.converged(c.ids()...) },
		formTimeout, 100*time.Millisecond, "W is not on every node, or the nodes did not converge")
	require.Eventually(t, func() bool {
		st := c.status(f)
		return st != nil && !st.Recovering
	}, formTimeout, 50*time.Millisecond)
	c.requireLogged(f, "recovery: caught up from the leader")
	for _, id := range c.ids() {
		require.True(t, c.sup.Node(id).Running, "node %d exited: %s", id, c.sup.Node(id).Exit)
	}
	c.requireNoPanic()
}

// TestTornTailFollowerIsCaughtUpWithinASecondOfItsRestart is finding C: a follower whose last
// acknowledged entries were torn away used to wait for the leader's next snapshot.
func TestTornTailFollowerIsCaughtUpWithinASecondOfItsRestart(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.waitFormed()
	f := c.others(leader)[0]
	require.NoError(t, c.createRoom(leader, "e2e-torn-0", "torn-0", 10*time.Second))
	c.caughtUp(f, leader)
	seg, pre := c.lastSegment(f)
	require.NoError(t, c.createRoom(leader, "e2e-torn-1", "torn-1", 10*time.Second))
	c.caughtUp(f, leader)
	require.NoError(t, c.sup.Crash(f))
	_, post := c.lastSegment(f)
	// Tear the last record: keep all of it but its final 5 bytes.
	require.Greater(t, post, pre+5)
	require.NoError(t, os.Truncate(seg, post-5))

	require.NoError(t, c.sup.Restart(f))
	// The second counts from the moment the node serves again (its process start-up is not Raft's).
	require.Eventually(t, func() bool { return c.status(f) != nil }, formTimeout, 20*time.Millisecond)
	start := time.Now()
	require.Eventually(t, func() bool {
		st, ls := c.status(f), c.status(leader)
		return st != nil && ls != nil && !st.Recovering && st.LastIndex >= ls.Commit && st.Commit == ls.Commit
	}, formTimeout, 20*time.Millisecond)
	took := time.Since(start)
	t.Logf("torn-tail follower caught up %v after it served again", took)
	require.Less(t, took, time.Second, "the follower must be caught up within a second of its restart")
	require.True(t, c.holdsAll([]string{"torn-0", "torn-1"}))
	c.requireNoPanic()
}

// TestDamageTableRowsRecoverOrRefuseWithoutLosingAnAcknowledgedWrite damages a stopped follower
// in each way of issue 12's table, and checks that it either rejoins by itself or refuses to start
// naming `kanna recover`, after which it rejoins; every acknowledged room survives on every node.
func TestDamageTableRowsRecoverOrRefuseWithoutLosingAnAcknowledgedWrite(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.waitFormed()
	f := c.others(leader)[0]
	walDir := func() string { return filepath.Join(c.sup.Node(f).DataDir, "wal") }
	var acked []string
	write := func() {
		room := fmt.Sprintf("row-%d", len(acked))
		require.NoError(t, c.createRoom(leader, "e2e-"+room, room, 10*time.Second))
		acked = append(acked, room)
		c.caughtUp(f, leader)
	}
	rows := []struct {
		name    string
		damage  func(t *testing.T)
		refuses bool
	}{
		{"hard state deleted", func(t *testing.T) { require.NoError(t, os.Remove(filepath.Join(walDir(), "hardstate"))) }, false},
		{"only segment deleted", func(t *testing.T) {
			for _, s := range segments(t, walDir()) {
				require.NoError(t, os.Remove(s))
			}
		}, false},
		{"segment cut to half", func(t *testing.T) {
			seg, size := c.lastSegment(f)
			require.NoError(t, os.Truncate(seg, size/2))
		}, false},
		{"byte flipped inside the last record", func(t *testing.T) {
			seg, size := c.lastSegment(f)
			flipAt(t, seg, size-3)
		}, false},
		{"byte flipped mid-segment", func(t *testing.T) {
			seg, _ := c.lastSegment(f)
			flipAt(t, seg, 12)
		}, true},
		{"data folder wiped", func(t *testing.T) { require.NoError(t, os.RemoveAll(c.sup.Node(f).DataDir)) }, true},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			write()
			write()
			require.NoError(t, c.sup.Crash(f))
			row.damage(t)
			if row.refuses {
				if _, err := os.Stat(c.sup.Node(f).DataDir); err == nil {
					require.NoError(t, c.sup.Restart(f))
					_, _ = c.sup.Wait(f)
					text, err := os.ReadFile(c.sup.Node(f).LogFile)
					require.NoError(t, err)
					require.Contains(t, string(text), "kanna recover --data", "the refusal names the command")
				}
				dir := c.sup.Node(f).DataDir
				if _, err := os.Stat(dir); os.IsNotExist(err) {
					// A folder that is gone is refused as a likely typo; the operator makes the empty
					// folder, as the refusal says, and runs recover again.
					out, err := osexec.Command(kannaBin, "recover", "--data", dir).CombinedOutput()
					require.Error(t, err, string(out))
					require.Contains(t, string(out), "mkdir -p")
					require.NoError(t, os.MkdirAll(dir, 0o755))
				}
				out, err := osexec.Command(kannaBin, "recover", "--data", dir).CombinedOutput()
				require.NoError(t, err, string(out))
				require.Contains(t, string(out), "start the node again")
			}
			require.NoError(t, c.sup.Restart(f))
			require.Eventually(t, func() bool {
				st := c.status(f)
				return st != nil && !st.Recovering
			}, formTimeout, 50*time.Millisecond, "node %d did not rejoin", f)
			require.Eventually(t, func() bool { return c.holdsAll(acked) && c.converged(c.ids()...) },
				formTimeout, 100*time.Millisecond, "an acknowledged room is missing, or the nodes did not converge")
			require.True(t, c.sup.Node(f).Running)
		})
	}
	c.requireNoPanic()
}

// flipAt inverts the byte at off of the file at path.
func flipAt(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Less(t, off, int64(len(data)))
	data[off] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o640))
}
