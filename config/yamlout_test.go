package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// roundTrip writes c with MarshalYAML, loads the result with Load and
// checks that it gives c back without warnings.
func roundTrip(t *testing.T, c *Config) []byte {
	t.Helper()
	data, err := MarshalYAML(c)
	if err != nil {
		t.Fatalf("MarshalYAML: %v", err)
	}
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, warns, err := Load(LoadOptions{File: path})
	if err != nil || warns != nil {
		t.Fatalf("Load(MarshalYAML(c)): %v, %v\n%s", warningStrings(warns), err, data)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip changed the config:\n got %+v\nwant %+v\nYAML:\n%s", *got, *c, data)
	}
	return data
}

// fullConfig sets every key, with values that need care in YAML.
func fullConfig(t *testing.T) *Config {
	c := Default()
	c.Node = NodeConfig{
		ID:       "0123456789abcdef0123456789abcdef01234567",
		Listen:   "[::]:26379",
		Announce: "[2001:db8::11]:26379",
		DataDir:  "/var/lib/vigil data # not a comment",

		DenyScriptsReconfig: "no",
		AnnounceHostnames:   "yes",
	}
	c.Gossip = GossipConfig{
		Bind:      ":36379",
		Join:      []string{"10.0.0.12:36379", "[2001:db8::13]:36379", "vigil-2.example.com:36379"},
		Advertise: "[2001:db8::11]:36379",
	}
	c.Log = LogConfig{Level: LevelDebug, Format: FormatJSON}
	c.HTTP = HTTPConfig{Listen: "127.0.0.1:9121", Token: "0123", Pprof: "yes"}
	c.HTTP.Webhooks = awkwardWebhooks() // webhooks_test.go
	passwords := []string{"0123", "yes", "~", "null", "a: b # c", " padded ", "quote\"s and 'apostrophes'",
		"tab\tnewline\nend", "ünïcödé", "*alias", "&anchor", "!tag", "- dash", "[x]", "{y}", "%", "@", "`", "\x01\x7f", "\\"}
	for i, pass := range passwords {
		name := []string{"true", "null", "123", "1.5", "a.b", "-", "_", "x"}[i%8] + strings.Repeat("z", i/8)
		m := NewMaster(name, addr(t, "10.0.1.1:"+strconv.Itoa(6379+i)), 1+i%3)
		m.AuthPass = pass
		if i%2 == 0 {
			m.AuthUser = pass
		}
		m.DownAfter = time.Duration(i+1) * 1500 * time.Millisecond
		m.FailoverTimeout = time.Duration(i+1) * time.Hour
		m.ParallelSyncs = i + 1
		m.WriteGuard = i%2 == 0
		m.WriteGuardMaxLag = time.Duration(i+1) * time.Second
		m.DisableIsolationFence = i%2 == 0
		m.AntiFlap = time.Duration(i+1) * time.Minute
		m.PreFailoverHookTimeout = time.Duration(i+1) * time.Second
		c.Masters[name] = m
	}
	c.Masters["ipv6"] = NewMaster("ipv6", addr(t, "[2001:db8::1]:6379"), 2)
	// Script paths that need care in YAML; the files must exist and be
	// executable for Load to accept them.
	dir := t.TempDir()
	scripts := []string{"notify # not a comment.sh", "re: config.sh", "yes", "- dash.sh", "'quoted'.sh"}
	for i, name := range scripts {
		path := writeExecutable(t, dir, name)
		key := []string{"true", "null", "123", "1.5", "a.b"}[i]
		m := c.Masters[key]
		m.NotificationScript = path
		m.ClientReconfigScript = writeExecutable(t, dir, "reconfig-"+name)
		m.PreFailoverHook = writeExecutable(t, dir, "hook-"+name)
		c.Masters[key] = m
	}
	setSecurity(t, &c, "true")
	return &c
}

// writeExecutable creates an executable shell script in dir and returns its
// path.
func writeExecutable(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMarshalYAMLRoundTrip(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		c := Default()
		roundTrip(t, &c)
	})
	t.Run("one master", func(t *testing.T) {
		c := validConfig(t)
		roundTrip(t, &c)
	})
	t.Run("every key, awkward values", func(t *testing.T) {
		roundTrip(t, fullConfig(t))
	})
	for _, file := range []string{"debian-7.0.15.conf", "rewritten-7.0.15-a.conf", "rewritten-7.0.15-b.conf"} {
		t.Run(file, func(t *testing.T) {
			c, _, _, err := LoadSentinelConf(filepath.Join("testdata", "sentinelconf", file))
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, c)
		})
	}
}

