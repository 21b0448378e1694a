// A sequential specification of one Hangman room for porcupine's linearizability checker (Herlihy
// and Wing, "Linearizability", 1990; the Raft paper §8 promises linearizable semantics to clients
// that number their requests).
//
// The word of each round is hidden while the round is played, so the model cannot compute a guess's
// effect from the requests alone. It learns the words from the history itself: every round ends
// (the test finishes the last one), and a room state whose round is won or lost shows its word.
// With the words known, the model is deterministic: a state is the room as the game keeps it
// (round, letters guessed, lives, status, scores) and each request moves it by the game's rules
// (game/rules.go).
//
// A write's answer carries the room as the answering node saw it, which is not always the room
// right after that write: a request retried with the same (client id, seq), by the client or by a
// forwarding node across a leader change, is answered from the session table with the room as it
// is when the retry applies, later writes included. So observations splits each answered write in
// two: the write, checked by its code, and a read of the state it showed, over the same interval.
package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
	"google.golang.org/grpc/codes"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// Rules of the game the model needs; game/ defines the same (Lives, WinBonus).
const (
	modelLives    = 6
	modelWinBonus = 5
)

// opKind names a request.
type opKind int

const (
	opCreate opKind = iota
	opJoin
	opGuess
	opNewRound
	opRead // GetRoom with linearizable set
)

func (k opKind) String() string {
	return [...]string{"create", "join", "guess", "new_round", "read"}[k]
}

// hangInput is one request to one room.
type hangInput struct {
	kind   opKind
	room   string
	player string
	letter string // lowercase
}

// hangOutput is what the client got back.
type hangOutput struct {
	// unknown marks a request that got no answer: it may or may not have been applied.
	unknown bool
	code    codes.Code
	// state is the room the answer showed, for code OK.
	state roomView
}

// roomView is what a client sees of a room, without the fields that name the node that answered.
type roomView struct {
	masked  string
	lives   uint32
	guessed string // sorted letters
	status  kannapb.RoundStatus
	round   uint64
	scores  string // "name=score" sorted by name, comma separated
	word    string
}

// viewOf reduces a RoomState to what the model compares.
func viewOf(st *kannapb.RoomState) roomView {
	if st == nil {
		return roomView{}
	}
	scores := make([]string, 0, len(st.Players))
	for _, p := range st.Players {
		scores = append(scores, fmt.Sprintf("%s=%d", p.Name, p.Score))
	}
	sort.Strings(scores)
	guessed := slices.Clone(st.GuessedLetters)
	sort.Strings(guessed)
	return roomView{
		masked: st.MaskedWord, lives: st.LivesLeft, guessed: strings.Join(guessed, ""), status: st.Status,
		round: st.Round, scores: strings.Join(scores, ","), word: st.Word,
	}
}

// roomModel is the model's state of one room; comparable, so porcupine's == works.
type roomModel struct {
	exists  bool
	round   uint64
	guessed string // sorted letters
	lives   uint32
	status  kannapb.RoundStatus
	scores  string
}

// wordBook holds each round's word, learnt from the history: words[room][round].
type wordBook map[string]map[uint64]string

// learnWords collects the word of every round that some answer showed won or lost.
func learnWords(history []porcupine.Operation) wordBook {
	book := wordBook{}
	for _, op := range history {
		out := op.Output.(hangOutput)
		in := op.Input.(hangInput)
		if out.unknown || out.state.word == "" {
			continue
		}
		if book[in.room] == nil {
			book[in.room] = map[uint64]string{}
		}
		book[in.room][out.state.round] = out.state.word
	}
	return book
}

// scoreOf reads one player's score from a scores string, and whether the player is there.
func scoreOf(scores, player string) (int, bool) {
	for _, s := range strings.Split(scores, ",") {
		name, n, ok := strings.Cut(s, "=")
		if ok && name == player {
			var v int
			fmt.Sscan(n, &v)
			return v, true
		}
	}
	return 0, false
}

// setScore returns scores with player's score set to v (added when absent), sorted by name.
func setScore(scores, player string, v int) string {
	var out []string
	if scores != "" {
		for _, s := range strings.Split(scores, ",") {
			if name, _, _ := strings.Cut(s, "="); name != player {
				out = append(out, s)
			}
		}
	}
	out = append(out, fmt.Sprintf("%s=%d", player, v))
	sort.Strings(out)
	return strings.Join(out, ",")
}

