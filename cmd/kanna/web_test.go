// Tests of `kanna web`'s own checks: control on an address other machines reach is refused unless
// asked for explicitly.
package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWebRefusesControlOnANonLoopbackAddressUnlessAskedExplicitly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		code := runWeb([]string{"--addr", addr, "--nodes", "127.0.0.1:1", "--control", "http://127.0.0.1:1/?key=k"})
		require.Equal(t, 2, code, "--addr %s with --control must not start", addr)
	}
}
