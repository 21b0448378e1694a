// The word list: words and phrases from Kanna Kamui's world ("Miss Kobayashi's Dragon Maid"),
// shipped inside the binary, and the rules every word of a round must follow.
//
// Raft replicates commands, not randomness (Raft paper §5.3: every server applies the same
// commands in the same order and must reach the same state). So the leader draws the word with
// PickWord when it proposes a round and writes it into the command; Apply never draws.

package game

import (
	_ "embed"
	"math/rand"
	"strings"
)

// MaxWordLen bounds a round's word in bytes: long enough for the longest phrase of the list, short
// enough to fit a phone screen once masked.
const MaxWordLen = 48

//go:embed words.txt
var wordsFile string

// words is the list parsed once at start-up, in file order so that one seed picks one word.
var words = parseWords(wordsFile)

func parseWords(file string) []string {
	var out []string
	for _, line := range strings.Split(file, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Words returns a copy of the shipped word list, in file order.
func Words() []string {
	return append([]string(nil), words...)
}

// PickWord draws a word from the shipped list with r. Only the proposer calls it (the leader, when
// it fills in a create-room or new-round command), so replicas never need the same r.
func PickWord(r *rand.Rand) string {
	return words[r.Intn(len(words))]
}

// ValidateWord checks that w can be a round's word: 1 to MaxWordLen bytes of lowercase a-z and
// single spaces between words. Spaces are shown to players from the start, so a word of only
// spaces, or spaces at an end or doubled, would give away or hide nothing and is refused.
func ValidateWord(w string) error {
	if w == "" || len(w) > MaxWordLen {
		return errorf(InvalidArgument, "word must be 1 to %d characters, got %d", MaxWordLen, len(w))
	}
	if w[0] == ' ' || w[len(w)-1] == ' ' || strings.Contains(w, "  ") {
		return errorf(InvalidArgument, "word %q must not start or end with a space or hold two in a row", w)
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c != ' ' && (c < 'a' || c > 'z') {
			return errorf(InvalidArgument, "word %q holds %q; only lowercase a-z and spaces are allowed", w, c)
		}
	}
	return nil
}
