// Lab workspaces: a copy of the module in which one lab's functions are stubs.
//
// `kanna lab start N --dir DIR` copies the module into a new DIR and stubs lab N there. Started
// again on a workspace that already exists, it stubs lab N in place and leaves everything else as
// the learner left it: that is how one's own earlier labs are carried forward.

package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ModulePath is the module a workspace is a copy of.
const ModulePath = "github.com/kanna-cluster/kanna"

// markerFile, at a workspace's root, records which labs were started in it.
const markerFile = ".kanna-lab.json"

// marker is the content of markerFile.
type marker struct {
	Started []int `json:"started"`
}

// FindRoot returns the root of the Kanna module that holds dir.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			if bytes.HasPrefix(b, []byte("module "+ModulePath+"\n")) {
				return d, nil
			}
			return "", fmt.Errorf("%s is in module %q, not in a Kanna checkout or workspace; run kanna lab from the repository", d, firstLine(b))
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("%s is not inside a Kanna checkout (no go.mod of %s above it); run kanna lab from the repository", abs, ModulePath)
		}
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strings.TrimPrefix(string(line), "module ")
}

// IsWorkspace reports whether dir is a lab workspace.
func IsWorkspace(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, markerFile))
	return err == nil
}

// Start prepares lab n in dir: a copy of the module at root when dir does not exist or is empty,
// or the workspace already there. It returns the functions it stubbed.
func Start(root, dir string, n int) ([]Func, error) {
	l, err := Get(n)
	if err != nil {
		return nil, err
	}
	var m marker
	switch {
	case IsWorkspace(dir):
		b, err := os.ReadFile(filepath.Join(dir, markerFile))
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w; start in a new folder", filepath.Join(dir, markerFile), err)
		}
	case !isEmptyDir(dir):
		return nil, fmt.Errorf("%s exists and is not a lab workspace; choose a new folder (kanna lab start copies the module into it)", dir)
	default:
		if err := copyModule(root, dir); err != nil {
			return nil, fmt.Errorf("copy the module into %s: %w", dir, err)
		}
	}
	files, err := sourceFiles(dir, l.Dir)
	if err != nil {
		return nil, err
	}
	var stubbed []Func
	for _, rel := range files {
		path := filepath.Join(dir, rel)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out, fs, err := StubFile(src, filepath.ToSlash(rel), n)
		if err != nil {
			return nil, err
		}
		if len(fs) == 0 {
			continue
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return nil, err
		}
		stubbed = append(stubbed, fs...)
	}
	if len(stubbed) == 0 {
		return nil, fmt.Errorf("lab %d: no function in %s/ carries a //kanna:lab %d mark", n, l.Dir, n)
	}
	if !slices.Contains(m.Started, n) {
		m.Started = append(m.Started, n)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, markerFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return stubbed, nil
}

func isEmptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0)
}

// copyModule copies the module's sources, leaving out version control, build output and
// anything hidden.
func copyModule(root, dir string) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return os.MkdirAll(dir, 0o755)
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") || (d.IsDir() && (rel == "bin" || name == "node_modules")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if path == absDir {
			return filepath.SkipDir // a workspace inside the checkout is not copied into itself
		}
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}