// TestMarshalYAMLCoversEveryField fails when a field is added to Config
// without a way for MarshalYAML to write it: fullConfig must set every
// field, and the round trip must keep it.
func TestMarshalYAMLCoversEveryField(t *testing.T) {
	c := fullConfig(t)
	var zero []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k), path+"["+k.String()+"]")
			}
		default:
			if v.IsZero() {
				zero = append(zero, path)
			}
		}
	}
	v := reflect.ValueOf(*c)
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Name == "Masters" {
			continue
		}
		walk(v.Field(i), v.Type().Field(i).Name)
	}
	walk(reflect.ValueOf(c.Masters["true"]), "Masters[true]") // a master with every setting
	if len(zero) > 0 {
		t.Fatalf("fullConfig leaves these fields zero; set them, and make sure MarshalYAML writes them: %v", zero)
	}
	roundTrip(t, c)
}

func TestMarshalYAMLOutput(t *testing.T) {
	c := Default()
	c.Node.Listen = ":26379"
	c.Gossip.Bind = ":36379"
	c.Masters["cache"] = NewMaster("cache", addr(t, "10.0.1.10:6379"), 2)
	m := NewMaster("sessions", addr(t, "[2001:db8::20]:6379"), 2)
	m.DownAfter, m.FailoverTimeout, m.ParallelSyncs = 1500*time.Millisecond, 90*time.Second, 2
	m.AuthUser, m.AuthPass = "vigil", "0123"
	dir := t.TempDir()
	m.NotificationScript = writeExecutable(t, dir, "notify.sh")
	m.ClientReconfigScript = writeExecutable(t, dir, "reconfig.sh")
	c.Masters["sessions"] = m
	got := strings.ReplaceAll(string(roundTrip(t, &c)), dir, "/opt/vigil")
	want := `# vigil configuration; docs/configuration.md describes every key.
# It contains secrets (auth-pass) in clear text: keep it readable by vigil's user only.

node:
  listen: :26379
  data-dir: ./vigil-data

gossip:
  bind: :36379

log:
  level: info
  format: text

masters:
  cache:
    addr: 10.0.1.10:6379
    quorum: 2
    down-after: 30s
    failover-timeout: 3m
    parallel-syncs: 1
  sessions:
    addr: '[2001:db8::20]:6379'
    quorum: 2
    down-after: 1.5s
    failover-timeout: 1m30s
    parallel-syncs: 2
    auth-user: vigil
    auth-pass: "0123"
    notification-script: /opt/vigil/notify.sh
    client-reconfig-script: /opt/vigil/reconfig.sh
`
	if got != want {
		t.Fatalf("MarshalYAML:\n%s\nwant:\n%s", got, want)
	}
}

func TestMarshalYAMLNoMasters(t *testing.T) {
	c := Default()
	data := roundTrip(t, &c)
	if !strings.HasSuffix(string(data), "\nmasters: {}\n") || strings.Contains(string(data), "secrets") {
		t.Fatalf("MarshalYAML(Default()):\n%s", data)
	}
}

func TestMarshalYAMLErrors(t *testing.T) {
	if _, err := MarshalYAML(nil); err == nil {
		t.Error("MarshalYAML(nil) succeeded")
	}
	c := validConfig(t)
	m := c.Masters["mymaster"]
	m.AuthPass = "\xff\xfe"
	c.Masters["mymaster"] = m
	if _, err := MarshalYAML(&c); err == nil || !strings.Contains(err.Error(), "masters.mymaster.auth-pass is not valid UTF-8") {
		t.Errorf("invalid UTF-8 password: %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                "0s",
		1500 * time.Millisecond:          "1.5s",
		30 * time.Second:                 "30s",
		3 * time.Minute:                  "3m",
		90 * time.Second:                 "1m30s",
		time.Hour:                        "1h",
		time.Hour + time.Minute:          "1h1m",
		time.Hour + time.Second:          "1h0m1s",
		100 * time.Millisecond:           "100ms",
		10*time.Minute + time.Nanosecond: "10m0.000000001s",
		-2 * time.Minute:                 "-2m",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}
