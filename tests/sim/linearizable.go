// The linearizability checker: every answer a client got must be explained by the committed log,
// with each operation taking effect at one instant between its call and its return (Herlihy and
// Wing's definition; Raft paper §8 and thesis §6.3 promise it to clients that number requests).
//
// The simulator knows what no client does: the committed log, and when each entry was first
// applied. So instead of searching for a linearization (as porcupine does on a black-box history),
// it checks the one Raft claims to produce, the log order: a write takes effect when the first
// entry carrying its (client id, seq) is applied, and must return that entry's result; a read sees
// the room as some prefix of the log left it, and that state must have been current at some
// instant between the read's call and return.

package sim

import (
	"fmt"
	"time"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/internal/hangmanmodel"
)

// CheckLinearizability is the name of the checker.
const CheckLinearizability = "linearizability"

type requestID struct {
	client string
	seq    uint64
}

// effect is the first application of a request.
type effect struct {
	index  uint64
	at     time.Duration
	result game.Result
}

// roomVersion is a room's state from one instant until the next version's.
type roomVersion struct {
	from   time.Duration
	index  uint64
	absent bool // the room does not exist
	view   game.RoomView
}

// absent stands for a room that does not exist in what a violation says a read saw.
const absent = "absent"

// sameVersion reports whether a room's state is the one a read saw.
func sameVersion(a, b *roomVersion) bool {
	return a.absent == b.absent && (a.absent || sameRoom(&a.view, &b.view))
}

// versionText is a room's state as a violation shows it.
func versionText(v *roomVersion) string {
	if v.absent {
		return absent
	}
	return string(appendRoomView(nil, &v.view))
}

// logReplay is the committed log replayed once in a fresh game at the end of a run: what each
// request's first entry did and every state of every room, for the log-order check, and the word of
// every round, for porcupine's model (porcupine.go). Both checks read the one replay.
type logReplay struct {
	effects  map[requestID]effect
	versions map[string][]roomVersion
	// words is the word of every round: the first create or new round of a room to succeed at a
	// round number carries it (a retried duplicate later in the log carries another word, drawn
	// by another leader, and is answered from the session table).
	words hangmanmodel.Words
}

// replayLog replays the entries first applied at each index, in index order.
func (s *sim) replayLog() *logReplay {
	r := &logReplay{effects: map[requestID]effect{}, versions: map[string][]roomVersion{}, words: hangmanmodel.Words{}}
	state := game.NewState()
	for i, rec := range s.check.applied {
		index := uint64(i)
		if rec == nil || rec.command() == nil {
			continue
		}
		cmd := *rec.command()
		res := state.ApplyAt(index, cmd)
		id := requestID{cmd.ClientID, cmd.Seq}
		if _, seen := r.effects[id]; !seen {
			r.effects[id] = effect{index: index, at: rec.at, result: res}
		}
		if cmd.NeedsWord() && res.Err == nil {
			if r.words[cmd.Room] == nil {
				r.words[cmd.Room] = map[uint64]string{}
			}
			if _, ok := r.words[cmd.Room][res.Round]; !ok {
				r.words[cmd.Room][res.Round] = cmd.Word
			}
		}
		room, err := state.Room(cmd.Room)
		v := roomVersion{from: rec.at, index: index, absent: err != nil, view: room}
		vs := r.versions[cmd.Room]
		if len(vs) == 0 || !sameVersion(&vs[len(vs)-1], &v) {
			r.versions[cmd.Room] = append(vs, v)
		}
	}
	return r
}

// checkLinearizable checks every completed operation of the history against the replayed log.
func (s *sim) checkLinearizable(log *logReplay) {
	for _, op := range s.history {
		if !op.Done {
			continue
		}
		var problem string
		if op.Input.Kind == OpRead {
			problem = checkRead(op, log.versions[op.Input.Room])
		} else {
			problem = checkWrite(op, log.effects)
		}
		if problem != "" {
			s.check.fail(op.Return, CheckLinearizability, 0, "%s's %s (called %v, returned %v): %s",
				op.ClientID, describe(op.Input), op.Call, op.Return, problem)
			return
		}
	}
}

func checkWrite(op Operation, effects map[requestID]effect) string {
	if op.Output.Result == nil {
		return "" // refused before it reached the log (a malformed command): nothing took effect
	}
	e, ok := effects[requestID{op.ClientID, op.Input.Seq}]
	if !ok {
		return "acknowledged, but no committed entry carries it"
	}
	if e.at < op.Call || e.at > op.Return {
		return fmt.Sprintf("took effect at %v (entry %d), outside its call and return", e.at, e.index)
	}
	if !sameResult(op.Output.Result, &e.result) {
		return fmt.Sprintf("answered%s, but entry %d produced%s", appendResult(nil, op.Output.Result), e.index, appendResult(nil, &e.result))
	}
	return ""
}

func checkRead(op Operation, vs []roomVersion) string {
	var seen roomVersion
	switch {
	case op.Output.Room != nil:
		seen.view = *op.Output.Room
	case op.Output.Err != "":
		seen.absent = true // the only final error a read gets is NotFound
	default:
		return "answered with nothing"
	}
	// The room is absent from the start of the run until its first version: version -1 here.
	for i := -1; i < len(vs); i++ {
		v := roomVersion{absent: true}
		if i >= 0 {
			v = vs[i]
		}
		until := time.Duration(1<<63 - 1)
		if i+1 < len(vs) {
			until = vs[i+1].from
		}
		if sameVersion(&v, &seen) && v.from <= op.Return && until > op.Call {
			return ""
		}
	}
	return fmt.Sprintf("saw %s, which no prefix of the log showed between its call and return", versionText(&seen))
}
