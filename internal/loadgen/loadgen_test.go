// Tests of the bench load against a stand-in Game server that plays real Hangman rules on one
// word, applies each (client, seq) once and sometimes loses its answer, as a leader change would:
// the players must resend the same request (Raft paper §8) and count each op once.
package loadgen

import (
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// standInGame keeps rooms whose word is always "kanna kamui", and each client's last seq and
// answer.
type standInGame struct {
	kannapb.UnimplementedGameServer
	mu       sync.Mutex
	rooms    map[string]*kannapb.RoomState
	lastSeq  map[string]uint64
	lastAns  map[string]*kannapb.RoomState
	applied  map[string]int // commands applied per kind, duplicates excluded
	lose     uint64         // answer Unavailable, after applying, every lose-th seq of a client
	badSeqs  []string
	answered map[string]bool
	// roundsDone, when set, is closed once roundsWanted new rounds have been applied.
	roundsDone   chan struct{}
	roundsWanted int
}

const standInWord = "kanna kamui"

func newStandInGame(lose uint64) *standInGame {
	return &standInGame{rooms: map[string]*kannapb.RoomState{}, lastSeq: map[string]uint64{},
		lastAns: map[string]*kannapb.RoomState{}, applied: map[string]int{}, lose: lose, answered: map[string]bool{}}
}

// do applies a command once per (client, seq) and answers, or loses the first answer.
func (g *standInGame) do(client string, seq uint64, kind string, apply func() (*kannapb.RoomState, error)) (*kannapb.RoomState, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	last := g.lastSeq[client]
	switch {
	case seq == last:
		g.answered[client] = true
		return g.lastAns[client], nil
	case seq != last+1:
		g.badSeqs = append(g.badSeqs, client)
		return nil, status.Errorf(codes.FailedPrecondition, "seq %d after %d", seq, last)
	}
	st, err := apply()
	if err != nil {
		return nil, err
	}
	g.applied[kind]++
	if kind == "new_round" && g.roundsDone != nil && g.applied[kind] == g.roundsWanted {
		close(g.roundsDone)
	}
	g.lastSeq[client], g.lastAns[client] = seq, st
	if g.lose > 0 && seq%g.lose == 0 {
		return nil, status.Error(codes.Unavailable, "leader changed before the answer; retry")
	}
	return st, nil
}

func mask(word string, guessed []string) string {
	out := []byte(word)
	for i, c := range out {
		if c != ' ' && !slices.Contains(guessed, string(c)) {
			out[i] = '_'
		}
	}
	return string(out)
}

func (g *standInGame) CreateRoom(_ context.Context, r *kannapb.CreateRoomRequest) (*kannapb.RoomState, error) {
	return g.do(r.ClientId, r.Seq, "create", func() (*kannapb.RoomState, error) {
		st := &kannapb.RoomState{Room: r.Room, MaskedWord: mask(standInWord, nil), LivesLeft: 6, MaxLives: 6,
			Status: kannapb.RoundStatus_ROUND_STATUS_PLAYING, Round: 1}
		g.rooms[r.Room] = st
		return st, nil
	})
}

func (g *standInGame) JoinRoom(_ context.Context, r *kannapb.JoinRoomRequest) (*kannapb.RoomState, error) {
	return g.do(r.ClientId, r.Seq, "join", func() (*kannapb.RoomState, error) {
		if len(r.Player) == 0 || len(r.Player) > 32 {
			return nil, status.Error(codes.InvalidArgument, "bad player name")
		}
		st := g.rooms[r.Room]
		st.Players = append(st.Players, &kannapb.Player{Name: r.Player})
		return st, nil
	})
}

func (g *standInGame) Guess(_ context.Context, r *kannapb.GuessRequest) (*kannapb.RoomState, error) {
	return g.do(r.ClientId, r.Seq, "guess", func() (*kannapb.RoomState, error) {
		old := g.rooms[r.Room]
		if old.Status != kannapb.RoundStatus_ROUND_STATUS_PLAYING {
			return nil, status.Error(codes.FailedPrecondition, "round over")
		}
		st := &kannapb.RoomState{Room: r.Room, LivesLeft: old.LivesLeft, MaxLives: 6, Round: old.Round, Players: old.Players,
			GuessedLetters: append(slices.Clone(old.GuessedLetters), r.Letter), Status: old.Status}
		slices.Sort(st.GuessedLetters)
		st.MaskedWord = mask(standInWord, st.GuessedLetters)
		if !strings.Contains(standInWord, r.Letter) {
			st.LivesLeft--
		}
		switch {
		case !strings.Contains(st.MaskedWord, "_"):
			st.Status, st.Word = kannapb.RoundStatus_ROUND_STATUS_WON, standInWord
		case st.LivesLeft == 0:
			st.Status, st.Word = kannapb.RoundStatus_ROUND_STATUS_LOST, standInWord
		}
		g.rooms[r.Room] = st
		return st, nil
	})
}

func (g *standInGame) NewRound(_ context.Context, r *kannapb.NewRoundRequest) (*kannapb.RoomState, error) {
	return g.do(r.ClientId, r.Seq, "new_round", func() (*kannapb.RoomState, error) {
		old := g.rooms[r.Room]
		if old.Status == kannapb.RoundStatus_ROUND_STATUS_PLAYING {
			return nil, status.Error(codes.FailedPrecondition, "round still played")
		}
		st := &kannapb.RoomState{Room: r.Room, MaskedWord: mask(standInWord, nil), LivesLeft: 6, MaxLives: 6,
			Status: kannapb.RoundStatus_ROUND_STATUS_PLAYING, Round: old.Round + 1, Players: old.Players}
		g.rooms[r.Room] = st
		return st, nil
	})
}

func serveGame(t *testing.T, g kannapb.GameServer) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	kannapb.RegisterGameServer(srv, g)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := demo.Dial(ln.Addr().String(), "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// requireOneOpPerAppliedCommand checks a run of four players against what the stand-in applied:
// each player created and joined its room once, no seq was skipped or reused, rounds ended, and
// the run counted one op per guess or new round applied, however many answers were lost.
func requireOneOpPerAppliedCommand(t *testing.T, g *standInGame, res Result) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Empty(t, g.badSeqs, "a player skipped or reused a seq")
	require.Equal(t, 4, g.applied["create"])
	require.Equal(t, 4, g.applied["join"])
	require.Positive(t, g.applied["new_round"], "rounds of one short word end within the run")
	require.Equal(t, g.applied["guess"]+g.applied["new_round"], res.Ops, "one op per applied guess or new round")
}

func TestBenchCountsEachAppliedCommandOnceAcrossLostAnswers(t *testing.T) {
	g := newStandInGame(5)
	// Run until rounds have ended, however slow the machine: a deadline far off, and Stop once
	// eight new rounds are applied.
	g.roundsDone, g.roundsWanted = make(chan struct{}), 8
	conn := serveGame(t, g)
	res, err := Run(context.Background(), []Game{Remote(kannapb.NewGameClient(conn))},
		Options{Clients: 4, Duration: time.Minute, Payload: 20, Stop: g.roundsDone}, io.Discard)
	require.NoError(t, err)
	requireOneOpPerAppliedCommand(t, g, res)

	g.mu.Lock()
	defer g.mu.Unlock()
	require.Positive(t, res.Retries)
	require.Len(t, g.answered, 4, "every player resent a request whose answer was lost")
	require.Equal(t, 4, res.Clients)
	require.Equal(t, 20, res.Payload)
	require.Positive(t, res.OpsPerSec)
	require.LessOrEqual(t, res.P50ms, res.P99ms)
	for _, room := range g.rooms {
		require.Len(t, room.Players, 1)
		require.Len(t, room.Players[0].Name, 20, "--payload sets the player name's length")
	}
}

func TestBenchStopsOnAnErrorThatARetryCannotFix(t *testing.T) {
	conn := serveGame(t, kannapb.UnimplementedGameServer{})
	_, err := Run(context.Background(), []Game{Remote(kannapb.NewGameClient(conn))},
		Options{Clients: 2, Duration: 100 * time.Millisecond, Payload: 16}, io.Discard)
	require.ErrorContains(t, err, "create room")
	require.Equal(t, codes.Unimplemented, status.Code(err))
}

func TestLatencyPercentilesAreNearestRank(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	res := Summarize(lats, 2*time.Second)
	require.Equal(t, 100, res.Ops)
	require.InDelta(t, 50.0, res.OpsPerSec, 1e-9)
	require.InDelta(t, 50.0, res.P50ms, 1e-9) // index int(0.5*99) = 49: the 50th value
	require.InDelta(t, 99.0, res.P99ms, 1e-9) // index int(0.99*99) = 98
	require.Equal(t, time.Duration(100)*time.Millisecond, lats[0], "the caller's slice is left as it was")

	require.Zero(t, Summarize(nil, time.Second).OpsPerSec)
}

func TestPlayersCallAGameServerInProcessAsTheyWouldOverGRPC(t *testing.T) {
	g := newStandInGame(0)
	g.roundsDone, g.roundsWanted = make(chan struct{}), 3
	res, err := Run(context.Background(), []Game{g}, Options{Clients: 3, Duration: time.Minute, Payload: 8, Stop: g.roundsDone}, io.Discard)
	require.NoError(t, err)
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Equal(t, 3, g.applied["create"])
	require.Equal(t, g.applied["guess"]+g.applied["new_round"], res.Ops)
	require.Positive(t, res.Ops)
}

func TestRunRefusesOptionsThatCannotLoadAnything(t *testing.T) {
	_, err := Run(context.Background(), nil, Options{Clients: 1, Duration: time.Second, Payload: 16}, io.Discard)
	require.ErrorContains(t, err, "need a game")
	_, err = Run(context.Background(), []Game{newStandInGame(0)}, Options{Clients: 1, Duration: time.Second, Payload: 33}, io.Discard)
	require.ErrorContains(t, err, "payload 1-32")
}

func TestPlayerGuessesUnguessedLettersByFrequencyThenAsksForANewRound(t *testing.T) {
	playing := &kannapb.RoomState{Status: kannapb.RoundStatus_ROUND_STATUS_PLAYING, GuessedLetters: []string{"a", "e"}}
	letter, ok := NextLetter(playing)
	require.True(t, ok)
	require.Equal(t, "t", letter)
	_, ok = NextLetter(&kannapb.RoomState{Status: kannapb.RoundStatus_ROUND_STATUS_WON})
	require.False(t, ok)
}
