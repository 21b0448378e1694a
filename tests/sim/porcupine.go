// The black-box linearizability checker: porcupine (Anish Athalye's implementation of the
// Wing-Gong search, with Lowe's and Horn and Kroening's refinements) looks for any order of the
// client history that a sequential Hangman room would produce, knowing nothing of the log
// (Herlihy and Wing, "Linearizability", 1990; Raft paper §8 and thesis §6.3 promise it to
// clients that number their requests).
//
// The log-order checker in linearizable.go checks the one order Raft claims; this one checks that
// some order exists, from what clients saw alone, with a model written from the rules of the game
// (docs/game.md) rather than with the game's own code, so a bug shared by the game and a checker
// that reuses it cannot hide. The one thing the model takes from the log is the word of each round:
// the leader draws it when it proposes, so it is a choice, not a consequence of the history.
//
// An operation whose answer the client never learned may or may not have taken effect; porcupine
// is told it returned at the end of the history, and the model accepts it either way, so it can
// be ordered last, where it changes nothing anyone saw.

package sim

import (
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kanna-cluster/kanna/game"
)

// CheckPorcupine is the name of the porcupine checker.
const CheckPorcupine = "linearizable"

// porcupineTimeout bounds the search; past it the verdict is Unknown: not proven, not a violation.
const porcupineTimeout = 10 * time.Second

// LinearizableReport is porcupine's verdict on a run's history.
type LinearizableReport struct {
	// Result is porcupine.Ok, porcupine.Illegal, or porcupine.Unknown when the search timed out
	// (reported, but not a violation: nothing wrong was found, nothing was proven either).
	Result   porcupine.CheckResult
	Ops      int           // operations checked, unanswered ones included
	Unknown  int           // operations whose answer the client never learned
	Duration time.Duration // wall time of the search; not part of the trace

	model porcupine.Model
	info  porcupine.LinearizationInfo
}

// Visualize writes porcupine's own HTML page of the history and the longest linearizations it
// found: where each partition's order got stuck, for an Illegal history.
func (r *LinearizableReport) Visualize(w io.Writer) error {
	if err := porcupine.Visualize(r.model, r.info, w); err != nil {
		return fmt.Errorf("sim: porcupine visualization: %w", err)
	}
	return nil
}

// wordBook holds each round's word: words[room][round].
type wordBook map[string]map[uint64]string

// wordsFromLog reads the word of every round from the committed log: the first create or new
// round of a room to succeed at a round number carries it (a retried duplicate later in the log
// carries another word, drawn by another leader, and is answered from the session table).
func (s *sim) wordsFromLog() wordBook {
	book := wordBook{}
	state := game.NewState()
	for _, index := range sortedKeys(s.check.applied) {
		cmd := s.check.applied[index].command
		if cmd == nil {
			continue
		}
		res := state.Apply(*cmd)
		if !cmd.NeedsWord() || res.Err != nil {
			continue
		}
		if book[cmd.Room] == nil {
			book[cmd.Room] = map[uint64]string{}
		}
		if _, ok := book[cmd.Room][res.Round]; !ok {
			book[cmd.Room][res.Round] = cmd.Word
		}
	}
	return book
}

// checkPorcupine runs porcupine over the history and records its report; an Illegal history is a
// violation.
func (s *sim) checkPorcupine() {
	rep := checkHistory(s.history, s.wordsFromLog(), porcupineTimeout)
	s.linearizable = rep
	if rep.Result == porcupine.Illegal {
		s.check.fail(s.q.now, CheckPorcupine, 0,
			"porcupine found no order of the %d client operations that one Hangman room per name could produce; open the --html page for its visualization",
			rep.Ops)
	}
}

// modelOutput is an operation's output as the model sees it.
type modelOutput struct {
	unknown bool // the client never learned the answer
	out     Output
}