// applyModel runs one request on a room by the game's rules and returns the new state and code.
// ok is false when the word of the round is not known, which makes the history uncheckable.
func (b wordBook) applyModel(s roomModel, in hangInput) (roomModel, codes.Code, bool) {
	switch in.kind {
	case opCreate:
		if s.exists {
			return s, codes.AlreadyExists, true
		}
		return roomModel{exists: true, round: 1, lives: modelLives, status: kannapb.RoundStatus_ROUND_STATUS_PLAYING}, codes.OK, true
	case opRead:
		if !s.exists {
			return s, codes.NotFound, true
		}
		return s, codes.OK, true
	}
	if !s.exists {
		return s, codes.NotFound, true
	}
	switch in.kind {
	case opJoin:
		if _, ok := scoreOf(s.scores, in.player); ok {
			return s, codes.AlreadyExists, true
		}
		s.scores = setScore(s.scores, in.player, 0)
		return s, codes.OK, true
	case opNewRound:
		if s.status == kannapb.RoundStatus_ROUND_STATUS_PLAYING {
			return s, codes.FailedPrecondition, true
		}
		s.round, s.guessed, s.lives, s.status = s.round+1, "", modelLives, kannapb.RoundStatus_ROUND_STATUS_PLAYING
		return s, codes.OK, true
	}
	// opGuess
	score, joined := scoreOf(s.scores, in.player)
	if !joined {
		return s, codes.NotFound, true
	}
	if s.status != kannapb.RoundStatus_ROUND_STATUS_PLAYING {
		return s, codes.FailedPrecondition, true
	}
	if strings.Contains(s.guessed, in.letter) {
		return s, codes.OK, true
	}
	word, ok := b[in.room][s.round]
	if !ok {
		return s, codes.Unknown, false
	}
	g := []byte(s.guessed + in.letter)
	slices.Sort(g)
	s.guessed = string(g)
	if n := strings.Count(word, in.letter); n > 0 {
		score += n
		if revealed(word, s.guessed) {
			s.status = kannapb.RoundStatus_ROUND_STATUS_WON
			score += modelWinBonus
		}
		s.scores = setScore(s.scores, in.player, score)
	} else {
		s.lives--
		if s.lives == 0 {
			s.status = kannapb.RoundStatus_ROUND_STATUS_LOST
		}
	}
	return s, codes.OK, true
}

// revealed reports whether every letter of word is among guessed.
func revealed(word, guessed string) bool {
	for _, c := range word {
		if c != ' ' && !strings.ContainsRune(guessed, c) {
			return false
		}
	}
	return true
}

// view is what a client should see of state s.
func (b wordBook) view(room string, s roomModel) roomView {
	word := b[room][s.round]
	masked := []byte(word)
	for i, c := range masked {
		if c != ' ' && !strings.ContainsRune(s.guessed, rune(c)) {
			masked[i] = '_'
		}
	}
	v := roomView{masked: string(masked), lives: s.lives, guessed: s.guessed, status: s.status, round: s.round, scores: s.scores}
	if s.status != kannapb.RoundStatus_ROUND_STATUS_PLAYING {
		v.word = word
	}
	return v
}

// observations returns the history with each answered write split into the write and a read of
// the room its answer showed, both over the write's interval (see the file comment).
func observations(history []porcupine.Operation) []porcupine.Operation {
	out := make([]porcupine.Operation, 0, 2*len(history))
	for _, op := range history {
		in, res := op.Input.(hangInput), op.Output.(hangOutput)
		out = append(out, op)
		if in.kind != opRead && !res.unknown && res.code == codes.OK {
			out = append(out, porcupine.Operation{
				ClientId: op.ClientId, Input: hangInput{kind: opRead, room: in.room}, Call: op.Call, Return: op.Return, Output: res,
			})
		}
	}
	return out
}

// hangmanModel is the porcupine model of rooms, partitioned by room: requests to different rooms
// never interact.
func hangmanModel(book wordBook) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byRoom := map[string][]porcupine.Operation{}
			var rooms []string
			for _, op := range history {
				r := op.Input.(hangInput).room
				if _, ok := byRoom[r]; !ok {
					rooms = append(rooms, r)
				}
				byRoom[r] = append(byRoom[r], op)
			}
			sort.Strings(rooms)
			out := make([][]porcupine.Operation, 0, len(rooms))
			for _, r := range rooms {
				out = append(out, byRoom[r])
			}
			return out
		},
		Init: func() any { return roomModel{} },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(roomModel), input.(hangInput), output.(hangOutput)
			next, code, ok := book.applyModel(s, in)
			if !ok {
				return false, s
			}
			if out.unknown {
				return true, next
			}
			if out.code != code {
				return false, s
			}
			if code != codes.OK {
				return true, s
			}
			if in.kind == opRead && out.state != book.view(in.room, next) {
				return false, s
			}
			return true, next
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(hangInput), output.(hangOutput)
			call := fmt.Sprintf("%s(%s %s %s)", in.kind, in.room, in.player, in.letter)
			switch {
			case out.unknown:
				return call + " -> ?"
			case out.code != codes.OK:
				return call + " -> " + out.code.String()
			}
			return fmt.Sprintf("%s -> %+v", call, out.state)
		},
		DescribeState: func(state any) string { return fmt.Sprintf("%+v", state.(roomModel)) },
	}
}
