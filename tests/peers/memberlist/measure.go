// The measurement itself: start the members, join them, stop one, and read when the survivors
// declare it dead. The times come from memberlist's own event callbacks; the loop that waits for
// them only polls, so its period does not add to what it reports.
package main

import (
	"fmt"
	"io"
	"log"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	// settle is how long the converged cluster runs before the crash, so that every member has
	// probed and been probed a few times (the LAN probe interval is 1 s) and the crash does not
	// land on join-time state.
	settle = 2 * time.Second
	// pollEvery is how often the waits look at the members; it bounds no reported time.
	pollEvery = 5 * time.Millisecond
	// joinDeadline and detectDeadline end a run that would otherwise wait forever; both are many
	// times what a healthy loopback run takes (under a second, and under ten).
	joinDeadline   = 60 * time.Second
	detectDeadline = 120 * time.Second
)

// result is the JSON line. Its fields are in alphabetical order, so the line reads the same as
// the earlier measurements of docs/gossip.md, which were printed from a map.
type result struct {
	Config         string `json:"config"`
	DetectAllMs    int64  `json:"detect_all_ms"`
	DetectFirstMs  int64  `json:"detect_first_ms"`
	JoinConvergeMs int64  `json:"join_converge_ms"`
	N              int    `json:"n"`
	System         string `json:"system"`
}

// deaths records when a member first heard that each other member is gone.
type deaths struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (d *deaths) NotifyJoin(*memberlist.Node)   {}
func (d *deaths) NotifyUpdate(*memberlist.Node) {}
func (d *deaths) NotifyLeave(n *memberlist.Node) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, seen := d.at[n.Name]; !seen {
		d.at[n.Name] = now
	}
}

func (d *deaths) when(name string) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.at[name]
	return t, ok
}

func measure(o options, progress io.Writer) (result, error) {
	res := result{Config: o.config, N: o.n, System: system()}
	members := make([]*memberlist.Memberlist, 0, o.n)
	heard := make([]*deaths, 0, o.n)
	defer func() {
		for _, m := range members {
			_ = m.Shutdown()
		}
	}()
	for i := range o.n {
		c := memberlist.DefaultLANConfig()
		if o.config == "local" {
			c = memberlist.DefaultLocalConfig()
		}
		c.Name = fmt.Sprintf("m%d", i)
		c.BindAddr = "127.0.0.1"
		c.BindPort = 0
		c.Logger = log.New(io.Discard, "", 0)
		d := &deaths{at: map[string]time.Time{}}
		c.Events = d
		m, err := memberlist.Create(c)
		if err != nil {
			return res, fmt.Errorf("start member %s of %d on 127.0.0.1: %w", c.Name, o.n, err)
		}
		members = append(members, m)
		heard = append(heard, d)
	}

	seed := members[0].LocalNode().FullAddress().Addr
	start := time.Now()
	for _, m := range members[1:] {
		if _, err := m.Join([]string{seed}); err != nil {
			return res, fmt.Errorf("member %s joins through %s: %w", m.LocalNode().Name, seed, err)
		}
	}
	for !allCount(members, o.n) {
		if time.Since(start) > joinDeadline {
			return res, fmt.Errorf("join: not every member counts %d members after %v", o.n, joinDeadline)
		}
		time.Sleep(pollEvery)
	}
	join := time.Since(start)
	res.JoinConvergeMs = join.Milliseconds()

	time.Sleep(settle)
	victim := members[o.n-1]
	name := victim.LocalNode().Name
	fmt.Fprintf(progress, "memberlist: %d members joined in %v; stopping %s without a leave\n", o.n, join.Round(time.Millisecond), name)
	crash := time.Now()
	if err := victim.Shutdown(); err != nil {
		return res, fmt.Errorf("stop %s: %w", name, err)
	}
	members = members[:o.n-1]
	survivors := heard[:o.n-1]

	for {
		first, last, seen := detections(survivors, name, crash)
		if seen == len(survivors) {
			res.DetectFirstMs, res.DetectAllMs = first.Milliseconds(), last.Milliseconds()
			fmt.Fprintf(progress, "memberlist: all %d survivors declared %s dead, the first after %v, the last after %v\n",
				seen, name, first.Round(time.Millisecond), last.Round(time.Millisecond))
			return res, nil
		}
		if time.Since(crash) > detectDeadline {
			return res, fmt.Errorf("detect: %d of %d survivors declared %s dead within %v", seen, len(survivors), name, detectDeadline)
		}
		time.Sleep(pollEvery)
	}
}

func allCount(members []*memberlist.Memberlist, n int) bool {
	for _, m := range members {
		if m.NumMembers() != n {
			return false
		}
	}
	return true
}

// detections returns how long after crash the first and the last of the survivors that have
// heard of name's death heard of it, and how many have.
func detections(survivors []*deaths, name string, crash time.Time) (first, last time.Duration, seen int) {
	for _, d := range survivors {
		at, ok := d.when(name)
		if !ok {
			continue
		}
		after := at.Sub(crash)
		if seen == 0 || after < first {
			first = after
		}
		if after > last {
			last = after
		}
		seen++
	}
	return first, last, seen
}

// system names memberlist with the version this binary was built with, read from its build
// information, so a line always says which release it measured.
func system() string {
	const path = "github.com/hashicorp/memberlist"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				return "hashicorp/memberlist " + dep.Version
			}
		}
	}
	return "hashicorp/memberlist"
}
