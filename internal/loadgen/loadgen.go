// Package loadgen is the load of every cluster benchmark: concurrent Hangman players, each retrying
// a request with the same client id and seq after Unavailable so that it applies once (Raft paper
// §8, thesis §6.3), and the latency summary. `kanna bench` aims it at a node over gRPC or, with
// --inprocess, at the leader's Game service in the same process; the hashicorp/raft peer in
// tests/peers/hashiraft aims the very same players at its own cluster, so both systems carry the
// same work. It is kept apart from any cluster so that tests can aim it at a stand-in server.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// letterOrder is English letter frequency, so that most guesses hit and a round lasts a while.
const letterOrder = "etaoinsrhldcumfpgwybvkxjqz"

// callTimeout bounds one attempt of one call: above an election (one to two seconds), so a leader
// change shows as a slow op rather than a failure.
const callTimeout = 5 * time.Second

// Game is the part of the Game service the players call. A kannapb.GameServer is one (the calls
// then run in this process); Remote makes one of a gRPC client.
type Game interface {
	CreateRoom(context.Context, *kannapb.CreateRoomRequest) (*kannapb.RoomState, error)
	JoinRoom(context.Context, *kannapb.JoinRoomRequest) (*kannapb.RoomState, error)
	Guess(context.Context, *kannapb.GuessRequest) (*kannapb.RoomState, error)
	NewRound(context.Context, *kannapb.NewRoundRequest) (*kannapb.RoomState, error)
}

// Remote is a Game whose calls go over gRPC.
func Remote(c kannapb.GameClient) Game { return remote{c} }

type remote struct{ c kannapb.GameClient }

func (r remote) CreateRoom(ctx context.Context, q *kannapb.CreateRoomRequest) (*kannapb.RoomState, error) {
	return r.c.CreateRoom(ctx, q)
}
func (r remote) JoinRoom(ctx context.Context, q *kannapb.JoinRoomRequest) (*kannapb.RoomState, error) {
	return r.c.JoinRoom(ctx, q)
}
func (r remote) Guess(ctx context.Context, q *kannapb.GuessRequest) (*kannapb.RoomState, error) {
	return r.c.Guess(ctx, q)
}
func (r remote) NewRound(ctx context.Context, q *kannapb.NewRoundRequest) (*kannapb.RoomState, error) {
	return r.c.NewRound(ctx, q)
}

// Options say how hard to load the cluster.
type Options struct {
	Clients  int
	Duration time.Duration
	Payload  int // the length of each player's name, which every guess carries (1-32)
	// Stop, when closed, ends the run before Duration: each player finishes the call it is in and
	// sends no more. Nil never stops early.
	Stop <-chan struct{}
}

// Modes a Result names: the players call the leader's state machine in its own process
// (consensus alone), or a Game service over gRPC (the whole service).
const (
	ModeConsensus = "consensus"
	ModeService   = "service"
)

// Result is the JSON line every cluster benchmark prints, whatever the system.
type Result struct {
	System    string  `json:"system"`
	Mode      string  `json:"mode"`
	Nodes     int     `json:"nodes"`
	Clients   int     `json:"clients"`
	Payload   int     `json:"payload"`
	Ops       int     `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	Retries   int64   `json:"retries"`
	// ClientPath is how the players reached a Game service over gRPC: PathUnary (one call per
	// op) or PathStream (Game.Play). Empty when they called it in the same process.
	ClientPath string `json:"client_path,omitempty"`
	// Elections counts the terms that began while the load ran (Raft paper §5.2: every election
	// raises the term): 0 means the leader of the start led throughout. Nil when the system's
	// bench cannot tell.
	Elections *uint64 `json:"elections,omitempty"`
}

// Run runs opt.Clients players, spread over games, for opt.Duration after all have set up their
// rooms, and summarizes the latencies of the ops that succeeded. The Result's System, Mode and
// Nodes are the caller's to fill.
func Run(ctx context.Context, games []Game, opt Options, progress io.Writer) (Result, error) {
	if len(games) == 0 || opt.Clients < 1 || opt.Duration <= 0 || opt.Payload < 1 || opt.Payload > 32 {
		return Result{}, fmt.Errorf("loadgen: need a game, clients >= 1, duration > 0 and payload 1-32, not %d games and %+v", len(games), opt)
	}
	players := make([]*benchPlayer, opt.Clients)
	for i := range players {
		players[i] = newBenchPlayer(i, games[i%len(games)], opt.Payload)
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
		return Result{}, err
	default:
	}
	fmt.Fprintf(progress, "%d rooms ready; measuring for %v\n", len(players), opt.Duration)

	var ops atomic.Int64
	start := time.Now()
	deadline := start.Add(opt.Duration)
	stopProgress := make(chan struct{})
	go reportProgress(progress, start, &ops, stopProgress)
	for _, p := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.play(ctx, deadline, opt.Stop, &ops); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	select {
	case err := <-errs:
		return Result{}, err
	default:
	}
	var lats []time.Duration
	var retries int64
	for _, p := range players {
		lats = append(lats, p.lats...)
		retries += p.retries
	}
	res := Summarize(lats, elapsed)
	res.Clients, res.Payload, res.Retries = opt.Clients, opt.Payload, retries
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

// Summarize computes throughput and nearest-rank percentiles.
func Summarize(lats []time.Duration, elapsed time.Duration) Result {
	res := Result{Ops: len(lats)}
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
	game     Game
	clientID string
	room     string
	player   string
	seq      uint64

	state   *kannapb.RoomState
	lats    []time.Duration
	retries int64
}

func newBenchPlayer(i int, game Game, payload int) *benchPlayer {
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

// play sends one command after another until deadline or stop: a guess of the next letter while the round
// is played, a new round once it is over. Each successful call is one op.
func (p *benchPlayer) play(ctx context.Context, deadline time.Time, stop <-chan struct{}, ops *atomic.Int64) error {
	for time.Now().Before(deadline) && !closed(stop) {
		p.seq++
		seq := p.seq
		var send func(context.Context) (*kannapb.RoomState, error)
		if letter, ok := NextLetter(p.state); ok {
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

// closed reports whether ch is closed; a nil channel never is.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// NextLetter returns the next letter to guess, or false when the round is over and a new one is
// due.
func NextLetter(st *kannapb.RoomState) (string, bool) {
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
