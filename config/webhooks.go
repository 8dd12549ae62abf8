package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file holds http.webhooks: the URLs the node POSTs its events to, with
// their defaults, validation, YAML decoding and encoding, and redacted
// logging. Webhooks are outgoing, so they work whether or not http.listen
// is set.

// Webhook defaults and limits.
const (
	// DefaultWebhookEvents is a webhook's events when unset: every event.
	DefaultWebhookEvents = "*"
	// DefaultWebhookTimeout is a webhook's timeout: how long one POST may
	// take, response included.
	DefaultWebhookTimeout = 5 * time.Second
	// DefaultWebhookRetries is a webhook's retries: how many times a
	// delivery is tried again after a network error, a 5xx or a 429.
	DefaultWebhookRetries = 3
	// MaxWebhookRetries bounds retries: with the backoff doubling from 1 s
	// (capped at 1 min), more would hold the webhook's queue for too long.
	MaxWebhookRetries = 10
	// maxWebhookPatternLen bounds one pattern of a webhook's events.
	maxWebhookPatternLen = 256
)

// Keys of http.webhooks, which is not a viper setting.
const (
	keyHTTPWebhooks = "http.webhooks"

	keyWebhookURL     = "url"
	keyWebhookEvents  = "events"
	keyWebhookTimeout = "timeout"
	keyWebhookRetries = "retries"
	keyWebhookSecret  = "secret"
)

func webhookKeys() []string {
	return []string{keyWebhookURL, keyWebhookEvents, keyWebhookTimeout, keyWebhookRetries, keyWebhookSecret}
}

// WebhookConfig is one entry of http.webhooks: a URL the node POSTs its
// events to as JSON. docs/http-api.md describes the requests.
type WebhookConfig struct {
	// URL is the http:// or https:// address events are POSTed to. Its
	// user info and query may hold credentials: RedactedURL hides them.
	URL string
	// Events are the event types to send, as Redis globs ("*",
	// "+switch-master", "*down"); an event is sent when any matches.
	Events []string
	// Timeout bounds one POST, response included.
	Timeout time.Duration
	// Retries is how many times a failed delivery (network error, timeout,
	// 5xx or 429) is tried again, waiting 1 s, 2 s, 4 s... in between.
	// Other answers are not retried. 0 means one attempt.
	Retries int
	// Secret, when set, signs every request: an X-Vigil-Signature header
	// "sha256=<hex HMAC-SHA256 of the body keyed with Secret>". A secret:
	// LogValue redacts it and validation never echoes it.
	Secret string
}

// NewWebhook returns a webhook to url with every other setting at its
// default, as a file entry with only url: every event, DefaultWebhookTimeout
// and DefaultWebhookRetries, no secret.
func NewWebhook(url string) WebhookConfig {
	return WebhookConfig{
		URL:     url,
		Events:  []string{DefaultWebhookEvents},
		Timeout: DefaultWebhookTimeout,
		Retries: DefaultWebhookRetries,
	}
}

// RedactedURL is URL safe to log: user info and query, which may carry
// credentials, are replaced by "***", and a fragment is dropped. A URL that
// does not parse gives "(invalid URL)".
func (w WebhookConfig) RedactedURL() string {
	u, err := url.Parse(w.URL)
	if err != nil {
		return "(invalid URL)"
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme)
		b.WriteString(":")
	}
	if u.Opaque != "" {
		return b.String() + "***" // "scheme:opaque" may be anything
	}
	if u.Host != "" || u.User != nil {
		b.WriteString("//")
		if u.User != nil {
			b.WriteString("***@")
		}
		b.WriteString(u.Host)
	}
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?***")
	}
	return b.String()
}

// LogValue renders the webhook for slog with its URL redacted and its
// secret hidden.
func (w WebhookConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", w.RedactedURL()),
		slog.Any("events", w.Events),
		slog.Duration("timeout", w.Timeout),
		slog.Int("retries", w.Retries),
		slog.String("secret", redact(w.Secret)),
	)
}

// webhookKey is the key of the i-th webhook: "http.webhooks[i]".
func webhookKey(i int) string { return fmt.Sprintf("%s[%d]", keyHTTPWebhooks, i) }

// checkWebhooks validates http.webhooks. Neither the URL nor the secret
// appears in a message.
func (h HTTPConfig) checkWebhooks() []*FieldError {
	var errs []*FieldError
	for i, w := range h.Webhooks {
		key := webhookKey(i)
		if e := checkWebhookURL(key+"."+keyWebhookURL, w.URL); e != nil {
			errs = append(errs, e)
		}
		if len(w.Events) == 0 {
			errs = append(errs, fieldErr(key+"."+keyWebhookEvents, "must list at least one pattern; leave it out to send every event"))
		}
		for j, p := range w.Events {
			if e := checkEventPattern(fmt.Sprintf("%s.%s[%d]", key, keyWebhookEvents, j), p); e != nil {
				errs = append(errs, e)
			}
		}
		if w.Timeout <= 0 {
			errs = append(errs, fieldErr(key+"."+keyWebhookTimeout, "must be > 0, got %s", w.Timeout))
		}
		if w.Retries < 0 || w.Retries > MaxWebhookRetries {
			errs = append(errs, fieldErr(key+"."+keyWebhookRetries, "must be 0..%d, got %d", MaxWebhookRetries, w.Retries))
		}
	}
	return errs
}

