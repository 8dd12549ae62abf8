package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/glob"
	"github.com/vigil-ha/vigil/sentinel"
)

// testLimits keep retries fast in tests.
var testLimits = webhookLimits{queue: webhookQueueSize, backoff: time.Millisecond, maxBackoff: 10 * time.Millisecond}

// received is one request a receiver got.
type received struct {
	url    string // path and query
	header http.Header
	body   []byte
	user   string // basic auth user:password, if any
}

// receiver is a webhook endpoint that records every request and answers
// what respond says for the n-th request (from 0). respond may block; it
// gets the request so that it can wait for the client to give up.
type receiver struct {
	*httptest.Server
	respond func(n int, w http.ResponseWriter, r *http.Request) int

	mu   sync.Mutex
	reqs []received
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{url: r.URL.RequestURI(), header: r.Header.Clone(), body: body}
		if u, p, ok := r.BasicAuth(); ok {
			rec.user = u + ":" + p
		}
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, rec)
		rc.mu.Unlock()
		w.WriteHeader(rc.respond(n, w, r))
	}))
	t.Cleanup(rc.Close)
	return rc
}

// always answers code.
func always(code int) func(int, http.ResponseWriter, *http.Request) int {
	return func(int, http.ResponseWriter, *http.Request) int { return code }
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// types are the event types received, in order.
func (rc *receiver) types(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range rc.requests() {
		var b webhookBody
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatalf("body %q: %v", r.body, err)
		}
		out = append(out, b.Type)
	}
	return out
}

// gate blocks handlers until the test releases it or ends.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{ch: make(chan struct{})}
	t.Cleanup(g.open) // before the receivers close: they wait for handlers
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// startWebhooks runs webhooks for hooks on node until the test ends. It
// returns them, their metrics registry and a function that stops them and
// returns Run's result.
func startWebhooks(t *testing.T, node NodeAPI, hooks []config.WebhookConfig, limits webhookLimits, log *slog.Logger) (*Webhooks, *prometheus.Registry, func() error) {
	t.Helper()
	reg := prometheus.NewRegistry()
	w := newWebhooks(node, hooks, log, reg, limits)
	if err := w.Subscribe(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(5 * time.Second):
				result = errors.New("Run did not return within 5s of cancel")
			}
		})
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return w, reg, stop
}

// deliveries reads vigil_webhook_deliveries_total{url_index, result}; -1
// when the series does not exist.
func deliveries(t *testing.T, reg *prometheus.Registry, index, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["url_index"] == index && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func waitCount(t *testing.T, reg *prometheus.Registry, index, result string, want float64) {
	t.Helper()
	waitFor(t, 5*time.Second, fmt.Sprintf("deliveries{url_index=%s,result=%s} = %v", index, result, want), func() bool {
		return deliveries(t, reg, index, result) == want
	})
}

// hookTo is a webhook to url with the defaults, sending events matching
// patterns (every event when none).
func hookTo(url string, patterns ...string) config.WebhookConfig {
	h := config.NewWebhook(url)
	if len(patterns) > 0 {
		h.Events = patterns
	}
	return h
}

var evTime = time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)

func event(typ string) sentinel.Event {
	return sentinel.Event{Type: typ, Payload: "master mymaster 127.0.0.1 6379", Time: evTime, Warning: true}
}

