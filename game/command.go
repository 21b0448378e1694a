// Commands: what a client asks of the Hangman state machine, the stateless checks on them, and
// their encoding as the Data of a Raft log entry.
//
// Every command carries the client's id and a per-client sequence number, so that the state
// machine can recognise a retry and answer it without applying it twice (Raft paper §8; thesis
// §6.3, "Implementing linearizable semantics").

package game

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name limits, in characters (runes), for room and player names.
const (
	MinNameLen = 1
	MaxNameLen = 32
	// MaxClientIDLen bounds a client id in bytes: room for a UUID with a prefix, and a bound on
	// what the session table can be made to hold.
	MaxClientIDLen = 64
	// MinTokenLen and MaxTokenLen bound a player's token, in bytes: long enough not to be guessed
	// (a browser draws 16 random bytes), short enough to keep commands small.
	MinTokenLen = 16
	MaxTokenLen = 64
)

// Kind names a command.
type Kind string

const (
	// KindCreateRoom creates room Room whose first round guesses Word.
	KindCreateRoom Kind = "create_room"
	// KindJoin adds Player to Room with a score of zero.
	KindJoin Kind = "join"
	// KindGuess is Player guessing Letter in Room's current round.
	KindGuess Kind = "guess"
	// KindNewRound starts Room's next round, guessing Word, once the current round is over.
	KindNewRound Kind = "new_round"
)

// Command is one request to the state machine, as it travels in the log.
type Command struct {
	Kind Kind `json:"kind"`

	// ClientID and Seq identify the request: a client numbers its requests 1, 2, 3... and resends
	// a request with the same number until it gets an answer.
	ClientID string `json:"client_id"`
	Seq      uint64 `json:"seq"`

	Room   string `json:"room"`
	Player string `json:"player,omitempty"` // join, guess
	Letter string `json:"letter,omitempty"` // guess: one letter a-z, either case
	Word   string `json:"word,omitempty"`   // create_room, new_round: filled in by the proposer
	// Token is the player's secret (join, guess): a player who joined with one can be guessed for
	// and joined again only with it, so nobody takes over a name in use. Empty: none.
	Token string `json:"token,omitempty"`
	// Time is the proposer's clock when it proposed, in Unix milliseconds, filled in by the
	// leader as the word is: the log's clock, by which sessions and rooms age (session.go). Zero
	// leaves the clock where it is.
	Time int64 `json:"time,omitempty"`
}

// Describe says the command in words, as a log viewer shows it: "alice guessed e in room Foo".
func (c Command) Describe() string {
	switch c.Kind {
	case KindCreateRoom:
		return "room " + c.Room + " created"
	case KindJoin:
		return c.Player + " joined room " + c.Room
	case KindGuess:
		return c.Player + " guessed " + strings.ToLower(c.Letter) + " in room " + c.Room
	case KindNewRound:
		return "new round in room " + c.Room
	}
	return string(c.Kind) + " in room " + c.Room
}

// NeedsWord reports whether the proposer must fill in Word before proposing c.
func (c Command) NeedsWord() bool {
	return c.Kind == KindCreateRoom || c.Kind == KindNewRound
}

// Validate applies every check that does not depend on the state: a proposer can refuse a bad
// command before it takes a slot in the log, and Apply runs the same checks so that a bad command
// that does reach the log is rejected the same way on every replica.
func (c Command) Validate() error {
	if err := validateRequestID(c); err != nil {
		return err
	}
	switch c.Kind {
	case KindCreateRoom, KindJoin, KindGuess, KindNewRound:
	default:
		return errorf(InvalidArgument, "unknown command kind %q; expected %q, %q, %q or %q",
			c.Kind, KindCreateRoom, KindJoin, KindGuess, KindNewRound)
	}
	if err := validateName("room", c.Room); err != nil {
		return err
	}
	switch c.Kind {
	case KindCreateRoom, KindNewRound:
		return ValidateWord(c.Word)
	case KindJoin:
		if err := validateName("player", c.Player); err != nil {
			return err
		}
		return validateToken(c.Token)
	case KindGuess:
		if err := validateName("player", c.Player); err != nil {
			return err
		}
		if err := validateToken(c.Token); err != nil {
			return err
		}
		_, err := normalizeLetter(c.Letter)
		return err
	}
	return nil
}

// validateToken checks a player's token: none, or MinTokenLen to MaxTokenLen printable ASCII bytes.
func validateToken(tok string) error {
	if tok == "" {
		return nil
	}
	if len(tok) < MinTokenLen || len(tok) > MaxTokenLen {
		return errorf(InvalidArgument, "player token must be %d to %d bytes, got %d", MinTokenLen, MaxTokenLen, len(tok))
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < 0x21 || tok[i] > 0x7e {
			return errorf(InvalidArgument, "player token must be printable ASCII without spaces")
		}
	}
	return nil
}

