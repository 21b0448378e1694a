// `kanna bench --failover`: how long a cluster under load goes without a leader, and without an
// acknowledged write, after its leader is killed with SIGKILL (the fail-stop crash of the Raft
// paper §5.5; the election of §5.2 with the randomized timeouts of §9.3 of the thesis, pre-vote
// and check-quorum of §9.6).
//
// The players run throughout, each talking to one node and moving to the next when that node is
// unavailable; a follower forwards their calls to the leader. For each of --kills rounds the bench
// finds the leader, kills it, and measures from the kill (1) until a surviving node reports itself
// leader in a newer term, and (2) until a probe write, a new room sent to a surviving node at the
// moment of the kill, is acknowledged. Then it restarts the dead node from its data, waits for the
// cluster to form again, lets it run a moment under load, and kills the next leader.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/internal/loadgen"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// failoverSettle is how long the re-formed cluster runs under load before the next kill, so that
// each kill hits a cluster in its steady state rather than one still catching a node up.
const failoverSettle = time.Second

// failoverResult is the JSON line of `kanna bench --failover`.
type failoverResult struct {
	System  string `json:"system"`
	Mode    string `json:"mode"`
	Nodes   int    `json:"nodes"`
	Clients int    `json:"clients"`
	Kills   int    `json:"kills"`
	// LeaderMs and WriteMs are, per kill in order, the milliseconds from the SIGKILL until a new
	// leader and until the probe write's acknowledgement.
	LeaderMs []float64 `json:"leader_ms"`
	WriteMs  []float64 `json:"write_ms"`
	// Nearest-rank percentiles and the worst case of each.
	LeaderP50 float64 `json:"leader_p50_ms"`
	LeaderP99 float64 `json:"leader_p99_ms"`
	LeaderMax float64 `json:"leader_max_ms"`
	WriteP50  float64 `json:"write_p50_ms"`
	WriteP99  float64 `json:"write_p99_ms"`
	WriteMax  float64 `json:"write_max_ms"`
	// Ops are the players' acknowledged commands over the whole bench.
	Ops int `json:"ops"`
}

