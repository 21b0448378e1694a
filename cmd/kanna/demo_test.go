// Tests of `kanna demo`'s own checks; the demo as a whole runs in tests/e2e against real nodes.
package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
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
