// Tests of the Hangman rules (rules.go) and the view players see (view.go), one test per rule.

package game

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreateRoomStartsRoundOneWithSixLivesAndHiddenWord(t *testing.T) {
	h := newHarness(t)
	res := h.ok(create("den", "kanna kamui"))
	v := h.view("den")
	require.Equal(t, RoomView{Name: "den", Round: 1, Status: Playing, Masked: "_____ _____", Lives: Lives,
		Players: []PlayerView{}, Version: 1}, v, "the room's version is the index of the command that made it")
	require.Equal(t, &v, res.State, "the answer carries the room as the command left it")
	res.State = nil
	require.Equal(t, Result{Kind: KindCreateRoom, Room: "den", Round: 1, Status: Playing}, res)
}

func TestJoinAddsPlayerWithZeroScoreInJoinOrder(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	h.ok(join("den", "kanna"))
	res := h.ok(join("den", "riko"))
	require.Equal(t, uint64(3), res.State.Version)
	res.State = nil
	require.Equal(t, Result{Kind: KindJoin, Room: "den", Player: "riko", Round: 1, Status: Playing}, res)
	require.Equal(t, []PlayerView{{Name: "kanna"}, {Name: "riko"}}, h.view("den").Players)
}

func TestCorrectGuessEarnsOnePointPerRevealedOccurrence(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "kanna kamui"))
	h.ok(join("den", "riko"))

	res := h.ok(guess("den", "riko", "a"))
	require.Equal(t, "a", res.State.Guessed)
	res.State = nil
	require.Equal(t, Result{Kind: KindGuess, Room: "den", Player: "riko", Round: 1, Letter: "a",
		Hit: true, Revealed: 3, Points: 3, Status: Playing}, res)
	v := h.view("den")
	require.Equal(t, "_a__a _a___", v.Masked)
	require.Equal(t, Lives, v.Lives)
	require.Equal(t, 3, v.Players[0].Score)
}

func TestWrongGuessCostsALifeAndNoPoints(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	h.ok(join("den", "kanna"))

	res := h.ok(guess("den", "kanna", "z"))
	require.False(t, res.Hit)
	require.Zero(t, res.Points)
	v := h.view("den")
	require.Equal(t, Lives-1, v.Lives)
	require.Equal(t, "z", v.Misses)
	require.Zero(t, v.Players[0].Score)
}

func TestRepeatedLetterCostsNothingAndEarnsNothing(t *testing.T) {
	for _, letter := range []string{"o", "z"} { // once a hit, once a miss
		t.Run(letter, func(t *testing.T) {
			h := newHarness(t)
			h.ok(create("den", "tohru"))
			h.ok(join("den", "kanna"))
			h.ok(guess("den", "kanna", letter))
			before := h.view("den")

			res := h.ok(guess("den", "kanna", letter))
			require.True(t, res.Repeated)
			require.Zero(t, res.Points)
			require.Zero(t, res.Revealed)
			require.Equal(t, before, h.view("den"))
		})
	}
}

func TestGuessIsCaseInsensitive(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	h.ok(join("den", "kanna"))

	res := h.ok(guess("den", "kanna", "T"))
	require.Equal(t, "t", res.Letter)
	require.True(t, res.Hit)
	require.True(t, h.ok(guess("den", "kanna", "t")).Repeated, "T and t are the same letter")
	require.Equal(t, "t____", h.view("den").Masked)
}

func TestGuessRevealingTheLastLetterWinsAndEarnsTheBonus(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "elma"))
	h.ok(join("den", "kanna"))
	h.ok(join("den", "riko"))
	h.guessAll("den", "kanna", "elm")

	res := h.ok(guess("den", "riko", "a"))
	require.Equal(t, Won, res.Status)
	require.Equal(t, 1+WinBonus, res.Points)
	v := h.view("den")
	require.Equal(t, Won, v.Status)
	require.Equal(t, "elma", v.Word, "the word is shown once the round is over")
	require.Equal(t, []PlayerView{{Name: "kanna", Score: 3}, {Name: "riko", Score: 1 + WinBonus}}, v.Players)
}

func TestSixthMissLosesTheRoundAndRevealsTheWord(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	h.ok(join("den", "kanna"))
	h.guessAll("den", "kanna", "abcde")
	require.Equal(t, Playing, h.view("den").Status)
	require.Equal(t, 1, h.view("den").Lives)

	res := h.ok(guess("den", "kanna", "f"))
	require.Equal(t, Lost, res.Status)
	v := h.view("den")
	require.Equal(t, Lost, v.Status)
	require.Zero(t, v.Lives)
	require.Equal(t, "tohru", v.Word)
	require.Equal(t, "abcdef", v.Misses)
}

