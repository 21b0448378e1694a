// A ready-made replay of one seed under a debugger, for docs/labs.md and `kanna lab check`.

package sim

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// TestReplaySeed replays one seed chosen by the environment, for a debugger: the ready-made test
// that `kanna lab check` and docs/labs.md point at. It is skipped unless KANNA_SEED is set:
//
//	KANNA_SEED=3 KANNA_BUG=commit-old-term dlv test ./tests/sim/ -- -test.run '^TestReplaySeed$'
//
// KANNA_DURATION (default 60s) and KANNA_BUG match the flags of `kanna sim`. It fails, as the
// sweep did, when the run breaks a checker, printing the violations.
func TestReplaySeed(t *testing.T) {
	seedText := os.Getenv("KANNA_SEED")
	if seedText == "" {
		t.Skip("set KANNA_SEED (and KANNA_BUG, KANNA_DURATION as in kanna sim) to replay one seed")
	}
	seed, err := strconv.ParseInt(seedText, 10, 64)
	if err != nil {
		t.Fatalf("KANNA_SEED=%q is not a number", seedText)
	}
	d := 60 * time.Second
	if v := os.Getenv("KANNA_DURATION"); v != "" {
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("KANNA_DURATION=%q: %v", v, err)
		}
	}
	r, err := Execute(Options{Seed: seed, Nodes: 5, Duration: d, Bug: os.Getenv("KANNA_BUG")})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Violations {
		t.Errorf("%s", v)
	}
}
