// Tests of the shipped word list and PickWord (words.go).

package game

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWordListHasAtLeastAHundredValidDistinctEntries(t *testing.T) {
	list := Words()
	require.GreaterOrEqual(t, len(list), 100)
	require.NoError(t, validateWordList(list))
	require.Contains(t, list, "kanna kamui")
	require.Contains(t, list, "persimmon")
}

func TestValidateWordListRejectsBadEntriesAndDuplicates(t *testing.T) {
	require.Error(t, validateWordList([]string{"tohru", "Elma"}))
	require.Error(t, validateWordList([]string{"tohru", "elma", "tohru"}))
}

func TestParseWordsSkipsBlankLinesAndTrimsSpace(t *testing.T) {
	require.Equal(t, []string{"tohru", "kanna kamui"}, parseWords("tohru\n\n  kanna kamui \r\n"))
}

func TestWordsReturnsACopy(t *testing.T) {
	list := Words()
	list[0] = "changed"
	require.NotEqual(t, "changed", Words()[0])
}

func TestPickWordIsDeterministicForASeedAndDrawsFromTheList(t *testing.T) {
	a, b := rand.New(rand.NewSource(7)), rand.New(rand.NewSource(7))
	list := Words()
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		w := PickWord(a)
		require.Equal(t, w, PickWord(b))
		require.Contains(t, list, w)
		seen[w] = true
	}
	require.Greater(t, len(seen), 50, "200 draws should reach much of the list")
}

// validateWordList checks a word list: every entry a valid word, no duplicates.
func validateWordList(list []string) error {
	seen := make(map[string]bool, len(list))
	for i, w := range list {
		if err := ValidateWord(w); err != nil {
			return fmt.Errorf("words.txt entry %d: %w", i+1, err)
		}
		if seen[w] {
			return fmt.Errorf("words.txt entry %d: %q appears twice; remove the duplicate", i+1, w)
		}
		seen[w] = true
	}
	return nil
}
