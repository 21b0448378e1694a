// Tests of snapshots (snapshot.go): canonical bytes, exact round trips, and refusal of snapshots
// that Apply could never have produced (Raft paper §7).

package game

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
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
// into something Apply never produces, and offers it in both encodings.
func TestRestoreRefusesACorruptSnapshotAndKeepsTheState(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *snapshotData)
		// binaryOnly: JSON cannot carry the edit (it replaces invalid UTF-8 as it decodes).
		binaryOnly bool
	}{
		{"other version", func(d *snapshotData) { d.Version = 3 }, false},
		{"bad room name", func(d *snapshotData) { d.Rooms[0].Name = "" }, false},
		{"bad word", func(d *snapshotData) { d.Rooms[0].Word = "Elma" }, false},
		{"round zero", func(d *snapshotData) { d.Rooms[0].Round = 0 }, false},
		{"guessed digit", func(d *snapshotData) { d.Rooms[0].Guessed += "1" }, false},
		{"guessed twice", func(d *snapshotData) { d.Rooms[0].Guessed += d.Rooms[0].Guessed[:1] }, false},
		{"lives disagree with misses", func(d *snapshotData) { d.Rooms[0].Lives-- }, false},
		{"status disagrees", func(d *snapshotData) { d.Rooms[0].Status = Won }, false},
		{"duplicate room", func(d *snapshotData) { d.Rooms = append(d.Rooms, d.Rooms[0]) }, false},
		{"duplicate player", func(d *snapshotData) {
			d.Rooms[0].Players = append(d.Rooms[0].Players, d.Rooms[0].Players[0])
		}, false},
		{"bad player name", func(d *snapshotData) { d.Rooms[0].Players[0].Name = " x" }, false},
		{"negative score", func(d *snapshotData) { d.Rooms[0].Players[0].Score = -1 }, false},
		{"short player token", func(d *snapshotData) { d.Rooms[0].Players[0].Token = "short" }, false},
		{"session active after the clock", func(d *snapshotData) { d.Sessions[0].Active = d.Now + 1 }, false},
		{"too many players", func(d *snapshotData) {
			for i := 0; i <= MaxPlayersPerRoom; i++ {
				d.Rooms[0].Players = append(d.Rooms[0].Players, playerData{Name: fmt.Sprintf("p%d", i)})
			}
		}, false},
		{"too many sessions", func(d *snapshotData) {
			for i := 0; i <= MaxSessions; i++ {
				d.Sessions = append(d.Sessions, sessionData{ClientID: fmt.Sprintf("x%d", i), Seq: 1})
			}
		}, false},
		{"bad client id", func(d *snapshotData) { d.Sessions[0].ClientID = "" }, false},
		{"duplicate session", func(d *snapshotData) { d.Sessions = append(d.Sessions, d.Sessions[0]) }, false},
		{"session seq zero", func(d *snapshotData) { d.Sessions[0].Seq = 0 }, false},
		{"session applied in the future", func(d *snapshotData) { d.Sessions[0].LastApply = d.Applies + 1 }, false},
		{"two sessions applied at once", func(d *snapshotData) { d.Sessions[1].LastApply = d.Sessions[0].LastApply }, false},
		{"answer with invalid UTF-8", func(d *snapshotData) { d.Sessions[0].Result.Room = "d\xffn" }, true},
		{"answer's room with invalid UTF-8", func(d *snapshotData) {
			d.Sessions[0].Result.State = &RoomView{Name: "den", Players: []PlayerView{{Name: "\xc3"}}}
		}, true},
	}
	good, err := decodeSnapshot(played(t).Snapshot())
	require.NoError(t, err)
	encodings := []struct {
		name   string
		encode func(d snapshotData) []byte
	}{
		{"binary", func(d snapshotData) []byte {
			// Sorted as Snapshot sorts, so that the check under test, not the order, refuses it.
			sort.SliceStable(d.Rooms, func(i, j int) bool { return d.Rooms[i].Name < d.Rooms[j].Name })
			sort.SliceStable(d.Sessions, func(i, j int) bool { return d.Sessions[i].ClientID < d.Sessions[j].ClientID })
			return appendSnapshot(nil, &d)
		}},
		{"json", func(d snapshotData) []byte {
			if d.Version == snapshotVersion {
				d.Version = snapshotVersionJSON
			}
			b, err := json.Marshal(d)
			require.NoError(t, err)
			return b
		}},
	}
	for _, enc := range encodings {
		t.Run(enc.name, func(t *testing.T) {
			// The unedited data restores in this encoding: each refusal below is the edit's.
			require.NoError(t, NewState().Restore(enc.encode(copySnapshotData(good))))
			for _, tt := range tests {
				if tt.binaryOnly && enc.name != "binary" {
					continue
				}
				t.Run(tt.name, func(t *testing.T) {
					d := copySnapshotData(good)
					tt.edit(&d)
					s := played(t)
					before := s.Snapshot()
					err := s.Restore(enc.encode(d))
					require.Error(t, err)
					require.Equal(t, 1, strings.Count(err.Error(), "game: "), "the reason is said once, without a second prefix: %v", err)
					require.Equal(t, string(before), string(s.Snapshot()), "a failed restore must not change the state")
				})
			}
		})
	}
}

