package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/sentinel"
)

// maxPatternLen bounds the ?pattern= of /v1/events.
const maxPatternLen = 256

// eventJSON is one event as the stream sends it.
type eventJSON struct {
	Type    string    `json:"type"`
	Payload string    `json:"payload"`
	Time    time.Time `json:"time"`
	Warning bool      `json:"warning"`
}

// handleEvents streams the node's events as Server-Sent Events until the
// client goes away or the server stops. ?pattern= filters event types with a
// Redis glob, as PSUBSCRIBE does; the default is every event.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	pattern := r.URL.Query().Get("pattern")
	if pattern == "" {
		pattern = "*"
	}
	if len(pattern) > maxPatternLen || strings.ContainsAny(pattern, "\r\n") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid pattern: want a Redis glob of at most %d bytes on one line", maxPatternLen))
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many event streams open (%d)", maxStreams))
		return
	}

	events, cancel := s.node.Subscribe(pattern)
	defer cancel()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// The subscription exists from here on; say so, so a client knows no
	// later event is missed.
	if !s.send(rc, w, ": subscribed\n\n") {
		return
	}
	s.log.Debug("event stream opened", "remote", r.RemoteAddr, "pattern", pattern)
	defer s.log.Debug("event stream closed", "remote", r.RemoteAddr)

	heartbeat := time.NewTicker(heartbeatPeriod)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if !s.send(rc, w, formatEvent(ev)) {
				return
			}
		case <-heartbeat.C:
			if !s.send(rc, w, ": ping\n\n") {
				return
			}
		}
	}
}

// send writes one chunk of the stream and flushes it, with a fresh write
// deadline so that a stuck client is dropped. It reports whether the stream
// can go on.
func (s *Server) send(rc *http.ResponseController, w http.ResponseWriter, chunk string) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := w.Write([]byte(chunk)); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// formatEvent renders ev as one SSE message: "event: <type>" and one data
// line of JSON.
func formatEvent(ev sentinel.Event) string {
	data, err := json.Marshal(eventJSON{Type: ev.Type, Payload: ev.Payload, Time: ev.Time, Warning: ev.Warning})
	if err != nil {
		// Only a time outside years 0-9999 fails; send the event without it.
		data, _ = json.Marshal(eventJSON{Type: ev.Type, Payload: ev.Payload, Warning: ev.Warning})
	}
	typ := strings.NewReplacer("\r", "", "\n", "").Replace(ev.Type)
	return "event: " + typ + "\ndata: " + string(data) + "\n\n"
}
