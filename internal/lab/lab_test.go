// Tests of the lab track: stub generation from the marks, the marks' agreement with the graders,
// the workspace rules, the report of a failing sweep, and, as make test runs them, both halves of
// every lab (a fresh workspace fails naming each rule; the repository passes).

package lab

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sample = `package p

import (
	"fmt"
	"strings"
)

// Shout upper-cases s.
//
//kanna:lab 2 "Say it loud" §1.2
func Shout(s string) string { return strings.ToUpper(s) }

// Say prints s.
func Say(s string) { fmt.Println(s) }
`

func TestStubFileReplacesMarkedBodiesAndDropsUnusedImports(t *testing.T) {
	out, fs, err := StubFile([]byte(sample), "p/p.go", 2)
	require.NoError(t, err)
	require.Equal(t, []Func{{Lab: 2, Name: "Shout", File: "p/p.go", Rule: "Say it loud", Section: "§1.2"}}, fs)
	src := string(out)
	require.NotContains(t, src, "strings.ToUpper", "the reference body is gone")
	require.NotContains(t, src, `"strings"`, "the import only the body used is dropped")
	require.Contains(t, src, `"fmt"`, "an import the rest of the file uses stays")
	require.Contains(t, src, "func Shout(s string) string {", "the signature stays")
	require.Contains(t, src, `panic("kanna lab 2: Shout is not written yet: Say it loud (§1.2)")`)
	require.Contains(t, src, "//kanna:lab 2", "the mark stays, so a later lab can be started in the same workspace")

	same, fs, err := StubFile([]byte(sample), "p/p.go", 3)
	require.NoError(t, err)
	require.Empty(t, fs)
	require.Equal(t, sample, string(same), "a file without the lab's functions is left alone")
}

func TestParseMarkRejectsMalformedMarks(t *testing.T) {
	for _, bad := range []string{`//kanna:lab x "r" §1`, `//kanna:lab 1 r §1`, `//kanna:lab 1 "r"`, `//kanna:lab 1`} {
		_, _, _, err := parseMark(bad)
		require.Error(t, err, bad)
	}
	n, rule, sec, err := parseMark(`//kanna:lab 4 "a \"quoted\" rule" §7, Figure 13`)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.Equal(t, `a "quoted" rule`, rule)
	require.Equal(t, "§7, Figure 13", sec)
}

func repoRoot(t *testing.T) string {
	root, err := FindRoot(".")
	require.NoError(t, err)
	return root
}

// Every lab stubs at least one function of its package, and every rule it grades has its test.
func TestEveryLabHasFunctionsAndGraders(t *testing.T) {
	root := repoRoot(t)
	funcs, err := Funcs(root)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(Labs), 6)
	for _, l := range Labs {
		var mine []Func
		for _, f := range funcs {
			if f.Lab == l.N {
				mine = append(mine, f)
				require.True(t, strings.HasPrefix(f.File, l.Dir+"/"), "lab %d's %s lives in %s, outside %s/", l.N, f.Name, f.File, l.Dir)
			}
		}
		require.NotEmpty(t, mine, "lab %d marks no function", l.N)
		var tests bytes.Buffer
		matches, _ := filepath.Glob(filepath.Join(root, l.Dir, "*_test.go"))
		for _, m := range matches {
			b, err := os.ReadFile(m)
			require.NoError(t, err)
			tests.Write(b)
		}
		for _, r := range l.Rules {
			require.Regexp(t, regexp.MustCompile(`func `+r.Test+`\(t \*testing\.T\)`), tests.String(), "lab %d grades %q with %s, which %s/ lacks", l.N, r.Rule, r.Test, l.Dir)
		}
	}
	for _, f := range funcs {
		_, err := Get(f.Lab)
		require.NoError(t, err, "%s in %s is marked for a lab that does not exist", f.Name, f.File)
	}
}

func TestStartRefusesAFolderThatIsNotAWorkspace(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
	_, err := Start(repoRoot(t), dir, 1)
	require.ErrorContains(t, err, "not a lab workspace")
	b, err := os.ReadFile(filepath.Join(dir, "notes.txt"))
	require.NoError(t, err)
	require.Equal(t, "mine", string(b), "the folder is left as it was")
}

// testSeeds is the sweep's length in this test: enough to run every checker over the reference
// cores, short enough for make test. `kanna lab check` runs DefaultSeeds.
var testSeeds = map[SweepKind]int{SweepRaft: 4, SweepGossip: 2}

