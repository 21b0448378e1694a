// Tests of `kanna node`'s flag parsing: every mistake gets a message that names the flag and says
// what to pass.
package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNodeFlagsRefuseMissingOrMalformedValues(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--data", "d"}, "--id is required"},
		{[]string{"--id", "1"}, "--data is required"},
		{[]string{"--id", "1", "--data", "d", "--addr", "7001"}, "not host:port"},
		{[]string{"--id", "1", "--data", "d", "--join", "a,b:1"}, `--join address "a"`},
		{[]string{"--id", "1", "--data", "d", "--tls-cert", "c.pem"}, "all three"},
		{[]string{"--id", "1", "--data", "d", "--log-level", "loud"}, "--log-level"},
		{[]string{"--id", "1", "--data", "d", "extra"}, "unexpected argument"},
		{[]string{"--id", "-1", "--data", "d"}, "invalid value"},
		{[]string{"--id", "1", "--data", "d", "--tick", "0s"}, "--tick 0s: must be a positive duration"},
		{[]string{"--id", "1", "--data", "d", "--election-ticks", "2"}, "--election-ticks 2: must be at least 3"},
		{[]string{"--id", "1", "--data", "d", "--snapshot-every", "0"}, "--snapshot-every 0: must be at least 1"},
		{[]string{"--id", "1", "--data", "d", "--reap-after", "-1m"}, "--reap-after -1m0s: must be 0 or a positive duration"},
	}
	for _, tc := range cases {
		code, _, errOut := captured(t, func() int {
			_, _, code, ok := parseNodeFlags(tc.args)
			require.False(t, ok, "%v", tc.args)
			return code
		})
		require.Equal(t, 2, code, "%v", tc.args)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}

func TestNodeFlagsBuildTheConfig(t *testing.T) {
	cfg, logger, _, ok := parseNodeFlags([]string{
		"--id", "3", "--data", "/tmp/n3", "--addr", "127.0.0.1:7003", "--join", "127.0.0.1:7001, 127.0.0.1:7002",
		"--cluster-key", "k", "--enable-fault-injection", "--snapshot-every", "50", "--reap-after", "1m",
	})
	require.True(t, ok)
	require.NotNil(t, logger)
	require.Equal(t, uint64(3), cfg.ID)
	require.Equal(t, "/tmp/n3", cfg.DataDir)
	require.Equal(t, "127.0.0.1:7003", cfg.Addr)
	require.Equal(t, []string{"127.0.0.1:7001", "127.0.0.1:7002"}, cfg.Join)
	require.Equal(t, "k", cfg.ClusterKey)
	require.True(t, cfg.EnableFaultInjection)
	require.Equal(t, uint64(50), cfg.SnapshotEvery)
	require.Equal(t, "1m0s", cfg.ReapAfter.String())
	require.Nil(t, cfg.ServerTLS)
}
