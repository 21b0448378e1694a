// Tests of what a node tells watchers: the Events stream (events.go) and the log tail and timers
// of Status.
package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

func TestEventsStreamReplaysTheStartUpElectionAndFollowsCommits(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.waitLeader()
	ctx := c.ctx()
	stream, err := c.cluster(lead).Events(ctx, &kannapb.EventsRequest{})
	require.NoError(t, err)
	recv := func(want func(*kannapb.ClusterEvent) bool) *kannapb.ClusterEvent {
		t.Helper()
		for {
			ev, err := stream.Recv()
			require.NoError(t, err)
			require.Equal(t, lead, ev.GetNode())
			if want(ev) {
				return ev
			}
		}
	}
	// Node 1 bootstrapped alone and won term 1 or later before the watcher connected: the ring
	// still holds it.
	start := recv(func(e *kannapb.ClusterEvent) bool { return e.Kind == kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_START })
	require.Contains(t, start.Text, fmt.Sprintf("node %d started", lead))
	won := recv(func(e *kannapb.ClusterEvent) bool { return e.Kind == kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_ROLE })
	for !strings.Contains(won.Text, "won the election") {
		won = recv(func(e *kannapb.ClusterEvent) bool { return e.Kind == kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_ROLE })
	}
	require.Greater(t, won.UnixMicros, start.UnixMicros-1, "stamped when it happened, in order")
	require.Less(t, time.Since(time.UnixMicro(won.UnixMicros)), settle)

	_, err = c.game(lead).CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: "ev", Seq: 1, Room: "Foo"})
	require.NoError(t, err)
	_, err = c.game(lead).JoinRoom(ctx, &kannapb.JoinRoomRequest{ClientId: "ev", Seq: 2, Room: "Foo", Player: "alice"})
	require.NoError(t, err)
	_, err = c.game(lead).Guess(ctx, &kannapb.GuessRequest{ClientId: "ev", Seq: 3, Room: "Foo", Player: "alice", Letter: "E"})
	require.NoError(t, err)
	guess := recv(func(e *kannapb.ClusterEvent) bool {
		return e.Kind == kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_COMMIT && strings.Contains(e.Text, "alice guessed e in room Foo")
	})
	require.NotZero(t, guess.Index)

	// The log tail names the same entry, at the same index.
	st, err := c.cluster(lead).Status(ctx, &kannapb.StatusRequest{LogTail: 5})
	require.NoError(t, err)
	require.Len(t, st.Log, 5)
	last := st.Log[len(st.Log)-1]
	require.Equal(t, st.LastIndex, last.Index)
	require.Equal(t, guess.Index, last.Index)
	require.Equal(t, kannapb.LogEntryKind_LOG_ENTRY_KIND_COMMAND, last.Kind)
	require.Equal(t, "alice guessed e in room Foo", last.Text)
	require.Equal(t, uint32(int64(c.nodes[lead].cfg.ElectionTick)*testTick.Milliseconds()), st.ElectionTimeoutMs,
		"the leader's check-quorum period: one election tick count")
	require.NotZero(t, st.RaftSent)
	require.NotZero(t, st.GossipReceived)
}

func TestEventLogResumesAfterAPositionAndReportsWhatAWatcherMissed(t *testing.T) {
	l := newEventLog(7, time.Unix(100, 0))
	for i := range eventRing + 10 {
		l.add(eventRec{text: fmt.Sprint(i)})
	}
	evs, lost, _ := l.since(0, 0)
	require.Zero(t, lost, "a new watcher missed nothing it had")
	require.Len(t, evs, eventRing)
	require.Equal(t, "10", evs[0].text)

	evs, lost, _ = l.since(l.boot, 3)
	require.Equal(t, uint64(eventRing+10-3-eventRing), lost, "seq 4 to 10 fell out of the ring")
	require.Equal(t, uint64(11), evs[0].seq)

	evs, lost, changed := l.since(l.boot, uint64(eventRing+10))
	require.Zero(t, lost)
	require.Empty(t, evs)
	l.add(eventRec{text: "next"})
	select {
	case <-changed:
	default:
		t.Fatal("add did not wake the watcher")
	}
	evs, _, _ = l.since(l.boot+1, 5) // an earlier run's position: start over
	require.Len(t, evs, eventRing)
}

func TestEntriesAreDescribedInWords(t *testing.T) {
	for _, tc := range []struct {
		e    raft.Entry
		want string
	}{
		{raft.Entry{Type: raft.EntryNoop}, "no-op of the new leader"},
		{raft.Entry{Type: raft.EntryConfChange, Data: raft.ConfChange{Type: raft.AddVoter, NodeID: 4}.Marshal()}, "add node 4 as a voter"},
		{raft.Entry{Type: raft.EntryNormal, Data: []byte(`{"kind":"join","client_id":"c","seq":1,"room":"Foo","player":"bob"}`)}, "bob joined room Foo"},
		{raft.Entry{Type: raft.EntryNormal, Data: []byte(`not json`)}, "unreadable command: "},
	} {
		_, got := describeEntry(tc.e)
		require.True(t, strings.HasPrefix(got, tc.want), "%q does not start with %q", got, tc.want)
	}
}
