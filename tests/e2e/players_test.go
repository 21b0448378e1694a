// Players for the linearizability tests: each is one client (its own client id and seq, Raft
// paper §8), plays one room through any node, resends a request unchanged after Unavailable or a
// timeout, on the next node, and records every request with its call and return times for
// porcupine.
package e2e

import (
	"context"
	"math"
	"math/rand"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// opDeadline bounds how long a player resends one request: several elections' worth. A request
// still unanswered then is recorded as unknown: it may or may not have been applied.
const opDeadline = 20 * time.Second

// attemptTimeout bounds one attempt, so that a request stuck on a dead or cut-off node moves on.
const attemptTimeout = 2 * time.Second

// history records operations with times on one monotonic clock.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *history) add(client int, in hangInput, call, ret int64, out hangOutput) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

// okCount counts the operations answered OK so far.
func (h *history) okCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, op := range h.ops {
		if out := op.Output.(hangOutput); !out.unknown && out.code == codes.OK {
			n++
		}
	}
	return n
}

func (h *history) operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// player is one client playing one room.
type player struct {
	h        *history
	pid      int
	clientID string
	seq      uint64
	room     string
	name     string
	host     bool // only the host starts new rounds, after it has seen the last one end
	nodes    []kannapb.GameClient
	at       int // index in nodes of the node tried first
	rng      *rand.Rand
	last     roomView
	stuck    bool // a request went unanswered: its seq cannot be reused, so the player stops
}

// send is one attempt of a request on one node.
type send func(ctx context.Context, g kannapb.GameClient, seq uint64) (*kannapb.RoomState, error)

// do performs one request until it is answered or opDeadline passes, and records it. Writes
// carry a new seq, kept across attempts. A request cut short by ctx is recorded as unknown, since
// it may have been applied.
func (p *player) do(ctx context.Context, in hangInput, fn send) hangOutput {
	if in.kind != opRead {
		p.seq++
	}
	call := p.h.now()
	deadline := time.Now().Add(opDeadline)
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		st, err := fn(actx, p.nodes[p.at], p.seq)
		cancel()
		code := status.Code(err)
		retry := code == codes.Unavailable || code == codes.DeadlineExceeded
		if ctx.Err() != nil || (retry && time.Now().After(deadline)) {
			p.stuck = true
			out := hangOutput{unknown: true}
			p.h.add(p.pid, in, call, math.MaxInt64, out)
			return out
		}
		if !retry {
			out := hangOutput{code: code}
			if code == codes.OK {
				out.state = viewOf(st)
				p.last = out.state
			}
			p.h.add(p.pid, in, call, p.h.now(), out)
			return out
		}
		p.at = (p.at + 1) % len(p.nodes)
		pause(ctx, 50*time.Millisecond)
	}
}

// pause waits d or until ctx ends: the back-off between attempts of a request.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (p *player) create(ctx context.Context) hangOutput {
	return p.do(ctx, hangInput{kind: opCreate, room: p.room}, func(ctx context.Context, g kannapb.GameClient, seq uint64) (*kannapb.RoomState, error) {
		return g.CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: p.clientID, Seq: seq, Room: p.room})
	})
}

func (p *player) join(ctx context.Context) hangOutput {
	return p.do(ctx, hangInput{kind: opJoin, room: p.room, player: p.name}, func(ctx context.Context, g kannapb.GameClient, seq uint64) (*kannapb.RoomState, error) {
		return g.JoinRoom(ctx, &kannapb.JoinRoomRequest{ClientId: p.clientID, Seq: seq, Room: p.room, Player: p.name})
	})
}

func (p *player) guess(ctx context.Context, letter string) hangOutput {
	return p.do(ctx, hangInput{kind: opGuess, room: p.room, player: p.name, letter: letter}, func(ctx context.Context, g kannapb.GameClient, seq uint64) (*kannapb.RoomState, error) {
		return g.Guess(ctx, &kannapb.GuessRequest{ClientId: p.clientID, Seq: seq, Room: p.room, Player: p.name, Letter: letter})
	})
}

func (p *player) newRound(ctx context.Context) hangOutput {
	return p.do(ctx, hangInput{kind: opNewRound, room: p.room}, func(ctx context.Context, g kannapb.GameClient, seq uint64) (*kannapb.RoomState, error) {
		return g.NewRound(ctx, &kannapb.NewRoundRequest{ClientId: p.clientID, Seq: seq, Room: p.room})
	})
}

func (p *player) read(ctx context.Context) hangOutput {
	return p.do(ctx, hangInput{kind: opRead, room: p.room}, func(ctx context.Context, g kannapb.GameClient, _ uint64) (*kannapb.RoomState, error) {
		return g.GetRoom(ctx, &kannapb.GetRoomRequest{Room: p.room, Linearizable: true})
	})
}

// unguessed picks a random letter the player has not seen guessed this round, or "" when none.
func (p *player) unguessed() string {
	var left []byte
	for c := byte('a'); c <= 'z'; c++ {
		if !strings.ContainsRune(p.last.guessed, rune(c)) {
			left = append(left, c)
		}
	}
	if len(left) == 0 {
		return ""
	}
	return string(left[p.rng.Intn(len(left))])
}

// play sends requests until stop is closed or a request goes unanswered: mostly guesses, some
// linearizable reads; the host starts a new round once it has seen the round end. A request under
// way when stop closes is finished, so that the history ends with answers rather than unknowns.
func (p *player) play(ctx context.Context, stop <-chan struct{}) {
	for !p.stuck {
		select {
		case <-stop:
			return
		default:
		}
		switch {
		case p.last.status != kannapb.RoundStatus_ROUND_STATUS_PLAYING && p.host:
			p.newRound(ctx)
		case p.last.status != kannapb.RoundStatus_ROUND_STATUS_PLAYING || p.rng.Intn(8) == 0:
			p.read(ctx)
			if p.last.status != kannapb.RoundStatus_ROUND_STATUS_PLAYING && !p.host {
				pause(ctx, 20*time.Millisecond) // the host has yet to start the next round
			}
		default:
			letter := p.unguessed()
			if letter == "" || p.guess(ctx, letter).code != codes.OK {
				p.read(ctx) // the round ended under us: see how
			}
		}
	}
}

// finish plays the room's current round to its end, so that its word shows and the model knows
// every round's word. The players must have stopped.
func (p *player) finish(ctx context.Context) {
	for i := 0; i < 40 && !p.stuck; i++ {
		if out := p.read(ctx); out.unknown || out.code != codes.OK {
			return
		}
		if p.last.status != kannapb.RoundStatus_ROUND_STATUS_PLAYING {
			return
		}
		if letter := p.unguessed(); letter != "" {
			p.guess(ctx, letter)
		}
	}
}
