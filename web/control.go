// Control: the dashboard's crash and restart buttons. Only a supervisor that started the nodes can
// kill and start them, so the web server asks one: `kanna demo` in-process, or its HTTP control
// endpoint (`kanna web --control URL`). Isolating and healing need no supervisor: they are the
// nodes' own Cluster.DropTraffic and Cluster.Heal.
package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Control crashes and restarts nodes by id.
type Control interface {
	// Crash stops node id at once, as a power cut would (no graceful leave).
	Crash(ctx context.Context, id uint64) error
	// Restart starts node id again on its old address and data directory.
	Restart(ctx context.Context, id uint64) error
}

// HTTPControl is a Control that calls `kanna demo`'s control endpoint: POST {base}/nodes/{id}/crash
// and POST {base}/nodes/{id}/restart.
type HTTPControl struct {
	base   *url.URL
	client *http.Client
}

// NewHTTPControl returns a Control for the endpoint at base ("http://127.0.0.1:7070").
func NewHTTPControl(base string) (*HTTPControl, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web: control URL %q is not http(s)://host:port; give the URL `kanna demo` prints", base)
	}
	return &HTTPControl{base: u, client: &http.Client{Timeout: 10 * time.Second}}, nil
}

// Crash implements Control.
func (h *HTTPControl) Crash(ctx context.Context, id uint64) error { return h.post(ctx, id, "crash") }

// Restart implements Control.
func (h *HTTPControl) Restart(ctx context.Context, id uint64) error {
	return h.post(ctx, id, "restart")
}

func (h *HTTPControl) post(ctx context.Context, id uint64, action string) error {
	u := h.base.JoinPath("nodes", fmt.Sprint(id), action)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return fmt.Errorf("web: %s node %d: %w", action, id, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("web: %s node %d: control endpoint %s unreachable: %w", action, id, h.base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("web: %s node %d: control endpoint answered %s: %s", action, id, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
