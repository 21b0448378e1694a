// Benchmarks of the operations every node runs for every command and every snapshot.

package game

import (
	"fmt"
	"testing"
)

func BenchmarkApplyGuess(b *testing.B) {
	s := NewState()
	s.Apply(Command{Kind: KindCreateRoom, ClientID: "c", Seq: 1, Room: "den", Word: "kobayashi san chi no maid dragon"})
	s.Apply(Command{Kind: KindJoin, ClientID: "c", Seq: 2, Room: "den", Player: "kanna"})
	cmd := Command{Kind: KindGuess, ClientID: "c", Room: "den", Player: "kanna", Letter: "z"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cmd.Seq = uint64(3 + i) // a new request each time: repeated letters after the first
		s.Apply(cmd)
	}
}

func BenchmarkDecodeCommand(b *testing.B) {
	data := Command{Kind: KindGuess, ClientID: "client-1", Seq: 42, Room: "den", Player: "kanna", Letter: "k"}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeCommand(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot measures a snapshot of a busy cluster: 200 rooms of 8 players and a full
// session table.
func BenchmarkSnapshot(b *testing.B) {
	s := NewState()
	seq := uint64(0)
	for r := 0; r < 200; r++ {
		room := fmt.Sprintf("room %d", r)
		seq++
		s.Apply(Command{Kind: KindCreateRoom, ClientID: "admin", Seq: seq, Room: room, Word: "kanna kamui"})
		for p := 0; p < 8; p++ {
			seq++
			s.Apply(Command{Kind: KindJoin, ClientID: "admin", Seq: seq, Room: room, Player: fmt.Sprintf("player %d", p)})
		}
	}
	for c := 0; c < MaxSessions; c++ {
		s.Apply(Command{Kind: KindGuess, ClientID: fmt.Sprintf("client-%d", c), Seq: 1, Room: fmt.Sprintf("room %d", c%200), Player: "player 1", Letter: "a"})
	}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		size = len(s.Snapshot())
	}
	b.ReportMetric(float64(size), "bytes")
}
