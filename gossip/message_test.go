// The sizes a core counts to fill a message up to its budget are the sizes of the real encoding.

package gossip

import (
	"encoding/json"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEncodedSizesMatchTheEncoding compares the counted sizes with encoding/json on random
// messages and updates, strings with characters it escapes included.
func TestEncodedSizesMatchTheEncoding(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	words := []string{"", "n1", "127.0.0.1:7946", "a\"b", `back\slash`, "<tag>&", "tab\t", "é", "\u2028", "\xff", "kanna"}
	word := func() string { return words[rng.Intn(len(words))] }
	num := func() uint64 { return []uint64{0, 1, 9, 10, 99, 12345, 1<<64 - 1}[rng.Intn(7)] }
	for i := 0; i < 2000; i++ {
		m := Member{ID: word(), Addr: word(), Incarnation: num(), State: State(rng.Intn(5))}
		m.Meta.RaftAddr = word()
		for k := rng.Intn(3); k > 0; k-- {
			m.Meta.Tags = append(m.Meta.Tags, Tag{Key: word(), Value: word()})
		}
		u := Update{Member: m, From: word()}
		b, err := json.Marshal(u)
		require.NoError(t, err)
		require.Equal(t, len(b)+1, encodedSize(u), "update %s", b)

		msg := Message{Type: MessageType(1 + rng.Intn(7)), From: word(), FromAddr: word(), To: word(), ToID: word(),
			Seq: num(), Target: word(), TargetAddr: word(), Nack: rng.Intn(2) == 0, Updates: []Update{u}}
		if rng.Intn(4) == 0 {
			msg.State = []Member{m}
		}
		bare := msg
		bare.Updates = nil
		b, err = json.Marshal(bare)
		require.NoError(t, err)
		require.Equal(t, len(b)+len(`,"updates":[]`), overhead(msg), "message %s", b)
	}
}