// checkHistory checks a history against the Hangman model with the given words.
func checkHistory(history []Operation, words wordBook, timeout time.Duration) *LinearizableReport {
	var end time.Duration
	for _, op := range history {
		end = max(end, op.Call, op.Return)
	}
	clients := map[string]int{}
	ops := make([]porcupine.Operation, 0, len(history))
	rep := &LinearizableReport{Ops: len(history), model: hangmanModel(words)}
	for _, op := range history {
		id, ok := clients[op.ClientID]
		if !ok {
			id = len(clients)
			clients[op.ClientID] = id
		}
		ret := op.Return
		if !op.Done {
			ret = end + 1 // after everything: it may have taken effect, or not
			rep.Unknown++
		}
		ops = append(ops, porcupine.Operation{
			ClientId: id, Input: op.Input, Call: int64(op.Call), Return: int64(ret),
			Output: modelOutput{unknown: !op.Done, out: op.Output},
		})
	}
	start := time.Now()
	rep.Result, rep.info = porcupine.CheckOperationsVerbose(rep.model, ops, timeout)
	rep.Duration = time.Since(start)
	return rep
}

// roomModel is the model's state of one room. It is comparable, so porcupine's default Equal
// (==) works; players is "name=score" per player, in the order they joined, comma separated.
type roomModel struct {
	exists  bool
	round   uint64
	lives   int
	status  game.Status
	guessed string // letters guessed this round, in order
	players string
}

// expected is what the model says a write answers: its error code, or its result.
type expected struct {
	code game.Code
	res  game.Result
}

