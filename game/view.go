// RoomView: a room as a player may see it. The word stays hidden while the round is played; only
// the letters guessed so far show through the mask.

package game

// Hidden stands for a letter not yet guessed in RoomView.Masked.
const Hidden = '_'

// RoomView is a read-only copy of one room for clients. It holds no pointer into the State, so it
// can be handed to another goroutine or encoded after the state moves on.
type RoomView struct {
	Name   string `json:"name"`
	Round  uint64 `json:"round"`
	Status Status `json:"status"`
	// Masked is the word with every letter not yet guessed replaced by Hidden; spaces show, so
	// players see how many words the phrase has and how long each is.
	Masked string `json:"masked"`
	// Word is the word itself, set only once the round is over.
	Word    string       `json:"word,omitempty"`
	Lives   int          `json:"lives"`   // wrong guesses left
	Guessed string       `json:"guessed"` // letters guessed this round, in order
	Misses  string       `json:"misses"`  // the guessed letters that are not in the word, in order
	Players []PlayerView `json:"players"` // in the order they joined
	// Version is the log index of the command that last changed the room: every change has its
	// own, and a later change a higher one, so of two views of a room the higher Version is the
	// newer, whichever replica produced them.
	Version uint64 `json:"version"`
}

// PlayerView is one player's line on the scoreboard.
type PlayerView struct {
	Name  string `json:"name"`
	Score int    `json:"score"`
}

func (r *room) view() RoomView {
	v := RoomView{
		Name:    r.name,
		Round:   r.round,
		Status:  r.status,
		Lives:   r.lives,
		Players: make([]PlayerView, len(r.players)),
		Version: r.version,
	}
	// Guessed, Misses and Masked are built in one buffer and share one string: a view is made for
	// every answer. The word is at most MaxWordLen bytes and the guesses distinct letters, so the
	// buffer stays on the stack.
	var buf [2*26 + MaxWordLen]byte
	b := append(buf[:0], r.guessed...)
	inWord := letterSet(r.word)
	for _, g := range r.guessed {
		if !inWord.has(g) {
			b = append(b, g)
		}
	}
	misses := len(b)
	guessed := letterSet(r.guessed)
	for i := 0; i < len(r.word); i++ {
		c := r.word[i]
		if c != ' ' && !guessed.has(c) {
			c = Hidden
		}
		b = append(b, c)
	}
	text := string(b)
	v.Guessed, v.Misses, v.Masked = text[:len(r.guessed)], text[len(r.guessed):misses], text[misses:]
	if r.status != Playing {
		v.Word = r.word
	}
	for i, p := range r.players {
		v.Players[i] = PlayerView{Name: p.name, Score: p.score}
	}
	return v
}

// letters is a set of the letters a-z, one bit each.
type letters uint32

// letterSet returns the letters a-z that s holds; it ignores any other byte.
func letterSet[S string | []byte](s S) letters {
	var set letters
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			set |= 1 << (c - 'a')
		}
	}
	return set
}

// has reports whether c is one of the set's letters; never for a byte other than a-z.
func (set letters) has(c byte) bool {
	return c >= 'a' && c <= 'z' && set&(1<<(c-'a')) != 0
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
