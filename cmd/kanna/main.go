// Command kanna is Kanna's one binary: `kanna sim` runs seeded simulations of whole clusters, and
// the other subcommands (node, web, demo, bench, status) run a real cluster. Each subcommand lives
// in a file of its own and registers itself from an init function; cli.go holds what they share:
// help pages, flag parsing and the checks of numeric flags.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// stdout and stderr are where every subcommand writes its results and its errors; tests replace
// them to read what a command printed.
var stdout, stderr io.Writer = os.Stdout, os.Stderr

// self is the binary as it was invoked (os.Args[0]), so that a command line the binary prints for
// the user to run again (a replay, a status command) works when pasted: ./bin/kanna, not kanna.
var self = "kanna"

// command is one subcommand: a line of help and the function that runs it with its arguments.
type command struct {
	help string
	run  func(args []string) int
}

var commands = map[string]command{}

func register(name, help string, run func(args []string) int) {
	commands[name] = command{help: help, run: run}
}

// usage lists the subcommands, one line each.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Kanna: a replicated Hangman server on hand-written Raft and SWIM gossip.\n\n")
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", self)
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].help)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "show this list, or one command's flags and examples (help COMMAND)")
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags and examples.\n", self)
}

// run dispatches argv (argv[0] is the binary) to its subcommand and returns the exit status.
func run(argv []string) int {
	if len(argv) > 0 && argv[0] != "" {
		self = argv[0]
	}
	args := argv[min(1, len(argv)):]
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if cmd, ok := commands[args[1]]; ok {
				return cmd.run([]string{"--help"})
			}
			fmt.Fprintf(stderr, "%s help: unknown command %q\n\n", self, args[1])
			usage(stderr)
			return 2
		}
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", self, args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:])
}

func main() {
	os.Exit(run(os.Args))
}
