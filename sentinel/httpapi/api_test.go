package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel"
)

func TestStatusEndpoints(t *testing.T) {
	node := newFakeNode(testStatus())
	_, base, _ := startServer(t, node, "")

	code, h, body := do(t, "GET", base+"/v1/status", "")
	if code != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/status = %d %q: %s", code, h.Get("Content-Type"), body)
	}
	var st sentinel.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, testStatus()) {
		t.Fatalf("GET /v1/status:\n got  %+v\n want %+v", st, testStatus())
	}

	code, _, body = do(t, "GET", base+"/v1/masters", "")
	var masters []sentinel.MasterStatus
	if err := json.Unmarshal([]byte(body), &masters); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/masters = %d %s (%v)", code, body, err)
	}
	if !reflect.DeepEqual(masters, testStatus().Masters) {
		t.Fatalf("GET /v1/masters = %+v", masters)
	}

	code, _, body = do(t, "GET", base+"/v1/masters/mymaster", "")
	var m sentinel.MasterStatus
	if err := json.Unmarshal([]byte(body), &m); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/masters/mymaster = %d %s (%v)", code, body, err)
	}
	if !reflect.DeepEqual(m, testStatus().Masters[0]) {
		t.Fatalf("GET /v1/masters/mymaster = %+v", m)
	}
	for _, key := range []string{`"name": "mymaster"`, `"s_down": false`, `"lag_bytes": 100`, `"quorum_reachable": true`} {
		if !strings.Contains(body, key) {
			t.Errorf("master JSON lacks %s:\n%s", key, body)
		}
	}

	code, h, body = do(t, "GET", base+"/v1/masters/nope", "")
	if code != http.StatusNotFound || h.Get("Content-Type") != "application/json" || !jsonEqual(body, `{"error":"no such master: nope"}`) {
		t.Fatalf("GET /v1/masters/nope = %d %q %s", code, h.Get("Content-Type"), body)
	}
}

