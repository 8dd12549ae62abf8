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
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/glob"
	"github.com/vigil-ha/vigil/sentinel"
)

// Webhook delivery limits.
const (
	// webhookQueueSize is how many events one webhook holds while it is
	// slow or failing; when full, the oldest is dropped.
	webhookQueueSize = 1024
	// webhookBackoff is the wait before the first retry; it doubles with
	// every further retry, up to webhookMaxBackoff.
	webhookBackoff    = time.Second
	webhookMaxBackoff = time.Minute
	// webhookMaxResponse is how much of a response body is read (and
	// discarded), so that the connection can be reused.
	webhookMaxResponse = 64 << 10
	// webhookUserAgent is the User-Agent of every delivery.
	webhookUserAgent = "vigil-webhook/1"
)

// Results of a delivery: the result label of
// vigil_webhook_deliveries_total.
const (
	resultDelivered = "delivered" // a 2xx answer
	resultFailed    = "failed"    // not retried, or retries exhausted
	resultDropped   = "dropped"   // pushed out of a full queue, never sent
)

// webhookLimits are the queue size and the retry timing. Tests shrink them.
type webhookLimits struct {
	queue      int
	backoff    time.Duration
	maxBackoff time.Duration
}

// webhookBody is the JSON body of a delivery.
type webhookBody struct {
	Type    string    `json:"type"`
	Payload string    `json:"payload"`
	Time    time.Time `json:"time"`
	Node    string    `json:"node"`
	Warning bool      `json:"warning"`
}

// Webhooks POSTs the node's events to the URLs of http.webhooks: one
// goroutine and one bounded queue per URL, so that a slow or dead receiver
// delays only its own events. Deliveries are retried with exponential
// backoff after network errors, timeouts, 5xx and 429 answers. Create it
// with NewWebhooks, then call Run (optionally Subscribe first, so that no
// event published before Run starts is missed).
//
// Webhooks are outgoing: they need no http.listen. A webhook's URL and
// secret are never logged (see config.WebhookConfig.RedactedURL).
type Webhooks struct {
	node       NodeAPI
	log        *slog.Logger
	hooks      []*webhook
	transport  *http.Transport
	deliveries *prometheus.CounterVec

	mu           sync.Mutex
	events       <-chan sentinel.Event
	cancelEvents func()
	ran          bool
}

// NewWebhooks builds the deliveries of hooks (validated, as config.Load
// returns them) for node's events. Nothing is sent until Run. A nil log
// discards. When reg is not nil, vigil_webhook_deliveries_total is
// registered on it (the HTTP server's registry: see Server.Registerer).
func NewWebhooks(node NodeAPI, hooks []config.WebhookConfig, log *slog.Logger, reg prometheus.Registerer) *Webhooks {
	return newWebhooks(node, hooks, log, reg, webhookLimits{queue: webhookQueueSize, backoff: webhookBackoff, maxBackoff: webhookMaxBackoff})
}

func newWebhooks(node NodeAPI, hooks []config.WebhookConfig, log *slog.Logger, reg prometheus.Registerer, limits webhookLimits) *Webhooks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	limits.queue = max(limits.queue, 1)
	transport, ok := http.DefaultTransport.(*http.Transport)
	if ok {
		transport = transport.Clone() // proxies from the environment, HTTP/2, sane dial timeouts
	} else {
		transport = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	client := &http.Client{
		Transport: transport,
		// A redirect is an answer like any other 3xx: following it would
		// turn the POST into a GET and could send the signature elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	w := &Webhooks{
		node:      node,
		log:       log,
		transport: transport,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhook_deliveries_total",
			Help: "Events handed to each webhook (url_index: its position in http.webhooks), by result: delivered, failed (after its retries) or dropped (queue full).",
		}, []string{"url_index", "result"}),
	}
	var nodeID string
	if len(hooks) > 0 {
		nodeID = node.Status().NodeID
	}
	for i, cfg := range hooks {
		index := strconv.Itoa(i)
		target := cfg.RedactedURL()
		w.hooks = append(w.hooks, &webhook{
			cfg:       cfg,
			target:    target,
			nodeID:    nodeID,
			client:    client,
			limits:    limits,
			log:       log.With("webhook", i, "url", target),
			delivered: w.deliveries.WithLabelValues(index, resultDelivered),
			failed:    w.deliveries.WithLabelValues(index, resultFailed),
			dropped:   w.deliveries.WithLabelValues(index, resultDropped),
			ring:      make([]sentinel.Event, limits.queue),
			wake:      make(chan struct{}, 1),
		})
	}
	if reg != nil && len(hooks) > 0 {
		if err := reg.Register(w.deliveries); err != nil {
			log.Warn("webhook metrics not registered", "err", err)
		}
	}
	return w
}

