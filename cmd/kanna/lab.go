// `kanna lab`: the lab track (internal/lab). `list` shows the labs, `show N` one lab's rules and
// functions, `start N --dir DIR` writes a workspace with lab N's functions stubbed, and
// `check N [--dir DIR]` grades a workspace, or the repository itself, rule by rule.

package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/kanna-cluster/kanna/internal/lab"
)

func init() {
	register("lab", "learn Raft and SWIM by rewriting the cores: lab list, lab start N --dir DIR, lab check N", runLab)
}

const labHelp = `
The lab track: rebuild Kanna's own Raft and SWIM cores rule by rule, graded by black-box tests and
the simulator. Subcommands:

  list                 the labs, in the order of Raft paper Figure 2, then SWIM
  show N               lab N: what to read first, the functions you write, the rules graded
  start N --dir DIR    copy the module into DIR with lab N's functions stubbed; on a workspace of
                       an earlier lab, stub lab N there and keep your own code
  check N [--dir DIR] [--seeds S]
                       grade DIR (default: the repository) rule by rule, then sweep its core with
                       the simulator; a failure quotes the rule and section, the evidence, the
                       replay command of a failing seed and its HTML diagram

docs/labs.md walks the track.`

// labFlags is the help page of `kanna lab`: the flags its subcommands take.
func labFlags() *flag.FlagSet {
	fs := newFlags("lab", labHelp,
		"kanna lab list",
		"kanna lab start 1 --dir ~/kanna-lab",
		"kanna lab check 1 --dir ~/kanna-lab",
		"kanna lab start 2 --dir ~/kanna-lab      carries your lab 1 forward",
		"kanna lab check 2                        grades the repository's own core")
	fs.String("dir", "", "start: the workspace folder; check: the workspace to grade (default: the repository)")
	fs.Int("seeds", 0, "check: simulator seeds in the sweep (default: 200 for Raft labs, 40 for SWIM)")
	return fs
}

func runLab(args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "help" {
		if len(args) == 0 || args[0] == "help" {
			args = []string{"--help"}
		}
		code, _ := parseFlags(labFlags(), args)
		return code
	}
	switch args[0] {
	case "list":
		return labList(args[1:])
	case "show":
		return labShow(args[1:])
	case "start":
		return labStart(args[1:])
	case "check":
		return labCheck(args[1:])
	}
	fmt.Fprintf(stderr, "kanna lab: unknown subcommand %q; want list, show, start or check (see '%s lab --help')\n", args[0], self)
	return 2
}

func labList(args []string) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "kanna lab list: takes no arguments, got %q\n", strings.Join(args, " "))
		return 2
	}
	for _, l := range lab.Labs {
		fmt.Fprintf(stdout, "%d. %-26s %s (%s/, %d rules, %s min)\n", l.N, l.Name, l.Summary, l.Dir, len(l.Rules), l.Minutes)
	}
	fmt.Fprintln(stdout, "\nstart with: kanna lab start 1 --dir ~/kanna-lab; docs/labs.md walks the track")
	return 0
}

// labNumber parses the lab number that follows a subcommand, leaving the flags after it.
func labNumber(sub string, args []string) (int, []string, bool) {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "kanna lab %s: name the lab, e.g. kanna lab %s 1 (kanna lab list shows them)\n", sub, sub)
		return 0, nil, false
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "kanna lab %s: %q is not a lab number; kanna lab list shows them\n", sub, args[0])
		return 0, nil, false
	}
	if _, err := lab.Get(n); err != nil {
		fmt.Fprintf(stderr, "kanna lab %s: %v\n", sub, err)
		return 0, nil, false
	}
	return n, args[1:], true
}

func labShow(args []string) int {
	n, rest, ok := labNumber("show", args)
	if !ok {
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "kanna lab show: unexpected %q\n", strings.Join(rest, " "))
		return 2
	}
	root, err := lab.FindRoot(".")
	if err != nil {
		fmt.Fprintf(stderr, "kanna lab show: %v\n", err)
		return 1
	}
	funcs, err := lab.Funcs(root)
	if err != nil {
		fmt.Fprintf(stderr, "kanna lab show: %v\n", err)
		return 1
	}
	l, _ := lab.Get(n)
	fmt.Fprintf(stdout, "lab %d: %s (%s), about %s minutes\n\nread first:\n", l.N, l.Name, l.Summary, l.Minutes)
	for _, r := range l.Read {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	fmt.Fprintln(stdout, "\nyou write:")
	for _, f := range funcs {
		if f.Lab == n {
			fmt.Fprintf(stdout, "  %-32s %s\n  %-32s %s (%s)\n", f.Name, f.File, "", f.Rule, f.Section)
		}
	}
	fmt.Fprintln(stdout, "\ngraded by:")
	for _, r := range l.Rules {
		fmt.Fprintf(stdout, "  %-52s %s (%s)\n", r.Test, r.Rule, r.Section)
	}
	fmt.Fprintf(stdout, "  then a sweep of the %s simulator\n", l.Sweep)
	return 0
}

func labStart(args []string) int {
	n, rest, ok := labNumber("start", args)
	if !ok {
		return 2
	}
	fs := newFlags("lab start", labHelp, "kanna lab start 1 --dir ~/kanna-lab")
	dir := fs.String("dir", "", "the workspace folder: new, or a workspace of an earlier lab")
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "kanna lab start: give the workspace folder with --dir DIR (and nothing else)")
		return 2
	}
	root, err := lab.FindRoot(".")
	if lab.IsWorkspace(*dir) {
		root, err = *dir, nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "kanna lab start: %v\n", err)
		return 1
	}
	funcs, err := lab.Start(root, *dir, n)
	if err != nil {
		fmt.Fprintf(stderr, "kanna lab start: %v\n", err)
		return 1
	}
	l, _ := lab.Get(n)
	fmt.Fprintf(stdout, "lab %d (%s) is ready in %s. Write these functions:\n", n, l.Name, *dir)
	for _, f := range funcs {
		fmt.Fprintf(stdout, "  %s in %s\n    %s (%s)\n", f.Name, f.File, f.Rule, f.Section)
	}
	fmt.Fprintf(stdout, "\nthen grade them: kanna lab check %d --dir %s\n", n, *dir)
	return 0
}

func labCheck(args []string) int {
	n, rest, ok := labNumber("check", args)
	if !ok {
		return 2
	}
	fs := newFlags("lab check", labHelp, "kanna lab check 1 --dir ~/kanna-lab")
	dir := fs.String("dir", "", "the workspace to grade (default: the repository you are in)")
	seeds := fs.Int("seeds", 0, "simulator seeds in the sweep (default: 200 for Raft labs, 40 for SWIM)")
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if fs.NArg() > 0 || *seeds < 0 {
		fmt.Fprintf(stderr, "kanna lab check: unexpected %q; usage: kanna lab check N [--dir DIR] [--seeds S]\n", strings.Join(fs.Args(), " "))
		return 2
	}
	target := *dir
	if target == "" {
		target = "."
	}
	root, err := lab.FindRoot(target)
	if err != nil {
		fmt.Fprintf(stderr, "kanna lab check: %v\n", err)
		return 1
	}
	res, err := lab.Check(lab.CheckOptions{Lab: n, Dir: root, Seeds: *seeds, Out: stdout, Progress: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "kanna lab check: %v\n", err)
		return 1
	}
	if !res.Passed {
		return 1
	}
	return 0
}
