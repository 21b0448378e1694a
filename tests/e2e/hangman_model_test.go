// A sequential specification of one Hangman room for porcupine's linearizability checker (Herlihy
// and Wing, "Linearizability", 1990; the Raft paper §8 promises linearizable semantics to clients
// that number their requests).
//
// The word of each round is hidden while the round is played, so the model cannot compute a guess's
// effect from the requests alone. It learns the words from the history itself: every round ends
// (the test finishes the last one), and a room state whose round is won or lost shows its word.
// With the words known, the model is deterministic: a state is the room as the game keeps it
// (round, letters guessed, lives, status, scores) and each request moves it by the rules of the
// one Hangman model the simulator's porcupine checker uses too (internal/hangmanmodel),
// adapted here to what a gRPC client sees.
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

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/internal/hangmanmodel"
	"github.com/kanna-cluster/kanna/proto/kannapb"
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

// applyModel runs one request on a room by the rules of the shared Hangman model (tests/sim's
// Words.Step) and returns the new state and the gRPC code the request should answer. ok is false
// when the word of the round is not known, which makes the history uncheckable.
func (b wordBook) applyModel(s roomModel, in hangInput) (roomModel, codes.Code, bool) {
	if in.kind == opRead {
		if !s.exists {
			return s, codes.NotFound, true
		}
		return s, codes.OK, true
	}
	next, want, ok := hangmanmodel.Words(b).Step(s.shared(), hangmanmodel.Input{Kind: in.kind.shared(), Room: in.room, Player: in.player, Letter: in.letter})
	if !ok {
		return s, codes.Unknown, false
	}
	if want.Code != game.OK {
		return s, grpcCode[want.Code], true
	}
	return fromShared(next), codes.OK, true
}

// view is what a client should see of state s.
func (b wordBook) view(room string, s roomModel) roomView {
	v := hangmanmodel.Words(b).View(room, s.shared())
	scores := make([]string, 0, len(v.Players))
	for _, p := range v.Players {
		scores = append(scores, fmt.Sprintf("%s=%d", p.Name, p.Score))
	}
	sort.Strings(scores)
	return roomView{masked: v.Masked, lives: uint32(v.Lives), guessed: sortedLetters(v.Guessed), status: pbStatus[v.Status],
		round: v.Round, scores: strings.Join(scores, ","), word: v.Word}
}

// The shared model keeps letters and players in the order they came; this one compares them
// sorted, since a RoomState does not promise an order. Stepping does not depend on either order.

func (s roomModel) shared() hangmanmodel.RoomModel {
	status := game.Playing
	for g, pb := range pbStatus {
		if pb == s.status {
			status = g
		}
	}
	return hangmanmodel.RoomModel{Exists: s.exists, Round: s.round, Lives: int(s.lives), Status: status, Guessed: s.guessed, Players: s.scores}
}

func fromShared(m hangmanmodel.RoomModel) roomModel {
	scores := strings.Split(m.Players, ",")
	if m.Players == "" {
		scores = nil
	}
	sort.Strings(scores)
	return roomModel{exists: m.Exists, round: m.Round, guessed: sortedLetters(m.Guessed), lives: uint32(m.Lives),
		status: pbStatus[m.Status], scores: strings.Join(scores, ",")}
}

func sortedLetters(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}

func (k opKind) shared() hangmanmodel.OpKind {
	return [...]hangmanmodel.OpKind{hangmanmodel.OpCreateRoom, hangmanmodel.OpJoin, hangmanmodel.OpGuess, hangmanmodel.OpNewRound, hangmanmodel.OpRead}[k]
}

var pbStatus = map[game.Status]kannapb.RoundStatus{
	game.Playing: kannapb.RoundStatus_ROUND_STATUS_PLAYING,
	game.Won:     kannapb.RoundStatus_ROUND_STATUS_WON,
	game.Lost:    kannapb.RoundStatus_ROUND_STATUS_LOST,
}

var grpcCode = map[game.Code]codes.Code{
	game.InvalidArgument:    codes.InvalidArgument,
	game.NotFound:           codes.NotFound,
	game.FailedPrecondition: codes.FailedPrecondition,
	game.AlreadyExists:      codes.AlreadyExists,
	game.Unknown:            codes.Unknown,
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
