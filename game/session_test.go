// Tests of client sessions (session.go): a retried request applies once (Raft paper §8, thesis
// §6.3), older requests are refused, sessions expire by the log's clock and never under pressure
// from other clients, and the table stays bounded.

package game

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRetriedRequestReturnsTheFirstResultAndIsNotAppliedAgain(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "kanna kamui"))
	h.ok(join("den", "riko"))
	first := h.ok(guess("den", "riko", "a"))
	views := h.rooms()

	// The client resends request 3 (its guess), as after a leader crash.
	retry := guess("den", "riko", "a")
	retry.ClientID, retry.Seq = h.id, h.seq
	require.Equal(t, first, h.s.Apply(retry))
	require.Equal(t, views, h.rooms(), "the retry must not score again")
	require.Equal(t, 3, h.view("den").Players[0].Score)
}

func TestRetriedRejectedRequestReturnsTheSameError(t *testing.T) {
	h := newHarness(t)
	first := h.do(join("nowhere", "riko"))
	require.Equal(t, NotFound, CodeOf(first.Error()))

	// Between the attempts someone else creates the room; the retry must still get the first answer.
	other := create("nowhere", "tohru")
	other.ClientID, other.Seq = "client-2", 1
	require.NoError(t, h.s.Apply(other).Error())

	retry := join("nowhere", "riko")
	retry.ClientID, retry.Seq = h.id, h.seq
	require.Equal(t, first, h.s.Apply(retry))
	require.Empty(t, h.view("nowhere").Players)
}

func TestRequestOlderThanTheLatestAppliedIsRefused(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	h.ok(join("den", "riko"))
	before := h.rooms()

	old := join("den", "kanna")
	old.ClientID, old.Seq = h.id, 1
	res := h.s.Apply(old)
	require.Equal(t, FailedPrecondition, CodeOf(res.Error()))
	require.Equal(t, before, h.rooms())
	seq, ok := h.s.LastSeq(h.id)
	require.True(t, ok)
	require.Equal(t, uint64(2), seq, "a refused old request does not move the session")
}

func TestRequestWithoutAValidClientIDOrSeqIsRefusedAndNotRemembered(t *testing.T) {
	for _, tt := range []struct {
		name     string
		clientID string
		seq      uint64
	}{
		{"no client id", "", 1},
		{"client id with a space", "client 1", 1},
		{"client id too long", string(make([]byte, MaxClientIDLen+1)), 1},
		{"seq zero", "client-1", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState()
			cmd := create("den", "tohru")
			cmd.ClientID, cmd.Seq = tt.clientID, tt.seq
			res := s.Apply(cmd)
			require.Equal(t, InvalidArgument, CodeOf(res.Error()))
			require.Empty(t, s.RoomNames())
			_, ok := s.LastSeq(tt.clientID)
			require.False(t, ok)
		})
	}
}

func TestSeqMayJumpForwardOverAbandonedRequests(t *testing.T) {
	s := NewState()
	cmd := create("den", "tohru")
	cmd.ClientID, cmd.Seq = "c", 7
	require.NoError(t, s.Apply(cmd).Error())
	cmd = join("den", "kanna")
	cmd.ClientID, cmd.Seq = "c", 42
	require.NoError(t, s.Apply(cmd).Error())
	seq, _ := s.LastSeq("c")
	require.Equal(t, uint64(42), seq)
}

