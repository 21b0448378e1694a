// Tests of commands (command.go): stateless validation and the log-entry encoding.

package game

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestCommandEncodingRoundTrips(t *testing.T) {
	for _, cmd := range []Command{
		{Kind: KindCreateRoom, ClientID: "c", Seq: 1, Room: "den", Word: "kanna kamui"},
		{Kind: KindJoin, ClientID: "c", Seq: 2, Room: "den", Player: "小林"},
		{Kind: KindGuess, ClientID: "c", Seq: 3, Room: "den", Player: "riko", Letter: "K"},
		{Kind: KindNewRound, ClientID: "c", Seq: 4, Room: "den", Word: "tohru"},
		{},
	} {
		data := cmd.Encode()
		got, err := DecodeCommand(data)
		require.NoError(t, err)
		require.Equal(t, cmd, got)
		require.Equal(t, cmd.Encode(), got.Encode(), "equal commands encode to equal bytes")
		for i := range data {
			data[i] = 'x'
		}
		require.Equal(t, cmd, got, "the command holds copies, not the entry's bytes")
	}
}

func TestDecodeCommandRefusesWhatEncodeNeverWrites(t *testing.T) {
	good := Command{Kind: KindGuess, ClientID: "c", Seq: 300, Room: "den", Player: "riko", Letter: "k"}.Encode()
	for _, data := range []string{"", "{", `{"kind":"guess","color":"red"}`, `{"seq":-1}`, `{"kind":"join"} {}`,
		string(good[:len(good)-1]), string(good) + "x", "\x01\x05gue", "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "\x02"} {
		_, err := DecodeCommand([]byte(data))
		require.Error(t, err, "%q", data)
	}
}

func TestDecodeCommandStillReadsTheJSONOfOlderLogs(t *testing.T) {
	got, err := DecodeCommand([]byte(`{"kind":"guess","client_id":"c","seq":3,"room":"den","player":"riko","letter":"k"}`))
	require.NoError(t, err)
	want := Command{Kind: KindGuess, ClientID: "c", Seq: 3, Room: "den", Player: "riko", Letter: "k"}
	require.Equal(t, want, got)
	require.Equal(t, want.Encode(), got.Encode(), "it is written back in the binary encoding")
	require.Equal(t, byte(binaryVersion), got.Encode()[0])
}

func TestValidateAcceptsWellFormedCommands(t *testing.T) {
	for _, cmd := range []Command{
		{Kind: KindCreateRoom, ClientID: "c", Seq: 1, Room: "Kanna's room 🐉", Word: "dragon maid"},
		{Kind: KindJoin, ClientID: "c", Seq: 1, Room: "den", Player: strings.Repeat("龍", MaxNameLen)},
		{Kind: KindGuess, ClientID: "c", Seq: 1, Room: "den", Player: "riko", Letter: "Z"},
		{Kind: KindNewRound, ClientID: "c", Seq: 1, Room: "den", Word: "a"},
	} {
		require.NoError(t, cmd.Validate(), "%+v", cmd)
	}
}

func TestNeedsWordOnlyForCommandsThatStartARound(t *testing.T) {
	require.True(t, Command{Kind: KindCreateRoom}.NeedsWord())
	require.True(t, Command{Kind: KindNewRound}.NeedsWord())
	require.False(t, Command{Kind: KindJoin}.NeedsWord())
	require.False(t, Command{Kind: KindGuess}.NeedsWord())
}

func TestValidateWordAcceptsLowercaseWordsSeparatedBySingleSpaces(t *testing.T) {
	for _, tt := range []struct {
		word string
		ok   bool
	}{
		{"tohru", true},
		{"miss kobayashi", true},
		{strings.Repeat("a", MaxWordLen), true},
		{strings.Repeat("a", MaxWordLen+1), false},
		{"", false},
		{" tohru", false},
		{"tohru ", false},
		{"miss  kobayashi", false},
		{"Tohru", false},
		{"tohru!", false},
		{"tōhru", false},
	} {
		err := ValidateWord(tt.word)
		if tt.ok {
			require.NoError(t, err, "%q", tt.word)
		} else {
			require.Equal(t, InvalidArgument, CodeOf(err), "%q", tt.word)
		}
	}
}