// bufferLog is a debug logger writing to a buffer safe for concurrent use.
type bufferLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *bufferLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *bufferLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *bufferLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestWebhookDelivers(t *testing.T) {
	node := newFakeNode(testStatus())
	a := newReceiver(t, always(http.StatusOK))
	b := newReceiver(t, always(http.StatusNoContent))
	hookA := hookTo(a.URL+"/vigil?token=abc", "+switch-master", "*down")
	hookA.Secret = "s3cret"
	_, reg, _ := startWebhooks(t, node, []config.WebhookConfig{hookA, hookTo(b.URL)}, testLimits, testLogger(t))
	for _, idx := range []string{"0", "1"} {
		for _, result := range []string{resultDelivered, resultFailed, resultDropped} {
			if got := deliveries(t, reg, idx, result); got != 0 {
				t.Errorf("deliveries{%s,%s} = %v at start, want 0", idx, result, got)
			}
		}
	}

	types := []string{"+monitor", "+sdown", "+switch-master", "-odown", "+bad\ntype"}
	for _, typ := range types {
		node.emit(event(typ))
	}
	waitCount(t, reg, "0", resultDelivered, 3)
	waitCount(t, reg, "1", resultDelivered, 5)

	// Each webhook gets the events its patterns select, in order.
	if got, want := a.types(t), []string{"+sdown", "+switch-master", "-odown"}; !slices.Equal(got, want) {
		t.Errorf("webhook 0 got %q, want %q", got, want)
	}
	if got := b.types(t); !slices.Equal(got, types) {
		t.Errorf("webhook 1 got %q, want %q", got, types)
	}

	for _, r := range a.requests() {
		if r.url != "/vigil?token=abc" {
			t.Errorf("request to %q, want the configured path and query", r.url)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if ua := r.header.Get("User-Agent"); ua != webhookUserAgent {
			t.Errorf("User-Agent %q", ua)
		}
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("body %q: %v", r.body, err)
		}
		want := map[string]any{
			"type": body["type"], "payload": "master mymaster 127.0.0.1 6379",
			"time": "2026-03-04T05:06:07.89Z", "node": "node-a", "warning": true,
		}
		if !equalJSON(body, want) {
			t.Errorf("body %s, want %v", r.body, want)
		}
		if got := r.header.Get("X-Vigil-Event"); got != body["type"] {
			t.Errorf("X-Vigil-Event %q, body type %v", got, body["type"])
		}
		// The receiver's check: HMAC-SHA256 of the raw body with the
		// shared secret.
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(r.body)
		want256 := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if got := r.header.Get("X-Vigil-Signature"); !hmac.Equal([]byte(got), []byte(want256)) {
			t.Errorf("X-Vigil-Signature %q, want %q", got, want256)
		}
	}
	for _, r := range b.requests() {
		if sig := r.header.Get("X-Vigil-Signature"); sig != "" {
			t.Errorf("webhook without a secret sent X-Vigil-Signature %q", sig)
		}
		if strings.Contains(string(r.body), `"+bad\ntype"`) && r.header.Get("X-Vigil-Event") != "" {
			t.Errorf("a type unfit for a header was sent as X-Vigil-Event %q", r.header.Get("X-Vigil-Event"))
		}
	}
}

func equalJSON(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestWebhookRetriesUntilSuccess(t *testing.T) {
	node := newFakeNode(testStatus())
	codes := []int{http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusOK}
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int { return codes[min(n, len(codes)-1)] })
	_, reg, _ := startWebhooks(t, node, []config.WebhookConfig{hookTo(rc.URL)}, testLimits, testLogger(t)) // 3 retries
	node.emit(event("+switch-master"))
	waitCount(t, reg, "0", resultDelivered, 1)
	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d attempts, want 4 (500, 429, 502, then 200)", len(reqs))
	}
	for _, r := range reqs[1:] {
		if !bytes.Equal(r.body, reqs[0].body) {
			t.Errorf("a retry sent %s, the first attempt %s", r.body, reqs[0].body)
		}
	}
	if got := deliveries(t, reg, "0", resultFailed); got != 0 {
		t.Errorf("failed = %v, want 0", got)
	}
}

func TestWebhookGivesUpAfterRetries(t *testing.T) {
	node := newFakeNode(testStatus())
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n < 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	hook := hookTo(rc.URL)
	hook.Retries = 2
	_, reg, _ := startWebhooks(t, node, []config.WebhookConfig{hook}, testLimits, testLogger(t))
	node.emit(event("+sdown"))
	waitCount(t, reg, "0", resultFailed, 1)
	// The next event is the fourth request: the first got exactly three.
	node.emit(event("-sdown"))
	waitCount(t, reg, "0", resultDelivered, 1)
	if got, want := rc.types(t), []string{"+sdown", "+sdown", "+sdown", "-sdown"}; !slices.Equal(got, want) {
		t.Fatalf("requests %q, want %q", got, want)
	}
}