// The two halves of every lab, as `make test` runs them: a fresh workspace compiles and fails its
// check naming every rule; the unmodified repository passes its check. The workspace compiles
// when its tests build and run (a build failure would leave every rule "did not run").
func TestEveryLabFailsOnStubsAndPassesOnTheRepository(t *testing.T) {
	// -short leaves it out on a developer's machine; CI runs it whatever the flags.
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("builds one workspace per lab")
	}
	root := repoRoot(t)
	kanna := filepath.Join(t.TempDir(), "kanna")
	build := exec.Command("go", "build", "-trimpath", "-o", kanna, "./cmd/kanna")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build kanna: %s", out)
	for _, l := range Labs {
		t.Run(l.Name, func(t *testing.T) {
			// The labs are independent; run side by side, their builds overlap.
			t.Parallel()
			ws := filepath.Join(t.TempDir(), "ws")
			stubbed, err := Start(root, ws, l.N)
			require.NoError(t, err)
			require.NotEmpty(t, stubbed)

			var report bytes.Buffer
			res, err := Check(CheckOptions{Lab: l.N, Dir: ws, Out: &report, Progress: io.Discard})
			require.NoError(t, err)
			require.False(t, res.Passed, "lab %d passes with every function a stub:\n%s", l.N, report.String())
			require.NotContains(t, report.String(), "did not run", "the fresh workspace of lab %d does not compile:\n%s", l.N, report.String())
			for _, r := range l.Rules {
				require.Contains(t, report.String(), "FAIL  "+r.Rule, "the stubbed workspace's report does not name rule %q:\n%s", r.Rule, report.String())
			}
			require.Contains(t, report.String(), "is not written yet", "the report quotes the stubs")

			report.Reset()
			res, err = Check(CheckOptions{Lab: l.N, Dir: root, Seeds: testSeeds[l.Sweep], Out: &report, Progress: io.Discard, Kanna: kanna})
			require.NoError(t, err)
			require.True(t, res.Passed, "lab %d fails on the repository's own cores:\n%s", l.N, report.String())
			require.Contains(t, report.String(), "2. simulator sweep of your core")
		})
	}
}

// A sweep that finds a broken checker explains the first failing seed: the rule, the evidence,
// the replay command, the diagram it wrote and the debugger command. The simulator here is a
// stand-in script that prints what `kanna sim --json` prints for a failing sweep.
func TestSweepFailureNamesRuleEvidenceReplayAndDiagram(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "kanna")
	script := `#!/bin/sh
for a in "$@"; do
  if [ "$prev" = "--html" ]; then echo "<html>" > "$a"; exit 1; fi
  prev="$a"
done
echo '{"seed":1,"violations":[]}'
echo '{"seed":2,"violations":[{"checker":"election-safety","node":3,"detail":"nodes 1 and 3 both lead term 7"}],"replay":"kanna sim --seed 2 --nodes 5 --duration 1m0s"}'
echo '{"aggregate":true,"seeds":2,"failed":1}'
`
	require.NoError(t, os.WriteFile(fake, []byte(script), 0o755))
	ws := filepath.Join(dir, "ws")
	require.NoError(t, os.MkdirAll(ws, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ws, markerFile), []byte(`{"started":[1]}`), 0o644))

	var report bytes.Buffer
	failed := sweepRaft(CheckOptions{Lab: 1, Dir: ws, Seeds: 2, Out: &report, Progress: io.Discard}, fake, dir)
	out := report.String()
	require.Equal(t, []string{checkerRules["election-safety"]}, failed)
	require.Contains(t, out, "FAIL  Election Safety: at most one leader can be elected in a given term (§5.2, Figure 3)")
	require.Contains(t, out, "checker election-safety, seed 2, node 3: nodes 1 and 3 both lead term 7")
	require.Contains(t, out, "1 of 2 seeds failed; the first is seed 2")
	html := filepath.Join(ws, "lab1-seed2.html")
	require.Contains(t, out, "diagram: "+html)
	require.FileExists(t, html)
	require.Contains(t, out, "go run ./cmd/kanna sim --seed 2 --nodes 5 --duration 1m0s --trace seed-2.trace --html seed-2.html")
	require.Contains(t, out, "KANNA_SEED=2 dlv test ./tests/sim/")
}
