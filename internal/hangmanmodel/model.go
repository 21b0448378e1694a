// A sequential specification of one Hangman room, written from the rules of the game (docs/game.md)
// rather than with game/'s code, so that a bug shared by the game and a checker reusing it cannot
// hide. Porcupine checks histories against it (tests/sim/porcupine.go, and the real-process tests in
// tests/e2e, which adapt it to what a gRPC client sees): Herlihy and Wing, "Linearizability", 1990.
//
// The word of each round is not a consequence of the requests: the leader draws it when it
// proposes, so the model is given the words (Words) and is deterministic with them.

// Package hangmanmodel is the Hangman rules as a sequential model for linearizability checkers,
// shared by the simulator and the real-process tests; only the project's own packages use it.
package hangmanmodel

import (
	"strconv"
	"strings"

	"github.com/kanna-cluster/kanna/game"
)

// OpKind names what a client asked for.
type OpKind string

// The operations a simulated player performs.
const (
	OpCreateRoom OpKind = "create_room"
	OpJoin       OpKind = "join"
	OpGuess      OpKind = "guess"
	OpNewRound   OpKind = "new_round"
	OpRead       OpKind = "read" // linearizable read of one room (ReadIndex, thesis §6.4)
)

// Input is what a client asked. Seq is zero for reads, which change nothing and need no session.
type Input struct {
	Kind   OpKind `json:"kind"`
	Room   string `json:"room"`
	Player string `json:"player,omitempty"`
	Letter string `json:"letter,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// Words holds each round's word: Words[room][round].
type Words map[string]map[uint64]string

// RoomModel is the model's state of one room. It is comparable, so porcupine's default Equal
// (==) works. Players is "name=score" per player, in the order they joined, comma separated.
type RoomModel struct {
	Exists  bool
	Round   uint64
	Lives   int
	Status  game.Status
	Guessed string // letters guessed this round, in order
	Players string
}

// Expected is what the model says a write answers: its error code, or its result (Round, Status,
// and for a guess Hit, Repeated, Revealed, Points).
type Expected struct {
	Code   game.Code
	Result game.Result
}

// Step applies one request to a room by the rules of the game. ok is false when the request
// needs the word of a round no committed entry started: no such round was played.
func (w Words) Step(s RoomModel, in Input) (next RoomModel, want Expected, ok bool) {
	fail := func(c game.Code) (RoomModel, Expected, bool) { return s, Expected{Code: c}, true }
	switch in.Kind {
	case OpCreateRoom:
		if s.Exists {
			return fail(game.AlreadyExists)
		}
		s = RoomModel{Exists: true, Round: 1, Lives: game.Lives, Status: game.Playing}
		return s, Expected{Result: game.Result{Round: 1, Status: game.Playing}}, true
	case OpRead:
		if !s.Exists {
			return fail(game.NotFound)
		}
		_, known := w[in.Room][s.Round]
		return s, Expected{}, known
	}
	if !s.Exists {
		return fail(game.NotFound)
	}
	switch in.Kind {
	case OpJoin:
		if _, joined := score(s.Players, in.Player); joined {
			return fail(game.AlreadyExists)
		}
		s.Players = setScore(s.Players, in.Player, 0)
		return s, Expected{Result: game.Result{Round: s.Round, Status: s.Status}}, true
	case OpNewRound:
		if s.Status == game.Playing {
			return fail(game.FailedPrecondition)
		}
		s.Round, s.Lives, s.Status, s.Guessed = s.Round+1, game.Lives, game.Playing, ""
		return s, Expected{Result: game.Result{Round: s.Round, Status: s.Status}}, true
	}
	// OpGuess: one point per occurrence revealed, WinBonus more for the last; a miss costs a life;
	// a repeated letter changes nothing.
	points, joined := score(s.Players, in.Player)
	if !joined {
		return fail(game.NotFound)
	}
	if s.Status != game.Playing {
		return fail(game.FailedPrecondition)
	}
	word, known := w[in.Room][s.Round]
	if !known {
		return s, Expected{}, false
	}
	letter := strings.ToLower(in.Letter)
	n := strings.Count(word, letter)
	res := game.Result{Round: s.Round, Hit: n > 0}
	if strings.Contains(s.Guessed, letter) {
		res.Repeated, res.Status = true, s.Status
		return s, Expected{Result: res}, true
	}
	s.Guessed += letter
	if n == 0 {
		s.Lives--
		if s.Lives == 0 {
			s.Status = game.Lost
		}
	} else {
		res.Revealed, res.Points = n, n
		if allGuessed(word, s.Guessed) {
			s.Status = game.Won
			res.Points += game.WinBonus
		}
		s.Players = setScore(s.Players, in.Player, points+res.Points)
	}
	res.Status = s.Status
	return s, Expected{Result: res}, true
}

// View is the room a read should see in state s.
func (w Words) View(room string, s RoomModel) game.RoomView {
	word := w[room][s.Round]
	v := game.RoomView{Name: room, Round: s.Round, Status: s.Status, Lives: s.Lives, Guessed: s.Guessed}
	masked := []byte(word)
	for i, c := range masked {
		if c != ' ' && !strings.ContainsRune(s.Guessed, rune(c)) {
			masked[i] = game.Hidden
		}
	}
	v.Masked = string(masked)
	if s.Status != game.Playing {
		v.Word = word
	}
	for _, g := range s.Guessed {
		if !strings.ContainsRune(word, g) {
			v.Misses += string(g)
		}
	}
	for _, p := range splitPlayers(s.Players) {
		name, points, _ := strings.Cut(p, "=")
		sc, _ := strconv.Atoi(points)
		v.Players = append(v.Players, game.PlayerView{Name: name, Score: sc})
	}
	return v
}

func allGuessed(word, guessed string) bool {
	for _, c := range word {
		if c != ' ' && !strings.ContainsRune(guessed, c) {
			return false
		}
	}
	return true
}

// score finds a player's score in a players string.
func score(players, name string) (int, bool) {
	for _, p := range splitPlayers(players) {
		if n, v, _ := strings.Cut(p, "="); n == name {
			points, _ := strconv.Atoi(v)
			return points, true
		}
	}
	return 0, false
}

// setScore sets a player's score, appending the player when new (players keep their join order).
func setScore(players, name string, points int) string {
	list := splitPlayers(players)
	entry := name + "=" + strconv.Itoa(points)
	found := false
	for i, p := range list {
		if n, _, _ := strings.Cut(p, "="); n == name {
			list[i], found = entry, true
		}
	}
	if !found {
		list = append(list, entry)
	}
	return strings.Join(list, ",")
}

func splitPlayers(players string) []string {
	if players == "" {
		return nil
	}
	return strings.Split(players, ",")
}
