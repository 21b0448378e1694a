// Tests of what every subcommand shares: the command list, each command's help page, the errors of
// numeric flags out of range (each naming its flag and the range), and command lines printed for
// the user to run again, which name the binary as it was invoked.
package main

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/server/demo"
	"github.com/kanna-cluster/kanna/tests/sim"
	"github.com/kanna-cluster/kanna/tests/sim/gossipsim"
)

// captured runs fn with stdout and stderr replaced, and returns its exit status and what it wrote.
func captured(t *testing.T, fn func() int) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	oldOut, oldErr, oldSelf := stdout, stderr, self
	stdout, stderr = &out, &errOut
	t.Cleanup(func() { stdout, stderr, self = oldOut, oldErr, oldSelf })
	code := fn()
	return code, out.String(), errOut.String()
}

// runKanna runs the binary's main logic as `kanna args...`.
func runKanna(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return captured(t, func() int { return run(append([]string{"kanna"}, args...)) })
}

func commandNames() []string {
	var names []string
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func TestKannaAloneHelpAndDashHelpListEveryCommandWithItsLineAndExitZero(t *testing.T) {
	require.Subset(t, commandNames(), []string{"bench", "demo", "node", "sim", "status", "web"})
	for _, args := range [][]string{{}, {"help"}, {"--help"}, {"-h"}} {
		code, out, errOut := runKanna(t, args...)
		require.Equal(t, 0, code, "kanna %v", args)
		require.Empty(t, errOut, "kanna %v", args)
		for _, name := range commandNames() {
			require.Contains(t, out, "  "+name+" ", "kanna %v lists %s", args, name)
			require.Contains(t, out, commands[name].help, "kanna %v gives %s its line", args, name)
		}
	}
}

func TestAnUnknownCommandIsRefusedWithTheList(t *testing.T) {
	code, out, errOut := runKanna(t, "simulate")
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errOut, `unknown command "simulate"`)
	require.Contains(t, errOut, "  sim ")

	code, _, errOut = runKanna(t, "help", "simulate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "simulate"`)
}

func TestEveryCommandsHelpExitsZeroWithADescriptionFlagsAndExamples(t *testing.T) {
	pages := map[string][]string{}
	for _, name := range commandNames() {
		pages[name] = []string{name, "--help"}
	}
	pages["sim --gossip-only"] = []string{"sim", "--gossip-only", "--help"}
	for name, args := range pages {
		for _, form := range [][]string{args, {args[0], "-h"}, {"help", args[0]}} {
			if name == "sim --gossip-only" && form[0] == "help" {
				continue
			}
			if name == "sim --gossip-only" && form[1] == "-h" {
				form = []string{"sim", "--gossip-only", "-h"}
			}
			code, out, errOut := runKanna(t, form...)
			require.Equal(t, 0, code, "kanna %v", form)
			require.Empty(t, errOut, "kanna %v", form)
			require.Contains(t, out, "usage: kanna "+name+" [flags]", "kanna %v", form)
			description := strings.SplitN(out, "\nflags:\n", 2)[0]
			require.Greater(t, len(strings.Fields(description)), 30, "kanna %v: a description of a few sentences", form)
			require.Contains(t, out, "\nflags:\n  -", "kanna %v", form)
			_, examples, ok := strings.Cut(out, "\nexamples:\n")
			require.True(t, ok, "kanna %v has examples", form)
			require.Contains(t, examples, "  kanna "+name, "kanna %v: each example is a command line", form)
		}
	}
}

func TestBadNumericValuesNameTheirFlagAndTheRangeAccepted(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sim", "--seeds", "-5"}, "kanna sim: --seeds -5: must be at least 0"},
		{[]string{"sim", "--nodes", "0"}, "kanna sim: --nodes 0: must be at least 1"},
		{[]string{"sim", "--duration", "0s"}, "kanna sim: --duration 0s: must be longer than 5s"},
		{[]string{"sim", "--duration", "-5s"}, "kanna sim: --duration -5s: must be longer than 5s"},
		{[]string{"sim", "--clients", "-2"}, "kanna sim: --clients -2: must be at least 0"},
		{[]string{"sim", "--html-max", "-1"}, "kanna sim: --html-max -1: must be at least 1"},
		{[]string{"sim", "--gossip-only", "--members", "1"}, "kanna sim --gossip-only: --members 1: must be at least 2"},
		{[]string{"sim", "--gossip-only", "--loss", "1.5"}, "--loss 1.5: must be at least 0 and less than 1"},
		{[]string{"sim", "--gossip-only", "--duration", "-5s"}, "--duration -5s: must be a positive duration"},
		{[]string{"sim", "--gossip-only", "--members", "10", "--partition", "10"}, "--partition 10: must be between 0 and 9"},
		{[]string{"sim", "--gossip-only", "--pause-for", "3s", "--pause-every", "2s"}, "--pause-every 2s: must be longer than 3s"},
		{[]string{"bench", "--nodes", "0"}, "kanna bench: --nodes 0: must be at least 1"},
		{[]string{"bench", "--clients", "-2"}, "kanna bench: --clients -2: must be at least 1"},
		{[]string{"bench", "--duration", "-5s"}, "kanna bench: --duration -5s: must be a positive duration"},
		{[]string{"bench", "--payload", "33"}, "kanna bench: --payload 33: must be between 1 and 32"},
		{[]string{"demo", "--nodes", "0"}, "kanna demo: --nodes 0: must be at least 1"},
		{[]string{"status", "--addr", "127.0.0.1:1", "--timeout", "0s"}, "kanna status: --timeout 0s: must be a positive duration"},
		{[]string{"node", "--id", "1", "--data", "d", "--tick", "-1s"}, "kanna node: --tick -1s: must be a positive duration"},
	}
	for _, tc := range cases {
		code, out, errOut := runKanna(t, tc.args...)
		require.Equal(t, 2, code, "kanna %v", tc.args)
		require.Empty(t, out, "kanna %v", tc.args)
		require.Contains(t, errOut, tc.want, "kanna %v", tc.args)
		require.NotContains(t, errOut, "sim: sim:", "kanna %v", tc.args)
	}
}

