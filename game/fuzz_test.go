// FuzzApply: random command sequences, valid and not, from a few clients that retry and reorder
// their requests. Apply must never panic, every snapshot must restore to the same bytes, and a
// replica restored from a snapshot midway must then give the same results as the original, which
// is the property Raft relies on when it installs a snapshot on a lagging follower (paper §7).

package game

import (
	"fmt"
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
