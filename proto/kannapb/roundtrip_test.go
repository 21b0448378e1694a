// Tests that the wire form of Raft messages carries everything the Raft core puts in a
// raft.Message (raft/types.go): the fields of AppendEntries, RequestVote and InstallSnapshot of
// the Raft paper (Figure 2, §7) and of the thesis' extensions, and survives encoding unchanged.
package kannapb_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

// fullRaftMessage is a MsgSnap-shaped message with every field set, entries included, so that a
// field the encoding dropped or mangled shows up as a difference.
func fullRaftMessage() *kannapb.RaftMessage {
	return &kannapb.RaftMessage{
		Type:    kannapb.RaftMessageType_RAFT_MESSAGE_TYPE_SNAP,
		From:    1,
		To:      3,
		Term:    7,
		Index:   41,
		LogTerm: 6,
		Entries: []*kannapb.RaftEntry{
			{Term: 6, Index: 42, Type: kannapb.RaftEntryType_RAFT_ENTRY_TYPE_NOOP},
			{Term: 7, Index: 43, Type: kannapb.RaftEntryType_RAFT_ENTRY_TYPE_NORMAL, Data: []byte(`{"guess":"k"}`)},
			{Term: 7, Index: 44, Type: kannapb.RaftEntryType_RAFT_ENTRY_TYPE_CONF_CHANGE, Data: []byte{1, 4}},
		},
		Commit:       40,
		Reject:       true,
		RejectHint:   39,
		ConflictTerm: 5,
		Snapshot: &kannapb.RaftSnapshot{
			Meta: &kannapb.RaftSnapshotMeta{
				Index: 30,
				Term:  4,
				ConfState: &kannapb.RaftConfState{
					Voters:   []uint64{1, 2, 3},
					Learners: []uint64{4},
				},
			},
			Data: []byte("chunk of the game state starting at offset"),
		},
		Offset:     512 << 10,
		Done:       true,
		Context:    []byte("read-17"),
		Recovering: true,
	}
}

// requireEveryFieldSet fails when some field of m, or of a message type inside it, is set nowhere
// in m: the fixture must exercise every field, including ones added to the .proto after this test
// was written. A field of a repeated message counts as covered when any element sets it (a NOOP
// entry has no data; another entry does).
func requireEveryFieldSet(t *testing.T, m protoreflect.Message) {
	t.Helper()
	declared := map[protoreflect.FullName]bool{}
	set := map[protoreflect.FullName]bool{}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		fields := m.Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			declared[fd.FullName()] = true
			if !m.Has(fd) {
				continue
			}
			set[fd.FullName()] = true
			switch {
			case fd.IsList() && fd.Message() != nil:
				list := m.Get(fd).List()
				for j := 0; j < list.Len(); j++ {
					walk(list.Get(j).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(m.Get(fd).Message())
			}
		}
	}
	walk(m)
	for name := range declared {
		require.Truef(t, set[name], "fixture leaves %s unset; set it so the round trip covers it", name)
	}
}

func TestRaftMessageWithEntriesAndSnapshotSurvivesMarshalAndUnmarshal(t *testing.T) {
	sent := fullRaftMessage()
	requireEveryFieldSet(t, sent.ProtoReflect())

	wire, err := proto.Marshal(sent)
	require.NoError(t, err)

	got := &kannapb.RaftMessage{}
	require.NoError(t, proto.Unmarshal(wire, got))
	require.Truef(t, proto.Equal(sent, got), "round trip changed the message:\nsent %v\ngot  %v", sent, got)
	require.Len(t, got.GetEntries(), 3)
	require.Equal(t, []uint64{1, 2, 3}, got.GetSnapshot().GetMeta().GetConfState().GetVoters())
	require.Equal(t, sent.GetSnapshot().GetData(), got.GetSnapshot().GetData())
}

func TestRaftMessageRoundTripIsByteStableUnderDeterministicMarshal(t *testing.T) {
	// The simulator compares traces byte for byte, so one message must always encode the same way.
	opts := proto.MarshalOptions{Deterministic: true}
	first, err := opts.Marshal(fullRaftMessage())
	require.NoError(t, err)

	decoded := &kannapb.RaftMessage{}
	require.NoError(t, proto.Unmarshal(first, decoded))
	second, err := opts.Marshal(decoded)
	require.NoError(t, err)
	require.Equal(t, first, second)
}

