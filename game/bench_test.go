// Benchmarks of the operations every node runs for every command and every snapshot.

package game

import (
	"fmt"
	"math/rand/v2"
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

// simLog is a log of encoded commands like a simulator run's: five clients in three rooms
// creating, joining, guessing random letters and starting new rounds, many of them rejected (the
// room exists already, the player has joined already, the round is over).
func simLog() [][]byte {
	rng := rand.New(rand.NewPCG(11, 5))
	words := []string{"kanna kamui", "saikawa riko", "tohru", "kobayashi"}
	seqs := make([]uint64, 5)
	var log [][]byte
	for i := 0; i < 1000; i++ {
		c := rng.IntN(5)
		seqs[c]++
		cmd := Command{ClientID: fmt.Sprintf("client-%d", c), Seq: seqs[c], Room: fmt.Sprintf("room-%d", rng.IntN(3)),
			Time: 1_700_000_000_000 + int64(i)*80}
		switch k := rng.IntN(10); {
		case k == 0:
			cmd.Kind, cmd.Word = KindCreateRoom, words[rng.IntN(len(words))]
		case k == 1:
			cmd.Kind, cmd.Player = KindJoin, fmt.Sprintf("player-%d", c)
		case k == 2:
			cmd.Kind, cmd.Word = KindNewRound, words[rng.IntN(len(words))]
		default:
			cmd.Kind, cmd.Player, cmd.Letter = KindGuess, fmt.Sprintf("player-%d", c), string(rune('a'+rng.IntN(26)))
		}
		log = append(log, cmd.Encode())
	}
	return log
}

// BenchmarkDecodeAndApply measures what a node does for each committed entry: decode it and apply
// it. One op is one entry.
func BenchmarkDecodeAndApply(b *testing.B) {
	log := simLog()
	b.ReportAllocs()
	s, next := NewState(), 0
	for b.Loop() {
		if next == len(log) {
			s, next = NewState(), 0
		}
		cmd, err := DecodeCommand(log[next])
		if err != nil {
			b.Fatal(err)
		}
		next++
		s.ApplyAt(uint64(next), cmd)
	}
}

// busyState is a busy cluster: 200 rooms of 8 players and a full session table.
func busyState() *State {
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
	return s
}

// simState is the state of a simulator run (tests/sim, seed 11): a few rooms, a few clients, each
// session holding its last answer with the room it left. Every simulated restart restores one.
func simState() *State {
	s := NewState()
	words := []string{"kanna kamui", "saikawa riko", "tohru"}
	for c := 0; c < 5; c++ {
		client, player, room := fmt.Sprintf("client-%d", c), fmt.Sprintf("player-%d", c), fmt.Sprintf("room-%d", c%3)
		seq := uint64(0)
		next := func(cmd Command) {
			seq++
			cmd.ClientID, cmd.Seq, cmd.Time = client, seq, int64(1_700_000_000_000+c*1000+int(seq))
			s.Apply(cmd)
		}
		next(Command{Kind: KindCreateRoom, Room: room, Word: words[c%3]})
		next(Command{Kind: KindJoin, Room: room, Player: player})
		for _, l := range "aeiou"[:1+c] {
			next(Command{Kind: KindGuess, Room: room, Player: player, Letter: string(l)})
		}
	}
	return s
}

var snapshotStates = []struct {
	name  string
	state func() *State
}{{"sim", simState}, {"busy", busyState}}

// BenchmarkSnapshot measures a snapshot of a simulator run's state and of a busy cluster's.
func BenchmarkSnapshot(b *testing.B) {
	for _, st := range snapshotStates {
		b.Run(st.name, func(b *testing.B) {
			s := st.state()
			b.ReportAllocs()
			var size int
			for b.Loop() {
				size = len(s.Snapshot())
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

// BenchmarkRestore measures restoring those snapshots, as a node does at every restart.
func BenchmarkRestore(b *testing.B) {
	for _, st := range snapshotStates {
		b.Run(st.name, func(b *testing.B) {
			snap := st.state().Snapshot()
			b.ReportAllocs()
			for b.Loop() {
				if err := NewState().Restore(snap); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(snap)), "bytes")
		})
	}
}
