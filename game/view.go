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
		Guessed: string(r.guessed),
		Players: make([]PlayerView, len(r.players)),
		Version: r.version,
	}
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

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
