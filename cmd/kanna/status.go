// `kanna status`: one table of a cluster's members as its nodes see themselves: gossip state (SWIM
// §4.2), Raft role and term (Raft paper Figure 2, §5.1), commit, applied and last index (§5.3), and how
// recently the leader heard from each (check-quorum, Ongaro's thesis §6.2). It asks one node for
// the member list (Cluster.Members), then every listed member for its own Status.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

func init() {
	register("status", "show every member's gossip state, Raft role, term, commit and applied index (--addr)", runStatus)
}

func runStatus(args []string) int {
	fs := newFlags("status", statusHelp,
		"kanna status --addr 127.0.0.1:7001",
		"kanna status --addr 127.0.0.1:7002 --cluster-key \"$KANNA_KEY\" --timeout 10s")
	addr := fs.String("addr", "", "address (host:port) of any member of the cluster (required)")
	key := fs.String("cluster-key", "", "the cluster's key (default: the nodes' development key)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for each node's answer, a positive duration")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *addr == "" {
		fmt.Fprintln(stderr, "kanna status: --addr is required: the host:port of any member, e.g. 127.0.0.1:7001")
		return 2
	}
	if !checkFlags("status", longerThan("timeout", *timeout, 0)) {
		return 2
	}
	report, err := collectStatus(context.Background(), *addr, *key, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "kanna status: %v\n", err)
		return 1
	}
	report.render(stdout)
	return 0
}

const statusHelp = `
Prints one table of a cluster's members as its nodes see themselves: gossip state, suffrage (voter
or learner), Raft role and term, commit and applied index, and whether the leader heard from each
within the last election timeout. It asks the node at --addr for the member list, then every
listed member for its own status; a member that does not answer is shown as unreachable.`

// statusReport is what `kanna status` learned: the member list from one node and each member's
// own status, or why it did not answer.
type statusReport struct {
	members  *kannapb.MembersResponse
	statuses map[uint64]*kannapb.NodeStatus
	errs     map[uint64]error
}

// collectStatus asks addr for the members, then each member with an address for its status, all
// at once.
func collectStatus(ctx context.Context, addr, key string, timeout time.Duration) (*statusReport, error) {
	conn, err := demo.Dial(addr, key)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	mctx, cancel := context.WithTimeout(ctx, timeout)
	members, err := kannapb.NewClusterClient(conn).Members(mctx, &kannapb.MembersRequest{})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("ask %s for the cluster's members: %w", addr, explainRPCError(err, addr))
	}
	r := &statusReport{members: members, statuses: map[uint64]*kannapb.NodeStatus{}, errs: map[uint64]error{}}
	type answer struct {
		id  uint64
		st  *kannapb.NodeStatus
		err error
	}
	ch := make(chan answer)
	asked := 0
	for _, m := range members.Members {
		if m.Address == "" {
			r.errs[m.Id] = errors.New("gossip has no address for it")
			continue
		}
		asked++
		go func() {
			st, err := nodeStatus(ctx, m.Address, key, timeout)
			ch <- answer{m.Id, st, err}
		}()
	}
	for ; asked > 0; asked-- {
		a := <-ch
		if a.err != nil {
			r.errs[a.id] = a.err
		} else {
			r.statuses[a.id] = a.st
		}
	}
	return r, nil
}

// nodeStatus calls Cluster.Status on one node.
func nodeStatus(ctx context.Context, addr, key string, timeout time.Duration) (*kannapb.NodeStatus, error) {
	conn, err := demo.Dial(addr, key)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := kannapb.NewClusterClient(conn).Status(ctx, &kannapb.StatusRequest{})
	if err != nil {
		return nil, explainRPCError(err, addr)
	}
	return st, nil
}

// explainRPCError turns a gRPC failure into what the user should check.
func explainRPCError(err error, addr string) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("%s is unreachable (%w): check the address and that a node runs there", addr, err)
	case codes.Unauthenticated:
		return fmt.Errorf("%s refused the cluster key (%w): pass the key its nodes were started with, --cluster-key", addr, err)
	}
	return err
}

// render writes the table, one row per member by id, then the leader and any member that did not
// answer.
func (r *statusReport) render(w io.Writer) {
	leader := r.members.Leader
	var leaderStatus *kannapb.NodeStatus
	if st := r.statuses[leader]; st != nil && st.Role == kannapb.NodeRole_NODE_ROLE_LEADER {
		leaderStatus = st
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tGOSSIP\tSUFFRAGE\tROLE\tTERM\tCOMMIT\tAPPLIED\tLAST INDEX\tLAST CONTACT")
	members := append([]*kannapb.Member(nil), r.members.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i].Id < members[j].Id })
	for _, m := range members {
		st := r.statuses[m.Id]
		role, term, commit, applied, last := "unreachable", "-", "-", "-", "-"
		if st != nil {
			role = roleName(st.Role)
			if st.Recovering {
				role += ":recovering"
			}
			term, commit, applied, last = fmt.Sprint(st.Term), fmt.Sprint(st.Commit), fmt.Sprint(st.Applied), fmt.Sprint(st.LastIndex)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Id, orDash(m.Address), enumName(m.State.String(), "MEMBER_STATE_"),
			enumName(m.Suffrage.String(), "SUFFRAGE_"), role, term, commit, applied, last, lastContact(m.Id, leaderStatus))
	}
	_ = tw.Flush()
	if leader == 0 {
		fmt.Fprintf(w, "\nleader: none known to node %d\n", r.members.ServedBy)
	} else {
		fmt.Fprintf(w, "\nleader: node %d (member list from node %d)\n", leader, r.members.ServedBy)
	}
	ids := make([]uint64, 0, len(r.errs))
	for id := range r.errs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		fmt.Fprintf(w, "node %d: %v\n", id, r.errs[id])
	}
}

// lastContact says when the leader last heard from a member: Raft keeps no clock time in its
// messages, so this is the leader's check-quorum flag (heard from within the last election
// timeout), the one measure of contact the cluster tracks.
func lastContact(id uint64, leader *kannapb.NodeStatus) string {
	if leader == nil {
		return "-"
	}
	if id == leader.Id {
		return "self (leader)"
	}
	for _, p := range leader.Progress {
		if p.Id == id {
			if p.RecentActive {
				return "within election timeout"
			}
			return "silent for an election timeout"
		}
	}
	return "-"
}

// enumName turns MEMBER_STATE_ALIVE into "alive" and the UNSPECIFIED value into "-".
func enumName(s, prefix string) string {
	s = strings.ToLower(strings.TrimPrefix(s, prefix))
	if s == "unspecified" {
		return "-"
	}
	return s
}

// roleName turns NODE_ROLE_PRE_CANDIDATE into "pre-candidate".
func roleName(r kannapb.NodeRole) string {
	return strings.ReplaceAll(enumName(r.String(), "NODE_ROLE_"), "_", "-")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
