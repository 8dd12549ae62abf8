package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/sentinel"
	"github.com/vigil-ha/vigil/topology"
)

// errorReply is the body of every JSON error.
type errorReply struct {
	Error string `json:"error"`
}

// readyReply is the body of /readyz.
type readyReply struct {
	Ready bool `json:"ready"`
	// Reason says why the node is not ready yet.
	Reason string `json:"reason,omitempty"`
	// Waiting lists the masters not polled yet.
	Waiting []string `json:"waiting,omitempty"`
}

// actionReply is the body of a successful failover or switchover request.
type actionReply struct {
	Master string `json:"master"`
	Action string `json:"action"`
	Status string `json:"status"`
	To     string `json:"to,omitempty"`
}

// switchoverRequest is the optional body of POST .../switchover.
type switchoverRequest struct {
	// To is "host:port" of the replica to promote; empty means the best.
	To string `json:"to"`
}

// writeJSON writes v as indented JSON with the given status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		body, _ = json.Marshal(errorReply{Error: "encoding the response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorReply{Error: msg})
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 once every master has been polled at least once:
// its run id is known, or it is subjectively down (polling it failed for
// down-after).
func (s *Server) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	var waiting []string
	for _, m := range s.node.Status().Masters {
		if m.RunID == "" && !m.SDown {
			waiting = append(waiting, m.Name)
		}
	}
	if len(waiting) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, readyReply{
			Reason:  "not every master has been polled yet: " + strings.Join(waiting, ", "),
			Waiting: waiting,
		})
		return
	}
	writeJSON(w, http.StatusOK, readyReply{Ready: true})
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	st := s.node.Status()
	if st.Masters == nil {
		st.Masters = []sentinel.MasterStatus{}
	}
	if st.Peers == nil {
		st.Peers = []sentinel.PeerStatus{}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleMasters(w http.ResponseWriter, _ *http.Request) {
	masters := s.node.Status().Masters
	if masters == nil {
		masters = []sentinel.MasterStatus{}
	}
	writeJSON(w, http.StatusOK, masters)
}

func (s *Server) handleMaster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	m, ok := s.master(name)
	if !ok {
		writeError(w, http.StatusNotFound, "no such master: "+name)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// master looks name up in a fresh Status.
func (s *Server) master(name string) (sentinel.MasterStatus, bool) {
	for _, m := range s.node.Status().Masters {
		if m.Name == name {
			return m, true
		}
	}
	return sentinel.MasterStatus{}, false
}

// requireToken lets a request through to h only with the configured bearer
// token. Without a configured token the endpoint is disabled.
func (s *Server) requireToken(h http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(s.cfg.Token))
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" {
			writeError(w, http.StatusForbidden, "this endpoint is disabled: set http.token ($VIGIL_HTTP_TOKEN) to enable failover and switchover over HTTP")
			return
		}
		token, ok := bearerToken(r.Header.Get("Authorization"))
		// Comparing digests keeps the comparison constant-time whatever
		// the length of the token sent.
		got := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			s.log.Warn("unauthorised request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "token_sent", ok)
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive.
func bearerToken(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	token := strings.TrimSpace(header[len(scheme):])
	return token, token != ""
}

func (s *Server) handleFailover(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := s.master(name); !ok {
		writeError(w, http.StatusNotFound, "no such master: "+name)
		return
	}
	s.log.Warn("manual failover requested over HTTP", "master", name, "remote", r.RemoteAddr)
	if err := s.node.Failover(name); err != nil {
		s.log.Warn("manual failover refused", "master", name, "err", err)
		writeError(w, nodeErrorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, actionReply{Master: name, Action: "failover", Status: "started"})
}

func (s *Server) handleSwitchover(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	req, err := decodeSwitchover(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		code := http.StatusBadRequest
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, err.Error())
		return
	}
	if _, ok := s.master(name); !ok {
		writeError(w, http.StatusNotFound, "no such master: "+name)
		return
	}
	// A switchover waits for the replica to catch up: lift the server's
	// write timeout for this response. Once started it runs to its end on
	// its own budget, as SENTINEL SWITCHOVER does: a client that goes away
	// half-way must not leave the group half switched.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	s.log.Warn("switchover requested over HTTP", "master", name, "to", req.To, "remote", r.RemoteAddr)
	if err := s.node.Switchover(context.WithoutCancel(r.Context()), name, req.To); err != nil {
		s.log.Warn("switchover failed", "master", name, "to", req.To, "err", err)
		writeError(w, nodeErrorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, actionReply{Master: name, Action: "switchover", Status: "done", To: req.To})
}

// decodeSwitchover reads the optional JSON body {"to": "host:port"}. An
// empty body means no preference.
func decodeSwitchover(body io.Reader) (switchoverRequest, error) {
	var req switchoverRequest
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return req, fmt.Errorf(`invalid body, want {"to": "host:port"} or nothing: %w`, err)
	}
	if dec.More() {
		return req, errors.New(`invalid body, want a single JSON object {"to": "host:port"}`)
	}
	if req.To != "" {
		a, err := topology.ParseAddr(req.To)
		if err != nil {
			return req, errors.New("invalid \"to\": " + err.Error())
		}
		req.To = a.String()
	}
	return req, nil
}

// nodeErrorStatus maps a node's refusal to an HTTP status. The node's errors
// carry Sentinel's reply texts, whose prefixes are stable.
func nodeErrorStatus(err error) int {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "ERR No such master"):
		return http.StatusNotFound
	case strings.HasPrefix(msg, "INPROG"), strings.HasPrefix(msg, "NOGOODSLAVE"), strings.HasPrefix(msg, "NOGOODREPLICA"):
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}
