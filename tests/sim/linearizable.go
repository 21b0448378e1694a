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
	result string // the game.Result, as appendResult writes it
}

// roomVersion is a room's state from one instant until the next version's.
type roomVersion struct {
	from  time.Duration
	index uint64
	view  string // the game.RoomView as appendRoomView writes it, or "absent"
}

// absent stands for a room that does not exist; no view's text (which starts with a space) is it.
const absent = "absent"

func viewText(v game.RoomView, err error) string {
	if err != nil {
		return absent
	}
	return string(appendRoomView(nil, &v))
}

// checkLinearizable replays the committed log in a fresh game and checks every completed
// operation of the history against it.
func (s *sim) checkLinearizable() {
	state := game.NewState()
	effects := map[requestID]effect{}
	versions := map[string][]roomVersion{}
	for _, index := range sortedKeys(s.check.applied) {
		rec := s.check.applied[index]
		if rec.command() == nil {
			continue
		}
		cmd := *rec.command()
		res := state.ApplyAt(index, cmd)
		id := requestID{cmd.ClientID, cmd.Seq}
		if _, seen := effects[id]; !seen {
			effects[id] = effect{index: index, at: rec.at, result: string(appendResult(nil, &res))}
		}
		view := viewText(state.Room(cmd.Room))
		vs := versions[cmd.Room]
		if len(vs) == 0 || vs[len(vs)-1].view != view {
			versions[cmd.Room] = append(vs, roomVersion{from: rec.at, index: index, view: view})
		}
	}
	for _, op := range s.history {
		if !op.Done {
			continue
		}
		var problem string
		if op.Input.Kind == OpRead {
			problem = checkRead(op, versions[op.Input.Room])
		} else {
			problem = checkWrite(op, effects)
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
	got := appendResult(nil, op.Output.Result)
	if string(got) != e.result {
		return fmt.Sprintf("answered %s, but entry %d produced %s", got, e.index, e.result)
	}
	return ""
}

func checkRead(op Operation, vs []roomVersion) string {
	var seen string
	switch {
	case op.Output.Room != nil:
		seen = viewText(*op.Output.Room, nil)
	case op.Output.Err != "":
		seen = absent // the only final error a read gets is NotFound
	default:
		return "answered with nothing"
	}
	// The room is absent from the start of the run until its first version: version -1 here.
	for i := -1; i < len(vs); i++ {
		view, from := absent, time.Duration(0)
		if i >= 0 {
			view, from = vs[i].view, vs[i].from
		}
		until := time.Duration(1<<63 - 1)
		if i+1 < len(vs) {
			until = vs[i+1].from
		}
		if view == seen && from <= op.Return && until > op.Call {
			return ""
		}
	}
	return fmt.Sprintf("saw %s, which no prefix of the log showed between its call and return", seen)
}
