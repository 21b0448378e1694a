// The rules of Hangman, one function per command, and the Result each returns.
//
// Scoring: a correct letter earns its guesser one point per occurrence it reveals; the guess that
// reveals the last hidden letter earns WinBonus more. A wrong guess costs the room a life and the
// guesser nothing; a letter already guessed this round costs nothing and earns nothing. Scores
// carry over from round to round. Each rule leaves the state untouched when it returns an error,
// so that a rejected command is a no-op on every replica (Raft paper §5.3: the state machines
// must stay identical).

package game

import (
	"fmt"
	"strconv"
	"strings"
)

// WinBonus is what the guesser who completes the word earns on top of the letter's points: enough
// that racing to finish a word is worth it, not so much that one lucky guess outweighs a round of
// careful ones.
const WinBonus = 5

// Status is the state of a room's current round.
type Status uint8

const (
	// Playing: letters are still hidden and lives remain.
	Playing Status = iota
	// Won: every letter is revealed.
	Won
	// Lost: the lives ran out.
	Lost
)

var statusNames = [...]string{"playing", "won", "lost"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// MarshalText writes the status by name, for snapshots and the web protocol.
func (s Status) MarshalText() ([]byte, error) {
	if int(s) >= len(statusNames) {
		return nil, fmt.Errorf("game: cannot encode unknown round status %d", uint8(s))
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText reads a status written by MarshalText.
func (s *Status) UnmarshalText(b []byte) error {
	for i, name := range statusNames {
		if string(b) == name {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("game: unknown round status %q; expected one of %v", b, statusNames)
}

// Result is what applying one command produced. It is plain data, identical on every replica, and
// kept in the client's session so that a retry gets it again.
type Result struct {
	Kind   Kind   `json:"kind"`
	Room   string `json:"room"`
	Player string `json:"player,omitempty"`
	Round  uint64 `json:"round,omitempty"` // the room's round after the command

	// Repeated: nothing changed, because the letter was guessed already this round (guess) or
	// the player came back with its token (join).
	Repeated bool `json:"repeated,omitempty"`

	// Guess only.
	Letter   string `json:"letter,omitempty"`   // the letter, lowercased
	Hit      bool   `json:"hit,omitempty"`      // the letter is in the word
	Revealed int    `json:"revealed,omitempty"` // occurrences the guess revealed
	Points   int    `json:"points,omitempty"`   // points the guesser earned

	Status Status `json:"status"` // the round's status after the command
	Err    *Error `json:"error,omitempty"`
	// State is the room right after the command, for one that succeeded: the answer's room, which
	// a retry gets again however the room has moved on since.
	State *RoomView `json:"state,omitempty"`
}

// Error returns the rejection as an error, or nil when the command was applied. Use it rather than
// comparing Err with nil through an interface, which would hold a typed nil.
func (r Result) Error() error {
	if r.Err == nil {
		return nil
	}
	return r.Err
}

func (s *State) createRoom(cmd Command) Result {
	if _, ok := s.rooms[cmd.Room]; ok {
		return failed(cmd, &Error{Code: AlreadyExists, Message: "room " + quote(cmd.Room) + " already exists; join it or pick another name"})
	}
	if len(s.rooms) >= MaxRooms {
		return failed(cmd, errorf(FailedPrecondition, "the cluster already holds %d rooms, the most it allows; join an existing room", MaxRooms))
	}
	r := &room{name: cmd.Room, word: cmd.Word, round: 1, lives: Lives, status: Playing}
	s.rooms[cmd.Room] = r
	return Result{Kind: cmd.Kind, Room: cmd.Room, Round: r.round, Status: r.status}
}

func (s *State) join(cmd Command) Result {
	r, err := s.room(cmd.Room)
	if err != nil {
		return failed(cmd, err)
	}
	if p := r.player(cmd.Player); p != nil {
		if p.token != "" && p.token == cmd.Token {
			return Result{Kind: cmd.Kind, Room: cmd.Room, Player: cmd.Player, Round: r.round, Status: r.status, Repeated: true}
		}
		return failed(cmd, &Error{Code: AlreadyExists, Message: "player " + quote(cmd.Player) + " is already in room " + quote(cmd.Room) + "; pick another name"})
	}
	if len(r.players) >= MaxPlayersPerRoom {
		return failed(cmd, errorf(FailedPrecondition, "room %q is full (%d players); try another room", cmd.Room, MaxPlayersPerRoom))
	}
	r.players = append(r.players, player{name: cmd.Player, token: cmd.Token})
	return Result{Kind: cmd.Kind, Room: cmd.Room, Player: cmd.Player, Round: r.round, Status: r.status}
}

func (s *State) guess(cmd Command) Result {
	r, err := s.room(cmd.Room)
	if err != nil {
		return failed(cmd, err)
	}
	p := r.player(cmd.Player)
	if p == nil {
		return failed(cmd, &Error{Code: NotFound, Message: "player " + quote(cmd.Player) + " is not in room " + quote(cmd.Room) + "; join first"})
	}
	if p.token != "" && p.token != cmd.Token {
		return failed(cmd, errorf(PermissionDenied, "player %q of room %q joined from another browser; join under a name of your own", cmd.Player, cmd.Room))
	}
	if r.status != Playing {
		return failed(cmd, &Error{Code: FailedPrecondition,
			Message: "round " + strconv.FormatUint(r.round, 10) + " of room " + quote(cmd.Room) + " is over (" + r.status.String() + "); start a new round"})
	}
	letter, _ := normalizeLetter(cmd.Letter)     // Validate has accepted it
	lower := alphabet[letter-'a' : letter-'a'+1] // string(letter), without allocating it
	res := Result{Kind: cmd.Kind, Room: cmd.Room, Player: cmd.Player, Round: r.round, Letter: lower}
	n := strings.Count(r.word, lower)
	res.Hit = n > 0
	if r.hasGuessed(letter) {
		res.Repeated = true
		res.Status = r.status
		return res
	}
	r.guessed = append(r.guessed, letter)
	if n == 0 {
		r.lives--
		if r.lives == 0 {
			r.status = Lost
		}
	} else {
		res.Revealed = n
		res.Points = n
		if r.allRevealed() {
			r.status = Won
			res.Points += WinBonus
		}
		p.score += res.Points
	}
	res.Status = r.status
	return res
}

func (s *State) newRound(cmd Command) Result {
	r, err := s.room(cmd.Room)
	if err != nil {
		return failed(cmd, err)
	}
	if r.status == Playing {
		return failed(cmd, &Error{Code: FailedPrecondition,
			Message: "round " + strconv.FormatUint(r.round, 10) + " of room " + quote(cmd.Room) + " is still being played; finish it first"})
	}
	r.word, r.round, r.lives, r.guessed, r.status = cmd.Word, r.round+1, Lives, nil, Playing
	return Result{Kind: cmd.Kind, Room: cmd.Room, Player: cmd.Player, Round: r.round, Status: r.status}
}

const alphabet = "abcdefghijklmnopqrstuvwxyz"

// quote returns s as the %q of fmt prints it. The rejections Apply makes most often (a room
// created twice, a guess after the round ended, a player who has not joined) are concatenated
// with it rather than formatted: fmt.Sprintf was a fifth of Apply's time in the simulator's profile.
// Each reads exactly as its errorf would (TestFrequentRejectionsReadAsFormatted).
func quote(s string) string { return strconv.Quote(s) }

func (s *State) room(name string) (*room, error) {
	r, ok := s.rooms[name]
	if !ok {
		return nil, &Error{Code: NotFound, Message: "room " + quote(name) + " does not exist; create it first"}
	}
	return r, nil
}

// player returns the named player of r, or nil.
func (r *room) player(name string) *player {
	for i := range r.players {
		if r.players[i].name == name {
			return &r.players[i]
		}
	}
	return nil
}

func (r *room) hasGuessed(letter byte) bool {
	for _, g := range r.guessed {
		if g == letter {
			return true
		}
	}
	return false
}

// allRevealed reports whether every letter of the word has been guessed.
func (r *room) allRevealed() bool {
	guessed := letterSet(r.guessed)
	for i := 0; i < len(r.word); i++ {
		if c := r.word[i]; c != ' ' && !guessed.has(c) {
			return false
		}
	}
	return true
}
