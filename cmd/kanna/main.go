// Command kanna is Kanna's one binary: `kanna sim` runs seeded simulations of whole clusters, and
// the other subcommands (node, web, demo, bench, status) run a real cluster. Each subcommand lives
// in a file of its own and registers itself from an init function.
package main

import (
	"fmt"
	"os"
	"sort"
)

// command is one subcommand: a line of help and the function that runs it with its arguments.
type command struct {
	help string
	run  func(args []string) int
}

var commands = map[string]command{}

func register(name, help string, run func(args []string) int) {
	commands[name] = command{help: help, run: run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kanna <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", name, commands[name].help)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "kanna: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(cmd.run(os.Args[2:]))
}
