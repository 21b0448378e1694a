// Tests of client sessions (session.go): a retried request applies once (Raft paper §8, thesis
// §6.3), older requests are refused, and the table stays bounded.

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

func TestSessionTableEvictsTheLeastRecentlyAppliedClient(t *testing.T) {
	s := NewState()
	apply := func(client string, seq uint64, cmd Command) Result {
		cmd.ClientID, cmd.Seq = client, seq
		return s.Apply(cmd)
	}
	// Rejected requests are remembered like any other: fill the table with them.
	for i := 0; i < MaxSessions; i++ {
		require.Equal(t, NotFound, CodeOf(apply(fmt.Sprintf("c%04d", i), 1, join("den", fmt.Sprintf("p%d", i))).Error()))
	}
	// c0000 was the first applied, but a new request makes it the most recent; c0001 is now oldest.
	require.NoError(t, apply("c0000", 2, create("den", "tohru")).Error())

	require.NoError(t, apply("newcomer", 1, join("den", "kanna")).Error())
	_, ok := s.LastSeq("c0001")
	require.False(t, ok, "the least recently applied session is evicted")
	_, ok = s.LastSeq("c0000")
	require.True(t, ok)
	_, ok = s.LastSeq("newcomer")
	require.True(t, ok)
	require.Len(t, s.sessions, MaxSessions)

	// Evicted, c0001's retry is no longer recognised and runs again: now the room exists and the
	// join succeeds, where a remembered session would have answered NotFound. This is the
	// documented cost of a bounded table.
	require.NoError(t, apply("c0001", 1, join("den", "p1")).Error())
	// That new session evicted c0002; c0500 still has its session, so its retry gets the
	// remembered NotFound.
	_, ok = s.LastSeq("c0002")
	require.False(t, ok)
	require.Equal(t, NotFound, CodeOf(apply("c0500", 1, join("den", "p500")).Error()))
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