// checkWebhookURL accepts an absolute http or https URL with a host. The
// URL may hold credentials, so messages never show it.
func checkWebhookURL(key, s string) *FieldError {
	if s == "" {
		return fieldErr(key, "required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fieldErr(key, "not a valid URL (value not shown)")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fieldErr(key, "must be an http:// or https:// URL (value not shown)")
	}
	if u.Host == "" || u.Hostname() == "" {
		return fieldErr(key, "must be an http:// or https:// URL with a host (value not shown)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fieldErr(key, "port must be 1..65535 (value not shown)")
		}
	}
	return nil
}

// checkEventPattern accepts a Redis glob over event types, as PSUBSCRIBE
// takes: any bytes on one line (a Redis glob has no syntax errors).
func checkEventPattern(key, p string) *FieldError {
	switch {
	case p == "":
		return fieldErr(key, "must not be empty")
	case len(p) > maxWebhookPatternLen:
		return fieldErr(key, "must be at most %d bytes, got %d", maxWebhookPatternLen, len(p))
	case strings.ContainsAny(p, "\r\n"):
		return fieldErr(key, "must be on one line, got %q", p)
	}
	return nil
}

// decodeWebhooks reads http.webhooks: a list of mappings. ok is false when
// the key is null or malformed (the error is recorded).
func (l *loader) decodeWebhooks(key string, e entry) (hooks []WebhookConfig, ok bool) {
	v := resolve(e.val)
	if isNull(v) {
		return nil, false
	}
	if v.Kind != yaml.SequenceNode {
		l.fail(&FieldError{Key: key, Message: "must be a list of {url, events, timeout, retries, secret} mappings, got " + describe(v), Origin: l.at(e.line)})
		return nil, false
	}
	ok = true
	for i, item := range v.Content {
		itemKey := webhookKey(i)
		for _, k := range []string{itemKey, itemKey + "." + keyWebhookURL} {
			l.fileOrigin[k] = l.at(item.Line) // a missing url is reported here
		}
		r := resolve(item)
		if isNull(r) || r.Kind != yaml.MappingNode {
			l.fail(&FieldError{Key: itemKey, Message: "must be a mapping with at least url, got " + describe(r), Origin: l.at(item.Line)})
			ok = false
			continue
		}
		w := NewWebhook("")
		for _, f := range l.entries(r, itemKey) {
			if !l.decodeWebhookKey(&w, itemKey, f) {
				ok = false
			}
		}
		hooks = append(hooks, w)
	}
	if !ok || len(hooks) == 0 {
		return nil, false
	}
	return hooks, true
}

// decodeWebhookKey reads one key of a webhook into w. It reports false when
// the value is malformed (the error is recorded).
func (l *loader) decodeWebhookKey(w *WebhookConfig, itemKey string, f entry) bool {
	fk := itemKey + "." + f.key
	known := false
	for _, k := range webhookKeys() {
		known = known || k == f.key
	}
	if !known {
		l.warnUnknown(fk, f.line, webhookKeys())
		return true
	}
	l.fileOrigin[fk] = l.at(f.line)
	if f.key == keyWebhookEvents {
		list, ok := l.stringList(fk, f)
		if ok {
			w.Events = list
		}
		return ok || isNull(resolve(f.val))
	}
	s, ok := l.scalar(fk, f)
	if !ok {
		return isNull(resolve(f.val)) // null: the default applies
	}
	bad := func(msg string, err error) bool {
		l.fail(&FieldError{Key: fk, Message: msg, Origin: l.at(f.line), Err: err})
		return false
	}
	switch f.key {
	case keyWebhookURL:
		w.URL = strings.TrimSpace(s)
	case keyWebhookTimeout:
		d, err := ParseDuration(s)
		if err != nil {
			return bad(fmt.Sprintf("invalid duration %q", s), err)
		}
		w.Timeout = d
	case keyWebhookRetries:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return bad(fmt.Sprintf("must be an integer, got %q", s), nil)
		}
		w.Retries = n
	case keyWebhookSecret:
		w.Secret = s
	}
	return true
}

// webhooksYAML renders http.webhooks with every setting.
func webhooksYAML(hooks []WebhookConfig) (*yaml.Node, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i, w := range hooks {
		key := webhookKey(i)
		node := &yaml.Node{Kind: yaml.MappingNode}
		add := func(k string, v *yaml.Node) { node.Content = append(node.Content, yamlKey(k), v) }
		u, err := yamlString(key+"."+keyWebhookURL, w.URL)
		if err != nil {
			return nil, err
		}
		add(keyWebhookURL, u)
		events := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for j, p := range w.Events {
			n, err := yamlString(fmt.Sprintf("%s.%s[%d]", key, keyWebhookEvents, j), p)
			if err != nil {
				return nil, err
			}
			events.Content = append(events.Content, n)
		}
		add(keyWebhookEvents, events)
		add(keyWebhookTimeout, yamlScalar("!!str", FormatDuration(w.Timeout)))
		add(keyWebhookRetries, yamlInt(w.Retries))
		if w.Secret != "" {
			s, err := yamlString(key+"."+keyWebhookSecret, w.Secret)
			if err != nil {
				return nil, err
			}
			add(keyWebhookSecret, s)
		}
		seq.Content = append(seq.Content, node)
	}
	return seq, nil
}

// webhooksHaveSecrets reports whether writing hooks puts a credential in
// the file: a secret, or user info or a query in a URL.
func webhooksHaveSecrets(hooks []WebhookConfig) bool {
	for _, w := range hooks {
		if w.Secret != "" {
			return true
		}
		if u, err := url.Parse(w.URL); err != nil || u.User != nil || u.RawQuery != "" {
			return true
		}
	}
	return false
}
