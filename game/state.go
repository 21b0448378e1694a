// Package game is Kanna's Hangman state machine: the "state machine" of replicated state machines
// that Raft keeps consistent (Raft paper §1, §2, Figure 1).
//
// Every server applies the same log of commands in the same order; so that they all reach the same
// state, Apply is a pure function of the state and the command: no clock, no randomness (the
// proposer writes the word into the command), no map iteration order (snapshots sort their keys).
// Client sessions make retried commands apply once (paper §8, thesis §6.3).
//
// This file holds the State and the entry point Apply; rules.go holds what each command does,
// session.go the duplicate detection, view.go what clients see, snapshot.go snapshots and
// snapshot_codec.go their bytes.
package game

import (
	"encoding/json"
	"sort"
	"unicode/utf8"
)

// Limits that keep the replicated state bounded whatever clients send.
const (
	// Lives is how many wrong guesses a round allows, as on paper: head, body, two arms, two legs.
	Lives = 6
	// MaxRooms bounds the rooms of a cluster, so that a client looping on create cannot grow every
	// replica's memory and snapshots without end.
	MaxRooms = 1000
	// MaxPlayersPerRoom bounds a room's players: more would not fit a scoreboard.
	MaxPlayersPerRoom = 32
)

// State is the whole Hangman state of one replica: rooms and client sessions. The zero value is not
// usable; call NewState. A State is not safe for concurrent use.
type State struct {
	rooms    map[string]*room
	sessions map[string]*session
	// applies counts calls to Apply. Every replica applies the same commands, so every replica has
	// the same count at the same point of the log.
	applies uint64
	// now is the log's clock: the largest Command.Time applied, in Unix milliseconds. Sessions and
	// rooms age by it alone (session.go), so every replica ages them at the same entry.
	now int64
	// swept is now as of the last sweep of sessions and rooms.
	swept int64
	// index is the log index of the command being applied: what a room it changes takes as its
	// version.
	index uint64
}

// room is one room and its current round.
type room struct {
	name    string
	word    string
	round   uint64 // 1 for the room's first round
	lives   int    // wrong guesses left in this round
	guessed []byte // letters guessed in this round, in the order guessed
	status  Status
	players []player // in the order they joined
	// version is the log index of the command that last changed the room; active that command's
	// log time.
	version uint64
	active  int64
}

type player struct {
	name  string
	score int
	token string // the secret the player joined with; empty when it gave none
}

// NewState returns an empty state: no rooms, no sessions.
func NewState() *State {
	return &State{rooms: map[string]*room{}, sessions: map[string]*session{}}
}

// ApplyAt applies the command committed at log index index and returns its result; a rejected
// command leaves the rooms unchanged and returns its error in Result.Err. A room the command
// changes takes index as its version. ApplyAt never panics on any input.
//
// A command whose (ClientID, Seq) was already applied is not applied again: the first result,
// the room state after it included, is returned (thesis §6.3). A Seq older than the client's
// latest is refused, since its answer is no longer remembered; so is a retry whose session has
// expired (session.go).
func (s *State) ApplyAt(index uint64, cmd Command) Result {
	s.applies++
	s.index = index
	s.now = max(s.now, cmd.Time)
	defer s.sweepIfDue()
	if err := validateRequestID(cmd); err != nil {
		return failed(cmd, err)
	}
	sess, res, done := s.checkSession(cmd)
	if done {
		return res
	}
	res = s.apply(cmd)
	if res.Err == nil {
		if r, ok := s.rooms[cmd.Room]; ok {
			if !res.Repeated {
				r.version, r.active = index, s.now
			}
			view := r.view()
			res.State = &view
		}
	}
	s.remember(sess, cmd.ClientID, cmd.Seq, res)
	return res
}

// Apply is ApplyAt for a state that is not fed from a log: each call counts as the next index.
func (s *State) Apply(cmd Command) Result { return s.ApplyAt(s.applies+1, cmd) }

// apply runs one command that is not a duplicate.
func (s *State) apply(cmd Command) Result {
	if err := cmd.Validate(); err != nil {
		return failed(cmd, err)
	}
	switch cmd.Kind {
	case KindCreateRoom:
		return s.createRoom(cmd)
	case KindJoin:
		return s.join(cmd)
	case KindGuess:
		return s.guess(cmd)
	default: // KindNewRound: Validate admits no other kind.
		return s.newRound(cmd)
	}
}

// failed is the result of a rejected command. It echoes the command's kind, room and player, which
// may be anything a client sent, so it makes them valid UTF-8 the way encoding/json would: the
// result is kept in the session, and must read back from a snapshot exactly as it was.
func failed(cmd Command, err error) Result {
	ge, ok := err.(*Error)
	if !ok {
		ge = &Error{Code: Unknown, Message: err.Error()}
	}
	return Result{Kind: Kind(jsonString(string(cmd.Kind))), Room: jsonString(cmd.Room), Player: jsonString(cmd.Player), Err: ge}
}

// jsonString returns s as it reads back after a trip through encoding/json, which replaces each
// invalid UTF-8 byte with U+FFFD.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b, _ := json.Marshal(s) // a string always marshals
	var out string
	_ = json.Unmarshal(b, &out) // and reads back
	return out
}

// Room returns the view of one room as a client may see it, or a NotFound error.
func (s *State) Room(name string) (RoomView, error) {
	r, err := s.room(name)
	if err != nil {
		return RoomView{}, err
	}
	return r.view(), nil
}

// RoomNames returns the names of all rooms, sorted.
func (s *State) RoomNames() []string {
	names := make([]string, 0, len(s.rooms))
	for name := range s.rooms {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Applies returns how many commands Apply has seen, duplicates and rejections included.
func (s *State) Applies() uint64 { return s.applies }