// Subscribe subscribes to the node's events, so that events published from
// now on are delivered. Run calls it when it was not called before; call it
// first when events may be published before Run starts (the node's first
// events). Without webhooks it does nothing.
func (w *Webhooks) Subscribe() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case len(w.hooks) == 0:
		return nil
	case w.ran:
		return errors.New("httpapi: webhooks already run")
	case w.events != nil:
		return nil
	}
	w.events, w.cancelEvents = w.node.Subscribe("*")
	return nil
}

// Run delivers events until ctx is cancelled, then returns promptly: a POST
// in flight is abandoned, and events still queued are dropped (and
// logged). Without webhooks it returns at once. Webhooks run once.
func (w *Webhooks) Run(ctx context.Context) error {
	if len(w.hooks) == 0 {
		return nil
	}
	if err := w.Subscribe(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.ran {
		w.mu.Unlock()
		return errors.New("httpapi: webhooks Run called twice")
	}
	w.ran = true
	events, cancelEvents := w.events, w.cancelEvents
	w.mu.Unlock()
	defer cancelEvents()
	defer w.transport.CloseIdleConnections()

	w.log.Info("webhooks started", "webhooks", len(w.hooks))
	var wg sync.WaitGroup
	for _, h := range w.hooks {
		wg.Go(func() { h.run(ctx) })
	}
	w.dispatch(ctx, events)
	wg.Wait()
	w.log.Info("webhooks stopped")
	return nil
}

// dispatch hands every event to the queues of the webhooks that want it,
// never blocking, until ctx ends or the subscription closes.
func (w *Webhooks) dispatch(ctx context.Context, events <-chan sentinel.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				<-ctx.Done() // the webhooks keep draining their queues
				return
			}
			for _, h := range w.hooks {
				if h.wants(ev.Type) {
					h.push(ev)
				}
			}
		}
	}
}

// webhook is the delivery of events to one URL.
type webhook struct {
	cfg    config.WebhookConfig
	target string // the redacted URL, for logs
	nodeID string
	client *http.Client
	limits webhookLimits
	log    *slog.Logger

	delivered, failed, dropped prometheus.Counter

	mu          sync.Mutex
	ring        []sentinel.Event // the queue: n events from head, circular
	head, n     int
	droppedRun  int           // events dropped since the queue was last empty
	wake        chan struct{} // signalled on push; capacity 1
	overflowing bool
}

// wants reports whether the webhook sends events of type typ.
func (h *webhook) wants(typ string) bool {
	for _, p := range h.cfg.Events {
		if glob.Match(p, typ) {
			return true
		}
	}
	return false
}

// push queues ev, dropping the oldest queued event when the queue is full.
func (h *webhook) push(ev sentinel.Event) {
	h.mu.Lock()
	dropped := h.n == len(h.ring)
	if dropped {
		h.ring[h.head] = sentinel.Event{}
		h.head = (h.head + 1) % len(h.ring)
		h.n--
		h.droppedRun++
	}
	h.ring[(h.head+h.n)%len(h.ring)] = ev
	h.n++
	firstDrop := dropped && !h.overflowing
	h.overflowing = h.overflowing || dropped
	h.mu.Unlock()
	if dropped {
		h.dropped.Inc()
	}
	if firstDrop {
		h.log.Warn("webhook queue full: dropping the oldest events until it drains", "queue", len(h.ring))
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued event.
func (h *webhook) pop() (sentinel.Event, bool) {
	h.mu.Lock()
	if h.n == 0 {
		h.mu.Unlock()
		return sentinel.Event{}, false
	}
	ev := h.ring[h.head]
	h.ring[h.head] = sentinel.Event{}
	h.head = (h.head + 1) % len(h.ring)
	h.n--
	var drained int
	if h.n == 0 && h.overflowing {
		drained, h.droppedRun, h.overflowing = h.droppedRun, 0, false
	}
	h.mu.Unlock()
	if drained > 0 {
		h.log.Warn("webhook queue drained", "dropped", drained)
	}
	return ev, true
}

// queued is how many events wait in the queue.
func (h *webhook) queued() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// run delivers queued events one at a time, in order, until ctx ends.
func (h *webhook) run(ctx context.Context) {
	defer func() {
		if n := h.queued(); n > 0 {
			h.log.Info("webhook stopped with events undelivered", "queued", n)
		}
	}()
	for {
		ev, ok := h.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-h.wake:
			}
			continue
		}
		h.deliver(ctx, ev)
		if ctx.Err() != nil {
			return
		}
	}
}