// FuzzDecodeCommand: any bytes decode or fail cleanly, and a decoded command encodes to bytes that
// decode to the same command (the log's bytes are the command, on every node).
func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"kind":"guess","client_id":"c","seq":3,"room":"den","player":"riko","letter":"k"}`))
	f.Add([]byte(`{"kind":"create_room","client_id":"c","seq":1,"room":"d\xffn","word":"tohru"}`))
	f.Add([]byte(`null`))
	f.Add(Command{Kind: KindJoin, ClientID: "c", Seq: 1 << 40, Room: "den", Player: "小林"}.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeCommand(data)
		if err != nil {
			return
		}
		again, err := DecodeCommand(cmd.Encode())
		require.NoError(t, err)
		require.Equal(t, cmd, again)
		require.Equal(t, cmd.Encode(), again.Encode())
	})
}

func TestDescribeSaysACommandInWords(t *testing.T) {
	for c, want := range map[Command]string{
		{Kind: KindCreateRoom, Room: "Foo"}:                          "room Foo created",
		{Kind: KindJoin, Room: "Foo", Player: "alice"}:               "alice joined room Foo",
		{Kind: KindGuess, Room: "Foo", Player: "alice", Letter: "E"}: "alice guessed e in room Foo",
		{Kind: KindNewRound, Room: "Foo"}:                            "new round in room Foo",
	} {
		require.Equal(t, want, c.Describe())
	}
}

func TestTokenAndTimeSurviveTheEncodingAndVersionOneStillDecodes(t *testing.T) {
	c := Command{Kind: KindGuess, ClientID: "c", Seq: 3, Room: "den", Player: "kanna", Letter: "a",
		Token: "token-of-kanna-0001", Time: 1_700_000_000_123}
	got, err := DecodeCommand(c.Encode())
	require.NoError(t, err)
	require.Equal(t, c, got, "a token or a clock lost in the log would let a name be taken over and sessions never expire")

	// An entry written before Token and Time: version 1, the same fields up to Word.
	v1 := c.Encode()
	v1[0] = binaryVersion1
	v1 = v1[:len(v1)-len(binary.AppendVarint(nil, c.Time))-1-len(c.Token)]
	old, err := DecodeCommand(v1)
	require.NoError(t, err)
	want := c
	want.Token, want.Time = "", 0
	require.Equal(t, want, old)
}

// validateNameByRune is validateName without its printable-ASCII shortcut: the checks rune by rune.
func validateNameByRune(what, name string) error {
	if !utf8.ValidString(name) {
		return errorf(InvalidArgument, "%s name is not valid UTF-8", what)
	}
	n := utf8.RuneCountInString(name)
	if n < MinNameLen || n > MaxNameLen {
		return errorf(InvalidArgument, "%s name must be %d to %d characters, got %d", what, MinNameLen, MaxNameLen, n)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return errorf(InvalidArgument, "%s name %q holds the unprintable character %U", what, name, r)
		}
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return errorf(InvalidArgument, "%s name %q must not start or end with a space", what, name)
	}
	return nil
}

func TestValidateNameShortcutAgreesWithTheChecksByRune(t *testing.T) {
	names := []string{"", " ", "den", " den", "den ", "a b", strings.Repeat("k", MaxNameLen), strings.Repeat("k", MaxNameLen+1),
		strings.Repeat("小", MaxNameLen), strings.Repeat("小", MaxNameLen+1), "小林 さん", "tab\there", "del\x7f", "nbsp\u00a0",
		"zero\u200bwidth", "\xff", "d\xc3n", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"}
	for c := 0; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b", string([]byte{byte(c), 'z'}))
	}
	for _, name := range names {
		want, got := validateNameByRune("room", name), validateName("room", name)
		if want == nil {
			require.NoError(t, got, "%q", name)
			continue
		}
		require.Equal(t, want, got, "%q", name)
	}
}
