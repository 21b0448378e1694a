// Command memberlist is the peer system of docs/gossip.md's crash-detection comparison: N
// hashicorp/memberlist members on loopback (real UDP and TCP, real clocks), with the same
// SWIM + Lifeguard settings that gossip.DefaultLANConfig copies. It measures
//
//   - join convergence: every member but the first joins through the first; the time until
//     every member counts all N;
//   - crash detection: two seconds later the last member stops without a leave, as a crashed
//     process would; the time until the first and the last survivor is told it is gone
//     (NotifyLeave, which memberlist calls when it declares a member dead).
//
// and prints one JSON line on stdout, progress on stderr:
//
//	go run . -n 16
//	{"config":"lan","detect_all_ms":6552,"detect_first_ms":6357,"join_converge_ms":451,"n":16,"system":"hashicorp/memberlist v0.5.4"}
//
// It lives in a Go module of its own so that Kanna's module does not depend on memberlist.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, measures, and returns the exit status: 0 after printing the result, 1 when the
// measurement fails, 2 for bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "memberlist:", err)
		return 2
	}
	res, err := measure(opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "memberlist:", err)
		return 1
	}
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(stderr, "memberlist:", err)
		return 1
	}
	fmt.Fprintln(stdout, string(line))
	return 0
}

// maxMembers bounds -n: every member holds a UDP and a TCP socket and a handful of goroutines in
// this one process, and beyond a few hundred the measurement says more about the machine than
// about memberlist.
const maxMembers = 512

type options struct {
	n      int
	config string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("memberlist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 16, fmt.Sprintf("members to start, 2 to %d (one of them is stopped)", maxMembers))
	fs.StringVar(&o.config, "config", "lan", "memberlist's default config to use: lan (gossip.DefaultLANConfig's model) or local")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run . [-n 16] [-config lan|local]")
		fmt.Fprintln(stderr, "Starts N hashicorp/memberlist members on loopback, stops one without a leave, and prints")
		fmt.Fprintln(stderr, "one JSON line: join_converge_ms, detect_first_ms, detect_all_ms.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: this command takes only flags (-n, -config)", fs.Arg(0))
	}
	if o.n < 2 || o.n > maxMembers {
		return o, fmt.Errorf("-n %d: must be 2 to %d (one member is stopped, and at least one must survive to detect it)", o.n, maxMembers)
	}
	if o.config != "lan" && o.config != "local" {
		return o, fmt.Errorf("-config %q: must be lan or local", o.config)
	}
	return o, nil
}