// copySnapshotData copies d deeply enough for an edit of any field not to reach d.
func copySnapshotData(d snapshotData) snapshotData {
	d.Rooms = append([]roomData(nil), d.Rooms...)
	for i := range d.Rooms {
		d.Rooms[i].Players = append([]playerData(nil), d.Rooms[i].Players...)
	}
	d.Sessions = append([]sessionData(nil), d.Sessions...)
	return d
}

func TestRestoreRefusesBytesThatAreNotASnapshot(t *testing.T) {
	for _, data := range []string{"", "{", "null x", `{"version":1,"surprise":true}`, `{"version":1,"rooms":[{"status":"sleeping"}]}`,
		`{"version":2}`, "\x00", "\x01", "\x03", "\xff", "\x02"} {
		s := NewState()
		require.Error(t, s.Restore([]byte(data)), "%q", data)
	}
}

// richState returns a state in which every field a snapshot holds is set somewhere: the log's
// clock and last sweep, rooms won, lost and being played with versions and activity, players with
// and without tokens and with scores, live sessions whose answers carry a room or an error, and an
// expired session.
func richState(t *testing.T) *State {
	t.Helper()
	s := NewState()
	const t0 = int64(1_700_000_000_000)
	token := "0123456789abcdef-kanna"
	seqs := map[string]uint64{}
	at := func(ms int64, client string, c Command) Result {
		seqs[client]++
		c.ClientID, c.Seq, c.Time = client, seqs[client], t0+ms
		return s.ApplyAt(s.Applies()+100, c)
	}
	ok := func(ms int64, client string, c Command) {
		require.NoError(t, at(ms, client, c).Error(), "%+v", c)
	}
	// A session that expires: its client goes quiet for longer than SessionTimeout.
	ok(0, "quiet", create("lair", "elma"))
	ok(1000, "web-1", create("den", "kanna kamui"))
	withToken := join("den", "kanna")
	withToken.Token = token
	ok(2000, "web-1", withToken)
	ok(3000, "web-2", join("den", "riko"))
	for i, l := range "knaz" {
		g := guess("den", "kanna", string(l))
		g.Token = token
		ok(4000+int64(i), "web-1", g)
	}
	ok(5000, "web-3", create("won", "tohru"))
	ok(5001, "web-3", join("won", "tohru"))
	for i, l := range "tohru" {
		ok(5002+int64(i), "web-3", guess("won", "tohru", string(l)))
	}
	ok(6000, "web-4", create("lost", "elma"))
	saikawa := join("lost", "saikawa")
	saikawa.Token = token
	ok(6001, "web-4", saikawa)
	for i, l := range "bcdfgh" {
		g := guess("lost", "saikawa", string(l))
		g.Token = token
		ok(6002+int64(i), "web-4", g)
	}
	late := SessionTimeout.Milliseconds() + 61_000
	ok(late, "web-2", guess("den", "riko", "m"))
	ok(late, "web-4", saikawa) // back with its token: Repeated, and the lost round shows its word
	require.Error(t, at(late+1, "web-5", guess("den", "nobody", "a")).Error(), "a rejected answer is remembered too")
	return s
}
