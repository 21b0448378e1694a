// Control: the dashboard's crash and restart buttons. Only a supervisor that started the nodes can
// kill and start them, so the web server asks one: `kanna demo` in-process, or its HTTP control
// endpoint (`kanna web --control URL`). Isolating and healing need no supervisor: they are the
// nodes' own Cluster.DropTraffic and Cluster.Heal.
package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Control crashes and restarts nodes by id. `kanna demo`'s *demo.Supervisor is one.
type Control interface {
	// Crash stops node id at once, as a power cut would (no graceful leave).
	Crash(id uint64) error
	// Restart starts node id again on its old address and data directory.
	Restart(id uint64) error
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
func (h *HTTPControl) Crash(id uint64) error { return h.post(id, "crash") }

// Restart implements Control.
func (h *HTTPControl) Restart(id uint64) error { return h.post(id, "restart") }

func (h *HTTPControl) post(id uint64, action string) error {
	u := h.base.JoinPath("nodes", fmt.Sprint(id), action)
	req, err := http.NewRequest(http.MethodPost, u.String(), nil)
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
		// The demo endpoint explains itself as {"error": "..."}; show that sentence when it does.
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("web: %s node %d: control endpoint answered %s: %s", action, id, resp.Status, msg)
	}
	return nil
}