// The eviction attack of issue 13: fresh client ids flood the table with rejected requests, then
// the victim retries a request. The retry must get its first answer, not a second apply.
func TestAFloodOfNewClientsEvictsNobodyAndIsRefusedOnceTheTableIsFull(t *testing.T) {
	s := NewState()
	apply := func(client string, seq uint64, cmd Command) Result {
		cmd.ClientID, cmd.Seq = client, seq
		return s.Apply(cmd)
	}
	require.NoError(t, apply("victim", 1, create("den", "tohru")).Error())
	first := apply("victim", 2, join("den", "kanna"))
	require.NoError(t, first.Error())

	refused := 0
	for i := 0; i < MaxSessions+100; i++ {
		res := apply(fmt.Sprintf("flood-%05d", i), 1, join("nowhere", "x"))
		if CodeOf(res.Error()) == ResourceExhausted {
			refused++
		} else {
			require.Equal(t, NotFound, CodeOf(res.Error()))
		}
	}
	require.Equal(t, 101, refused, "the table holds MaxSessions clients; the victim's session is one of them")
	require.Len(t, s.sessions, MaxSessions)

	// The victim's guess-to-be retries its join: the first answer, and still one player.
	require.Equal(t, first, apply("victim", 2, join("den", "kanna")))
	v, err := s.Room("den")
	require.NoError(t, err)
	require.Len(t, v.Players, 1)
	_, held := s.LastSeq("flood-04200")
	require.False(t, held, "a refused newcomer is not remembered")
}

// at returns cmd as client sends it as request seq, proposed at log time ms.
func at(ms int64, client string, seq uint64, cmd Command) Command {
	cmd.ClientID, cmd.Seq, cmd.Time = client, seq, ms
	return cmd
}

func TestARetryAfterTheSessionExpiredGetsSessionExpiredAndIsNotAppliedAgain(t *testing.T) {
	s := NewState()
	const start = 1_700_000_000_000
	require.NoError(t, s.Apply(at(start, "host", 1, create("den", "kanna kamui"))).Error())
	require.NoError(t, s.Apply(at(start, "victim", 1, join("den", "riko"))).Error())
	first := s.Apply(at(start+1, "victim", 2, guess("den", "riko", "a")))
	require.NoError(t, first.Error())

	// Just before the timeout the session still answers the retry.
	late := start + 1 + SessionTimeout.Milliseconds() - 1
	require.NoError(t, s.Apply(at(late, "host", 2, join("den", "tohru"))).Error())
	require.Equal(t, first, s.Apply(at(late, "victim", 2, guess("den", "riko", "a"))))

	// The retry above did not refresh the session: one millisecond of log time later it expires.
	require.NoError(t, s.Apply(at(late+1, "host", 3, join("den", "lucoa"))).Error())
	res := s.Apply(at(late+1, "victim", 2, guess("den", "riko", "a")))
	require.Equal(t, SessionExpired, CodeOf(res.Error()), "%v", res.Error())
	require.Contains(t, res.Err.Message, "not applied again")
	v, err := s.Room("den")
	require.NoError(t, err)
	require.Equal(t, 3, v.Players[0].Score, "the guess scored once")
	require.Equal(t, SessionExpired, CodeOf(s.Apply(at(late+2, "victim", 1, join("den", "riko"))).Error()),
		"an older request of an expired session is refused the same way")

	// A new request of the same client is not a retry: it applies and revives the session.
	res = s.Apply(at(late+2, "victim", 3, guess("den", "riko", "k")))
	require.NoError(t, res.Error())
	require.Equal(t, res, s.Apply(at(late+3, "victim", 3, guess("den", "riko", "k"))))
}

func TestAnExpiredSessionIsForgottenAfterSessionForgetAndFreesItsSlot(t *testing.T) {
	s := NewState()
	require.NoError(t, s.Apply(at(1000, "old", 1, create("den", "tohru"))).Error())
	for i := 1; i < MaxSessions; i++ {
		require.Equal(t, NotFound, CodeOf(s.Apply(at(1000, fmt.Sprintf("c%04d", i), 1, join("nowhere", "x"))).Error()))
	}
	require.Equal(t, ResourceExhausted, CodeOf(s.Apply(at(2000, "newcomer", 1, join("den", "kanna"))).Error()))

	// Expired, the sessions still hold their slots as tombstones; forgotten, they free them.
	expired := 1000 + SessionTimeout.Milliseconds()
	require.Equal(t, ResourceExhausted, CodeOf(s.Apply(at(expired, "newcomer", 1, join("den", "kanna"))).Error()))
	seq, held := s.LastSeq("old")
	require.True(t, held)
	require.Equal(t, uint64(1), seq)

	forgotten := 1000 + SessionForget.Milliseconds()
	require.NoError(t, s.Apply(at(forgotten, "newcomer", 1, join("den", "kanna"))).Error())
	_, held = s.LastSeq("old")
	require.False(t, held)
	require.Len(t, s.sessions, 1, "the sweep the full table ran dropped every forgotten session")
}

