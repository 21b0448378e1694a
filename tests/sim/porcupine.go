// The black-box linearizability checker: porcupine (Anish Athalye's implementation of the
// Wing-Gong search, with Lowe's and Horn and Kroening's refinements) looks for any order of the
// client history that a sequential Hangman room would produce, knowing nothing of the log
// (Herlihy and Wing, "Linearizability", 1990; Raft paper §8 and thesis §6.3 promise it to
// clients that number their requests).
//
// The log-order checker in linearizable.go checks the one order Raft claims; this one checks that
// some order exists, from what clients saw alone, against the Hangman model of internal/hangmanmodel.
// The one thing it takes from the log is the word of each round: the leader draws it when it
// proposes, so it is a choice, not a consequence of the history.
//
// An operation whose answer the client never learned may or may not have taken effect; porcupine
// is told it returned at the end of the history, and the model accepts it either way, so it can
// be ordered last, where it changes nothing anyone saw.

package sim

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/internal/hangmanmodel"
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

// checkPorcupine runs porcupine over the history, with the words of the replayed log, and records
// its report; an Illegal history is a violation.
func (s *sim) checkPorcupine(words hangmanmodel.Words) {
	rep := checkHistory(s.history, words, porcupineTimeout)
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
func checkHistory(history []Operation, words hangmanmodel.Words, timeout time.Duration) *LinearizableReport {
	var end time.Duration
	for _, op := range history {
		end = max(end, op.Call, op.Return)
	}
	clients := map[string]int{}
	ops := make([]porcupine.Operation, 0, len(history))
	rep := &LinearizableReport{Ops: len(history), model: hangmanModel(words)}
	// The model is handed pointers into these, which an interface holds without a copy of its own.
	ins, outs := make([]Input, len(history)), make([]modelOutput, len(history))
	for i, op := range history {
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
		ins[i], outs[i] = op.Input, modelOutput{unknown: !op.Done, out: op.Output}
		ops = append(ops, porcupine.Operation{
			ClientId: id, Input: &ins[i], Call: int64(op.Call), Return: int64(ret), Output: &outs[i],
		})
	}
	start := time.Now()
	rep.Result, rep.info = porcupine.CheckOperationsVerbose(rep.model, ops, timeout)
	rep.Duration = time.Since(start)
	return rep
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
func matches(b hangmanmodel.Words, next hangmanmodel.RoomModel, in Input, want hangmanmodel.Expected, out Output) bool {
	if in.Kind == OpRead {
		if out.Room == nil {
			return out.Err != "" && want.Code == game.NotFound
		}
		return want.Code == game.OK && sameView(*out.Room, b.View(in.Room, next))
	}
	if out.Result == nil {
		// Refused before it reached the log, so it took no effect: only a state that a refusal
		// leaves unchanged fits, which the caller arranges by keeping s.
		return out.Err != ""
	}
	got := *out.Result
	if got.Err != nil || want.Code != game.OK {
		return got.Err != nil && got.Err.Code == want.Code
	}
	w := want.Result
	return got.Round == w.Round && got.Status == w.Status && got.Hit == w.Hit &&
		got.Repeated == w.Repeated && got.Revealed == w.Revealed && got.Points == w.Points
}

// hangmanModel is the porcupine model of Hangman rooms, partitioned by room: requests to different
// rooms never interact, and porcupine checks the partitions apart (and in parallel).
func hangmanModel(book hangmanmodel.Words) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			counts := map[string]int{}
			for _, op := range history {
				counts[op.Input.(*Input).Room]++
			}
			byRoom := make(map[string][]porcupine.Operation, len(counts))
			for _, op := range history {
				r := op.Input.(*Input).Room
				if byRoom[r] == nil {
					byRoom[r] = make([]porcupine.Operation, 0, counts[r])
				}
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
		Init: func() any { return hangmanmodel.RoomModel{} },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(hangmanmodel.RoomModel), *input.(*Input), output.(*modelOutput)
			next, want, ok := book.Step(s, in)
			if out.unknown {
				if !ok {
					return true, s
				}
				return true, next // it may have taken effect; ordered last, it may as well not have
			}
			if !ok || !matches(book, next, in, want, out.out) {
				return false, s
			}
			if in.Kind != OpRead && out.out.Result == nil {
				return true, s
			}
			return true, next
		},
		Hash: func(state any) uint64 { return roomHash(state.(hangmanmodel.RoomModel)) },
		DescribeOperation: func(input, output any) string {
			in, out := *input.(*Input), output.(*modelOutput)
			if out.unknown {
				return describe(in) + " -> ? (no answer)"
			}
			return describe(in) + " -> " + out.out.summary()
		},
		DescribeState: func(state any) string {
			s := state.(hangmanmodel.RoomModel)
			if !s.Exists {
				return "no room"
			}
			return fmt.Sprintf("round %d %s lives=%d guessed=%q players=%s", s.Round, s.Status, s.Lives, s.Guessed, s.Players)
		},
	}
}

// roomHash hashes a room's model state for porcupine's cache of states already seen, which it asks
// for every state it reaches. The cache compares states with == once their hashes match, so any
// hash of some of the fields would do; this one takes them all, FNV-1a style, without the
// formatting a hash of the printed state costs.
func roomHash(s hangmanmodel.RoomModel) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, v := range [...]uint64{uint64(boolInt(s.Exists)), s.Round, uint64(s.Lives), uint64(s.Status)} {
		h = (h ^ v) * prime
	}
	for _, str := range [...]string{s.Guessed, s.Players} {
		h = (h ^ uint64(len(str))) * prime
		for i := 0; i < len(str); i++ {
			h = (h ^ uint64(str[i])) * prime
		}
	}
	return h
}
