// Control: the dashboard's buttons. Crashing a node is Raft's and SWIM's fail-stop failure (Raft
// paper §5.5); only a supervisor that started the nodes can kill and start them, so the web server
// asks one: `kanna demo` in-process, or its HTTP control endpoint (`kanna web --control URL`).
// Isolating and healing need no supervisor: they are the nodes' own Cluster.DropTraffic and
// Cluster.Heal, which make a cut link look like message loss (§5.1: the network may lose messages).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// ErrUnknownNode is what a Control's Crash or Restart wraps for an id it does not supervise.
var ErrUnknownNode = errors.New("no such node")

// Control crashes and restarts nodes by id. `kanna demo`'s *demo.Supervisor is one.
type Control interface {
	// Crash stops node id at once, as a power cut would (no graceful leave).
	Crash(id uint64) error
	// Restart starts node id again on its old address and data directory.
	Restart(id uint64) error
}

// HTTPControl is a Control that calls `kanna demo`'s control endpoint: POST {base}/nodes/{id}/crash
// and POST {base}/nodes/{id}/restart, with the endpoint's control key in the Kanna-Control-Key
// header.
type HTTPControl struct {
	base   *url.URL
	key    string
	client *http.Client
}

// NewHTTPControl returns a Control for the endpoint at base, as `kanna demo` prints it:
// "http://127.0.0.1:7070/?key=SECRET". The key travels in a header, never in the URL.
func NewHTTPControl(base string) (*HTTPControl, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web: control URL %q is not http(s)://host:port/?key=KEY; give the URL `kanna demo` prints", base)
	}
	key := u.Query().Get(ControlKeyParam)
	u.RawQuery, u.Path = "", strings.TrimRight(u.Path, "/")
	return &HTTPControl{base: u, key: key, client: &http.Client{Timeout: 10 * time.Second}}, nil
}

// Key returns the control key the URL carried, empty if none.
func (h *HTTPControl) Key() string { return h.key }

// Crash implements Control.
func (h *HTTPControl) Crash(id uint64) error { return h.post(id, "crash") }

// Restart implements Control.
func (h *HTTPControl) Restart(id uint64) error { return h.post(id, "restart") }

func (h *HTTPControl) post(id uint64, action string) error {
	u := h.base.JoinPath("nodes", fmt.Sprint(id), action)
	req, err := http.NewRequest(http.MethodPost, u.String(), nil)
	if err != nil {
		return fmt.Errorf("web: %s node %d: %w", action, id, err)
	}
	if h.key != "" {
		req.Header.Set(ControlKeyHeader, h.key)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("web: %s node %d: control endpoint %s unreachable: %w", action, id, h.base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		// The demo endpoint explains itself as {"error": "..."}; show that sentence when it does.
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("web: %s node %d: control endpoint answered %s: %s: %w", action, id, resp.Status, msg, ErrUnknownNode)
		}
		return fmt.Errorf("web: %s node %d: control endpoint answered %s: %s", action, id, resp.Status, msg)
	}
	return nil
}

// control carries out a dashboard button.
func (d *dashboard) control(ctx context.Context, req request) error {
	if req.Action != actionHeal && !d.knows(req.Node) {
		// Only a node that every poll missed: before the first poll every id is given a chance.
		return refuse(codeNotFound, "node %d is not one of the nodes this server was given; the dashboard's cards list them", req.Node)
	}
	switch req.Action {
	case actionCrash, actionRestart:
		ctl := d.srv.cfg.Control
		if ctl == nil {
			return refuse(codeFailedPrecondition, "no control endpoint configured: start the web server with --control URL (kanna demo does)")
		}
		do := ctl.Crash
		if req.Action == actionRestart {
			do = ctl.Restart
		}
		if err := do(req.Node); err != nil {
			if errors.Is(err, ErrUnknownNode) {
				return refuse(codeNotFound, "%s node %d: %v", req.Action, req.Node, err)
			}
			return refuse(codeUnavailable, "%s node %d failed: %v", req.Action, req.Node, err)
		}
		d.record("action", fmt.Sprintf("%s node %d (from the dashboard)", req.Action, req.Node))
	case actionIsolate:
		n, peers := d.nodeAndPeers(req.Node)
		if n == nil {
			return refuse(codeNotFound, "node %d has not answered a status poll; wait for its card to show it up", req.Node)
		}
		if len(peers) == 0 {
			return refuse(codeFailedPrecondition, "node %d knows no peers to cut it off from", req.Node)
		}
		cctx, cancel := context.WithTimeout(ctx, d.srv.attemptTimeout())
		defer cancel()
		if _, err := n.cluster.DropTraffic(cctx, &kannapb.DropTrafficRequest{ToPeers: peers, FromPeers: peers,
			Traffic: kannapb.TrafficClass_TRAFFIC_CLASS_ALL}); err != nil {
			return err
		}
		d.record("action", fmt.Sprintf("isolated node %d from nodes %v (from the dashboard)", req.Node, peers))
	case actionHeal:
		var failed []string
		for _, n := range d.srv.pool.nodes {
			cctx, cancel := context.WithTimeout(ctx, d.srv.attemptTimeout())
			_, err := n.cluster.Heal(cctx, &kannapb.HealRequest{})
			cancel()
			if err != nil {
				failed = append(failed, n.addr+": "+err.Error())
			}
		}
		text := "healed every link (from the dashboard)"
		if len(failed) > 0 {
			text += "; not reached: " + strings.Join(failed, "; ")
		}
		d.record("action", text)
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// knows reports whether a node with id has answered a status poll, or no poll has been made yet.
func (d *dashboard) knows(id uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.seen {
		return true
	}
	for _, c := range d.cards {
		if c.ID == id {
			return true
		}
	}
	return false
}

// nodeAndPeers finds the node with id and every other node it knows of, from the last poll.
func (d *dashboard) nodeAndPeers(id uint64) (*node, []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n *node
	peers := map[uint64]bool{}
	for i, c := range d.cards {
		if c.ID == id && c.Up {
			n = d.srv.pool.nodes[i]
			for _, v := range append(append([]uint64{}, c.Voters...), c.Learners...) {
				peers[v] = true
			}
			for _, g := range c.Gossip {
				peers[g.ID] = true
			}
		} else if c.ID != 0 {
			peers[c.ID] = true
		}
	}
	delete(peers, id)
	delete(peers, 0)
	out := make([]uint64, 0, len(peers))
	for p := range peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return n, out
}
