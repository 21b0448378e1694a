// The dashboard's event log: what changed between two Status polls, in words. Elections and
// terms (Raft paper §5.1-5.2), the leader's configuration (thesis §4.1, one server at a time),
// gossip states (SWIM §4.2: alive, suspect, dead) and nodes going silent or coming back.
//
// Events are derived on the web server, not reported by nodes: a poll every quarter second sees
// every election a person could notice, and a shorter one loses nothing but a line in the log.
package web

import "fmt"

// name is how events call a node.
func (c nodeCard) name() string {
	if c.ID != 0 {
		return fmt.Sprintf("node %d", c.ID)
	}
	return "node at " + c.Address
}

// diffCards lists what changed on one node between two polls.
func diffCards(prev, next nodeCard) []event {
	var evs []event
	switch {
	case prev.Up && !next.Up:
		return []event{{Kind: "node", Text: next.name() + " stopped answering (" + next.Error + ")"}}
	case !prev.Up && next.Up:
		evs = append(evs, event{Kind: "node", Text: next.name() + " answers again, in term " + fmt.Sprint(next.Term) + " as " + next.Role})
	case !next.Up:
		return nil
	}
	if next.Role == "leader" && (prev.Role != "leader" || prev.Term != next.Term) {
		evs = append(evs, event{Kind: "election", Text: fmt.Sprintf("%s won the election for term %d", next.name(), next.Term)})
	} else if prev.Role == "leader" && next.Role != "leader" && prev.Up {
		evs = append(evs, event{Kind: "election", Text: fmt.Sprintf("%s stepped down in term %d, now %s", next.name(), next.Term, next.Role)})
	}
	if prev.Up {
		old := map[uint64]string{}
		for _, m := range prev.Gossip {
			old[m.ID] = m.State
		}
		for _, m := range next.Gossip {
			if was, ok := old[m.ID]; ok && was != m.State && m.ID != next.ID {
				evs = append(evs, event{Kind: "gossip", Text: fmt.Sprintf("%s sees node %d as %s (was %s)", next.name(), m.ID, m.State, was)})
			} else if !ok && prev.ID != 0 && m.ID != next.ID {
				evs = append(evs, event{Kind: "gossip", Text: fmt.Sprintf("%s learned of node %d (%s)", next.name(), m.ID, m.State)})
			}
		}
	}
	return evs
}

// clusterEventsLocked lists what changed across nodes: a new highest term, a new configuration at
// the leader.
func (d *dashboard) clusterEventsLocked() []event {
	var evs []event
	var maxTerm uint64
	var by string
	for _, c := range d.cards {
		if c.Up && c.Term > maxTerm {
			maxTerm, by = c.Term, c.name()
		}
	}
	if maxTerm > d.term {
		if d.seen {
			evs = append(evs, event{Kind: "term", Text: fmt.Sprintf("term %d began (first seen on %s)", maxTerm, by)})
		}
		d.term = maxTerm
	}
	for _, c := range d.cards {
		if !c.Up || c.Role != "leader" {
			continue
		}
		cfg := fmt.Sprintf("voters %v, learners %v", c.Voters, c.Learners)
		if cfg != d.config {
			if d.config != "" {
				evs = append(evs, event{Kind: "membership", Text: fmt.Sprintf("configuration changed on leader %s: %s (was %s)", c.name(), cfg, d.config)})
			}
			d.config = cfg
		}
		break
	}
	return evs
}
