// Unit tests of the shell's pieces that need no network: the wire conversion of Raft messages, the
// operator's removal checks, drop rules, the data folder's small files, and config validation.

package server

import (
	"github.com/kanna-cluster/kanna/server/engine"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

func TestRaftMessageSurvivesTheWireFieldForField(t *testing.T) {
	for typ := raft.MsgApp; typ <= raft.MsgTimeoutNow; typ++ {
		m := raft.Message{
			Type: typ, From: 1, To: 2, Term: 7, Index: 40, LogTerm: 6, Commit: 39,
			Entries: []raft.Entry{
				{Term: 6, Index: 41, Type: raft.EntryNormal, Data: []byte(`{"kind":"guess"}`)},
				{Term: 7, Index: 42, Type: raft.EntryNoop},
				{Term: 7, Index: 43, Type: raft.EntryConfChange, Data: raft.ConfChange{Type: raft.AddVoter, NodeID: 4}.Marshal()},
			},
			Reject: true, RejectHint: 12, ConflictTerm: 5,
			Snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 30, Term: 5, ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}}, Data: []byte("game")},
			Offset:   512, Done: true, Context: []byte{0, 0, 0, 0, 0, 0, 0, 9}, Recovering: true,
		}
		got, err := fromProto(toProto(m))
		require.NoError(t, err, typ.String())
		require.Equal(t, m, got, typ.String())
	}
}

func TestRaftMessageFromTheWireIsRefusedWithoutTypeSenderOrEntryType(t *testing.T) {
	_, err := fromProto(&kannapb.RaftMessage{From: 1, To: 2})
	require.ErrorContains(t, err, "unset or unknown")
	_, err = fromProto(&kannapb.RaftMessage{Type: kannapb.RaftMessageType(99), From: 1})
	require.ErrorContains(t, err, "unset or unknown")
	_, err = fromProto(&kannapb.RaftMessage{Type: kannapb.RaftMessageType_RAFT_MESSAGE_TYPE_APP, To: 2})
	require.ErrorContains(t, err, "from = 0")
	_, err = fromProto(&kannapb.RaftMessage{Type: kannapb.RaftMessageType_RAFT_MESSAGE_TYPE_APP, From: 1,
		Entries: []*kannapb.RaftEntry{{Term: 1, Index: 1}}})
	require.ErrorContains(t, err, "entry 1")
}

func TestRemovalIsRefusedForNonMembersAndBelowThreeVoters(t *testing.T) {
	conf := func(voters, learners []uint64) raft.Status {
		return raft.Status{ID: 1, ConfState: raft.ConfState{Voters: voters, Learners: learners}}
	}
	st := conf([]uint64{1, 2, 3}, []uint64{4})
	require.Equal(t, codes.NotFound, status.Code(checkRemoval(st, 9)))
	require.Equal(t, codes.FailedPrecondition, status.Code(checkRemoval(st, 3)))
	require.NoError(t, checkRemoval(st, 4), "a learner can always go")
	require.NoError(t, checkRemoval(conf([]uint64{1, 2, 3, 4}, nil), 4))
}

func TestDropRulesAddUpAndHealByPeer(t *testing.T) {
	f := newFaults()
	f.add([]uint64{3}, []uint64{2}, kannapb.TrafficClass_TRAFFIC_CLASS_UNSPECIFIED)
	f.add([]uint64{2}, nil, kannapb.TrafficClass_TRAFFIC_CLASS_GOSSIP)
	require.True(t, f.dropOut(3, classRaft))
	require.True(t, f.dropOut(3, classGossip))
	require.False(t, f.dropIn(3, classRaft), "rules hold one direction only")
	require.True(t, f.dropIn(2, classRaft))
	require.True(t, f.dropOut(2, classGossip))
	require.False(t, f.dropOut(2, classRaft))

	rules := f.list()
	require.Len(t, rules, 5)
	require.Equal(t, uint64(2), rules[0].Peer)
	require.Equal(t, kannapb.Direction_DIRECTION_OUTBOUND, rules[0].Direction, "sorted by peer, then outbound first")

	f.heal([]uint64{2})
	require.Len(t, f.list(), 2)
	f.heal(nil)
	require.Empty(t, f.list())
}

