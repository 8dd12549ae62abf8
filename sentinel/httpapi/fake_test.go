package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel"
)

// fakeNode is a NodeAPI whose status, events and action results the test
// controls.
type fakeNode struct {
	mu          sync.Mutex
	status      sentinel.Status
	subs        map[*fakeSub]struct{}
	failovers   []string
	switchovers [][2]string // name, to
	failoverErr error
	switchErr   error
}

type fakeSub struct {
	pattern string
	ch      chan sentinel.Event
}

func newFakeNode(st sentinel.Status) *fakeNode {
	return &fakeNode{status: st, subs: map[*fakeSub]struct{}{}}
}

func (f *fakeNode) Status() sentinel.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeNode) setStatus(fn func(*sentinel.Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.status)
}

func (f *fakeNode) Subscribe(pattern string) (<-chan sentinel.Event, func()) {
	s := &fakeSub{pattern: pattern, ch: make(chan sentinel.Event, 64)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s.ch, func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
}

// emit delivers ev to every matching subscriber, like the node's bus.
func (f *fakeNode) emit(ev sentinel.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		if ok, _ := path.Match(s.pattern, ev.Type); ok {
			s.ch <- ev
		}
	}
}

func (f *fakeNode) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *fakeNode) Failover(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failovers = append(f.failovers, name)
	return f.failoverErr
}

func (f *fakeNode) Switchover(ctx context.Context, name, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.switchovers = append(f.switchovers, [2]string{name, to})
	return f.switchErr
}

// testStatus is a node monitoring "mymaster" with one replica and one peer.
func testStatus() sentinel.Status {
	return sentinel.Status{
		NodeID:       "node-a",
		Listen:       "127.0.0.1:26379",
		CurrentEpoch: 7,
		Masters: []sentinel.MasterStatus{{
			Name: "mymaster", Addr: "127.0.0.1:6379", ConfigEpoch: 5, Quorum: 2,
			DownAfter: 5 * time.Second, FailoverTimeout: time.Minute, ParallelSyncs: 1,
			Flags: "master", RunID: "abc123", Connected: true,
			UsablePeers: 2, Voters: 2, QuorumReachable: true, MasterOffset: 1000,
			Peers: []string{"node-b"},
			Replicas: []sentinel.ReplicaStatus{{
				Addr: "127.0.0.1:6380", RunID: "def456", Flags: "slave", Connected: true, Role: "slave",
				MasterHost: "127.0.0.1", MasterPort: 6379, LinkUp: true, Offset: 900, Lag: 100, Priority: 100,
			}},
		}},
		Peers: []sentinel.PeerStatus{{ID: "node-b", RESPAddr: "127.0.0.1:26380", Alive: true, CurrentEpoch: 7}},
	}
}

// testWriter sends log lines to the test's log until the test ends.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServer serves node on a free loopback port until the test ends and
// returns the server, its base URL and a function that stops it and returns
// Serve's result.
func startServer(t *testing.T, node NodeAPI, token string) (*Server, string, func() error) {
	t.Helper()
	return startServerWith(t, node, token, testLogger(t))
}

// startServerWith is startServer with the given logger.
func startServerWith(t *testing.T, node NodeAPI, token string, log *slog.Logger) (*Server, string, func() error) {
	t.Helper()
	s := New(node, config.HTTPConfig{Listen: "127.0.0.1:0", Token: token}, log)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				result = errors.New("Serve did not return within 10s of cancel")
			}
		})
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return s, "http://" + s.Addr(), stop
}

// do sends a request and returns the status code and body.
func do(t *testing.T, method, url, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// waitFor polls cond every 10ms until it holds, failing the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
