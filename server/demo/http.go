// The control endpoint of `kanna demo`: a small JSON API over HTTP, on loopback, to crash and
// restart node processes from a dashboard. Crashing a node is SWIM's and Raft's fail-stop failure
// (Raft paper §5.5); restarting it from its data folder shows recovery from persistent state
// (Figure 2).

package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Handler serves the control endpoint:
//
//	GET  /nodes               every node: id, addr, pid, running, data_dir, log_file, exit
//	POST /nodes/{id}/crash    SIGKILL the node's process; 409 when it is not running
//	POST /nodes/{id}/restart  start it again with the same flags and data; 409 when it runs
//
// A successful POST answers with the node's NodeInfo; an error answers {"error": "..."} with 400
// (bad id), 404 (no such node) or 409 (wrong state for the action).
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /nodes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Nodes())
	})
	mux.HandleFunc("POST /nodes/{id}/crash", s.action(s.Crash))
	mux.HandleFunc("POST /nodes/{id}/restart", s.action(s.Restart))
	return mux
}

// action adapts Crash or Restart to an HTTP handler.
func (s *Supervisor) action(do func(id uint64) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil || id == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{
				"error": fmt.Sprintf("node id %q is not a positive integer; GET /nodes lists the ids", r.PathValue("id")),
			})
			return
		}
		if err := do(id); err != nil {
			code := http.StatusInternalServerError
			switch {
			case errors.Is(err, ErrNoSuchNode):
				code = http.StatusNotFound
			case errors.Is(err, ErrRunning), errors.Is(err, ErrNotRunning):
				code = http.StatusConflict
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, s.Node(id))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
