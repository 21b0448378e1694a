// Client sessions: how the state machine answers a retried request without applying it twice, and
// how sessions end.
//
// Raft alone gives at-least-once: a client whose leader crashes after committing its command, but
// before answering, retries, and the command lands in the log twice. The Raft paper (§8) and the
// thesis (§6.3, "Implementing linearizable semantics") fix this in the state machine: each client
// numbers its requests, the state machine remembers the latest number and its answer per client,
// and a command whose number it has seen returns the remembered answer instead of running again.
//
// Sessions end by time, never by pressure (thesis §6.3, "expiring sessions"): the leader writes its
// clock into every command it proposes (Command.Time), and every replica reads time only from the
// log, as the largest Time applied so far, so every replica expires the same sessions at the same
// entry. A session idle for SessionTimeout loses its answer but keeps its latest seq, as a
// tombstone: a retry then gets SessionExpired instead of a second apply. The tombstone goes after
// SessionForget. A new client arriving at a full table is refused (ResourceExhausted) rather than
// evicting anyone, so a flood of fresh client ids cannot make a victim's retry apply twice.

package game

import "time"

// Session limits. A table entry is a client id, a seq and one answer (a room view), under 2 KiB.
const (
	// MaxSessions bounds the session table, tombstones included: far above the clients one
	// Hangman cluster serves in an hour, and a snapshot of a full table stays a few MiB.
	MaxSessions = 4096
	// SessionTimeout is how long a session keeps its answer after its client's latest request,
	// in log time: far longer than any client retries one request (a web server gives up after
	// 8 s, a browser resends when it reconnects, minutes later at worst).
	SessionTimeout = 10 * time.Minute
	// SessionForget is how long after its latest request an expired session is kept as a
	// tombstone that answers retries with SessionExpired. A retry later than that is taken for a
	// new client's request.
	SessionForget = time.Hour
	// RoomIdleTimeout removes a room that no command changed for this long, in log time, so that
	// abandoned rooms do not fill the cluster's MaxRooms for good.
	RoomIdleTimeout = 2 * time.Hour
	// sweepEvery is how often, in log time, the state looks for expired sessions and idle rooms.
	// Between sweeps a session is still judged by its own time when its client calls.
	sweepEvery = time.Minute
)

// session is what the state machine remembers of one client.
type session struct {
	Seq       uint64 // the latest request applied
	LastApply uint64 // State.applies when that request was applied
	Active    int64  // log time (Unix ms) of that request
	Expired   bool   // the answer is gone; only Seq remains, to refuse retries
	Result    Result // its answer, returned again to a retry; zero once Expired
}

// checkSession decides a request against its client's session before it runs. It returns the
// answer to give instead of running it, and whether there is one; when there is none, the
// client's session for remember, or nil for a new client.
func (s *State) checkSession(cmd Command) (*session, Result, bool) {
	sess, ok := s.sessions[cmd.ClientID]
	if ok && s.ageSession(cmd.ClientID, sess) {
		sess, ok = nil, false
	}
	if !ok {
		if len(s.sessions) >= MaxSessions {
			s.sweep()
		}
		if len(s.sessions) >= MaxSessions {
			return nil, failed(cmd, errorf(ResourceExhausted,
				"the cluster is serving %d clients, the most it remembers; retry later: sessions idle for %v expire", MaxSessions, SessionTimeout)), true
		}
		return nil, Result{}, false
	}
	switch {
	case sess.Expired && cmd.Seq <= sess.Seq:
		return nil, failed(cmd, errorf(SessionExpired,
			"the session of client %q expired after %v without requests: request %d is not applied again, and the answer to request %d is gone; reload to start a new session",
			cmd.ClientID, SessionTimeout, cmd.Seq, sess.Seq)), true
	case cmd.Seq == sess.Seq:
		return nil, sess.Result, true
	case cmd.Seq < sess.Seq:
		return nil, failed(cmd, errorf(FailedPrecondition,
			"request %d of client %q is older than its latest applied request %d; its answer is gone: send a new request with a higher seq",
			cmd.Seq, cmd.ClientID, sess.Seq)), true
	}
	return sess, Result{}, false
}

// remember records the answer to a client's new request in sess, the session checkSession
// returned (nothing removes sessions in between), or in a new one when sess is nil: checkSession
// has made room for it.
func (s *State) remember(sess *session, clientID string, seq uint64, res Result) {
	if sess == nil {
		sess = &session{}
		s.sessions[clientID] = sess
	}
	*sess = session{Seq: seq, LastApply: s.applies, Active: s.now, Result: res}
}

// ageSession expires or forgets one session by the log's clock, and reports whether it forgot it.
func (s *State) ageSession(clientID string, sess *session) (forgotten bool) {
	idle := s.now - sess.Active
	switch {
	case idle >= SessionForget.Milliseconds():
		delete(s.sessions, clientID)
		return true
	case idle >= SessionTimeout.Milliseconds() && !sess.Expired:
		sess.Expired, sess.Result = true, Result{}
	}
	return false
}

// sweepIfDue runs a sweep once every sweepEvery of log time.
func (s *State) sweepIfDue() {
	if s.now-s.swept >= sweepEvery.Milliseconds() {
		s.sweep()
	}
}

// sweep ages every session and removes idle rooms. Each decision depends on one entry and the
// log's clock only, so the order of the map walk does not matter.
func (s *State) sweep() {
	s.swept = s.now
	for id, sess := range s.sessions {
		s.ageSession(id, sess)
	}
	for name, r := range s.rooms {
		if s.now-r.active >= RoomIdleTimeout.Milliseconds() {
			delete(s.rooms, name)
		}
	}
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

// Now returns the log's clock: the largest Command.Time applied so far, in Unix milliseconds.
func (s *State) Now() int64 { return s.now }
