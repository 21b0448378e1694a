// What every subcommand of kanna shares: a help page (what the command does, its flags, examples)
// that --help prints on stdout with exit status 0, the parsing of its flags, and checks of numeric
// flags whose errors name the flag, the value given and the range accepted, one line for each bad
// flag, so that a run with three mistakes shows all three.
//
// A subcommand uses them as:
//
//	fs := newFlags("bench", "What bench does, in a paragraph.", "kanna bench --nodes 5")
//	nodes := fs.Int("nodes", 3, "cluster size")
//	if code, ok := parseFlags(fs, args); !ok {
//		return code
//	}
//	if !checkFlags("bench", atLeast("nodes", *nodes, 1)) {
//		return 2
//	}
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// newFlags returns the flag set of `kanna name`. Its help page is description, then the flags with
// their defaults, then examples, one command line each.
func newFlags(name, description string, examples ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { helpPage(fs, description, examples) }
	return fs
}

// helpPage writes the help page of fs to its output.
func helpPage(fs *flag.FlagSet, description string, examples []string) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: %s %s [flags]\n\n", self, fs.Name())
	fmt.Fprintln(w, strings.TrimSpace(description))
	fmt.Fprintln(w, "\nflags:")
	fs.PrintDefaults()
	if len(examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// parseFlags parses args into fs. ok is false when the command must stop at once with code: 0
// after -h or --help (the help page went to stdout), 2 after a flag it does not know, a value that
// does not parse or an argument that is not a flag (the error went to stderr with a pointer to
// --help, not the whole page, so the error stays in sight).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(stderr)
		return 0, false
	case err != nil:
		// flag has already printed the error itself.
		fmt.Fprintf(stderr, "run '%s %s --help' for its flags and examples\n", self, fs.Name())
		return 2, false
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "kanna %s: unexpected argument %q; every setting is a flag (see '%s %s --help')\n",
			fs.Name(), fs.Arg(0), self, fs.Name())
		return 2, false
	}
	return 0, true
}

// exitStatus is an error for a function that parses flags and returns an error: the command stops
// with this status, having already printed why (or its help page).
type exitStatus int

func (e exitStatus) Error() string {
	return fmt.Sprintf("stopped with exit status %d (the reason is printed above)", int(e))
}

// checkFlags prints each non-nil error as a line of its own, prefixed with the command, and
// reports whether there was none.
func checkFlags(cmd string, errs ...error) bool {
	err := flagErrors(errs...)
	if err != nil {
		printError(cmd, err)
	}
	return err == nil
}

// flagErrors joins the non-nil errors, one a line; nil when there is none.
func flagErrors(errs ...error) error {
	return errors.Join(errs...)
}

// printError prints err as `kanna cmd: ...`, each of its lines with that prefix.
func printError(cmd string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "kanna %s: %s\n", cmd, line)
	}
}

// atLeast accepts v >= lo.
func atLeast[T cmp.Ordered](flagName string, v, lo T) error {
	if v < lo {
		return fmt.Errorf("--%s %v: must be at least %v", flagName, v, lo)
	}
	return nil
}

// between accepts lo <= v <= hi.
func between[T cmp.Ordered](flagName string, v, lo, hi T) error {
	if v < lo || v > hi {
		return fmt.Errorf("--%s %v: must be between %v and %v", flagName, v, lo, hi)
	}
	return nil
}

// longerThan accepts a duration d > lo, e.g. longerThan("duration", d, 0) for a positive one.
func longerThan(flagName string, d, lo time.Duration) error {
	if d <= lo {
		if lo == 0 {
			return fmt.Errorf("--%s %v: must be a positive duration, e.g. 30s", flagName, d)
		}
		return fmt.Errorf("--%s %v: must be longer than %v", flagName, d, lo)
	}
	return nil
}

// notNegative accepts a duration d >= 0.
func notNegative(flagName string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("--%s %v: must be 0 or a positive duration", flagName, d)
	}
	return nil
}
