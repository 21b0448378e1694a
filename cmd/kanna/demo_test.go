// Tests of `kanna demo`'s and `kanna bench`'s own checks and messages; both run as a whole in
// tests/e2e and by hand against real nodes.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/server/demo"
)

func TestControlEndpointListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:8080", "localhost:9000", "127.0.0.2:1"} {
		require.NoError(t, requireLoopback(addr), addr)
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.168.1.4:80", "example.com:80", "127.0.0.1"} {
		require.Error(t, requireLoopback(addr), addr)
	}
}

func TestDemoRefusesAPublicControlAddressBeforeStartingAnything(t *testing.T) {
	var out, progress bytes.Buffer
	err := demoMain(context.Background(), demoOptions{nodes: 0, webAddr: "0.0.0.0:0", dir: t.TempDir()}, &out, &progress)
	require.ErrorContains(t, err, "loopback only")
	require.Empty(t, out.String())
	require.NotContains(t, progress.String(), "started node", "no node may start when the demo cannot serve its endpoint")
}

func TestFailedStartShowsTheLastLinesOfEachNodeLog(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "node1.log")
	var lines []string
	for i := 1; i <= 20; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	require.NoError(t, os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	var out bytes.Buffer
	printLogTails(&out, []demo.NodeInfo{
		{ID: 1, LogFile: log, Exit: "exited with status 1"},
		{ID: 2, LogFile: filepath.Join(dir, "missing.log")},
	})
	got := out.String()
	require.Contains(t, got, "--- last lines of node 1's log (exited with status 1) ---\nline 6\n")
	require.True(t, strings.HasSuffix(got, "line 20\n"))
	require.NotContains(t, got, "line 5\n")
	require.NotContains(t, got, "node 2", "a node without a log file is skipped")
}

func TestBenchRefusesFlagsItCannotRun(t *testing.T) {
	for _, args := range [][]string{{"--nodes", "0"}, {"--clients", "0"}, {"--duration", "0s"}, {"--payload", "33"}, {"--payload", "0"}} {
		require.Equal(t, 2, runBench(args), "%v", args)
	}
	require.Equal(t, 2, runDemo([]string{"--nodes", "0"}))
}
