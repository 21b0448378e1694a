// Simulated players and the history of what they saw, for linearizability checking.
//
// Each client sends one request at a time, numbered (client id, seq), and resends the same request
// with the same number after a timeout or a retryable error, following leader hints: the session
// table of the state machine then applies it once (Raft paper §8; thesis §6.3). The history keeps,
// for each operation, when it was called and when it returned, which is what a linearizability
// checker such as porcupine needs (Herlihy and Wing's definition: every operation appears to take
// effect at one instant between its call and its return).

package sim

import (
	"fmt"
	"math/rand"
	"strconv"
	"time"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/internal/hangmanmodel"
)

// OpKind and Input are the Hangman model's (internal/hangmanmodel): what a client asked.
type (
	OpKind = hangmanmodel.OpKind
	Input  = hangmanmodel.Input
)

// The operations a simulated player performs.
const (
	OpCreateRoom = hangmanmodel.OpCreateRoom
	OpJoin       = hangmanmodel.OpJoin
	OpGuess      = hangmanmodel.OpGuess
	OpNewRound   = hangmanmodel.OpNewRound
	OpRead       = hangmanmodel.OpRead
)

// Output is what the client got back: a write's game result (which may carry a game error), or a
// read's room view or error.
type Output struct {
	Result *game.Result   `json:"result,omitempty"`
	Room   *game.RoomView `json:"room,omitempty"`
	Err    string         `json:"error,omitempty"`
}

// Operation is one client operation from its first send to its final answer. Call and Return are
// virtual times; an operation that never got an answer has Done false and Return zero.
type Operation struct {
	ClientID string        `json:"client_id"`
	Call     time.Duration `json:"call_ns"`
	Return   time.Duration `json:"return_ns"`
	Input    Input         `json:"input"`
	Output   Output        `json:"output"`
	Done     bool          `json:"done"`
	Attempts int           `json:"attempts"`
}

// rooms are the rooms players contend for; few, so that requests collide.
var rooms = []string{"kobayashi-flat", "maid-cafe", "shrine"}

// client is one simulated player.
type client struct {
	s      *sim
	id     string
	player string
	rng    *rand.Rand
	seq    uint64
	leader uint64   // the leader this client believes in; 0 for none
	cur    *attempt // the attempt whose answer is awaited; nil between attempts
	op     int      // index in s.history of the operation in flight; -1 when idle
}

// attempt is one send of an operation to one node.
type attempt struct {
	client *client
	input  Input
	to     uint64
}

// command is the game command an attempt carries; the leader fills in the word.
func (a *attempt) command() game.Command {
	return game.Command{
		Kind:     game.Kind(a.input.Kind),
		ClientID: a.client.id,
		Seq:      a.input.Seq,
		Room:     a.input.Room,
		Player:   a.input.Player,
		Letter:   a.input.Letter,
	}
}

func newClient(s *sim, i int, rng *rand.Rand) *client {
	return &client{s: s, id: fmt.Sprintf("client-%d", i), player: fmt.Sprintf("player-%d", i), rng: rng, op: -1}
}

func (c *client) start() { c.s.q.after(c.think(), c.next) }

// The pause between two operations of a player is drawn from [minThink, minThink+thinkSpread).
const (
	minThink    = 20 * time.Millisecond
	thinkSpread = 300 * time.Millisecond
)

// think is the pause between two operations of a player.
func (c *client) think() time.Duration {
	return minThink + time.Duration(c.rng.Int63n(int64(thinkSpread)))
}

// expectedOps is how many operations a run's clients would call if every answer came at once: the
// history is made that large, so that it seldom grows, and copies itself, during the run.
func (s *sim) expectedOps() int {
	return len(s.clients) * int(s.opsEnd()/(minThink+thinkSpread/2))
}

// latency is a client-to-node or node-to-client hop; clients reach every node.
func (c *client) latency() time.Duration {
	return time.Millisecond + time.Duration(c.rng.Int63n(int64(4*time.Millisecond)))
}

// next starts a new operation, unless the run has stopped taking new ones.
func (c *client) next() {
	if c.s.q.now >= c.s.opsEnd() {
		return
	}
	in := Input{Room: rooms[c.rng.Intn(len(rooms))]}
	switch p := c.rng.Intn(100); {
	case p < 8:
		in.Kind = OpCreateRoom
	case p < 20:
		in.Kind, in.Player = OpJoin, c.player
	case p < 70:
		in.Kind, in.Player, in.Letter = OpGuess, c.player, string(rune('a'+c.rng.Intn(26)))
	case p < 80:
		in.Kind = OpNewRound
	default:
		in.Kind = OpRead
	}
	if in.Kind != OpRead {
		c.seq++
		in.Seq = c.seq
	}
	c.op = len(c.s.history)
	c.s.history = append(c.s.history, Operation{ClientID: c.id, Call: c.s.q.now, Input: in})
	c.s.scratch = appendInput(append(append(c.s.scratch[:0], c.id...), ' '), in)
	c.s.emit(Event{Kind: EventCall, Detail: string(c.s.scratch)})
	c.send(in)
}

