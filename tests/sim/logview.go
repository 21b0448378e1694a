// Every node's log over time, for the diagram's log panel: RaftScope draws each server's log as a
// row of boxes coloured by term with the commit point (Raft paper Figures 6-8 are the same picture),
// and stepping through a run shows how those rows change. Recorded only with Options.KeepEvents,
// and kept apart from the trace, so the trace and its hash stay what they were.
//
// A frame records what changed at one node: how many entries of its previous log it kept, the
// terms of the entries after them, and its first index, commit and applied index. The page replays
// the frames up to the selected moment.

package sim

import "github.com/kanna-cluster/kanna/raft"

// logFrame is one change of one node's log; JSON names are what diagram.js reads.
type logFrame struct {
	At      float64  `json:"at"` // ms
	Node    uint64   `json:"node"`
	Keep    uint64   `json:"keep"`  // entries 1..Keep are as before
	Terms   []uint64 `json:"terms"` // the terms of entries Keep+1 onwards; 0 for one in the snapshot
	First   uint64   `json:"first"` // the first index still in the log: before it, the snapshot
	Commit  uint64   `json:"commit"`
	Applied uint64   `json:"applied"`
}

// logShadow is what the last frame of a node said.
type logShadow struct {
	terms                  []uint64 // terms[i-1] is entry i's term
	first, commit, applied uint64
}

// recordLog appends a frame when the node's log, first index, commit or applied index changed.
// Entries are compared from the end back to the first that matches: by the Log Matching Property
// (paper §5.3) everything before it matches too, so a new entry costs one comparison.
func (n *node) recordLog(st raft.Status) {
	sh := &n.logShadow
	last := st.LastIndex
	lastTerm := uint64(0)
	if last >= st.FirstIndex {
		if e, err := n.eng.Entries(last, last+1); err == nil && len(e) == 1 {
			lastTerm = e[0].Term
		}
	} else if last > 0 && uint64(len(sh.terms)) >= last {
		lastTerm = sh.terms[last-1] // the last entry is the snapshot's
	}
	same := uint64(len(sh.terms)) == last && (last == 0 || sh.terms[last-1] == lastTerm)
	if same && sh.first == st.FirstIndex && sh.commit == st.Commit && sh.applied == st.Applied {
		return
	}
	keep := min(uint64(len(sh.terms)), last)
	for keep > 0 && keep >= st.FirstIndex {
		e, err := n.eng.Entries(keep, keep+1)
		if err == nil && len(e) == 1 && e[0].Term == sh.terms[keep-1] {
			break
		}
		keep--
	}
	if keep < st.FirstIndex-1 && keep < uint64(len(sh.terms)) {
		// The snapshot covers entries the page saw; keep them as it saw them.
		keep = min(st.FirstIndex-1, uint64(len(sh.terms)))
	}
	var terms []uint64
	for i := keep + 1; i < st.FirstIndex && i <= last; i++ {
		terms = append(terms, 0) // in a snapshot the page never saw the entries of
	}
	if lo := max(keep+1, st.FirstIndex); lo <= last {
		if ents, err := n.eng.Entries(lo, last+1); err == nil {
			for _, e := range ents {
				terms = append(terms, e.Term)
			}
		}
	}
	sh.terms = append(sh.terms[:keep], terms...)
	sh.first, sh.commit, sh.applied = st.FirstIndex, st.Commit, st.Applied
	n.s.logs = append(n.s.logs, logFrame{At: millis(n.s.q.now), Node: n.id, Keep: keep, Terms: terms,
		First: st.FirstIndex, Commit: st.Commit, Applied: st.Applied})
}
