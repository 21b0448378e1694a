// Package kannabin builds the kanna binary for the test suites that run it as real processes
// (tests/e2e, tests/netfault, tests/browser), so each runs the code of the tree it tests.
package kannabin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles ./cmd/kanna of the module rooted at root into a new temporary folder named after
// prefix. It returns the binary's path and the folder, which the caller removes when done.
func Build(prefix, root string) (bin, dir string, err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", fmt.Errorf("make a folder for the kanna binary: %w", err)
	}
	bin = filepath.Join(dir, "kanna")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kanna")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build ./cmd/kanna: %w\n%s", err, out)
	}
	return bin, dir, nil
}