func TestDataFolderRefusesANodeWithAnotherID(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, checkNodeID(dir, 3))
	require.NoError(t, checkNodeID(dir, 3), "the same node may reopen its folder")
	err := checkNodeID(dir, 4)
	require.ErrorContains(t, err, "belongs to node 3")
}

func TestAddressBookSurvivesARestartAndRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	b, err := openAddressBook(dir)
	require.NoError(t, err)
	require.NoError(t, b.set(2, "127.0.0.1:7002"))
	require.NoError(t, b.set(3, "127.0.0.1:7003"))

	again, err := openAddressBook(dir)
	require.NoError(t, err)
	require.Equal(t, map[uint64]string{2: "127.0.0.1:7002", 3: "127.0.0.1:7003"}, again.entries())
	require.Equal(t, []uint64{2, 3}, again.ids())

	require.NoError(t, os.WriteFile(filepath.Join(dir, addressBookFile), []byte("{not json"), 0o600))
	_, err = openAddressBook(dir)
	require.ErrorContains(t, err, "--join")
}

func TestConfigRefusesWhatCannotWorkAndFillsDefaults(t *testing.T) {
	_, err := Config{DataDir: "d", Addr: "127.0.0.1:1"}.withDefaults()
	require.ErrorContains(t, err, "id")
	_, err = Config{ID: 1, Addr: "127.0.0.1:1"}.withDefaults()
	require.ErrorContains(t, err, "--data")
	_, err = Config{ID: 1, DataDir: "d"}.withDefaults()
	require.ErrorContains(t, err, "--addr")
	_, err = Config{ID: 1, DataDir: "d", Addr: "127.0.0.1:1", ElectionTick: 2}.withDefaults()
	require.ErrorContains(t, err, "at least 3")

	cfg, err := Config{ID: 1, DataDir: "d", Addr: "127.0.0.1:1"}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, DevClusterKey, cfg.ClusterKey)
	require.Equal(t, 25*time.Millisecond, cfg.TickInterval)
	require.Equal(t, 12, cfg.ElectionTick)
	require.NotZero(t, cfg.Seed)
}

func TestNodeRefusesAnUnspecifiedListenAddress(t *testing.T) {
	_, err := NewNode(Config{ID: 1, DataDir: t.TempDir(), Addr: "0.0.0.0:0"})
	require.ErrorContains(t, err, "peers cannot dial")
}

func TestGameErrorsKeepTheirCodeOnTheWire(t *testing.T) {
	cases := map[game.Code]codes.Code{
		game.InvalidArgument:    codes.InvalidArgument,
		game.NotFound:           codes.NotFound,
		game.FailedPrecondition: codes.FailedPrecondition,
		game.AlreadyExists:      codes.AlreadyExists,
		game.ResourceExhausted:  codes.ResourceExhausted,
		game.PermissionDenied:   codes.PermissionDenied,
		game.SessionExpired:     codes.Aborted,
	}
	for gc, want := range cases {
		err := toStatus(&game.Error{Code: gc, Message: "m"})
		require.Equal(t, want, status.Code(err), gc.String())
		require.Equal(t, "m", status.Convert(err).Message())
	}
	require.Equal(t, codes.Unavailable, status.Code(toStatus(&raft.NotLeaderError{Leader: 2})))
	require.Equal(t, codes.Unavailable, status.Code(toStatus(engine.ErrProposalLost)))
	require.Equal(t, codes.Unavailable, status.Code(toStatus(ErrStopped)))
	require.True(t, retryable(engine.ErrProposalLost))
	require.False(t, retryable(ErrStopped))
	require.False(t, retryable(&game.Error{Code: game.NotFound}))
}

func TestSecondNodeOnTheSameDataFolderIsRefused(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir, 1)
	require.NoError(t, err)
	_, err = lockDataDir(dir, 1)
	require.ErrorContains(t, err, "in use by another process")
	require.NoError(t, first.Close())
	again, err := lockDataDir(dir, 1)
	require.NoError(t, err, "the lock goes away with its holder")
	require.NoError(t, again.Close())
}
