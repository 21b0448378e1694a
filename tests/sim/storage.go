// Storage faults: a disk that loses or damages what it had fsynced, which Raft itself assumes
// never happens (paper Figure 2). The model follows the real write-ahead log (server/wal, docs/
// wal.md): a promise file beside the log records the last index made durable with the term and
// vote; at restart a log shorter than that mark, or a missing promise, is reported to the core as
// raft.Restored.Lost, and the node recovers from the leader (raft/recovery.go; Alagappan et al.,
// "Protocol-Aware Recovery for Consensus-Based Storage", FAST 2018). Damage the real WAL refuses
// (a flipped byte mid-log, a damaged snapshot) is modelled as the operator's `kanna recover`: the
// damaged files set aside, the promise kept.
//
// The faults strike one node at a time, while it is down, and never a second node before the
// first has recovered: the design keeps safety with any number of damaged nodes (they do not
// vote), but needs a majority of sound ones to elect anybody, which the safety phase keeps.

package sim

import (
	"fmt"
	"time"

	"github.com/kanna-cluster/kanna/raft"
)

// storageDamages are the kinds of damage storageAction draws from.
var storageDamages = []string{"lost-tail", "truncated-log", "lost-log", "flip-last-record", "flip-mid-log",
	"flip-hardstate", "flip-snapshot", "wiped"}

// diskPromise is the promise file of the real WAL (server/wal/promise.go).
type diskPromise struct {
	mark, term, vote uint64
	unknown          bool
	present          bool
}

// keepPromise updates the promise after a sync, as the WAL does after each synced Save.
func (d *disk) keepPromise() {
	mark := d.lastIndex()
	if d.recovering {
		mark = max(mark, d.promise.mark)
	}
	d.promise = diskPromise{mark: mark, term: d.hardState.Term, vote: d.hardState.Vote,
		unknown: d.recovering && d.promise.unknown, present: true}
}

// lost is what the WAL's Open reports at restart: nil when the disk holds all it promised.
func (d *disk) lost() *raft.Lost {
	if !d.promise.present {
		if d.empty() {
			return nil
		}
		return &raft.Lost{Term: d.hardState.Term}
	}
	if d.promise.unknown {
		return &raft.Lost{Term: d.promise.term}
	}
	if d.promise.mark > d.lastIndex() {
		return &raft.Lost{Index: d.promise.mark, Term: d.promise.term}
	}
	return nil
}

// cutLog keeps the log's first keep entries; the commit index, kept in the log's commit records,
// goes with the rest.
func (d *disk) cutLog(keep int) {
	d.entries, d.chain = d.entries[:keep], d.chain[:keep]
	d.hardState.Commit = min(d.hardState.Commit, d.lastIndex())
}

// setAside models `kanna recover` after a refusal: log, hard state and snapshot moved away, the
// promise kept.
func (d *disk) setAside() {
	d.entries, d.chain, d.snapshot, d.base = nil, nil, nil, chainHash{}
	d.hardState = raft.HardState{Term: d.promise.term, Vote: d.promise.vote}
}

// damage applies one kind of damage to a crashed node's disk and says what it did.
func (d *disk) damage(kind string, pick func(n int) int) string {
	n := len(d.entries)
	switch kind {
	case "lost-tail", "flip-last-record":
		if n == 0 {
			return "log empty: nothing to lose"
		}
		k := 1
		if kind == "lost-tail" {
			k = 1 + pick(min(n, 8))
		}
		d.cutLog(n - k)
		return fmt.Sprintf("last %d fsynced entries gone", k)
	case "truncated-log":
		keep := pick(n + 1)
		d.cutLog(keep)
		return fmt.Sprintf("log cut to %d of %d entries", keep, n)
	case "lost-log":
		d.cutLog(0)
		return fmt.Sprintf("every segment gone (%d entries)", n)
	case "flip-mid-log", "flip-snapshot":
		d.setAside()
		return "refused at start; kanna recover set log, hard state and snapshot aside"
	case "flip-hardstate":
		// The promise file still holds the term and vote; only the commit index is lost.
		d.hardState = raft.HardState{Term: d.promise.term, Vote: d.promise.vote}
		return "hard state rebuilt from the promise file"
	case "wiped":
		*d = disk{baseFor: d.baseFor, wiped: true}
		return "data folder wiped"
	}
	panic("sim: unknown storage damage " + kind)
}

// EventStorage: a crashed node's disk was damaged (Detail says how).
const EventStorage EventKind = "storage"

// storageAction crashes one node, damages its disk, and restarts it after a downtime, unless a
// node damaged earlier has not yet recovered.
func (s *sim) storageAction() {
	var candidates []uint64
	for _, id := range s.ids {
		n := s.nodes[id]
		if n.damaged {
			return
		}
		if !n.crashed {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 || !s.canCrash() {
		return
	}
	n := s.nodes[candidates[s.faultRng.Intn(len(candidates))]]
	kind := storageDamages[s.faultRng.Intn(len(storageDamages))]
	n.crash()
	what := n.disk.damage(kind, s.faultRng.Intn)
	n.damaged = true
	// Down, the node neither campaigns nor votes; it will come back recovering if the disk shows
	// the loss and the core heeds it, and the checkers must know that already.
	n.disk.recovering = !s.bug.ignoresLostStorage && (n.disk.wiped || n.disk.lost() != nil)
	s.emit(Event{Kind: EventStorage, Node: n.id, Detail: kind + ": " + what})
	s.faultChanged(true)
	down := 20*time.Millisecond + time.Duration(s.faultRng.Int63n(int64(s.mix.MaxDowntime)))
	s.q.after(down, func() {
		if !s.liveness && n.crashed {
			n.restart()
			s.faultChanged(true)
		}
	})
}
