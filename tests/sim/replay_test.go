// A ready-made replay of one seed under a debugger, for docs/labs.md and `kanna lab check`.

package sim

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// TestReplaySeed replays one seed chosen by the environment, for a debugger: the ready-made test
// that `kanna lab check` and docs/labs.md point at. Without KANNA_SEED it replays seed 1 for 10 s,
// so that `make test` keeps the entry point working:
//
//	KANNA_SEED=3 KANNA_BUG=commit-old-term dlv test ./tests/sim/ -- -test.run '^TestReplaySeed$'
//
// KANNA_DURATION (default 60s with KANNA_SEED) and KANNA_BUG match the flags of `kanna sim`. It fails, as the
// sweep did, when the run breaks a checker, printing the violations.
func TestReplaySeed(t *testing.T) {
	seedText, d := os.Getenv("KANNA_SEED"), 60*time.Second
	if seedText == "" {
		seedText, d = "1", 10*time.Second
	}
	seed, err := strconv.ParseInt(seedText, 10, 64)
	if err != nil {
		t.Fatalf("KANNA_SEED=%q is not a number", seedText)
	}
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