func TestTheLogClockNeverGoesBackAndCommandsWithoutTimeLeaveIt(t *testing.T) {
	s := NewState()
	require.NoError(t, s.Apply(at(5000, "a", 1, create("den", "tohru"))).Error())
	require.Equal(t, int64(5000), s.Now())
	require.NoError(t, s.Apply(at(4000, "a", 2, join("den", "kanna"))).Error(), "a new leader with a slower clock")
	require.Equal(t, int64(5000), s.Now())
	require.NoError(t, s.Apply(at(0, "a", 3, join("den", "riko"))).Error())
	require.Equal(t, int64(5000), s.Now())
}

func TestIdleRoomsAreRemovedByLogTimeTheSameWayOnEveryReplica(t *testing.T) {
	cmds := []Command{
		at(0, "a", 1, create("quiet", "tohru")),
		at(1, "a", 2, create("busy", "kanna")),
	}
	for i := int64(1); i <= 13; i++ {
		// "busy" sees a command every ten minutes; "quiet" none after its creation.
		cmds = append(cmds, at(i*10*60*1000, "b", uint64(i), join("busy", fmt.Sprintf("p%d", i))))
	}
	one, two := NewState(), NewState()
	for i, c := range cmds {
		one.ApplyAt(uint64(10+i), c)
		two.ApplyAt(uint64(10+i), c)
	}
	require.Equal(t, []string{"busy"}, one.RoomNames(), "quiet was idle for %v", RoomIdleTimeout)
	require.Equal(t, one.Snapshot(), two.Snapshot())
}

func TestARetryGetsTheRoomAsItsFirstAnswerLeftIt(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	h.ok(join("den", "riko"))
	h.guessAll("den", "riko", "tohr")
	first := h.ok(guess("den", "riko", "u"))
	require.Equal(t, Won, first.State.Status)

	other := newRound("den", "kanna")
	other.ClientID, other.Seq = "client-2", 1
	require.NoError(t, h.s.Apply(other).Error())

	retry := guess("den", "riko", "u")
	retry.ClientID, retry.Seq = h.id, h.seq
	again := h.s.Apply(retry)
	require.Equal(t, first, again)
	require.Equal(t, "tohru", again.State.Masked, "the retry shows the round its guess won, not the next one")
}

func TestAPlayerWithATokenCannotBeTakenOverByName(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "kanna kamui"))
	mine := join("den", "kanna")
	mine.Token = "token-of-kanna-0001"
	h.ok(mine)

	thief := join("den", "kanna")
	thief.Token = "token-of-someone-else"
	require.Equal(t, AlreadyExists, CodeOf(h.do(thief).Error()))
	require.Equal(t, AlreadyExists, CodeOf(h.do(join("den", "kanna")).Error()), "no token is no better")

	back := h.ok(mine)
	require.True(t, back.Repeated, "the owner comes back: nothing changes")
	require.Len(t, h.view("den").Players, 1)

	g := guess("den", "kanna", "a")
	require.Equal(t, PermissionDenied, CodeOf(h.do(g).Error()))
	g.Token = mine.Token
	require.Equal(t, 3, h.ok(g).Points)
}

func TestSessionsSurviveASnapshotSoRetriesAfterRestoreApplyOnce(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "kanna kamui"))
	h.ok(join("den", "riko"))
	first := h.ok(guess("den", "riko", "k"))

	restored := NewState()
	require.NoError(t, restored.Restore(h.s.Snapshot()))
	retry := guess("den", "riko", "k")
	retry.ClientID, retry.Seq = h.id, h.seq
	require.Equal(t, first, restored.Apply(retry))
	v, err := restored.Room("den")
	require.NoError(t, err)
	require.Equal(t, 2, v.Players[0].Score)
}
