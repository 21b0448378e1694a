// Tests of the peer: its flags refuse what it cannot measure, the detection times are read from
// the survivors' events, and a real three-member run on loopback prints one well-formed line.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/stretchr/testify/require"
)

func TestBadFlagsExitTwoNamingTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "1"}, "-n 1: must be 2 to 512"},
		{[]string{"-n", "-3"}, "-n -3: must be 2 to 512"},
		{[]string{"-n", "513"}, "-n 513: must be 2 to 512"},
		{[]string{"-config", "wan"}, `-config "wan": must be lan or local`},
		{[]string{"-n", "3", "extra"}, `unexpected argument "extra"`},
		{[]string{"-members", "3"}, "flag provided but not defined: -members"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, run(tc.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String())
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: go run . [-n 16] [-config lan|local]")
}

func TestDetectionsAreTheFirstAndLastSurvivorToHear(t *testing.T) {
	crash := time.Unix(1000, 0)
	heardAt := func(after time.Duration) *deaths {
		return &deaths{at: map[string]time.Time{"m3": crash.Add(after), "other": crash}}
	}
	survivors := []*deaths{heardAt(6 * time.Second), {at: map[string]time.Time{}}, heardAt(5 * time.Second), heardAt(7 * time.Second)}

	first, last, seen := detections(survivors, "m3", crash)
	require.Equal(t, 3, seen, "the survivor that has not heard yet is not counted")
	require.Equal(t, 5*time.Second, first)
	require.Equal(t, 7*time.Second, last)

	_, _, seen = detections(survivors, "m9", crash)
	require.Zero(t, seen, "a death nobody heard of is not detected")
}

func TestNotifyLeaveKeepsTheFirstTime(t *testing.T) {
	d := &deaths{at: map[string]time.Time{}}
	_, ok := d.when("m1")
	require.False(t, ok)
	d.at["m1"] = time.Unix(5, 0)
	// A second NotifyLeave for the same member (it came back and died again) must not move the
	// time of the first detection.
	d.NotifyLeave(nodeNamed("m1"))
	at, ok := d.when("m1")
	require.True(t, ok)
	require.Equal(t, time.Unix(5, 0), at)
}

// TestThreeMembersOnLoopback runs the real measurement: about ten seconds of wall clock, most of
// it memberlist's own suspicion timeout. It checks the line's shape, never how fast it was.
func TestThreeMembersOnLoopback(t *testing.T) {
	// -short leaves it out on a developer's machine; CI runs it whatever the flags.
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("starts real memberlist members and waits for a real failure detection")
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-n", "3"}, &stdout, &stderr), "stderr: %s", stderr.String())
	require.Equal(t, 1, strings.Count(stdout.String(), "\n"), "one JSON line: %q", stdout.String())

	var res result
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&res))
	require.Equal(t, "lan", res.Config)
	require.Equal(t, 3, res.N)
	require.Equal(t, "hashicorp/memberlist v0.5.4", res.System, "the version go.mod pins")
	require.Positive(t, res.DetectFirstMs)
	require.LessOrEqual(t, res.DetectFirstMs, res.DetectAllMs)
	require.Contains(t, stderr.String(), "all 2 survivors declared m2 dead")
}

func nodeNamed(name string) *memberlist.Node { return &memberlist.Node{Name: name} }
