// Tests of `kanna bench --inprocess` on a one-node cluster, which needs no child process: the
// node runs in the test's process and the players call its Game service directly.
package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/internal/loadgen"
)

func TestBenchInProcessPlaysThroughTheEngineOfItsOwnNode(t *testing.T) {
	opt := benchOptions{nodes: 1, load: loadgen.Options{Clients: 3, Duration: 300 * time.Millisecond, Payload: 8}}
	res, err := benchInProcess(context.Background(), opt, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "kanna", res.System)
	require.Equal(t, loadgen.ModeConsensus, res.Mode)
	require.Equal(t, 1, res.Nodes)
	require.Equal(t, 3, res.Clients)
	require.Positive(t, res.Ops)
	require.Zero(t, res.Retries, "the only node leads throughout")
}

func TestBenchInProcessRefusesNodeFlagsItCannotParse(t *testing.T) {
	opt := benchOptions{nodes: 1, load: loadgen.Options{Clients: 1, Duration: time.Second, Payload: 8}, extra: []string{"--tick", "-1s"}}
	_, err := benchInProcess(context.Background(), opt, io.Discard)
	require.ErrorContains(t, err, "--tick -1s: must be a positive duration")
}
