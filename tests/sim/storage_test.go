package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

func TestStorageFaultsStrikeAndEveryInvariantHolds(t *testing.T) {
	var opts []Options
	for seed := int64(1); seed <= 4; seed++ {
		opts = append(opts, Options{Seed: seed, Nodes: 5, Duration: 10 * time.Second, KeepEvents: true,
			Faults: []string{"storage", "partition", "reorder"}})
	}
	kinds := map[string]bool{}
	for _, r := range runAll(t, opts) {
		require.Empty(t, r.Violations, "seed %d", r.Options.Seed)
		for _, e := range r.Events {
			if e.Kind == EventStorage {
				kinds[strings.SplitN(e.Detail, ":", 2)[0]] = true
			}
		}
	}
	require.GreaterOrEqual(t, len(kinds), 4, "storage faults of several kinds must strike: %v", kinds)
}

func TestStorageFaultsAreNotOnUnlessAskedFor(t *testing.T) {
	allowed, err := parseFaults(nil, Bug{})
	require.NoError(t, err)
	require.False(t, allowed["storage"])
	allowed, err = parseFaults([]string{"storage"}, Bug{})
	require.NoError(t, err)
	require.True(t, allowed["storage"])
}

func TestStorageFaultsWithMembershipAreRefusedSayingWhy(t *testing.T) {
	_, err := Execute(Options{Seed: 1, Nodes: 5, Duration: 10 * time.Second, Membership: true, Faults: []string{"storage"}})
	require.ErrorContains(t, err, "not yet combined with --membership")
}

func TestDiskReportsALogShorterThanItsPromise(t *testing.T) {
	d := &disk{}
	d.write(write{hardState: raft.HardState{Term: 2, Vote: 1, Commit: 3}, entries: []raft.Entry{{Index: 1, Term: 2}, {Index: 2, Term: 2}, {Index: 3, Term: 2}}})
	d.sync()
	require.Nil(t, d.restored(true).Lost)
	d.damage("lost-tail", func(int) int { return 1 }) // the last two
	r := d.restored(true)
	require.Equal(t, &raft.Lost{Index: 3, Term: 2}, r.Lost)
	require.Equal(t, uint64(1), r.HardState.Commit, "the commit index went with the log")
	require.True(t, d.recovering)
	// The mark stays until the core caught up, even as the log grows back below it.
	d.write(write{entries: []raft.Entry{{Index: 2, Term: 2}}})
	d.sync()
	require.Equal(t, &raft.Lost{Index: 3, Term: 2}, d.restored(true).Lost)
	d.write(write{entries: []raft.Entry{{Index: 3, Term: 3}}, endRecovery: true})
	d.sync()
	require.Nil(t, d.restored(true).Lost)

	d.damage("flip-hardstate", nil)
	require.Equal(t, raft.HardState{Term: 2, Vote: 1}, d.restored(true).HardState)
	d.damage("wiped", nil)
	require.True(t, d.wiped)
	require.True(t, d.empty())
}
