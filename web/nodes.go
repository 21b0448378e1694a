// The node pool: one gRPC connection per node, which node to try first, and how a call moves to
// the next node when one fails.
//
// Any node serves any Game call (followers forward writes to the leader, Raft paper §8), so the
// pool needs no leader tracking: it keeps using one node until a call to it fails with a code that
// says "this node cannot help now", then moves on. Writes carry the browser's client id and seq,
// so resending one to another node is safe: the state machine applies it once (thesis §6.3).
package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// ClusterKeyHeader is the metadata key that carries the cluster key (docs/protocol.md).
const ClusterKeyHeader = "kanna-cluster-key"

// clusterKey attaches the cluster key to every call, streams included. It allows plain-text
// connections because the key is a guard against mistakes, not a secret (docs/protocol.md).
type clusterKey string

func (k clusterKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{ClusterKeyHeader: string(k)}, nil
}

func (clusterKey) RequireTransportSecurity() bool { return false }

// node is one node's connection and clients.
type node struct {
	addr    string
	conn    *grpc.ClientConn
	game    kannapb.GameClient
	cluster kannapb.ClusterClient
}

// nodePool holds a connection to every configured node and the index of the one to try first.
type nodePool struct {
	nodes []*node

	mu      sync.Mutex
	current int
}

// newNodePool dials every address lazily: a node that is down now is simply skipped until it
// answers again.
func newNodePool(addrs []string, key string) (*nodePool, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// gRPC's default reconnect backoff grows to two minutes, and a connection over a cut link
		// goes on believing in itself: a node restarted from the dashboard, or whose link healed,
		// should be usable again within a second or two.
		grpc.WithConnectParams(demo.Reconnect),
		grpc.WithKeepaliveParams(demo.Keepalive),
	}
	if key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(clusterKey(key)))
	}
	p := &nodePool{}
	for _, addr := range addrs {
		conn, err := grpc.NewClient(addr, opts...)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("web: node address %q: %w", addr, err)
		}
		p.nodes = append(p.nodes, &node{addr: addr, conn: conn,
			game: kannapb.NewGameClient(conn), cluster: kannapb.NewClusterClient(conn)})
	}
	return p, nil
}

func (p *nodePool) close() {
	for _, n := range p.nodes {
		_ = n.conn.Close()
	}
}

// pick returns the index of the node to try first.
func (p *nodePool) pick() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

// failed records that node i could not serve a call: if it is still the first choice, the next
// node becomes the first choice. A caller that saw an older failure does not move the choice
// again, so two calls failing on one node advance it once.
func (p *nodePool) failed(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == i {
		p.current = (i + 1) % len(p.nodes)
	}
}

// nodeCannotHelp reports whether err means the node called could not serve the call now (down, no
// leader, cut off, shutting down), so that the same call should go to another node.
func nodeCannotHelp(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Internal, codes.Unknown:
		// Not Aborted: a node answers it for an expired session, which every node would repeat.
		return true
	}
	return false
}

// retryBackoff is the pause before the attempt after n failed ones: short at first, because the
// next node is usually fine, and capped well under an election timeout times a few.
func retryBackoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n, 4)
	return min(d, 500*time.Millisecond)
}

// call runs one idempotent call on the first choice node and, while nodes cannot help, on the next
// ones, until it succeeds, fails for a reason another node would share, or ctx ends. Each attempt
// gets at most attempt of ctx's time, so a node that hangs (a leader cut off from its followers)
// costs one attempt, not the whole call.
func call[T any](ctx context.Context, p *nodePool, attempt time.Duration, do func(context.Context, *node) (T, error)) (T, int, error) {
	var lastErr error
	for n := 0; ; n++ {
		i := p.pick()
		actx, cancel := context.WithTimeout(ctx, attempt)
		out, err := do(actx, p.nodes[i])
		cancel()
		if err == nil {
			return out, i, nil
		}
		lastErr = err
		if !nodeCannotHelp(err) {
			return out, i, err
		}
		p.failed(i)
		select {
		case <-ctx.Done():
			var zero T
			return zero, i, fmt.Errorf("no node could serve the call in time, the last said: %w", errors.Join(lastErr, ctx.Err()))
		case <-time.After(retryBackoff(n)):
		}
	}
}