// snakeCase turns a Go field name into its proto field name: LogTerm -> log_term.
func snakeCase(name string) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// requireSameFields checks that the Go struct and the proto message have the same field names,
// in both directions, so neither side can gain a field the other lacks.
func requireSameFields(t *testing.T, goType reflect.Type, msg protoreflect.MessageDescriptor) {
	t.Helper()
	goFields := map[string]bool{}
	for i := 0; i < goType.NumField(); i++ {
		name := snakeCase(goType.Field(i).Name)
		goFields[name] = true
		require.NotNilf(t, msg.Fields().ByName(protoreflect.Name(name)),
			"%s.%s has no field %q in %s: add it to raft.proto", goType, goType.Field(i).Name, name, msg.FullName())
	}
	for i := 0; i < msg.Fields().Len(); i++ {
		name := string(msg.Fields().Get(i).Name())
		require.Truef(t, goFields[name], "%s.%s has no counterpart in %s", msg.FullName(), name, goType)
	}
}

func TestRaftMessageMirrorsEveryFieldOfTheCoresMessage(t *testing.T) {
	cases := []struct {
		goType reflect.Type
		msg    proto.Message
	}{
		{reflect.TypeFor[raft.Message](), &kannapb.RaftMessage{}},
		{reflect.TypeFor[raft.Entry](), &kannapb.RaftEntry{}},
		{reflect.TypeFor[raft.Snapshot](), &kannapb.RaftSnapshot{}},
		{reflect.TypeFor[raft.SnapshotMeta](), &kannapb.RaftSnapshotMeta{}},
		{reflect.TypeFor[raft.ConfState](), &kannapb.RaftConfState{}},
	}
	for _, c := range cases {
		t.Run(c.goType.Name(), func(t *testing.T) {
			requireSameFields(t, c.goType, c.msg.ProtoReflect().Descriptor())
		})
	}
}

// requireEnumMirrors checks that the core's enum values 0..n-1, named by their String method,
// appear in the proto enum as PREFIX_NAME with number value+1 (0 is UNSPECIFIED on the wire), and
// that the proto enum has nothing more.
func requireEnumMirrors(t *testing.T, enum protoreflect.EnumDescriptor, prefix string, trim string, name func(int) string) {
	t.Helper()
	// A core's String prints "Type(n)" for a value it does not define: that ends the enum.
	n := 0
	for ; n < 255 && !strings.HasSuffix(name(n), fmt.Sprintf("(%d)", n)); n++ {
		want := prefix + strings.ToUpper(snakeCase(strings.TrimPrefix(name(n), trim)))
		v := enum.Values().ByName(protoreflect.Name(want))
		require.NotNilf(t, v, "core value %s (%d) has no %s in %s", name(n), n, want, enum.FullName())
		require.EqualValuesf(t, n+1, v.Number(), "%s must be the core's value plus one", want)
	}
	require.Positive(t, n, "found no values of the core's enum")
	require.Equalf(t, n+1, enum.Values().Len(), "%s must hold UNSPECIFIED plus the core's %d values", enum.FullName(), n)
	require.Equal(t, prefix+"UNSPECIFIED", string(enum.Values().ByNumber(0).Name()))
}

func TestRaftMessageTypesMirrorTheCoresMessageTypes(t *testing.T) {
	requireEnumMirrors(t, kannapb.RaftMessageType(0).Descriptor(), "RAFT_MESSAGE_TYPE_", "Msg",
		func(i int) string { return raft.MessageType(i).String() })
}

func TestRaftEntryTypesMirrorTheCoresEntryTypes(t *testing.T) {
	requireEnumMirrors(t, kannapb.RaftEntryType(0).Descriptor(), "RAFT_ENTRY_TYPE_", "",
		func(i int) string { return raft.EntryType(i).String() })
}

func TestNodeRolesMirrorTheCoresRoles(t *testing.T) {
	requireEnumMirrors(t, kannapb.NodeRole(0).Descriptor(), "NODE_ROLE_", "",
		func(i int) string { return raft.Role(i).String() })
}