// deliver POSTs ev, retrying as configured. It returns early, without
// counting the event, when ctx ends.
func (h *webhook) deliver(ctx context.Context, ev sentinel.Event) {
	body := h.encode(ev)
	var signature string
	if h.cfg.Secret != "" {
		signature = sign(h.cfg.Secret, body)
	}
	for attempt := 0; ; attempt++ {
		status, err := h.post(ctx, body, signature, ev.Type)
		if ctx.Err() != nil {
			return
		}
		if err == nil && status >= 200 && status <= 299 {
			h.delivered.Inc()
			h.log.Debug("webhook delivered", "event", ev.Type, "status", status, "attempts", attempt+1)
			return
		}
		retryable := err != nil || status >= 500 || status == http.StatusTooManyRequests
		if !retryable || attempt >= h.cfg.Retries {
			h.failed.Inc()
			h.log.Warn("webhook delivery failed; event not sent", "event", ev.Type, "attempts", attempt+1,
				"status", status, "err", err, "retryable", retryable)
			return
		}
		wait := h.backoff(attempt)
		h.log.Debug("webhook delivery failed; retrying", "event", ev.Type, "attempt", attempt+1, "status", status, "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait after the given failed attempt (0 for the first):
// limits.backoff doubled per attempt, at most limits.maxBackoff.
func (h *webhook) backoff(attempt int) time.Duration {
	d := h.limits.backoff
	for i := 0; i < attempt && d < h.limits.maxBackoff; i++ {
		d *= 2
	}
	return min(d, h.limits.maxBackoff)
}

// encode renders ev as the JSON body of a delivery.
func (h *webhook) encode(ev sentinel.Event) []byte {
	b := webhookBody{Type: ev.Type, Payload: ev.Payload, Time: ev.Time, Node: h.nodeID, Warning: ev.Warning}
	body, err := json.Marshal(b)
	if err != nil {
		// Only a time outside years 0-9999 fails; send the event without it.
		b.Time = time.Time{}
		body, _ = json.Marshal(b)
	}
	return body
}

// sign is the X-Vigil-Signature of body: "sha256=" and the hex HMAC-SHA256
// of body keyed with secret.
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one attempt and returns the answer's status code, or an error
// for a network failure or a timeout. Errors never show the URL's user
// info or query.
func (h *webhook) post(ctx context.Context, body []byte, signature, typ string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, h.redact(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhookUserAgent)
	if validHeaderValue(typ) {
		req.Header.Set("X-Vigil-Event", typ)
	}
	if signature != "" {
		req.Header.Set("X-Vigil-Signature", signature)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, h.redact(err)
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, webhookMaxResponse))
	_ = resp.Body.Close()
	if err != nil && ctx.Err() != nil {
		// The answer came but its body did not, within the timeout.
		return 0, h.redact(err)
	}
	return resp.StatusCode, nil
}

// redact rewrites a request error so that it names the redacted URL, and
// says which timeout expired.
func (h *webhook) redact(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("POST %s: no complete answer within %s (timeout)", h.target, h.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, h.target, ue.Err)
	}
	return fmt.Errorf("POST %s: %w", h.target, err)
}

// validHeaderValue reports whether s can be sent as a header value as it
// is: printable ASCII or tabs.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c > '~' {
			return false
		}
	}
	return true
}