// send makes one attempt: to the leader it believes in, or to a node drawn at random.
func (c *client) send(in Input) {
	to := c.leader
	if to == 0 {
		to = c.s.ids[c.rng.Intn(len(c.s.ids))]
	}
	a := &attempt{client: c, input: in, to: to}
	c.cur = a
	c.s.history[c.op].Attempts++
	n := c.s.nodes[to]
	c.s.q.after(c.latency(), func() { n.request(a) })
	c.s.q.after(clientTimeout, a.timeout)
}

// timeout resends the attempt's operation when no answer came to it.
func (a *attempt) timeout() {
	if c := a.client; c.cur == a {
		c.leader = 0 // silence: try somebody else
		c.send(a.input)
	}
}

// clientTimeout is how long a client waits before resending: a few election timeouts, so a
// request sent during an election usually gets its answer instead of a duplicate.
const clientTimeout = time.Second

// reply is called by a node with the answer to an attempt; it reaches the client a hop later.
func (c *client) reply(a *attempt, r result) {
	w, ok := c.s.freeAnswers.take()
	if !ok {
		w = new(answer)
	}
	w.a, w.r = a, r
	c.s.q.afterAct(c.latency(), w)
}

// answer is a reply on its way to its client; its records are reused, as messages' are.
type answer struct {
	a *attempt
	r result
}

func (w *answer) fire() {
	a, r := w.a, w.r
	*w = answer{}
	c := a.client
	c.s.freeAnswers.give(w)
	c.receive(a, r)
}

func (c *client) receive(a *attempt, r result) {
	if c.cur != a {
		return // an answer to an attempt already given up on
	}
	if r.Err != nil {
		if again, hint := retryable(r.Err); again {
			c.cur = nil
			c.leader = hint
			backoff := 10*time.Millisecond + time.Duration(c.rng.Int63n(int64(40*time.Millisecond)))
			c.s.q.after(backoff, func() {
				if c.cur == nil && c.op >= 0 {
					c.send(a.input)
				}
			})
			return
		}
	}
	op := &c.s.history[c.op]
	op.Return, op.Done = c.s.q.now, true
	switch {
	case r.Err != nil:
		op.Output.Err = r.Err.Error()
	case a.input.Kind == OpRead:
		room := r.Room
		op.Output.Room = &room
	default:
		res := r.Result
		op.Output.Result = &res
		c.s.writeAcknowledged(a.to)
	}
	b := appendInput(append(append(c.s.scratch[:0], c.id...), ' '), a.input)
	c.s.scratch = op.Output.appendSummary(append(b, " -> "...))
	c.s.emit(Event{Kind: EventReturn, Node: a.to, Detail: string(c.s.scratch)})
	c.cur, c.op, c.leader = nil, -1, a.to
	c.s.q.after(c.think(), c.next)
}

func describe(in Input) string { return string(appendInput(nil, in)) }

// appendInput appends what an operation asked, for the trace: "guess room=den letter=k seq=3".
func appendInput(b []byte, in Input) []byte {
	b = append(b, in.Kind...)
	b = append(b, " room="...)
	b = append(b, in.Room...)
	if in.Letter != "" {
		b = append(b, " letter="...)
		b = append(b, in.Letter...)
	}
	if in.Seq != 0 {
		b = append(b, " seq="...)
		b = strconv.AppendUint(b, in.Seq, 10)
	}
	return b
}

// summary is a short text of an output for the trace.
func (o Output) summary() string { return string(o.appendSummary(nil)) }

func (o Output) appendSummary(b []byte) []byte {
	switch {
	case o.Err != "":
		return append(append(b, "error: "...), o.Err...)
	case o.Room != nil:
		b = append(b, "room "...)
		b = append(b, o.Room.Name...)
		b = append(b, " round="...)
		b = strconv.AppendUint(b, o.Room.Round, 10)
		b = append(b, ' ')
		b = append(b, o.Room.Status.String()...)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, o.Room.Masked)
		b = append(b, " lives="...)
		return strconv.AppendInt(b, int64(o.Room.Lives), 10)
	case o.Result != nil && o.Result.Err != nil:
		b = append(b, o.Result.Err.Code.String()...)
		b = append(b, ": "...)
		return append(b, o.Result.Err.Message...)
	case o.Result != nil:
		b = append(b, "ok round="...)
		b = strconv.AppendUint(b, o.Result.Round, 10)
		b = append(b, ' ')
		b = append(b, o.Result.Status.String()...)
		b = append(b, " hit="...)
		b = strconv.AppendBool(b, o.Result.Hit)
		b = append(b, " points="...)
		return strconv.AppendInt(b, int64(o.Result.Points), 10)
	}
	return append(b, '?')
}