func TestWebhookNoRetryOnClientErrors(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusGone, http.StatusFound} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			node := newFakeNode(testStatus())
			elsewhere := newReceiver(t, always(http.StatusOK))
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) int {
				if n == 0 {
					w.Header().Set("Location", elsewhere.URL)
					return code
				}
				return http.StatusOK
			})
			_, reg, _ := startWebhooks(t, node, []config.WebhookConfig{hookTo(rc.URL)}, testLimits, testLogger(t))
			node.emit(event("+odown"))
			waitCount(t, reg, "0", resultFailed, 1)
			node.emit(event("-odown"))
			waitCount(t, reg, "0", resultDelivered, 1)
			if got, want := rc.types(t), []string{"+odown", "-odown"}; !slices.Equal(got, want) {
				t.Fatalf("requests %q, want %q: a %d must not be retried", got, want, code)
			}
			if n := elsewhere.count(); n != 0 {
				t.Fatalf("a redirect was followed (%d requests)", n)
			}
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	node := newFakeNode(testStatus())
	g := newGate(t)
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) int {
		if n < 2 {
			// Answer only once the client has given up.
			select {
			case <-r.Context().Done():
			case <-g.ch:
			}
		}
		return http.StatusOK
	})
	hook := hookTo(rc.URL)
	hook.Timeout, hook.Retries = 100*time.Millisecond, 1
	var logs bufferLog
	_, reg, _ := startWebhooks(t, node, []config.WebhookConfig{hook}, testLimits, logs.logger())
	node.emit(event("+odown"))
	waitCount(t, reg, "0", resultFailed, 1)
	if n := rc.count(); n != 2 {
		t.Fatalf("%d attempts, want 2: a timeout is retried", n)
	}
	if !strings.Contains(logs.String(), "no complete answer within 100ms (timeout)") {
		t.Errorf("the failure does not say it timed out:\n%s", logs.String())
	}
	node.emit(event("-odown"))
	waitCount(t, reg, "0", resultDelivered, 1)
}

func TestWebhookQueueDropsOldest(t *testing.T) {
	node := newFakeNode(testStatus())
	g := newGate(t)
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			<-g.ch // hold the first delivery until the queue has overflowed
		}
		return http.StatusOK
	})
	limits := testLimits
	limits.queue = 3
	var logs bufferLog
	_, reg, _ := startWebhooks(t, node, []config.WebhookConfig{hookTo(rc.URL)}, limits, logs.logger())

	node.emit(event("e0"))
	waitFor(t, 5*time.Second, "the first delivery in flight", func() bool { return rc.count() == 1 })
	for _, typ := range []string{"e1", "e2", "e3", "e4", "e5", "e6", "e7"} {
		node.emit(event(typ))
	}
	waitCount(t, reg, "0", resultDropped, 4)
	g.open()
	waitCount(t, reg, "0", resultDelivered, 4)
	if got, want := rc.types(t), []string{"e0", "e5", "e6", "e7"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q: the oldest queued events go first", got, want)
	}
	out := logs.String()
	if strings.Count(out, "webhook queue full") != 1 || !strings.Contains(out, "webhook queue drained") || !strings.Contains(out, "dropped=4") {
		t.Errorf("want one queue-full warning and a drained one with dropped=4:\n%s", out)
	}
}

func TestWebhookStopsOnCancel(t *testing.T) {
	node := newFakeNode(testStatus())
	g := newGate(t)
	stuck := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		select {
		case <-r.Context().Done():
		case <-g.ch:
		}
		return http.StatusOK
	})
	failing := newReceiver(t, always(http.StatusInternalServerError))
	slow := hookTo(stuck.URL)
	slow.Timeout = time.Hour
	limits := webhookLimits{queue: 16, backoff: time.Hour, maxBackoff: time.Hour}
	_, reg, stop := startWebhooks(t, node, []config.WebhookConfig{slow, hookTo(failing.URL)}, limits, testLogger(t))

	node.emit(event("+sdown"))
	node.emit(event("+odown")) // queued behind the first
	waitFor(t, 5*time.Second, "both webhooks busy", func() bool { return stuck.count() == 1 && failing.count() == 1 })
	// One webhook waits for an answer, the other for its first retry (an
	// hour away); both stop at once.
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(start))
	if n := node.subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
	for _, idx := range []string{"0", "1"} {
		if d, f := deliveries(t, reg, idx, resultDelivered), deliveries(t, reg, idx, resultFailed); d != 0 || f != 0 {
			t.Errorf("webhook %s: delivered %v, failed %v; an interrupted delivery counts as neither", idx, d, f)
		}
	}
	if n := failing.count(); n != 1 {
		t.Errorf("%d attempts after cancel, want 1", n)
	}
}

