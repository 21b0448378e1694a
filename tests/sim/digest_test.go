// The digest the state-machine-safety checker compares covers every field of a command and of its
// result, so two replicas that applied different commands or got different results never compare
// equal.
package sim

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

func TestDigestCoversEveryField(t *testing.T) {
	// appendDigest names each field by hand; a new field must be added there, then counted here.
	require.Equal(t, 9, reflect.TypeOf(game.Command{}).NumField(), "extend appendDigest with the new Command field")
	require.Equal(t, 12, reflect.TypeOf(game.Result{}).NumField(), "extend appendDigest with the new Result field")

	cmd := game.Command{Kind: game.KindGuess, ClientID: "c", Seq: 3, Room: "den", Player: "riko", Letter: "k"}
	res := game.Result{Kind: game.KindGuess, Room: "den", Player: "riko", Round: 1, Letter: "k", Hit: true, Revealed: 1, Points: 1, Status: game.Playing}
	base := string(appendDigest(nil, &cmd, &res))
	same := res
	same.State = &game.RoomView{Players: []game.PlayerView{{Name: "riko"}}}
	sameCopy := res
	sameCopy.State = &game.RoomView{Players: []game.PlayerView{{Name: "riko"}}}
	require.True(t, sameApplied(normalEntry(cmd, same), normalEntry(cmd, sameCopy)), "equal entries in different memory are the same")
	require.Equal(t, base, string(appendDigest(nil, &cmd, &res)), "the same entry digests the same")

	changedCmd := []func(*game.Command){
		func(c *game.Command) { c.Kind = game.KindJoin },
		func(c *game.Command) { c.ClientID = "d" },
		func(c *game.Command) { c.Seq = 4 },
		func(c *game.Command) { c.Room = "lair" },
		func(c *game.Command) { c.Player = "kanna" },
		func(c *game.Command) { c.Letter = "a" },
		func(c *game.Command) { c.Word = "tohru" },
		func(c *game.Command) { c.Token = "secret" },
		func(c *game.Command) { c.Time = 1_700_000_000_000 },
	}
	for i, change := range changedCmd {
		c := cmd
		change(&c)
		require.NotEqual(t, base, string(appendDigest(nil, &c, &res)), "command field %d", i)
		require.False(t, sameApplied(normalEntry(cmd, res), normalEntry(c, res)), "command field %d", i)
	}
	changedRes := []func(*game.Result){
		func(r *game.Result) { r.Kind = game.KindJoin },
		func(r *game.Result) { r.Room = "lair" },
		func(r *game.Result) { r.Player = "kanna" },
		func(r *game.Result) { r.Round = 2 },
		func(r *game.Result) { r.Letter = "a" },
		func(r *game.Result) { r.Hit = false },
		func(r *game.Result) { r.Repeated = true },
		func(r *game.Result) { r.Revealed = 2 },
		func(r *game.Result) { r.Points = 2 },
		func(r *game.Result) { r.Status = game.Won },
		func(r *game.Result) { r.Err = &game.Error{Code: game.NotFound, Message: "no room"} },
		func(r *game.Result) { r.State = &game.RoomView{Name: "den", Round: 1, Lives: 5, Version: 9} },
	}
	// Every field of the room a command left is covered too.
	state := game.RoomView{Name: "den", Round: 1, Status: game.Playing, Masked: "k____", Lives: 5, Guessed: "k",
		Players: []game.PlayerView{{Name: "riko", Score: 1}}, Version: 9}
	require.Equal(t, 10, reflect.TypeOf(state).NumField(), "extend appendRoomView with the new RoomView field")
	withState := res
	withState.State = &state
	stateBase := string(appendDigest(nil, &cmd, &withState))
	changedState := []func(*game.RoomView){
		func(v *game.RoomView) { v.Name = "lair" },
		func(v *game.RoomView) { v.Round = 2 },
		func(v *game.RoomView) { v.Status = game.Lost },
		func(v *game.RoomView) { v.Masked = "ka___" },
		func(v *game.RoomView) { v.Word = "kanna" },
		func(v *game.RoomView) { v.Lives = 4 },
		func(v *game.RoomView) { v.Guessed = "ka" },
		func(v *game.RoomView) { v.Misses = "z" },
		func(v *game.RoomView) { v.Players = []game.PlayerView{{Name: "riko", Score: 2}} },
		func(v *game.RoomView) { v.Version = 10 },
	}
	for i, change := range changedState {
		v := state
		change(&v)
		r := res
		r.State = &v
		require.NotEqual(t, stateBase, string(appendDigest(nil, &cmd, &r)), "room field %d", i)
		require.False(t, sameApplied(normalEntry(cmd, withState), normalEntry(cmd, r)), "room field %d", i)
	}
	for i, change := range changedRes {
		r := res
		change(&r)
		require.NotEqual(t, base, string(appendDigest(nil, &cmd, &r)), "result field %d", i)
		require.False(t, sameApplied(normalEntry(cmd, res), normalEntry(cmd, r)), "result field %d", i)
	}
	// Strings are quoted, so a field's content cannot pose as a field boundary.
	a := game.Command{Kind: game.KindGuess, ClientID: "c d", Room: "x"}
	b := game.Command{Kind: game.KindGuess, ClientID: "c", Room: "d x"}
	require.NotEqual(t, string(appendDigest(nil, &a, &res)), string(appendDigest(nil, &b, &res)))
}

func normalEntry(c game.Command, r game.Result) *appliedEntry {
	return &appliedEntry{Index: 1, Term: 1, Type: raft.EntryNormal, Command: c, Result: r}
}

func TestSameAppliedComparesConfChangesAndTypes(t *testing.T) {
	add := &appliedEntry{Type: raft.EntryConfChange, ConfChange: raft.ConfChange{Type: raft.AddVoter, NodeID: 4}}
	other := &appliedEntry{Type: raft.EntryConfChange, ConfChange: raft.ConfChange{Type: raft.AddVoter, NodeID: 5}}
	require.True(t, sameApplied(add, add))
	require.False(t, sameApplied(add, other))
	require.False(t, sameApplied(add, normalEntry(game.Command{}, game.Result{})))
}
