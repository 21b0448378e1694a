// Client sessions: how the state machine answers a retried request without applying it twice.
//
// Raft alone gives at-least-once: a client whose leader crashes after committing its command, but
// before answering, retries, and the command lands in the log twice. The Raft paper (§8) and the
// thesis (§6.3, "Implementing linearizable semantics") fix this in the state machine: each client
// numbers its requests, the state machine remembers the latest number and its answer per client,
// and a command whose number it has seen returns the remembered answer instead of running again.
//
// The table is bounded. When it is full, the session applied least recently is dropped, chosen by
// the Apply count at which each session last ran a command, which is the same on every replica
// (the thesis suggests an LRU policy agreed through the log; this is one). A client whose session
// was dropped and that retries an old request has it applied again: with MaxSessions far above the
// number of clients active at once, that takes a client silent for thousands of commands.

package game

// MaxSessions bounds the session table: a thousand clients retrying at once is more than one
// Hangman cluster will see, and the table stays small enough to snapshot in a blink.
const MaxSessions = 1024

// session is what the state machine remembers of one client.
type session struct {
	Seq       uint64 // the latest request applied
	LastApply uint64 // State.applies when that request was applied
	Result    Result // its answer, returned again to a retry
}

// remember records the answer to a client's new request, evicting the least recently used session
// if the table is full.
func (s *State) remember(clientID string, seq uint64, res Result) {
	sess, ok := s.sessions[clientID]
	if !ok {
		if len(s.sessions) >= MaxSessions {
			s.evictOldestSession()
		}
		sess = &session{}
		s.sessions[clientID] = sess
	}
	sess.Seq, sess.LastApply, sess.Result = seq, s.applies, res
}

// evictOldestSession drops the session with the smallest LastApply. Each Apply records at most one
// session, so LastApply values are distinct; the client id breaks ties anyway, so that the choice
// never depends on map order.
func (s *State) evictOldestSession() {
	var oldest string
	var oldestApply uint64
	for id, sess := range s.sessions {
		if oldest == "" || sess.LastApply < oldestApply || (sess.LastApply == oldestApply && id < oldest) {
			oldest, oldestApply = id, sess.LastApply
		}
	}
	delete(s.sessions, oldest)
}

// LastSeq returns the latest request number applied for clientID and whether a session for it is
// held. A client that restarts can resume numbering after it.
func (s *State) LastSeq(clientID string) (uint64, bool) {
	sess, ok := s.sessions[clientID]
	if !ok {
		return 0, false
	}
	return sess.Seq, true
}