func TestWebhookSecretsNotLogged(t *testing.T) {
	node := newFakeNode(testStatus())
	rc := newReceiver(t, always(http.StatusInternalServerError))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close() // nothing listens there: connection refused

	withCreds := func(base string) string {
		return strings.Replace(base, "http://", "http://hook-user:pw-secret@", 1) + "/x?key=query-secret"
	}
	failing := hookTo(withCreds(rc.URL))
	failing.Secret, failing.Retries = "hmac-secret", 1
	unreachable := hookTo(withCreds("http://" + closed))
	unreachable.Retries = 0
	var logs bufferLog
	_, reg, stop := startWebhooks(t, node, []config.WebhookConfig{failing, unreachable}, testLimits, logs.logger())
	node.emit(event("+sdown"))
	waitCount(t, reg, "0", resultFailed, 1)
	waitCount(t, reg, "1", resultFailed, 1)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	if got := rc.requests()[0].user; got != "hook-user:pw-secret" {
		t.Errorf("basic auth from the URL = %q, want hook-user:pw-secret", got)
	}
	out := logs.String()
	for _, secret := range []string{"pw-secret", "query-secret", "hmac-secret", "hook-user"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"url=http://***@" + closed + "/x?***", "status=500", "connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}

func TestWebhookMetricsOnServer(t *testing.T) {
	node := newFakeNode(testStatus())
	rc := newReceiver(t, always(http.StatusOK))
	srv, base, _ := startServer(t, node, "")
	w := NewWebhooks(node, []config.WebhookConfig{hookTo(rc.URL, "+switch-master")}, testLogger(t), srv.Registerer())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitFor(t, 5*time.Second, "the server's and the webhooks' subscriptions", func() bool { return node.subscribers() == 2 })
	node.emit(event("+switch-master"))
	waitFor(t, 5*time.Second, "the delivery", func() bool { return rc.count() == 1 })
	want := []string{
		`vigil_webhook_deliveries_total{result="delivered",url_index="0"} 1`,
		`vigil_webhook_deliveries_total{result="failed",url_index="0"} 0`,
		`vigil_webhook_deliveries_total{result="dropped",url_index="0"} 0`,
	}
	waitFor(t, 5*time.Second, "the counter on /metrics", func() bool {
		_, _, body := do(t, "GET", base+"/metrics", "")
		for _, line := range want {
			if !strings.Contains(body, line+"\n") {
				return false
			}
		}
		return true
	})
}

func TestWebhooksRunOnce(t *testing.T) {
	node := newFakeNode(testStatus())
	if err := NewWebhooks(node, nil, nil, nil).Run(context.Background()); err != nil {
		t.Fatalf("Run without webhooks: %v", err)
	}
	if n := node.subscribers(); n != 0 {
		t.Fatalf("Run without webhooks subscribed (%d)", n)
	}
	w := NewWebhooks(node, []config.WebhookConfig{hookTo("http://127.0.0.1:1/")}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("a second Run succeeded")
	}
	if err := w.Subscribe(); err == nil {
		t.Fatal("Subscribe after Run succeeded")
	}
	if n := node.subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left after Run", n)
	}
}

func TestWebhookBackoff(t *testing.T) {
	h := &webhook{limits: webhookLimits{backoff: time.Second, maxBackoff: time.Minute}}
	var got []time.Duration
	for attempt := range 9 {
		got = append(got, h.backoff(attempt))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute, time.Minute}
	if !slices.Equal(got, want) {
		t.Fatalf("backoff = %v, want %v", got, want)
	}
}

func TestWebhookGlob(t *testing.T) {
	for _, tt := range []struct {
		pattern, typ string
		want         bool
	}{
		{"*", "+sdown", true},
		{"*down", "+sdown", true},
		{"*down", "-odown", true},
		{"*down", "+sdown-ish", false},
		{"+switch-master", "+switch-master", true},
		{"+switch-master", "+switch-masters", false},
		{"[+-]odown", "-odown", true},
		{"[^+]sdown", "+sdown", false},
		{"[^+]sdown", "-sdown", true},
		{"?sdown", "+sdown", true},
		{`\+sdown`, "+sdown", true},
		{"-failover-abort-*", "-failover-abort-no-good-slave", true},
		{"[", "[", false},
	} {
		if got := glob.Match(tt.pattern, tt.typ); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.typ, got, tt.want)
		}
	}
	h := &webhook{cfg: config.WebhookConfig{Events: []string{"+switch-master", "*down"}}}
	for typ, want := range map[string]bool{"+switch-master": true, "+sdown": true, "+monitor": false} {
		if got := h.wants(typ); got != want {
			t.Errorf("wants(%q) = %v, want %v", typ, got, want)
		}
	}
}
