package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel"
)

// sseClient reads an event stream line by line on its own goroutine.
type sseClient struct {
	resp   *http.Response
	lines  chan string // closed at the end of the stream
	cancel context.CancelFunc
}

func openStream(t *testing.T, url string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{resp: resp, lines: make(chan string, 100), cancel: cancel}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = resp.Body.Close()
	})
	return c
}

// next returns the next line; ok is false at the end of the stream.
func (c *sseClient) next(t *testing.T) (line string, ok bool) {
	t.Helper()
	select {
	case line, ok = <-c.lines:
		return line, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no line from the event stream within 10s")
		return "", false
	}
}

// message reads one SSE message: its lines up to the blank line.
func (c *sseClient) message(t *testing.T) []string {
	t.Helper()
	var msg []string
	for {
		line, ok := c.next(t)
		if !ok {
			t.Fatalf("stream ended inside a message: %q", msg)
		}
		if line == "" {
			return msg
		}
		msg = append(msg, line)
	}
}

// waitEnd waits for the stream to end.
func (c *sseClient) waitEnd(t *testing.T) {
	t.Helper()
	for {
		if _, ok := c.next(t); !ok {
			return
		}
	}
}

func TestEventStream(t *testing.T) {
	node := newFakeNode(testStatus())
	_, base, _ := startServer(t, node, "")
	c := openStream(t, base+"/v1/events?pattern=%2B*") // "+*"
	if ct := c.resp.Header.Get("Content-Type"); c.resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("GET /v1/events = %d %q", c.resp.StatusCode, ct)
	}
	if msg := c.message(t); len(msg) != 1 || msg[0] != ": subscribed" {
		t.Fatalf("first message = %q, want the subscribed comment", msg)
	}

	at := time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)
	node.emit(sentinel.Event{Type: "-sdown", Payload: "master mymaster 127.0.0.1 6379", Time: at}) // filtered out
	node.emit(sentinel.Event{Type: "+sdown", Payload: "master mymaster 127.0.0.1 6379", Time: at, Warning: true})
	node.emit(sentinel.Event{Type: "+odown", Payload: "master mymaster 127.0.0.1 6379 #quorum 1/1", Time: at.Add(time.Second)})

	msg := c.message(t)
	if len(msg) != 2 || msg[0] != "event: +sdown" || !strings.HasPrefix(msg[1], "data: ") {
		t.Fatalf("message = %q, want event: +sdown and one data line", msg)
	}
	var ev eventJSON
	if err := json.Unmarshal([]byte(strings.TrimPrefix(msg[1], "data: ")), &ev); err != nil {
		t.Fatal(err)
	}
	if want := (eventJSON{Type: "+sdown", Payload: "master mymaster 127.0.0.1 6379", Time: at, Warning: true}); ev != want {
		t.Fatalf("event = %+v, want %+v", ev, want)
	}
	if want := `data: {"type":"+sdown","payload":"master mymaster 127.0.0.1 6379","time":"2025-01-02T03:04:05.0000006Z","warning":true}`; msg[1] != want {
		t.Fatalf("data line = %s, want %s", msg[1], want)
	}
	if msg := c.message(t); len(msg) != 2 || msg[0] != "event: +odown" {
		t.Fatalf("second message = %q, want +odown", msg)
	}

	// The client goes away: the handler ends and drops its subscription
	// (the metrics subscription stays).
	c.cancel()
	waitFor(t, 5*time.Second, "the stream's subscription to end", func() bool { return node.subscribers() == 1 })
}

func TestEventStreamEndsWhenTheServerStops(t *testing.T) {
	node := newFakeNode(testStatus())
	_, base, stop := startServer(t, node, "")
	c := openStream(t, base+"/v1/events")
	if msg := c.message(t); len(msg) != 1 || msg[0] != ": subscribed" {
		t.Fatalf("first message = %q", msg)
	}
	node.emit(sentinel.Event{Type: "-odown", Payload: "master mymaster 127.0.0.1 6379"})
	if msg := c.message(t); len(msg) != 2 || msg[0] != "event: -odown" {
		t.Fatalf("message = %q, want -odown", msg)
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve() = %v", err)
	}
	c.waitEnd(t)
	if n := node.subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left after the server stopped", n)
	}
}

func TestEventStreamRejectsBadPatterns(t *testing.T) {
	node := newFakeNode(testStatus())
	_, base, _ := startServer(t, node, "")
	for _, p := range []string{strings.Repeat("a", maxPatternLen+1), "a%0Ab"} {
		if code, _, body := do(t, "GET", base+"/v1/events?pattern="+p, ""); code != http.StatusBadRequest {
			t.Errorf("pattern %q: %d %s, want 400", p, code, body)
		}
	}
}

func TestServeLifecycle(t *testing.T) {
	node := newFakeNode(testStatus())
	s := New(node, config.HTTPConfig{Listen: "127.0.0.1:0"}, testLogger(t))
	if s.Addr() != "" {
		t.Fatalf("Addr() before Listen = %q", s.Addr())
	}
	if err := New(node, config.HTTPConfig{}, nil).Serve(context.Background()); err == nil {
		t.Fatal("Serve with an empty listen address succeeded")
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	taken := New(node, config.HTTPConfig{Listen: s.Addr()}, nil)
	if err := taken.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("Serve on a taken port = %v, want an http.listen error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Serve(ctx); err != nil {
		t.Fatalf("Serve with a cancelled context = %v, want nil", err)
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Fatal("second Serve succeeded")
	}
	if n := node.subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left after Serve returned", n)
	}
}