func TestBenchNamesEachBadValueOnALineOfItsOwn(t *testing.T) {
	code, _, errOut := runKanna(t, "bench", "--nodes", "0", "--clients", "-2", "--duration", "0s", "--payload", "0")
	require.Equal(t, 2, code)
	require.Equal(t, []string{
		"kanna bench: --nodes 0: must be at least 1",
		"kanna bench: --clients -2: must be at least 1",
		"kanna bench: --duration 0s: must be a positive duration, e.g. 30s",
		"kanna bench: --payload 0: must be between 1 and 32",
	}, strings.Split(strings.TrimSpace(errOut), "\n"))
}

func TestAFlagThatDoesNotParseOrIsUnknownPointsAtHelp(t *testing.T) {
	code, out, errOut := runKanna(t, "sim", "--seeds", "many")
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errOut, `invalid value "many" for flag -seeds`)
	require.Contains(t, errOut, "run 'kanna sim --help' for its flags and examples")
	require.NotContains(t, errOut, "examples:", "the error stays in sight, without the whole page")

	code, _, errOut = runKanna(t, "status", "--addr", "127.0.0.1:1", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `kanna status: unexpected argument "extra"`)
}

func TestBugListWithJSONPrintsEveryBugAsJSON(t *testing.T) {
	code, out, _ := runKanna(t, "sim", "--bug", "list", "--json")
	require.Equal(t, 0, code)
	var bugs []struct {
		Name     string   `json:"name"`
		Core     string   `json:"core"`
		Help     string   `json:"help"`
		Rule     string   `json:"rule"`
		Section  string   `json:"section"`
		Function string   `json:"function"`
		Test     string   `json:"test"`
		CaughtBy string   `json:"caught_by"`
		Seeds    int      `json:"seeds"`
		Faults   []string `json:"faults"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &bugs))
	require.Len(t, bugs, len(sim.Bugs)+len(gossipsim.Bugs))
	for i, b := range sim.Bugs {
		require.Equal(t, b.Name, bugs[i].Name)
		require.Equal(t, "raft", bugs[i].Core)
		require.Equal(t, b.Help, bugs[i].Help)
		require.Equal(t, b.Expect, bugs[i].CaughtBy)
		require.Equal(t, b.Seeds, bugs[i].Seeds)
	}
	for i, b := range gossipsim.Bugs {
		got := bugs[len(sim.Bugs)+i]
		require.Equal(t, b.Name, got.Name)
		require.Equal(t, "gossip", got.Core)
		require.Equal(t, b.Expect, got.CaughtBy)
	}
	for _, b := range bugs {
		for field, v := range map[string]string{"rule": b.Rule, "section": b.Section, "function": b.Function, "test": b.Test} {
			require.NotEmpty(t, v, "bug %s lists no %s", b.Name, field)
		}
		require.Regexp(t, `^(raft|gossip|tests/sim)/\S+\.go \w+`, b.Function, "bug %s names a file and a function", b.Name)
	}
}

// A run under a bug that fails says which rule was off and where it lives; one that shows nothing
// says so and suggests a sweep.
func TestARunUnderABugExplainsItself(t *testing.T) {
	code, _, errOut := runKanna(t, "sim", "--gossip-only", "--members", "10", "--bug", "no-suspicion-timeout")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "rule off:  a suspect that does not refute within the suspicion timeout is declared dead")
	require.Contains(t, errOut, "code:      gossip/state.go tickSuspicions")
	require.Contains(t, errOut, "test:      tests/sim/gossipsim TestGossipBugIsCaught/no-suspicion-timeout")

	code, _, errOut = runKanna(t, "sim", "--seed", "2", "--duration", "6s", "--bug", "commit-old-term")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "this seed never met the situation the rule is for")
	require.Contains(t, errOut, "sweep: kanna sim --seeds 50 --bug commit-old-term")
}

func TestReplayLinesNameTheBinaryAsItWasInvoked(t *testing.T) {
	code, _, errOut := captured(t, func() int {
		return run([]string{"./bin/kanna", "sim", "--seed", "1", "--duration", "20s", "--bug", "no-prevote-no-checkquorum"})
	})
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "\nreplay: ./bin/kanna sim --seed 1 --nodes 5 --duration 20s --bug no-prevote-no-checkquorum --trace seed-1.trace")
}

func TestDemoPrintsAStatusCommandThatWorksAsPrinted(t *testing.T) {
	var out bytes.Buffer
	captured(t, func() int {
		self = "./bin/kanna"
		printCluster(&out, []demo.NodeInfo{{ID: 1, Addr: "127.0.0.1:7001"}, {ID: 2, Addr: "127.0.0.1:7002"}}, "/tmp/d", "http://127.0.0.1:8080", "ck", "kk")
		return 0
	})
	got := out.String()
	require.Contains(t, got, "./bin/kanna status --addr 127.0.0.1:7001 --cluster-key ck\n")
	require.Contains(t, got, "dashboard:        http://127.0.0.1:8080/dashboard?key=kk\n")
	require.Contains(t, got, "control endpoint: http://127.0.0.1:8080/?key=kk  (for ./bin/kanna web --control; its JSON API under /nodes:)\n",
		"the control endpoint's line says what its URL is for, so it is not taken for a second game URL")
	require.Contains(t, got, "curl -X POST -H 'Kanna-Control-Key: kk' http://127.0.0.1:8080/nodes/1/crash\n")
	require.Contains(t, got, "curl -X POST -H 'Kanna-Control-Key: kk' http://127.0.0.1:8080/nodes/1/restart\n")
}