// benchFailover runs the kills and prints one JSON line (or a sentence).
func benchFailover(ctx context.Context, opt benchOptions, kills int, progress io.Writer) (failoverResult, error) {
	res := failoverResult{System: "kanna", Mode: "failover", Nodes: opt.nodes, Clients: opt.load.Clients, Kills: kills}
	if opt.nodes < 3 {
		return res, fmt.Errorf("--failover needs --nodes 3 or more, so that a majority survives the leader")
	}
	sup, err := demo.New(demo.Config{ExtraArgs: opt.extra, Progress: progress})
	if err != nil {
		return res, err
	}
	defer func() {
		if err := sup.Shutdown(); err != nil {
			fmt.Fprintln(progress, err)
		}
	}()
	if err := sup.StartCluster(opt.nodes); err != nil {
		return res, err
	}
	if _, err := waitFormed(ctx, sup, progress); err != nil {
		return res, err
	}
	clients := map[uint64]kannapb.GameClient{}
	var ids []uint64
	for _, n := range sup.Nodes() {
		conn, err := demo.Dial(n.Addr, "")
		if err != nil {
			return res, err
		}
		defer conn.Close()
		clients[n.ID] = kannapb.NewGameClient(conn)
		ids = append(ids, n.ID)
	}
	games := make([]loadgen.Game, opt.load.Clients)
	for i := range games {
		g := &anyNode{}
		for j := range ids {
			g.clients = append(g.clients, clients[ids[(i+j)%len(ids)]])
		}
		games[i] = g
	}
	stop := make(chan struct{})
	load := opt.load
	load.Duration, load.Stop = 24*time.Hour, stop
	type loaded struct {
		res loadgen.Result
		err error
	}
	done := make(chan loaded, 1)
	go func() {
		r, err := loadgen.Run(ctx, games, load, io.Discard)
		done <- loaded{r, err}
	}()
	var final loaded
	stopLoad := sync.OnceValues(func() (loadgen.Result, error) {
		close(stop)
		final = <-done
		return final.res, final.err
	})
	defer func() { _, _ = stopLoad() }()

	probeSeq := uint64(0)
	for k := 1; k <= kills; k++ {
		select {
		case <-time.After(failoverSettle):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		leader, term, err := currentLeader(ctx, sup)
		if err != nil {
			return res, err
		}
		survivor := ids[0]
		if survivor == leader {
			survivor = ids[1]
		}
		killed := time.Now()
		if err := sup.Crash(leader); err != nil {
			return res, err
		}
		probeSeq++
		wrote := make(chan error, 1)
		go func(seq uint64) {
			wrote <- probeWrite(ctx, clients[survivor], seq)
		}(probeSeq)
		elected, err := waitNewLeader(ctx, sup, leader, term)
		if err != nil {
			return res, err
		}
		if err := <-wrote; err != nil {
			return res, fmt.Errorf("kill %d: probe write: %w", k, err)
		}
		writeAt := time.Now()
		lms := float64(elected.Sub(killed).Microseconds()) / 1000
		wms := float64(writeAt.Sub(killed).Microseconds()) / 1000
		res.LeaderMs, res.WriteMs = append(res.LeaderMs, lms), append(res.WriteMs, wms)
		fmt.Fprintf(progress, "kill %d/%d: node %d (term %d): new leader after %.0f ms, write acknowledged after %.0f ms\n", k, kills, leader, term, lms, wms)
		if err := sup.Restart(leader); err != nil {
			return res, err
		}
		if _, err := waitFormed(ctx, sup, io.Discard); err != nil {
			return res, err
		}
	}
	lr, err := stopLoad()
	if err != nil {
		return res, err
	}
	res.Ops = lr.Ops
	res.LeaderP50, res.LeaderP99, res.LeaderMax = percentiles(res.LeaderMs)
	res.WriteP50, res.WriteP99, res.WriteMax = percentiles(res.WriteMs)
	return res, nil
}

// waitFormed waits until the running nodes form one cluster with one leader.
func waitFormed(ctx context.Context, sup *demo.Supervisor, progress io.Writer) (uint64, error) {
	fctx, cancel := context.WithTimeout(ctx, formTimeout)
	defer cancel()
	leader, err := sup.WaitReady(fctx)
	if err != nil {
		printLogTails(progress, sup.Nodes())
	}
	return leader, err
}

// currentLeader returns the node that leads and its term, as the running nodes report them.
func currentLeader(ctx context.Context, sup *demo.Supervisor) (uint64, uint64, error) {
	leader, missing := sup.Formed(sup.Statuses(ctx, time.Second))
	if missing != "" {
		return 0, 0, fmt.Errorf("no leader to kill: %s", missing)
	}
	st := sup.Statuses(ctx, time.Second)[leader]
	if st == nil {
		return 0, 0, fmt.Errorf("leader %d did not answer", leader)
	}
	return leader, st.Term, nil
}

// waitNewLeader polls the surviving nodes until one reports that it leads in a term after term,
// and returns when it first saw that.
func waitNewLeader(ctx context.Context, sup *demo.Supervisor, dead, term uint64) (time.Time, error) {
	deadline := time.Now().Add(formTimeout)
	for time.Now().Before(deadline) {
		for id, st := range sup.Statuses(ctx, 200*time.Millisecond) {
			if id != dead && st.Role == kannapb.NodeRole_NODE_ROLE_LEADER && st.Term > term {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("no new leader within %v of killing node %d", formTimeout, dead)
}

// probeWrite creates a new room through node c, resending the same request (same client id and
// seq, applied once) until it is acknowledged.
func probeWrite(ctx context.Context, c kannapb.GameClient, seq uint64) error {
	req := &kannapb.CreateRoomRequest{ClientId: "failover-probe", Seq: seq, Room: fmt.Sprintf("failover-probe-%d", seq)}
	deadline := time.Now().Add(formTimeout)
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.CreateRoom(cctx, req)
		cancel()
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.Unavailable, codes.DeadlineExceeded:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
		default:
			return err
		}
	}
	return fmt.Errorf("not acknowledged within %v", formTimeout)
}

// percentiles returns the nearest-rank p50 and p99 and the maximum of xs.
func percentiles(xs []float64) (p50, p99, maxOf float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(0.5*float64(len(s)-1))], s[int(0.99*float64(len(s)-1))], s[len(s)-1]
}

// anyNode is a Game that talks to one node and moves to the next one when that node is
// unavailable (down, or without a leader), so a player survives the death of any node.
type anyNode struct {
	clients []kannapb.GameClient
	at      atomic.Int64
}

func (a *anyNode) call(f func(kannapb.GameClient) (*kannapb.RoomState, error)) (*kannapb.RoomState, error) {
	i := a.at.Load()
	st, err := f(a.clients[int(i)%len(a.clients)])
	if c := status.Code(err); c == codes.Unavailable || c == codes.DeadlineExceeded {
		a.at.CompareAndSwap(i, i+1)
	}
	return st, err
}

func (a *anyNode) CreateRoom(ctx context.Context, q *kannapb.CreateRoomRequest) (*kannapb.RoomState, error) {
	return a.call(func(c kannapb.GameClient) (*kannapb.RoomState, error) { return c.CreateRoom(ctx, q) })
}

func (a *anyNode) JoinRoom(ctx context.Context, q *kannapb.JoinRoomRequest) (*kannapb.RoomState, error) {
	return a.call(func(c kannapb.GameClient) (*kannapb.RoomState, error) { return c.JoinRoom(ctx, q) })
}

func (a *anyNode) Guess(ctx context.Context, q *kannapb.GuessRequest) (*kannapb.RoomState, error) {
	return a.call(func(c kannapb.GameClient) (*kannapb.RoomState, error) { return c.Guess(ctx, q) })
}

func (a *anyNode) NewRound(ctx context.Context, q *kannapb.NewRoundRequest) (*kannapb.RoomState, error) {
	return a.call(func(c kannapb.GameClient) (*kannapb.RoomState, error) { return c.NewRound(ctx, q) })
}

// printFailover prints the result as JSON or as a sentence.
func printFailover(res failoverResult, asJSON bool) {
	if asJSON {
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
		return
	}
	fmt.Fprintf(os.Stdout, "%d nodes, %d clients, %d leader kills: new leader p50 %.0f ms, p99 %.0f ms, max %.0f ms; next acknowledged write p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		res.Nodes, res.Clients, res.Kills, res.LeaderP50, res.LeaderP99, res.LeaderMax, res.WriteP50, res.WriteP99, res.WriteMax)
}
