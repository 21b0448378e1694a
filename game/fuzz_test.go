// FuzzApply: random command sequences, valid and not, from a few clients that retry and reorder
// their requests. Apply must never panic, every snapshot must restore to the same bytes, and a
// replica restored from a snapshot midway must then give the same results as the original, which
// is the property Raft relies on when it installs a snapshot on a lagging follower (paper §7). The
// midway state written as earlier builds wrote it, in JSON, must restore to the same state too.
//
// FuzzRestore: arbitrary bytes. Restore must never panic, must leave the state untouched when it
// refuses them, and whatever it accepts must snapshot back to bytes it accepts again; version 2
// bytes it accepts are exactly the snapshot of the state they give.

package game

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	fuzzRooms   = []string{"den", "cave", "", "a room name far longer than thirty-two characters", "d\xffn"}
	fuzzPlayers = []string{"kanna", "riko", "tohru", " ", "\xc3"}
	fuzzLetters = []string{"a", "e", "i", "k", "n", "o", "r", "t", "u", "z", "A", "", "ab", "1"}
	fuzzWords   = []string{"kanna kamui", "tohru", "saikawa riko", "elma", "", "Bad"}
	fuzzKinds   = []Kind{KindCreateRoom, KindJoin, KindGuess, KindNewRound, "bogus", "\xfe"}
)

// fuzzCommands turns each 4 bytes of data into one command. The client's seq moves relative to its
// last: mostly forward, sometimes a retry, sometimes older.
func fuzzCommands(data []byte) []Command {
	seqs := map[string]uint64{}
	var cmds []Command
	for i := 0; i+4 <= len(data); i += 4 {
		b0, b1, b2, b3 := data[i], data[i+1], data[i+2], data[i+3]
		client := fmt.Sprintf("c%d", b0>>5)
		seq := seqs[client]
		switch b3 % 8 {
		case 0: // retry the last request
		case 1: // an old request, or seq 0 for a new client
			if seq > 0 {
				seq--
			}
		default:
			seq += uint64(b3 % 3)
		}
		if seq > seqs[client] {
			seqs[client] = seq
		}
		cmds = append(cmds, Command{
			Kind:     fuzzKinds[int(b0)%len(fuzzKinds)],
			ClientID: client,
			Seq:      seq,
			Room:     fuzzRooms[int(b1)%len(fuzzRooms)],
			Player:   fuzzPlayers[int(b1>>2)%len(fuzzPlayers)],
			Letter:   fuzzLetters[int(b2)%len(fuzzLetters)],
			Word:     fuzzWords[int(b2>>4)%len(fuzzWords)],
		})
	}
	return cmds
}

func FuzzApply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("kanna kamui eats persimmons with riko and tohru every day"))
	f.Add([]byte{0, 0, 0, 2, 1, 0, 0, 2, 2, 0, 0, 2, 2, 0, 5, 2, 2, 0, 5, 0, 2, 0, 9, 2, 3, 0, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		cmds := fuzzCommands(data)
		s := NewState()
		var mid *State
		var midResults []Result
		for i, cmd := range cmds {
			if i == len(cmds)/2 {
				snap := s.Snapshot()
				mid = NewState()
				require.NoError(t, mid.Restore(snap), "a snapshot Apply produced must restore")
				require.Equal(t, string(snap), string(mid.Snapshot()))
				requireVersion1Restores(t, snap)
			}
			res := s.Apply(cmd)
			if res.Err != nil {
				require.Contains(t, []Code{InvalidArgument, NotFound, FailedPrecondition, AlreadyExists}, res.Err.Code)
			}
			if mid != nil {
				midResults = append(midResults, res)
			}
		}
		if mid == nil {
			return
		}
		for i, cmd := range cmds[len(cmds)/2:] {
			require.Equal(t, midResults[i], mid.Apply(cmd), "command %d after the restore: %+v", i, cmd)
		}
		final := s.Snapshot()
		require.Equal(t, string(final), string(mid.Snapshot()))
		again := NewState()
		require.NoError(t, again.Restore(final))
		require.Equal(t, string(final), string(again.Snapshot()))
	})
}

// requireVersion1Restores writes the state of snap as the JSON of earlier builds and requires it
// to restore to snap's state.
func requireVersion1Restores(t *testing.T, snap []byte) {
	t.Helper()
	d, err := decodeSnapshot(snap)
	require.NoError(t, err)
	d.Version = snapshotVersionJSON
	v1, err := json.Marshal(d)
	require.NoError(t, err)
	s := NewState()
	require.NoError(t, s.Restore(v1))
	require.Equal(t, string(snap), string(s.Snapshot()))
}

func FuzzRestore(f *testing.F) {
	empty := NewState().Snapshot()
	f.Add(empty)
	f.Add(simState().Snapshot())
	if v1, err := os.ReadFile("testdata/snapshot-v1.json"); err == nil {
		f.Add(v1)
	}
	f.Add([]byte(`{"version":1,"applies":0,"rooms":[],"sessions":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := simState()
		before := s.Snapshot()
		if err := s.Restore(data); err != nil {
			require.Equal(t, string(before), string(s.Snapshot()), "a refused snapshot must leave the state as it was")
			return
		}
		snap := s.Snapshot()
		if data[0] == snapshotVersion {
			require.Equal(t, string(data), string(snap), "a state has one encoding")
		}
		again := NewState()
		require.NoError(t, again.Restore(snap))
		require.Equal(t, string(snap), string(again.Snapshot()))
	})
}
