// Test helpers shared by the game tests: a client that numbers its own requests, and builders for
// each command.

package game

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// harness is one client of a State: it numbers its requests 1, 2, 3... as a real client would.
type harness struct {
	t   *testing.T
	s   *State
	id  string
	seq uint64
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{t: t, s: NewState(), id: "client-1"}
}

// do sends c as this client's next request.
func (h *harness) do(c Command) Result {
	h.t.Helper()
	h.seq++
	c.ClientID, c.Seq = h.id, h.seq
	return h.s.Apply(c)
}

// ok sends c and requires it to be applied without error.
func (h *harness) ok(c Command) Result {
	h.t.Helper()
	res := h.do(c)
	require.NoError(h.t, res.Error(), "command %+v", c)
	return res
}

// view returns the room's view, requiring it to exist.
func (h *harness) view(room string) RoomView {
	h.t.Helper()
	v, err := h.s.Room(room)
	require.NoError(h.t, err)
	return v
}

// rooms returns every room's view: the part of the state a rejected command must not change.
func (h *harness) rooms() []RoomView {
	var out []RoomView
	for _, name := range h.s.RoomNames() {
		out = append(out, h.view(name))
	}
	return out
}

func create(room, word string) Command { return Command{Kind: KindCreateRoom, Room: room, Word: word} }
func join(room, player string) Command { return Command{Kind: KindJoin, Room: room, Player: player} }
func guess(room, player, letter string) Command {
	return Command{Kind: KindGuess, Room: room, Player: player, Letter: letter}
}
func newRound(room, word string) Command { return Command{Kind: KindNewRound, Room: room, Word: word} }

// guessAll guesses each letter of letters in turn, requiring each to be accepted.
func (h *harness) guessAll(room, player, letters string) {
	h.t.Helper()
	for _, l := range letters {
		h.ok(guess(room, player, string(l)))
	}
}