func TestEmptyListsAreArrays(t *testing.T) {
	node := newFakeNode(sentinel.Status{NodeID: "n"})
	_, base, _ := startServer(t, node, "")
	if _, _, body := do(t, "GET", base+"/v1/masters", ""); strings.TrimSpace(body) != "[]" {
		t.Errorf("GET /v1/masters with no masters = %s, want []", body)
	}
	_, _, body := do(t, "GET", base+"/v1/status", "")
	if !strings.Contains(body, `"masters": []`) || !strings.Contains(body, `"peers": []`) {
		t.Errorf("GET /v1/status = %s, want empty arrays", body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	st := testStatus()
	st.Masters[0].RunID = "" // not polled yet
	node := newFakeNode(st)
	_, base, _ := startServer(t, node, "")

	if code, _, body := do(t, "GET", base+"/healthz", ""); code != http.StatusOK || !jsonEqual(body, `{"status":"ok"}`) {
		t.Fatalf("GET /healthz = %d %s", code, body)
	}
	code, _, body := do(t, "GET", base+"/readyz", "")
	want := `{"ready":false,"reason":"not every master has been polled yet: mymaster","waiting":["mymaster"]}`
	if code != http.StatusServiceUnavailable || !jsonEqual(body, want) {
		t.Fatalf("GET /readyz before the first poll = %d %s, want 503 %s", code, body, want)
	}

	node.setStatus(func(s *sentinel.Status) { s.Masters[0].SDown = true })
	if code, _, body := do(t, "GET", base+"/readyz", ""); code != http.StatusOK || !jsonEqual(body, `{"ready":true}`) {
		t.Fatalf("GET /readyz with the master s_down = %d %s", code, body)
	}
	node.setStatus(func(s *sentinel.Status) { s.Masters[0].SDown, s.Masters[0].RunID = false, "abc" })
	if code, _, body := do(t, "GET", base+"/readyz", ""); code != http.StatusOK {
		t.Fatalf("GET /readyz after the first poll = %d %s", code, body)
	}
}

func TestActionsAuth(t *testing.T) {
	const token = "s3cret-token"
	auth := func(v string) []string { return []string{"Authorization", v} }
	tests := []struct {
		name     string
		token    string // configured
		method   string
		path     string
		body     string
		header   []string
		nodeErr  error
		wantCode int
		wantBody string // JSON; empty: not checked
		wantCall string // recorded call: "failover NAME" / "switchover NAME TO"
	}{
		{"disabled without a token", "", "POST", "/v1/masters/mymaster/failover", "", auth("Bearer " + token), nil,
			http.StatusForbidden, `{"error":"this endpoint is disabled: set http.token ($VIGIL_HTTP_TOKEN) to enable failover and switchover over HTTP"}`, ""},
		{"switchover disabled without a token", "", "POST", "/v1/masters/mymaster/switchover", "", nil, nil,
			http.StatusForbidden, "", ""},
		{"missing token", token, "POST", "/v1/masters/mymaster/failover", "", nil, nil,
			http.StatusUnauthorized, `{"error":"missing or wrong bearer token"}`, ""},
		{"wrong token", token, "POST", "/v1/masters/mymaster/failover", "", auth("Bearer nope"), nil,
			http.StatusUnauthorized, `{"error":"missing or wrong bearer token"}`, ""},
		{"token as a prefix", token, "POST", "/v1/masters/mymaster/failover", "", auth("Bearer " + token + "x"), nil,
			http.StatusUnauthorized, "", ""},
		{"other scheme", token, "POST", "/v1/masters/mymaster/failover", "", auth("Basic " + token), nil,
			http.StatusUnauthorized, "", ""},
		{"empty bearer", token, "POST", "/v1/masters/mymaster/switchover", "", auth("Bearer "), nil,
			http.StatusUnauthorized, "", ""},
		{"failover", token, "POST", "/v1/masters/mymaster/failover", "", auth("Bearer " + token), nil,
			http.StatusAccepted, `{"master":"mymaster","action":"failover","status":"started"}`, "failover mymaster"},
		{"scheme is case-insensitive", token, "POST", "/v1/masters/mymaster/failover", "", auth("bearer " + token), nil,
			http.StatusAccepted, "", "failover mymaster"},
		{"failover of an unknown master", token, "POST", "/v1/masters/nope/failover", "", auth("Bearer " + token), nil,
			http.StatusNotFound, `{"error":"no such master: nope"}`, ""},
		{"failover in progress", token, "POST", "/v1/masters/mymaster/failover", "", auth("Bearer " + token),
			errors.New("INPROG Failover already in progress"),
			http.StatusConflict, `{"error":"INPROG Failover already in progress"}`, "failover mymaster"},
		{"no good replica", token, "POST", "/v1/masters/mymaster/failover", "", auth("Bearer " + token),
			errors.New("NOGOODSLAVE No suitable replica to promote"), http.StatusConflict, "", "failover mymaster"},
		{"switchover to the best replica", token, "POST", "/v1/masters/mymaster/switchover", "", auth("Bearer " + token), nil,
			http.StatusOK, `{"master":"mymaster","action":"switchover","status":"done"}`, "switchover mymaster "},
		{"switchover to a replica", token, "POST", "/v1/masters/mymaster/switchover", `{"to": "127.0.0.1:6380"}`, auth("Bearer " + token), nil,
			http.StatusOK, `{"master":"mymaster","action":"switchover","status":"done","to":"127.0.0.1:6380"}`, "switchover mymaster 127.0.0.1:6380"},
		{"switchover with an empty object", token, "POST", "/v1/masters/mymaster/switchover", `{}`, auth("Bearer " + token), nil,
			http.StatusOK, "", "switchover mymaster "},
		{"switchover fails", token, "POST", "/v1/masters/mymaster/switchover", "", auth("Bearer " + token),
			errors.New("ERR switchover timed out"), http.StatusInternalServerError, `{"error":"ERR switchover timed out"}`, "switchover mymaster "},
		{"switchover bad address", token, "POST", "/v1/masters/mymaster/switchover", `{"to":"nowhere"}`, auth("Bearer " + token), nil,
			http.StatusBadRequest, "", ""},
		{"switchover unknown field", token, "POST", "/v1/masters/mymaster/switchover", `{"target":"127.0.0.1:6380"}`, auth("Bearer " + token), nil,
			http.StatusBadRequest, "", ""},
		{"switchover not JSON", token, "POST", "/v1/masters/mymaster/switchover", `to=127.0.0.1:6380`, auth("Bearer " + token), nil,
			http.StatusBadRequest, "", ""},
		{"switchover two objects", token, "POST", "/v1/masters/mymaster/switchover", `{} {}`, auth("Bearer " + token), nil,
			http.StatusBadRequest, "", ""},
		{"switchover body too large", token, "POST", "/v1/masters/mymaster/switchover", `{"to":"` + strings.Repeat("a", 5000) + `:1"}`, auth("Bearer " + token), nil,
			http.StatusRequestEntityTooLarge, "", ""},
		{"switchover of an unknown master", token, "POST", "/v1/masters/nope/switchover", "", auth("Bearer " + token), nil,
			http.StatusNotFound, "", ""},
		{"GET is not allowed", token, "GET", "/v1/masters/mymaster/failover", "", auth("Bearer " + token), nil,
			http.StatusMethodNotAllowed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := newFakeNode(testStatus())
			node.failoverErr, node.switchErr = tt.nodeErr, tt.nodeErr
			_, base, _ := startServer(t, node, tt.token)
			code, h, body := do(t, tt.method, base+tt.path, tt.body, tt.header...)
			if code != tt.wantCode {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, code, body, tt.wantCode)
			}
			if tt.wantBody != "" && !jsonEqual(body, tt.wantBody) {
				t.Fatalf("body = %s, want %s", body, tt.wantBody)
			}
			if code == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(body, token) {
				t.Errorf("response leaks the token: %s", body)
			}
			var calls []string
			for _, name := range node.failovers {
				calls = append(calls, "failover "+name)
			}
			for _, s := range node.switchovers {
				calls = append(calls, "switchover "+s[0]+" "+s[1])
			}
			var want []string
			if tt.wantCall != "" {
				want = []string{tt.wantCall}
			}
			if !slices.Equal(calls, want) {
				t.Fatalf("node calls = %q, want %q", calls, want)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"BEARER abc ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearerabc", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := bearerToken(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLogsNeverShowTheToken(t *testing.T) {
	const token = "do-not-log-me"
	var logs lockedBuffer
	node := newFakeNode(testStatus())
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, base, stop := startServerWith(t, node, token, log)
	do(t, "POST", base+"/v1/masters/mymaster/failover", "", "Authorization", "Bearer wrong-guess")
	do(t, "POST", base+"/v1/masters/mymaster/failover", "", "Authorization", "Bearer "+token)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Contains(out, token) || strings.Contains(out, "wrong-guess") {
		t.Fatalf("logs show a token:\n%s", out)
	}
	for _, want := range []string{"unauthorised request refused", "manual failover requested over HTTP", "actions_enabled=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs miss %q:\n%s", want, out)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// TestPprof: Go's runtime profiles are served only with http.pprof: yes.
func TestPprof(t *testing.T) {
	for _, on := range []string{"", "no", "yes"} {
		s := New(newFakeNode(testStatus()), config.HTTPConfig{Pprof: on}, testLogger(t))
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			want := http.StatusNotFound
			if on == "yes" {
				want = http.StatusOK
			}
			if rec.Code != want {
				t.Errorf("http.pprof %q: GET %s = %d, want %d", on, path, rec.Code, want)
			}
		}
	}
}
