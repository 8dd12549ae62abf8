package config

import (
	"bytes"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// awkwardWebhooks sets every webhook setting, with values that need care in
// YAML. fullConfig uses it.
func awkwardWebhooks() []WebhookConfig {
	return []WebhookConfig{
		{URL: "https://user:p%40ss@hooks.example.com:8443/vigil?token=0123#frag", Events: []string{"+switch-master", "*down", "-failover-abort-*", "[+-]odown", "?sdown", "a,b"},
			Timeout: 1500 * time.Millisecond, Retries: 0, Secret: "~"},
		{URL: "http://[2001:db8::1]/hook", Events: []string{"*"}, Timeout: time.Minute, Retries: MaxWebhookRetries, Secret: "0123: # not a comment"},
	}
}

func TestWebhookDefaults(t *testing.T) {
	w := NewWebhook("https://h/x")
	if w.URL != "https://h/x" || !slices.Equal(w.Events, []string{"*"}) || w.Timeout != 5*time.Second || w.Retries != 3 || w.Secret != "" {
		t.Fatalf("NewWebhook = %+v", w)
	}
	path := writeConfig(t, "http:\n  webhooks:\n    - url: https://h/x\n")
	cfg, warns, err := Load(LoadOptions{File: path})
	if err != nil || warns != nil {
		t.Fatalf("Load: %v, %v", warningStrings(warns), err)
	}
	if want := []WebhookConfig{w}; !reflect.DeepEqual(cfg.HTTP.Webhooks, want) {
		t.Fatalf("webhooks = %+v, want %+v", cfg.HTTP.Webhooks, want)
	}
	if cfg.HTTP.Listen != "" {
		t.Fatalf("webhooks need no http.listen, got %q", cfg.HTTP.Listen)
	}
}

func TestLoadWebhooks(t *testing.T) {
	path := writeConfig(t, `http:
  webhooks:
    - url: https://hooks.example.com/vigil
      events: [+switch-master, "*down"]
      timeout: 2s
      retries: 5
      secret: 0123
    - url: http://127.0.0.1:8080/
      events: "+odown, -odown"
      timeout: 750
      retries: 0
      events: ~
`)
	_, _, err := Load(LoadOptions{File: path})
	if got := errLines(err); len(got) != 1 || !strings.HasPrefix(got[0], "http.webhooks[1].events: defined twice") {
		t.Fatalf("duplicate key: %q", got)
	}

	path = writeConfig(t, `http:
  webhooks:
    - url: https://hooks.example.com/vigil
      events: [+switch-master, "*down"]
      timeout: 2s
      retries: 5
      secret: 0123
    - url: http://127.0.0.1:8080/
      events: "+odown, -odown"
      timeout: 750
      retries: 0
    - url: http://h/
      events: ~
      timeout: ~
`)
	cfg, warns, err := Load(LoadOptions{File: path})
	if err != nil || warns != nil {
		t.Fatalf("Load: %v, %v", warningStrings(warns), err)
	}
	want := []WebhookConfig{
		{URL: "https://hooks.example.com/vigil", Events: []string{"+switch-master", "*down"}, Timeout: 2 * time.Second, Retries: 5, Secret: "0123"},
		{URL: "http://127.0.0.1:8080/", Events: []string{"+odown", "-odown"}, Timeout: 750 * time.Millisecond, Retries: 0},
		NewWebhook("http://h/"),
	}
	if !reflect.DeepEqual(cfg.HTTP.Webhooks, want) {
		t.Fatalf("webhooks = %+v\nwant %+v", cfg.HTTP.Webhooks, want)
	}
}

func TestValidateWebhooks(t *testing.T) {
	tests := []struct {
		name string
		hook WebhookConfig
		want []string
	}{
		{"defaults", NewWebhook("https://hooks.example.com/x"), nil},
		{"every setting", awkwardWebhooks()[0], nil},
		{"ipv6 host", awkwardWebhooks()[1], nil},
		{"url required", NewWebhook(""), []string{"http.webhooks[0].url: required"}},
		{"url without scheme", NewWebhook("hooks.example.com/x"),
			[]string{"http.webhooks[0].url: must be an http:// or https:// URL (value not shown)"}},
		{"other scheme", NewWebhook("ftp://user:hunter2@h/x"),
			[]string{"http.webhooks[0].url: must be an http:// or https:// URL (value not shown)"}},
		{"no host", NewWebhook("https:///x?token=hunter2"),
			[]string{"http.webhooks[0].url: must be an http:// or https:// URL with a host (value not shown)"}},
		{"unparsable", NewWebhook("https://h/%zzhunter2"),
			[]string{"http.webhooks[0].url: not a valid URL (value not shown)"}},
		{"bad port", NewWebhook("https://h:99999/hunter2"),
			[]string{"http.webhooks[0].url: port must be 1..65535 (value not shown)"}},
		{"no events", WebhookConfig{URL: "http://h/", Timeout: time.Second},
			[]string{"http.webhooks[0].events: must list at least one pattern; leave it out to send every event"}},
		{"bad events", WebhookConfig{URL: "http://h/", Events: []string{"*", "", "[", "a\nb", strings.Repeat("x", 257)}, Timeout: time.Second},
			[]string{
				`http.webhooks[0].events[1]: must not be empty`,
				`http.webhooks[0].events[3]: must be on one line, got "a\nb"`,
				`http.webhooks[0].events[4]: must be at most 256 bytes, got 257`,
			}},
		{"zero timeout", WebhookConfig{URL: "http://h/", Events: []string{"*"}},
			[]string{"http.webhooks[0].timeout: must be > 0, got 0s"}},
		{"negative timeout", WebhookConfig{URL: "http://h/", Events: []string{"*"}, Timeout: -time.Second},
			[]string{"http.webhooks[0].timeout: must be > 0, got -1s"}},
		{"negative retries", WebhookConfig{URL: "http://h/", Events: []string{"*"}, Timeout: time.Second, Retries: -1},
			[]string{"http.webhooks[0].retries: must be 0..10, got -1"}},
		{"too many retries", WebhookConfig{URL: "http://h/", Events: []string{"*"}, Timeout: time.Second, Retries: 11},
			[]string{"http.webhooks[0].retries: must be 0..10, got 11"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			c.HTTP.Webhooks = []WebhookConfig{tt.hook}
			err := c.Validate()
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Fatalf("Validate() = %q, want %q", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error shows the URL's secret: %v", err)
			}
		})
	}
	t.Run("index names the entry", func(t *testing.T) {
		c := validConfig(t)
		c.HTTP.Webhooks = []WebhookConfig{NewWebhook("http://ok/"), NewWebhook("nope")}
		want := []string{"http.webhooks[1].url: must be an http:// or https:// URL (value not shown)"}
		if got := errLines(c.Validate()); !slices.Equal(got, want) {
			t.Fatalf("Validate() = %q, want %q", got, want)
		}
	})
}

func TestLoadWebhooksErrorsAndWarnings(t *testing.T) {
	path := writeConfig(t, `http:
  webhooks:
    - url: gopher://h/hunter2
      timeout: soon
      retries: many
      evnets: ["*"]
    - url: http://h/
      timeout: 0
    - just-a-string
`)
	_, warns, err := Load(LoadOptions{File: path, Env: []string{"VIGIL_HTTP_WEBHOOKS=http://h/"}})
	wantErrs := []string{
		`http.webhooks[0].retries: must be an integer, got "many" (` + path + `:5)`,
		`http.webhooks[0].timeout: invalid duration "soon": want a Go duration such as "30s" or "1500ms", or an integer number of milliseconds (` + path + `:4)`,
		`http.webhooks[2]: must be a mapping with at least url, got "just-a-string" (` + path + `:9)`,
	}
	if got := errLines(err); !slices.Equal(got, wantErrs) {
		t.Errorf("errors:\n got %q\nwant %q", got, wantErrs)
	}
	wantWarns := []string{
		`VIGIL_HTTP_WEBHOOKS: http.webhooks cannot be set from the environment, ignored; use the config file`,
		`http.webhooks[0].evnets: unknown key, ignored; did you mean "events"? (` + path + `:6)`,
	}
	if got := warningStrings(warns); !slices.Equal(got, wantWarns) {
		t.Errorf("warnings:\n got %q\nwant %q", got, wantWarns)
	}

	// Once the shape is right, validation names the key and the line.
	path = writeConfig(t, "http:\n  webhooks:\n    - url: gopher://h/hunter2\n      timeout: 0\n")
	_, _, err = Load(LoadOptions{File: path})
	wantErrs = []string{
		`http.webhooks[0].timeout: must be > 0, got 0s (` + path + `:4)`,
		`http.webhooks[0].url: must be an http:// or https:// URL (value not shown) (` + path + `:3)`,
	}
	if got := errLines(err); !slices.Equal(got, wantErrs) {
		t.Errorf("errors:\n got %q\nwant %q", got, wantErrs)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("an error shows the URL: %v", err)
	}

	for _, text := range []string{"http:\n  webhooks: http://h/\n", "http:\n  webhooks:\n    - {url: http://h/, events: {a: b}}\n", "http:\n  webhooks:\n    - {url: [a]}\n"} {
		if _, _, err := Load(LoadOptions{File: writeConfig(t, text)}); err == nil {
			t.Errorf("Load accepted %q", text)
		}
	}
	path = writeConfig(t, "http:\n  webhoks: []\n")
	if _, warns, _ := Load(LoadOptions{File: path}); !slices.Equal(warningStrings(warns), []string{`http.webhoks: unknown key, ignored; did you mean "webhooks"? (` + path + `:2)`}) {
		t.Errorf("misspelt webhooks: %q", warningStrings(warns))
	}
}

func TestWebhookRedactedURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/vigil":                   "https://hooks.example.com/vigil",
		"https://user:hunter2@h:8443/a%20b?token=hunter2#f": "https://***@h:8443/a%20b?***",
		"http://hunter2@h/":                                 "http://***@h/",
		"http://h/?":                                        "http://h/?***",
		"https://h/%zz-hunter2":                             "(invalid URL)",
		"mailto:hunter2@example.com":                        "mailto:***",
		"http://[2001:db8::1]:80/x":                         "http://[2001:db8::1]:80/x",
		"":                                                  "",
	} {
		if got := (WebhookConfig{URL: in}).RedactedURL(); got != want {
			t.Errorf("RedactedURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWebhookLogValueRedacts(t *testing.T) {
	c := validConfig(t)
	c.HTTP.Webhooks = []WebhookConfig{{URL: "https://user:pass-secret@h/x?key=query-secret", Events: []string{"*"}, Timeout: time.Second, Secret: "hmac-secret"}}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", c, "hook", c.HTTP.Webhooks[0])
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", c, "hook", c.HTTP.Webhooks[0])
	out := buf.String()
	for _, secret := range []string{"pass-secret", "query-secret", "hmac-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log output leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"cfg.http.webhooks=[https://***@h/x?***]", "hook.secret=******", "hook.url=https://***@h/x?***"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output misses %q:\n%s", want, out)
		}
	}
}

func TestMarshalYAMLWebhooks(t *testing.T) {
	// Every field of WebhookConfig is set by awkwardWebhooks, so the round
	// trip covers them all (TestMarshalYAMLCoversEveryField does not look
	// inside lists).
	for _, w := range awkwardWebhooks() {
		v := reflect.ValueOf(w)
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).IsZero() && v.Type().Field(i).Name != "Retries" {
				t.Errorf("awkwardWebhooks leaves %s zero", v.Type().Field(i).Name)
			}
		}
	}
	t.Run("without http.listen", func(t *testing.T) {
		c := validConfig(t)
		c.HTTP.Webhooks = []WebhookConfig{NewWebhook("https://hooks.example.com/vigil")}
		data := string(roundTrip(t, &c))
		want := "\nhttp:\n  webhooks:\n    - url: https://hooks.example.com/vigil\n      events: ['*']\n      timeout: 5s\n      retries: 3\n\n"
		if !strings.Contains(data, want) || strings.Contains(data, "secrets") {
			t.Errorf("output lacks %q or mentions secrets:\n%s", want, data)
		}
	})
	t.Run("awkward values", func(t *testing.T) {
		c := validConfig(t)
		c.HTTP.Listen = "127.0.0.1:9121"
		c.HTTP.Webhooks = awkwardWebhooks()
		data := string(roundTrip(t, &c))
		if !strings.Contains(data, "secrets (http.webhooks)") {
			t.Errorf("the header does not list the webhooks as secrets:\n%s", data)
		}
	})
	t.Run("credentials in the URL are secrets too", func(t *testing.T) {
		c := validConfig(t)
		c.HTTP.Webhooks = []WebhookConfig{NewWebhook("https://h/x?token=abc")}
		if data := string(roundTrip(t, &c)); !strings.Contains(data, "secrets (http.webhooks)") {
			t.Errorf("the header does not list the webhooks as secrets:\n%s", data)
		}
	})
}