// validateName checks a room or player name: MinNameLen to MaxNameLen printable characters, not
// starting or ending with a space (two names that differ only there would look the same).
//
// Names are nearly always printable ASCII, which is valid UTF-8, one character per byte and
// printable throughout: for them the checks by rune are skipped, with the same outcome.
func validateName(what, name string) error {
	ascii := printableASCII(name)
	n := len(name)
	if !ascii {
		if !utf8.ValidString(name) {
			return errorf(InvalidArgument, "%s name is not valid UTF-8", what)
		}
		n = utf8.RuneCountInString(name)
	}
	if n < MinNameLen || n > MaxNameLen {
		return errorf(InvalidArgument, "%s name must be %d to %d characters, got %d", what, MinNameLen, MaxNameLen, n)
	}
	if !ascii {
		for _, r := range name {
			if !unicode.IsPrint(r) {
				return errorf(InvalidArgument, "%s name %q holds the unprintable character %U", what, name, r)
			}
		}
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return errorf(InvalidArgument, "%s name %q must not start or end with a space", what, name)
	}
	return nil
}

// printableASCII reports whether every byte of s is printable ASCII, space included.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validateRequestID checks the (ClientID, Seq) pair that names a request for its session.
func validateRequestID(c Command) error {
	if err := validateClientID(c.ClientID); err != nil {
		return err
	}
	if c.Seq == 0 {
		return errorf(InvalidArgument, "seq must be at least 1; number requests 1, 2, 3... per client")
	}
	return nil
}

func validateClientID(id string) error {
	if id == "" || len(id) > MaxClientIDLen {
		return errorf(InvalidArgument, "client id must be 1 to %d bytes, got %d", MaxClientIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return errorf(InvalidArgument, "client id %q must be printable ASCII without spaces", id)
		}
	}
	return nil
}

// normalizeLetter turns a guess into one lowercase letter a-z.
func normalizeLetter(s string) (byte, error) {
	if len(s) != 1 {
		return 0, errorf(InvalidArgument, "guess must be exactly one letter a-z, got %q", s)
	}
	c := s[0]
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	if c < 'a' || c > 'z' {
		return 0, errorf(InvalidArgument, "guess must be exactly one letter a-z, got %q", s)
	}
	return c, nil
}

// binaryVersion is the first byte of a command encoded by Encode. A JSON command, as logs written
// before the binary encoding hold, starts with '{' instead, so the two never meet.
const binaryVersion = 0x02

// binaryVersion1 is the encoding before Token and Time, still read.
const binaryVersion1 = 0x01

// Encode returns c as the bytes of a log entry: the version byte, then Kind, ClientID, Seq, Room,
// Player, Letter, Word and Token in that order, each string as its length (uvarint) and bytes, Seq
// as a uvarint, and last Time as a varint. Equal commands encode to equal bytes. Every replica decodes every entry it applies, so
// the encoding is binary: decoding JSON with reflection was a tenth of a node's apply cost.
func (c Command) Encode() []byte {
	n := 1 + binary.MaxVarintLen64*8 + len(c.Kind) + len(c.ClientID) + len(c.Room) + len(c.Player) + len(c.Letter) + len(c.Word) + len(c.Token)
	b := make([]byte, 0, n)
	b = append(b, binaryVersion)
	b = appendString(b, string(c.Kind))
	b = appendString(b, c.ClientID)
	b = binary.AppendUvarint(b, c.Seq)
	for _, f := range []string{c.Room, c.Player, c.Letter, c.Word, c.Token} {
		b = appendString(b, f)
	}
	return binary.AppendVarint(b, c.Time)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// DecodeCommand reads a command written by Encode, or by the JSON encoding of earlier versions
// (refusing unknown fields, so that a log written by a newer version is not silently
// half-understood). It refuses truncated input and trailing bytes.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) > 0 && (b[0] == binaryVersion || b[0] == binaryVersion1) {
		return decodeBinary(b)
	}
	var c Command
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("game: decode command from %d bytes: %w", len(b), err)
	}
	if dec.More() {
		return Command{}, fmt.Errorf("game: decode command: trailing data after the command in %d bytes", len(b))
	}
	return c, nil
}

// decodeBinary reads the encoding of Encode. Its strings are slices of one string copied from b:
// one allocation per entry instead of one per field, for an entry every replica decodes.
func decodeBinary(b []byte) (Command, error) {
	d := decoder{b: b[1:], text: string(b[1:])}
	var c Command
	c.Kind = Kind(d.string())
	c.ClientID = d.string()
	c.Seq = d.uvarint()
	c.Room = d.string()
	c.Player = d.string()
	c.Letter = d.string()
	c.Word = d.string()
	if b[0] == binaryVersion {
		c.Token = d.string()
		c.Time = d.varint()
	}
	switch {
	case d.err != nil:
		return Command{}, fmt.Errorf("game: decode command from %d bytes: %w", len(b), d.err)
	case len(d.b) > 0:
		return Command{}, fmt.Errorf("game: decode command: %d trailing bytes after the command in %d bytes", len(d.b), len(b))
	}
	return c, nil
}

// decoder reads uvarints and strings from b, remembering the first error.
type decoder struct {
	b   []byte
	err error
	// canonical refuses a number written in more bytes than it needs, so that a state has
	// exactly one encoding (snapshots); commands accept them, as they always have.
	canonical bool
	// text, when set, holds the same bytes as b did at the start: string slices it instead of
	// copying.
	text string
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or overlong number")
		return 0
	}
	if d.canonical && n > 1 && d.b[n-1] == 0 {
		d.err = errors.New("a number padded with zero bytes")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint() // binary.Varint's zig-zag, over uvarint for its checks
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("a string of %d bytes where %d are left", n, len(d.b))
		return ""
	}
	var s string
	if d.text != "" {
		at := len(d.text) - len(d.b)
		s = d.text[at : at+int(n)]
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}