func TestMaskedViewHidesTheWordWhilePlayingButShowsSpaces(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "saikawa riko"))
	h.ok(join("den", "kanna"))
	h.guessAll("den", "kanna", "kx")

	v := h.view("den")
	require.Empty(t, v.Word)
	require.Equal(t, "___k___ __k_", v.Masked)
	require.Equal(t, "kx", v.Guessed)
	require.Equal(t, "x", v.Misses)
	require.NotContains(t, v.Masked, "saikawa")
}

func TestNewRoundAfterTheRoundEndsResetsTheRoundAndKeepsScores(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	h.ok(join("den", "kanna"))
	h.guessAll("den", "kanna", "tohru")
	require.Equal(t, 5+WinBonus, h.view("den").Players[0].Score)

	res := h.ok(newRound("den", "lucoa"))
	res.State = nil
	require.Equal(t, Result{Kind: KindNewRound, Room: "den", Round: 2, Status: Playing}, res)
	v := h.view("den")
	require.Equal(t, RoomView{Name: "den", Round: 2, Status: Playing, Masked: "_____", Lives: Lives,
		Players: []PlayerView{{Name: "kanna", Score: 5 + WinBonus}}, Version: 8}, v)
}

// TestRejectedCommandsLeaveStateUnchanged checks each error the rules can return: its code, and
// that the rooms are exactly as before.
func TestRejectedCommandsLeaveStateUnchanged(t *testing.T) {
	long := strings.Repeat("k", MaxNameLen+1)
	tests := []struct {
		name string
		cmd  Command
		code Code
	}{
		{"create existing room", create("den", "elma"), AlreadyExists},
		{"create with empty name", create("", "elma"), InvalidArgument},
		{"create with over-long name", create(long, "elma"), InvalidArgument},
		{"create with unprintable name", create("de\x07n", "elma"), InvalidArgument},
		{"create with name starting with a space", create(" den", "elma"), InvalidArgument},
		{"create with invalid UTF-8 name", create("de\xffn", "elma"), InvalidArgument},
		{"create with no word", create("cave", ""), InvalidArgument},
		{"create with uppercase word", create("cave", "Tohru"), InvalidArgument},
		{"join unknown room", join("cave", "riko"), NotFound},
		{"join twice", join("den", "kanna"), AlreadyExists},
		{"join with empty player name", join("den", ""), InvalidArgument},
		{"join with over-long player name", join("den", long), InvalidArgument},
		{"guess in unknown room", guess("cave", "kanna", "a"), NotFound},
		{"guess by a player who has not joined", guess("den", "riko", "a"), NotFound},
		{"guess two letters", guess("den", "kanna", "ab"), InvalidArgument},
		{"guess no letter", guess("den", "kanna", ""), InvalidArgument},
		{"guess a digit", guess("den", "kanna", "7"), InvalidArgument},
		{"guess a non-ASCII letter", guess("den", "kanna", "é"), InvalidArgument},
		{"new round while playing", newRound("den", "elma"), FailedPrecondition},
		{"new round in unknown room", newRound("cave", "elma"), NotFound},
		{"new round without a word", newRound("den", ""), InvalidArgument},
		{"unknown kind", Command{Kind: "dance", Room: "den"}, InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(create("den", "tohru"))
			h.ok(join("den", "kanna"))
			h.ok(guess("den", "kanna", "o"))
			before := h.rooms()

			res := h.do(tt.cmd)
			require.Error(t, res.Error())
			require.Equal(t, tt.code, res.Err.Code, res.Err.Message)
			require.Equal(t, tt.code, CodeOf(res.Error()))
			require.Equal(t, before, h.rooms())
		})
	}
}

func TestGuessAfterTheRoundEndsIsRejected(t *testing.T) {
	for _, tt := range []struct {
		name    string
		letters string
		status  Status
	}{
		{"won", "elma", Won},
		{"lost", "bcdfgh", Lost},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(create("den", "elma"))
			h.ok(join("den", "kanna"))
			h.guessAll("den", "kanna", tt.letters)
			before := h.rooms()
			require.Equal(t, tt.status, before[0].Status)

			res := h.do(guess("den", "kanna", "z"))
			require.Equal(t, FailedPrecondition, CodeOf(res.Error()))
			require.Equal(t, before, h.rooms())
		})
	}
}

