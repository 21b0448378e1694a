// `kanna lab`: the lab track (internal/lab). `list` shows the labs, `show N` one lab's rules and
// functions, `start N --dir DIR` writes a workspace with lab N's functions stubbed, and
// `check N [--dir DIR]` grades a workspace, or the repository itself, rule by rule.

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kanna-cluster/kanna/internal/lab"
)

// labOut and labErr are where `kanna lab` writes its report and its progress.
var labOut, labErr io.Writer = os.Stdout, os.Stderr

func init() {
	register("lab", "learn Raft and SWIM by rewriting the cores: lab list, lab start N --dir DIR, lab check N", runLab)
}

const labUsage = `usage:
  kanna lab list                      the labs, in the order of Raft paper Figure 2, then SWIM
  kanna lab show N                    lab N: what to read, its rules, the functions you write
  kanna lab start N --dir DIR         copy the module into DIR with lab N's functions stubbed
                                      (DIR a workspace already: stub lab N there, keep your code)
  kanna lab check N [--dir DIR] [--seeds S]
                                      grade DIR (default: the repository) rule by rule, then
                                      sweep its core with the simulator
See docs/labs.md.
`

func runLab(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(labErr, labUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
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
	fmt.Fprintf(labErr, "kanna lab: unknown subcommand %q\n%s", args[0], labUsage)
	return 2
}

func labList(args []string) int {
	if len(args) > 0 {
		fmt.Fprintf(labErr, "kanna lab list: takes no arguments, got %q\n", strings.Join(args, " "))
		return 2
	}
	for _, l := range lab.Labs {
		fmt.Fprintf(labOut, "%d. %-26s %s (%s/, %d rules, %s min)\n", l.N, l.Name, l.Summary, l.Dir, len(l.Rules), l.Minutes)
	}
	fmt.Fprintln(labOut, "\nstart with: kanna lab start 1 --dir ~/kanna-lab; docs/labs.md walks the track")
	return 0
}

// labNumber parses the lab number that follows a subcommand, leaving the flags after it.
func labNumber(sub string, args []string) (int, []string, bool) {
	if len(args) == 0 {
		fmt.Fprintf(labErr, "kanna lab %s: name the lab, e.g. kanna lab %s 1 (kanna lab list shows them)\n", sub, sub)
		return 0, nil, false
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Fprintf(labErr, "kanna lab %s: %q is not a lab number; kanna lab list shows them\n", sub, args[0])
		return 0, nil, false
	}
	if _, err := lab.Get(n); err != nil {
		fmt.Fprintf(labErr, "kanna lab %s: %v\n", sub, err)
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
		fmt.Fprintf(labErr, "kanna lab show: unexpected %q\n", strings.Join(rest, " "))
		return 2
	}
	root, err := lab.FindRoot(".")
	if err != nil {
		fmt.Fprintf(labErr, "kanna lab show: %v\n", err)
		return 1
	}
	funcs, err := lab.Funcs(root)
	if err != nil {
		fmt.Fprintf(labErr, "kanna lab show: %v\n", err)
		return 1
	}
	l, _ := lab.Get(n)
	fmt.Fprintf(labOut, "lab %d: %s (%s), about %s minutes\n\nread first:\n", l.N, l.Name, l.Summary, l.Minutes)
	for _, r := range l.Read {
		fmt.Fprintf(labOut, "  - %s\n", r)
	}
	fmt.Fprintln(labOut, "\nyou write:")
	for _, f := range funcs {
		if f.Lab == n {
			fmt.Fprintf(labOut, "  %-32s %s\n  %-32s %s (%s)\n", f.Name, f.File, "", f.Rule, f.Section)
		}
	}
	fmt.Fprintln(labOut, "\ngraded by:")
	for _, r := range l.Rules {
		fmt.Fprintf(labOut, "  %-52s %s (%s)\n", r.Test, r.Rule, r.Section)
	}
	fmt.Fprintf(labOut, "  then a sweep of the %s simulator\n", l.Sweep)
	return 0
}

func labStart(args []string) int {
	n, rest, ok := labNumber("start", args)
	if !ok {
		return 2
	}
	fs := flag.NewFlagSet("lab start", flag.ContinueOnError)
	fs.SetOutput(labErr)
	dir := fs.String("dir", "", "the workspace folder: new, or a workspace of an earlier lab")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(labErr, "kanna lab start: give the workspace folder with --dir DIR (and nothing else)")
		return 2
	}
	root, err := lab.FindRoot(".")
	if lab.IsWorkspace(*dir) {
		root, err = *dir, nil
	}
	if err != nil {
		fmt.Fprintf(labErr, "kanna lab start: %v\n", err)
		return 1
	}
	funcs, err := lab.Start(root, *dir, n)
	if err != nil {
		fmt.Fprintf(labErr, "kanna lab start: %v\n", err)
		return 1
	}
	l, _ := lab.Get(n)
	fmt.Fprintf(labOut, "lab %d (%s) is ready in %s. Write these functions:\n", n, l.Name, *dir)
	for _, f := range funcs {
		fmt.Fprintf(labOut, "  %s in %s\n    %s (%s)\n", f.Name, f.File, f.Rule, f.Section)
	}
	fmt.Fprintf(labOut, "\nthen grade them: kanna lab check %d --dir %s\n", n, *dir)
	return 0
}

func labCheck(args []string) int {
	n, rest, ok := labNumber("check", args)
	if !ok {
		return 2
	}
	fs := flag.NewFlagSet("lab check", flag.ContinueOnError)
	fs.SetOutput(labErr)
	dir := fs.String("dir", "", "the workspace to grade (default: the repository you are in)")
	seeds := fs.Int("seeds", 0, "simulator seeds in the sweep (default: 200 for Raft labs, 40 for SWIM)")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *seeds < 0 {
		fmt.Fprintf(labErr, "kanna lab check: unexpected %q; usage: kanna lab check N [--dir DIR] [--seeds S]\n", strings.Join(fs.Args(), " "))
		return 2
	}
	target := *dir
	if target == "" {
		target = "."
	}
	root, err := lab.FindRoot(target)
	if err != nil {
		fmt.Fprintf(labErr, "kanna lab check: %v\n", err)
		return 1
	}
	res, err := lab.Check(lab.CheckOptions{Lab: n, Dir: root, Seeds: *seeds, Out: labOut, Progress: labErr})
	if err != nil {
		fmt.Fprintf(labErr, "kanna lab check: %v\n", err)
		return 1
	}
	if !res.Passed {
		return 1
	}
	return 0
}
