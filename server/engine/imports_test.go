// The engine is the deterministic part of a node: it may import only the standard library and the
// project's cores (raft/, gossip/, game/), which import only the standard library themselves. Being
// its own package, the compiler shows its imports plainly; this test keeps them to that list, and
// keeps out the clock (time arrives as Tick), so a new import cannot slip in unnoticed.

package engine

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEngineImportsOnlyTheStandardLibraryAndTheCores(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	cores := map[string]bool{
		"github.com/kanna-cluster/kanna/raft":   true,
		"github.com/kanna-cluster/kanna/game":   true,
		"github.com/kanna-cluster/kanna/gossip": true,
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			require.True(t, std || cores[path], "%s imports %s: the engine may import only the standard library and raft/, gossip/, game/", name, path)
			require.NotEqual(t, "time", path, "%s imports time: the engine reads no clock; time arrives as Tick", name)
		}
		checked++
	}
	require.GreaterOrEqual(t, checked, 2, "the engine's files were not found")
}