func TestJoinIsRefusedWhenTheRoomIsFull(t *testing.T) {
	h := newHarness(t)
	h.ok(create("den", "tohru"))
	for i := 0; i < MaxPlayersPerRoom; i++ {
		h.ok(join("den", strings.Repeat("p", i+1)))
	}
	res := h.do(join("den", "one too many"))
	require.Equal(t, FailedPrecondition, CodeOf(res.Error()))
	require.Len(t, h.view("den").Players, MaxPlayersPerRoom)
}

func TestCreateIsRefusedAtTheRoomLimit(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < MaxRooms; i++ {
		h.ok(create(fmt.Sprintf("room %d", i), "tohru"))
	}
	res := h.do(create("one too many", "tohru"))
	require.Equal(t, FailedPrecondition, CodeOf(res.Error()))
	require.Len(t, h.s.RoomNames(), MaxRooms)
}

func TestRoomOfUnknownNameIsNotFound(t *testing.T) {
	_, err := NewState().Room("nowhere")
	require.Equal(t, NotFound, CodeOf(err))
}

func TestRoomNamesAreSorted(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{"tohru", "kanna", "elma", "lucoa"} {
		h.ok(create(name, "dragon"))
	}
	require.Equal(t, []string{"elma", "kanna", "lucoa", "tohru"}, h.s.RoomNames())
}

// TestFrequentRejectionsReadAsFormatted: the rejections built without fmt (rules.go, quote) say
// exactly what their fmt formats say, for names that quoting must escape or keep.
func TestFrequentRejectionsReadAsFormatted(t *testing.T) {
	for _, names := range [][2]string{{"den", "riko"}, {`say "hi"`, `back\slash`}, {"小林さんちの", "カンナ"}, {"emoji 🐉 den", "~`'"}} {
		room, player := names[0], names[1]
		h := newHarness(t)
		message := func(c Command) string {
			t.Helper()
			res := h.do(c)
			require.Error(t, res.Error(), "%+v", c)
			return res.Err.Message
		}
		require.Equal(t, fmt.Sprintf("room %q does not exist; create it first", room), message(join(room, player)))
		_, err := h.s.Room(room)
		require.Equal(t, &Error{Code: NotFound, Message: fmt.Sprintf("room %q does not exist; create it first", room)}, err)
		h.ok(create(room, "elma"))
		require.Equal(t, fmt.Sprintf("room %q already exists; join it or pick another name", room), message(create(room, "tohru")))
		require.Equal(t, fmt.Sprintf("player %q is not in room %q; join first", player, room), message(guess(room, player, "e")))
		h.ok(join(room, player))
		require.Equal(t, fmt.Sprintf("player %q is already in room %q; pick another name", player, room), message(join(room, player)))
		require.Equal(t, fmt.Sprintf("round %d of room %q is still being played; finish it first", 1, room), message(newRound(room, "tohru")))
		h.guessAll(room, player, "elma")
		require.Equal(t, fmt.Sprintf("round %d of room %q is over (%s); start a new round", 1, room, Won), message(guess(room, player, "z")))
	}
}

// viewByLetter is view as the rules define it, letter by letter, without its shared buffer and
// letter sets.
func viewByLetter(r *room) RoomView {
	v := RoomView{Name: r.name, Round: r.round, Status: r.status, Lives: r.lives, Guessed: string(r.guessed),
		Players: make([]PlayerView, len(r.players)), Version: r.version}
	masked := []byte(r.word)
	for i, c := range masked {
		if c != ' ' && !r.hasGuessed(c) {
			masked[i] = Hidden
		}
	}
	v.Masked = string(masked)
	if r.status != Playing {
		v.Word = r.word
	}
	var misses []byte
	for _, g := range r.guessed {
		if !containsByte(r.word, g) {
			misses = append(misses, g)
		}
	}
	v.Misses = string(misses)
	for i, p := range r.players {
		v.Players[i] = PlayerView{Name: p.name, Score: p.score}
	}
	return v
}

func TestViewAgreesWithTheLetterByLetterDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2))
	words := append(Words(), "a", strings.Repeat("z", MaxWordLen), "abcdefghijklm nopqrstuvwxyz")
	for i := 0; i < 2000; i++ {
		r := &room{name: "den", word: words[rng.IntN(len(words))], round: uint64(1 + i%3), version: uint64(i)}
		for _, c := range rng.Perm(26)[:rng.IntN(27)] {
			r.guessed = append(r.guessed, byte('a'+c))
		}
		r.lives, r.status = Lives, Status(rng.IntN(3))
		for p := 0; p < rng.IntN(3); p++ {
			r.players = append(r.players, player{name: fmt.Sprintf("p%d", p), score: p * 7})
		}
		require.Equal(t, viewByLetter(r), r.view(), "word %q guessed %q", r.word, r.guessed)
	}
}
