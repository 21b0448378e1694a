// The load of `kanna bench`: concurrent Hangman players, each retrying a request with the same
// client id and seq after Unavailable so that it applies once (Raft paper §8, thesis §6.3), and the
// latency summary. Kept apart from the cluster start-up so that tests can aim it at a stand-in
// server.

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// letterOrder is English letter frequency, so that most guesses hit and a round lasts a while.
const letterOrder = "etaoinsrhldcumfpgwybvkxjqz"

// callTimeout bounds one attempt of one call: above an election (one to two seconds), so a leader
// change shows as a slow op rather than a failure.
const callTimeout = 5 * time.Second

// loadOptions say how hard to load the cluster.
type loadOptions struct {
	clients  int
	duration time.Duration
	payload  int
}

// benchResult is the JSON line `kanna bench --json` prints; its keys match the anchor's.
type benchResult struct {
	System    string  `json:"system"`
	Nodes     int     `json:"nodes"`
	Clients   int     `json:"clients"`
	Payload   int     `json:"payload"`
	Ops       int     `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	Retries   int64   `json:"retries"`
}

// runLoad runs opt.clients players, spread over conns, for opt.duration after all have set up
// their rooms, and summarizes the latencies of the ops that succeeded.
func runLoad(ctx context.Context, conns []*grpc.ClientConn, opt loadOptions, progress io.Writer) (benchResult, error) {
	players := make([]*benchPlayer, opt.clients)
	for i := range players {
		players[i] = newBenchPlayer(i, kannapb.NewGameClient(conns[i%len(conns)]), opt.payload)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(players))
	for _, p := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.setUp(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return benchResult{}, err
	default:
	}
	fmt.Fprintf(progress, "%d rooms ready; measuring for %v\n", len(players), opt.duration)

	var ops atomic.Int64
	start := time.Now()
	deadline := start.Add(opt.duration)
	stopProgress := make(chan struct{})
	go reportProgress(progress, start, &ops, stopProgress)
	for _, p := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.play(ctx, deadline, &ops); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	select {
	case err := <-errs:
		return benchResult{}, err
	default:
	}
	var lats []time.Duration
	var retries int64
	for _, p := range players {
		lats = append(lats, p.lats...)
		retries += p.retries
	}
	res := summarizeLatencies(lats, elapsed)
	res.Clients, res.Payload, res.Retries = opt.clients, opt.payload, retries
	return res, nil
}

// reportProgress prints the op count once a second until stop closes.
func reportProgress(w io.Writer, start time.Time, ops *atomic.Int64, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			fmt.Fprintf(w, "%4.0fs  %d ops\n", now.Sub(start).Seconds(), ops.Load())
		}
	}
}

// summarizeLatencies computes throughput and nearest-rank percentiles, as the anchor does.
func summarizeLatencies(lats []time.Duration, elapsed time.Duration) benchResult {
	res := benchResult{System: "kanna", Ops: len(lats)}
	if len(lats) == 0 || elapsed <= 0 {
		return res
	}
	sorted := slices.Clone(lats)
	slices.Sort(sorted)
	pct := func(p float64) float64 {
		return float64(sorted[int(p*float64(len(sorted)-1))].Microseconds()) / 1000
	}
	res.OpsPerSec = float64(len(sorted)) / elapsed.Seconds()
	res.P50ms, res.P99ms = pct(0.5), pct(0.99)
	return res
}

// benchPlayer is one client: its own client id, room and player, and the round it plays.
type benchPlayer struct {
	game     kannapb.GameClient
	clientID string
	room     string
	player   string
	seq      uint64

	state   *kannapb.RoomState
	lats    []time.Duration
	retries int64
}

func newBenchPlayer(i int, game kannapb.GameClient, payload int) *benchPlayer {
	name := fmt.Sprintf("player%d-", i)
	name = (name + strings.Repeat("x", max(0, payload-len(name))))[:payload]
	return &benchPlayer{
		game:     game,
		clientID: fmt.Sprintf("bench-client-%d", i),
		room:     fmt.Sprintf("bench-%d", i),
		player:   name,
	}
}

// setUp creates the player's room and joins it; neither call is measured.
func (p *benchPlayer) setUp(ctx context.Context) error {
	p.seq++
	_, err := p.call(ctx, func(ctx context.Context) (*kannapb.RoomState, error) {
		return p.game.CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: p.clientID, Seq: p.seq, Room: p.room})
	})
	if err != nil {
		return fmt.Errorf("create room %q: %w", p.room, err)
	}
	p.seq++
	st, err := p.call(ctx, func(ctx context.Context) (*kannapb.RoomState, error) {
		return p.game.JoinRoom(ctx, &kannapb.JoinRoomRequest{ClientId: p.clientID, Seq: p.seq, Room: p.room, Player: p.player})
	})
	if err != nil {
		return fmt.Errorf("join room %q: %w", p.room, err)
	}
	p.state = st
	return nil
}

// play sends one command after another until deadline: a guess of the next letter while the round
// is played, a new round once it is over. Each successful call is one op.
func (p *benchPlayer) play(ctx context.Context, deadline time.Time, ops *atomic.Int64) error {
	for time.Now().Before(deadline) {
		p.seq++
		seq := p.seq
		var send func(context.Context) (*kannapb.RoomState, error)
		if letter, ok := nextLetter(p.state); ok {
			send = func(ctx context.Context) (*kannapb.RoomState, error) {
				return p.game.Guess(ctx, &kannapb.GuessRequest{ClientId: p.clientID, Seq: seq, Room: p.room, Player: p.player, Letter: letter})
			}
		} else {
			send = func(ctx context.Context) (*kannapb.RoomState, error) {
				return p.game.NewRound(ctx, &kannapb.NewRoundRequest{ClientId: p.clientID, Seq: seq, Room: p.room})
			}
		}
		t0 := time.Now()
		st, err := p.call(ctx, send)
		if err != nil {
			return fmt.Errorf("client %s, request %d in room %q: %w", p.clientID, seq, p.room, err)
		}
		p.lats = append(p.lats, time.Since(t0))
		ops.Add(1)
		p.state = st
	}
	return nil
}

// nextLetter returns the next letter to guess, or false when the round is over and a new one is
// due.
func nextLetter(st *kannapb.RoomState) (string, bool) {
	if st.GetStatus() != kannapb.RoundStatus_ROUND_STATUS_PLAYING {
		return "", false
	}
	for _, c := range letterOrder {
		if !slices.Contains(st.GuessedLetters, string(c)) {
			return string(c), true
		}
	}
	return "", false
}

// call sends one request until it gets an answer, resending the very same request (same client id
// and seq) after Unavailable or DeadlineExceeded: the state machine applies it at most once.
func (p *benchPlayer) call(ctx context.Context, send func(context.Context) (*kannapb.RoomState, error)) (*kannapb.RoomState, error) {
	backoff := 5 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		st, err := send(cctx)
		cancel()
		switch status.Code(err) {
		case codes.OK:
			return st, nil
		case codes.Unavailable, codes.DeadlineExceeded:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			p.retries++
			time.Sleep(backoff)
			backoff = min(2*backoff, 200*time.Millisecond)
		default:
			return nil, err
		}
	}
}