// step applies one request to a room by the rules of the game. ok is false when the request
// needs the word of a round no committed entry started: no such round was played.
func (b wordBook) step(s roomModel, in Input) (next roomModel, want expected, ok bool) {
	fail := func(c game.Code) (roomModel, expected, bool) { return s, expected{code: c}, true }
	switch in.Kind {
	case OpCreateRoom:
		if s.exists {
			return fail(game.AlreadyExists)
		}
		s = roomModel{exists: true, round: 1, lives: game.Lives, status: game.Playing}
		return s, expected{res: game.Result{Round: 1, Status: game.Playing}}, true
	case OpRead:
		if !s.exists {
			return fail(game.NotFound)
		}
		_, known := b[in.Room][s.round]
		return s, expected{}, known
	}
	if !s.exists {
		return fail(game.NotFound)
	}
	switch in.Kind {
	case OpJoin:
		if _, joined := score(s.players, in.Player); joined {
			return fail(game.AlreadyExists)
		}
		s.players = setScore(s.players, in.Player, 0)
		return s, expected{res: game.Result{Round: s.round, Status: s.status}}, true
	case OpNewRound:
		if s.status == game.Playing {
			return fail(game.FailedPrecondition)
		}
		s.round, s.lives, s.status, s.guessed = s.round+1, game.Lives, game.Playing, ""
		return s, expected{res: game.Result{Round: s.round, Status: s.status}}, true
	}
	// OpGuess: one point per occurrence revealed, WinBonus for the last; a miss costs a life; a
	// repeated letter changes nothing.
	points, joined := score(s.players, in.Player)
	if !joined {
		return fail(game.NotFound)
	}
	if s.status != game.Playing {
		return fail(game.FailedPrecondition)
	}
	word, known := b[in.Room][s.round]
	if !known {
		return s, expected{}, false
	}
	letter := strings.ToLower(in.Letter)
	n := strings.Count(word, letter)
	res := game.Result{Round: s.round, Hit: n > 0}
	if strings.Contains(s.guessed, letter) {
		res.Repeated, res.Status = true, s.status
		return s, expected{res: res}, true
	}
	s.guessed += letter
	if n == 0 {
		s.lives--
		if s.lives == 0 {
			s.status = game.Lost
		}
	} else {
		res.Revealed, res.Points = n, n
		if allGuessed(word, s.guessed) {
			s.status = game.Won
			res.Points += game.WinBonus
		}
		s.players = setScore(s.players, in.Player, points+res.Points)
	}
	res.Status = s.status
	return s, expected{res: res}, true
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

// view is the room a read should see in state s.
func (b wordBook) view(room string, s roomModel) game.RoomView {
	word := b[room][s.round]
	v := game.RoomView{Name: room, Round: s.round, Status: s.status, Lives: s.lives, Guessed: s.guessed}
	masked := []byte(word)
	for i, c := range masked {
		if c != ' ' && !strings.ContainsRune(s.guessed, rune(c)) {
			masked[i] = game.Hidden
		}
	}
	v.Masked = string(masked)
	if s.status != game.Playing {
		v.Word = word
	}
	for _, g := range s.guessed {
		if !strings.ContainsRune(word, g) {
			v.Misses += string(g)
		}
	}
	for _, p := range splitPlayers(s.players) {
		n, points, _ := strings.Cut(p, "=")
		sc, _ := strconv.Atoi(points)
		v.Players = append(v.Players, game.PlayerView{Name: n, Score: sc})
	}
	return v
}

func sameView(a, b game.RoomView) bool {
	if a.Name != b.Name || a.Round != b.Round || a.Status != b.Status || a.Masked != b.Masked ||
		a.Word != b.Word || a.Lives != b.Lives || a.Guessed != b.Guessed || a.Misses != b.Misses ||
		len(a.Players) != len(b.Players) {
		return false
	}
	for i := range a.Players {
		if a.Players[i] != b.Players[i] {
			return false
		}
	}
	return true
}

// matches reports whether an answer is the one the model expects.
func (b wordBook) matches(s, next roomModel, in Input, want expected, out Output) bool {
	if in.Kind == OpRead {
		if out.Room == nil {
			return out.Err != "" && want.code == game.NotFound
		}
		return want.code == game.OK && sameView(*out.Room, b.view(in.Room, next))
	}
	if out.Result == nil {
		// Refused before it reached the log, so it took no effect: only a state that a refusal
		// leaves unchanged fits, which the caller arranges by keeping s.
		return out.Err != ""
	}
	got := *out.Result
	if got.Err != nil || want.code != game.OK {
		return got.Err != nil && got.Err.Code == want.code
	}
	w := want.res
	return got.Round == w.Round && got.Status == w.Status && got.Hit == w.Hit &&
		got.Repeated == w.Repeated && got.Revealed == w.Revealed && got.Points == w.Points
}

// hangmanModel is the porcupine model of Hangman rooms, partitioned by room: requests to different
// rooms never interact, and porcupine checks the partitions apart (and in parallel).
func hangmanModel(book wordBook) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byRoom := map[string][]porcupine.Operation{}
			for _, op := range history {
				r := op.Input.(Input).Room
				byRoom[r] = append(byRoom[r], op)
			}
			names := make([]string, 0, len(byRoom))
			for r := range byRoom {
				names = append(names, r)
			}
			sort.Strings(names)
			out := make([][]porcupine.Operation, 0, len(names))
			for _, r := range names {
				out = append(out, byRoom[r])
			}
			return out
		},
		Init: func() any { return roomModel{} },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(roomModel), input.(Input), output.(modelOutput)
			next, want, ok := book.step(s, in)
			if out.unknown {
				if !ok {
					return true, s
				}
				return true, next // it may have taken effect; ordered last, it may as well not have
			}
			if !ok || !book.matches(s, next, in, want, out.out) {
				return false, s
			}
			if in.Kind != OpRead && out.out.Result == nil {
				return true, s
			}
			return true, next
		},
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			fmt.Fprintf(h, "%+v", state.(roomModel))
			return h.Sum64()
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(Input), output.(modelOutput)
			if out.unknown {
				return describe(in) + " -> ? (no answer)"
			}
			return describe(in) + " -> " + out.out.summary()
		},
		DescribeState: func(state any) string {
			s := state.(roomModel)
			if !s.exists {
				return "no room"
			}
			return fmt.Sprintf("round %d %s lives=%d guessed=%q players=%s", s.round, s.status, s.lives, s.guessed, s.players)
		},
	}
}
