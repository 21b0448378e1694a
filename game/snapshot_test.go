// Tests of snapshots (snapshot.go): canonical bytes, exact round trips, and refusal of snapshots
// that Apply could never have produced (Raft paper §7).

package game

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// played returns a state with several rooms in every status, players with scores and sessions.
func played(t *testing.T) *State {
	t.Helper()
	h := newHarness(t)
	h.ok(create("won", "elma"))
	h.ok(join("won", "kanna"))
	h.guessAll("won", "kanna", "elma")
	h.ok(create("lost", "tohru"))
	h.ok(join("lost", "riko"))
	h.guessAll("lost", "riko", "abcdef")
	for i := 0; i < 20; i++ {
		h.ok(create(fmt.Sprintf("room %02d", i), "kanna kamui"))
		h.ok(join(fmt.Sprintf("room %02d", i), fmt.Sprintf("player %d", i)))
		other := guess(fmt.Sprintf("room %02d", i), fmt.Sprintf("player %d", i), "a")
		other.ClientID, other.Seq = fmt.Sprintf("client-%d", 100+i), 1
		require.NoError(t, h.s.Apply(other).Error())
	}
	require.NotEqual(t, Result{}, h.do(guess("nowhere", "x", "a")), "a rejected result is remembered too")
	return h.s
}

func TestSnapshotRestoreRoundTripIsByteIdentical(t *testing.T) {
	s := played(t)
	snap := s.Snapshot()

	restored := NewState()
	require.NoError(t, restored.Restore(snap))
	require.Equal(t, string(snap), string(restored.Snapshot()))
	require.Equal(t, s.RoomNames(), restored.RoomNames())
	for _, name := range s.RoomNames() {
		want, _ := s.Room(name)
		got, _ := restored.Room(name)
		require.Equal(t, want, got)
	}
	require.Equal(t, s.Applies(), restored.Applies())
}

func TestSnapshotBytesDoNotDependOnMapIterationOrder(t *testing.T) {
	s := played(t)
	first := s.Snapshot()
	for i := 0; i < 20; i++ {
		require.Equal(t, string(first), string(s.Snapshot()))
	}
}

func TestEmptyStateSnapshotRoundTrips(t *testing.T) {
	snap := NewState().Snapshot()
	restored := played(t)
	require.NoError(t, restored.Restore(snap))
	require.Empty(t, restored.RoomNames())
	require.Equal(t, string(snap), string(restored.Snapshot()))
}

// TestRestoreRefusesACorruptSnapshotAndKeepsTheState edits one field of a good snapshot at a time
// into something Apply never produces.
func TestRestoreRefusesACorruptSnapshotAndKeepsTheState(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *snapshotData)
	}{
		{"other version", func(d *snapshotData) { d.Version = 2 }},
		{"bad room name", func(d *snapshotData) { d.Rooms[0].Name = "" }},
		{"bad word", func(d *snapshotData) { d.Rooms[0].Word = "Elma" }},
		{"round zero", func(d *snapshotData) { d.Rooms[0].Round = 0 }},
		{"guessed digit", func(d *snapshotData) { d.Rooms[0].Guessed += "1" }},
		{"guessed twice", func(d *snapshotData) { d.Rooms[0].Guessed += d.Rooms[0].Guessed[:1] }},
		{"lives disagree with misses", func(d *snapshotData) { d.Rooms[0].Lives-- }},
		{"status disagrees", func(d *snapshotData) { d.Rooms[0].Status = Won }},
		{"duplicate room", func(d *snapshotData) { d.Rooms = append(d.Rooms, d.Rooms[0]) }},
		{"duplicate player", func(d *snapshotData) {
			d.Rooms[0].Players = append(d.Rooms[0].Players, d.Rooms[0].Players[0])
		}},
		{"bad player name", func(d *snapshotData) { d.Rooms[0].Players[0].Name = " x" }},
		{"negative score", func(d *snapshotData) { d.Rooms[0].Players[0].Score = -1 }},
		{"short player token", func(d *snapshotData) { d.Rooms[0].Players[0].Token = "short" }},
		{"session active after the clock", func(d *snapshotData) { d.Sessions[0].Active = d.Now + 1 }},
		{"too many players", func(d *snapshotData) {
			for i := 0; i <= MaxPlayersPerRoom; i++ {
				d.Rooms[0].Players = append(d.Rooms[0].Players, playerData{Name: fmt.Sprintf("p%d", i)})
			}
		}},
		{"too many sessions", func(d *snapshotData) {
			for i := 0; i <= MaxSessions; i++ {
				d.Sessions = append(d.Sessions, sessionData{ClientID: fmt.Sprintf("x%d", i), Seq: 1})
			}
		}},
		{"bad client id", func(d *snapshotData) { d.Sessions[0].ClientID = "" }},
		{"duplicate session", func(d *snapshotData) { d.Sessions = append(d.Sessions, d.Sessions[0]) }},
		{"session seq zero", func(d *snapshotData) { d.Sessions[0].Seq = 0 }},
		{"session applied in the future", func(d *snapshotData) { d.Sessions[0].LastApply = d.Applies + 1 }},
		{"two sessions applied at once", func(d *snapshotData) { d.Sessions[1].LastApply = d.Sessions[0].LastApply }},
	}
	good := played(t).Snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d snapshotData
			require.NoError(t, json.Unmarshal(good, &d))
			tt.edit(&d)
			bad, err := json.Marshal(d)
			require.NoError(t, err)

			s := played(t)
			before := s.Snapshot()
			require.Error(t, s.Restore(bad))
			require.Equal(t, string(before), string(s.Snapshot()), "a failed restore must not change the state")
		})
	}
}

func TestRestoreRefusesBytesThatAreNotASnapshot(t *testing.T) {
	for _, data := range []string{"", "{", "null x", `{"version":1,"surprise":true}`, `{"version":1,"rooms":[{"status":"sleeping"}]}`} {
		s := NewState()
		require.Error(t, s.Restore([]byte(data)), "%q", data)
	}
}
