package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/topology"
)

func addr(t *testing.T, s string) topology.Addr {
	t.Helper()
	a, err := topology.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// validConfig is a small valid configuration for tests to break one rule at
// a time.
func validConfig(t *testing.T) Config {
	c := Default()
	c.Masters["mymaster"] = NewMaster("mymaster", addr(t, "127.0.0.1:6379"), 2)
	c.Masters["other"] = NewMaster("other", addr(t, "127.0.0.1:6380"), 1)
	return c
}

// errLines splits a joined error into its lines; nil gives none.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	if c.Node.Listen != DefaultListen || c.Node.DataDir != DefaultDataDir || c.Gossip.Bind != DefaultGossipBind ||
		c.Log.Level != DefaultLogLevel || c.Log.Format != DefaultLogFormat || len(c.Masters) != 0 || c.Masters == nil {
		t.Fatalf("Default() = %+v", c)
	}
}

func TestNewMasterDefaults(t *testing.T) {
	m := NewMaster("m", addr(t, "h:1"), 3)
	want := MasterConfig{Name: "m", Addr: topology.Addr{Host: "h", Port: 1}, Quorum: 3,
		DownAfter: 30 * time.Second, FailoverTimeout: 3 * time.Minute, ParallelSyncs: 1}
	if m != want {
		t.Fatalf("NewMaster = %+v, want %+v", m, want)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	script := writeExecutable(t, dir, "notify.sh")
	missing := filepath.Join(dir, "missing.sh")
	noExec := filepath.Join(dir, "not-executable.sh")
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string // the error's lines; nil means valid
	}{
		{"valid", func(c *Config) {}, nil},
		{"node id ok", func(c *Config) { c.Node.ID = "0123456789abcdef0123456789abcdef01234567" }, nil},
		{"node id with space", func(c *Config) { c.Node.ID = "a b" },
			[]string{`node.id: invalid id "a b": want 1 to 64 characters from A-Z a-z 0-9 . - _`}},
		{"node id too long", func(c *Config) { c.Node.ID = strings.Repeat("a", 65) },
			[]string{`node.id: invalid id "` + strings.Repeat("a", 65) + `": want 1 to 64 characters from A-Z a-z 0-9 . - _`}},
		{"listen all interfaces, any port", func(c *Config) { c.Node.Listen = ":0" }, nil},
		{"listen ipv6", func(c *Config) { c.Node.Listen = "[::1]:26379" }, nil},
		{"listen unparsable", func(c *Config) { c.Node.Listen = "localhost" },
			[]string{`node.listen: invalid address "localhost": address localhost: missing port in address`}},
		{"listen empty", func(c *Config) { c.Node.Listen = "" },
			[]string{`node.listen: invalid address "": missing port in address`}},
		{"listen bad port", func(c *Config) { c.Node.Listen = "127.0.0.1:70000" },
			[]string{`node.listen: invalid address "127.0.0.1:70000": port must be 0..65535`}},
		{"announce ok", func(c *Config) { c.Node.Announce = "redis-ha.example.com:26379" }, nil},
		{"announce needs host", func(c *Config) { c.Node.Announce = ":26379" },
			[]string{`node.announce: invalid address ":26379": missing host`}},
		{"announce port 0", func(c *Config) { c.Node.Announce = "h:0" },
			[]string{`node.announce: invalid address "h:0": invalid port "0"`}},
		{"data dir empty", func(c *Config) { c.Node.DataDir = "" },
			[]string{`node.data-dir: must not be empty`}},
		{"gossip bind unparsable", func(c *Config) { c.Gossip.Bind = "1.2.3.4" },
			[]string{`gossip.bind: invalid address "1.2.3.4": address 1.2.3.4: missing port in address`}},
		{"gossip bind clashes with listen", func(c *Config) { c.Gossip.Bind = "0.0.0.0:26379" },
			[]string{`gossip.bind: "0.0.0.0:26379" uses the same TCP port as node.listen "127.0.0.1:26379"`}},
		{"gossip bind same port other host", func(c *Config) { c.Gossip.Bind = "10.0.0.1:26379" }, nil},
		{"gossip both port 0", func(c *Config) { c.Gossip.Bind = "127.0.0.1:0"; c.Node.Listen = "127.0.0.1:0" }, nil},
		{"join entries", func(c *Config) { c.Gossip.Join = []string{"a:7946", "b", "[::1]:7946", "c:x"} },
			[]string{
				`gossip.join[1]: invalid address "b": address b: missing port in address`,
				`gossip.join[3]: invalid address "c:x": invalid port "x"`,
			}},
		{"advertise", func(c *Config) { c.Gossip.Advertise = "nope" },
			[]string{`gossip.advertise: invalid address "nope": address nope: missing port in address`}},
		{"log level unknown", func(c *Config) { c.Log.Level = "verbose" },
			[]string{`log.level: unknown level "verbose", want debug, info, warn or error`}},
		{"log level is case-sensitive", func(c *Config) { c.Log.Level = "INFO" },
			[]string{`log.level: unknown level "INFO", want debug, info, warn or error`}},
		{"log format unknown", func(c *Config) { c.Log.Format = "xml" },
			[]string{`log.format: unknown format "xml", want text or json`}},
		{"http off by default", func(c *Config) { c.HTTP = HTTPConfig{} }, nil},
		{"http listen ok", func(c *Config) { c.HTTP.Listen = "127.0.0.1:9121" }, nil},
		{"http listen all interfaces, any port", func(c *Config) { c.HTTP.Listen = ":0" }, nil},
		{"http listen unparsable", func(c *Config) { c.HTTP.Listen = "9121" },
			[]string{`http.listen: invalid address "9121": address 9121: missing port in address`}},
		{"http listen bad port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:65536" },
			[]string{`http.listen: invalid address "127.0.0.1:65536": port must be 0..65535`}},
		{"http listen clashes with node.listen", func(c *Config) { c.HTTP.Listen = ":26379" },
			[]string{`http.listen: ":26379" uses the same TCP port as node.listen "127.0.0.1:26379"`}},
		{"http listen clashes with gossip.bind", func(c *Config) { c.HTTP.Listen = "127.0.0.1:7946" },
			[]string{`http.listen: "127.0.0.1:7946" uses the same TCP port as gossip.bind "127.0.0.1:7946"`}},
		{"http token ok", func(c *Config) { c.HTTP.Listen = "127.0.0.1:9121"; c.HTTP.Token = "Zm9v-YmFy_0123.~+/=" }, nil},
		{"http token with space is not echoed", func(c *Config) { c.HTTP.Token = "hunter 2" },
			[]string{`http.token: must be printable ASCII without spaces (value not shown)`}},
		{"http token with newline", func(c *Config) { c.HTTP.Token = "abc\n" },
			[]string{`http.token: must be printable ASCII without spaces (value not shown)`}},
		{"quorum zero", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.Quorum = 0 }) },
			[]string{`masters.mymaster.quorum: must be >= 1, got 0`}},
		{"addr missing", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.Addr = topology.Addr{} }) },
			[]string{`masters.mymaster.addr: required`}},
		{"addr missing host", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.Addr.Host = "" }) },
			[]string{`masters.mymaster.addr: invalid address ":6379": missing host`}},
		{"addr bad port", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.Addr.Port = 0 }) },
			[]string{`masters.mymaster.addr: invalid address "127.0.0.1:0": port must be 1..65535, got 0`}},
		{"down-after negative", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.DownAfter = -time.Second }) },
			[]string{`masters.mymaster.down-after: must be > 0, got -1s`}},
		{"down-after zero", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.DownAfter = 0 }) },
			[]string{`masters.mymaster.down-after: must be > 0, got 0s`}},
		{"failover-timeout zero", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.FailoverTimeout = 0 }) },
			[]string{`masters.mymaster.failover-timeout: must be > 0, got 0s`}},
		{"parallel-syncs zero", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.ParallelSyncs = 0 }) },
			[]string{`masters.mymaster.parallel-syncs: must be >= 1, got 0`}},
		{"auth-user without auth-pass", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.AuthUser = "sentinel" }) },
			[]string{`masters.mymaster.auth-user: set without auth-pass; AUTH needs a password`}},
		{"auth-pass alone", func(c *Config) { setMaster(c, "mymaster", func(m *MasterConfig) { m.AuthPass = "s3cret" }) }, nil},
		{"scripts ok", func(c *Config) {
			setMaster(c, "mymaster", func(m *MasterConfig) {
				m.NotificationScript, m.ClientReconfigScript = script, script
			})
		}, nil},
		{"script path relative", func(c *Config) {
			setMaster(c, "mymaster", func(m *MasterConfig) { m.NotificationScript = "notify.sh" })
		}, []string{`masters.mymaster.notification-script: "notify.sh" is not an absolute path`}},
		{"script missing", func(c *Config) {
			setMaster(c, "mymaster", func(m *MasterConfig) { m.ClientReconfigScript = missing })
		}, []string{`masters.mymaster.client-reconfig-script: cannot run "` + missing + `": no such file`}},
		{"script not executable", func(c *Config) {
			setMaster(c, "mymaster", func(m *MasterConfig) { m.NotificationScript = noExec })
		}, []string{`masters.mymaster.notification-script: cannot run "` + noExec + `": not executable by this user`}},
		{"script is a directory", func(c *Config) {
			setMaster(c, "other", func(m *MasterConfig) { m.NotificationScript = dir })
		}, []string{`masters.other.notification-script: cannot run "` + dir + `": is a directory`}},
		{"script path with NUL", func(c *Config) {
			setMaster(c, "other", func(m *MasterConfig) { m.ClientReconfigScript = "/bin/true\x00x" })
		}, []string{`masters.other.client-reconfig-script: cannot run "/bin/true\x00x": invalid argument`}},
		{"master name charset", func(c *Config) { addMaster(c, "a.b-c_D9", "h:1") }, nil},
		{"master name with space", func(c *Config) { addMaster(c, "my master", "h:1") },
			[]string{`masters."my master": invalid master name "my master": want 1 or more characters from A-Z a-z 0-9 . - _`}},
		{"master name empty", func(c *Config) { addMaster(c, "", "h:1") },
			[]string{`masters."": invalid master name "": want 1 or more characters from A-Z a-z 0-9 . - _`}},
		{"master name mismatch", func(c *Config) { setMaster(c, "other", func(m *MasterConfig) { m.Name = "renamed" }) },
			[]string{`masters.other.name: is "renamed" but the map key is "other"; they must match`}},
		{"duplicate addresses", func(c *Config) { addMaster(c, "zzz", "127.0.0.1:6379") },
			[]string{`masters.zzz.addr: 127.0.0.1:6379 is also the address of masters.mymaster; each master needs its own address`}},
		{"duplicate addresses, other spelling", func(c *Config) {
			addMaster(c, "v6a", "[::ffff:10.0.0.1]:1")
			addMaster(c, "v6b", "10.0.0.1:1")
			addMaster(c, "ha", "Redis.Example:1")
			addMaster(c, "hb", "redis.example:1")
		}, []string{
			`masters.hb.addr: redis.example:1 is also the address of masters.ha; each master needs its own address`,
			`masters.v6b.addr: 10.0.0.1:1 is also the address of masters.v6a; each master needs its own address`,
		}},
		{"same host, other port", func(c *Config) { addMaster(c, "third", "127.0.0.1:6381") }, nil},
		{"all errors, sorted", func(c *Config) {
			c.Log.Level = "loud"
			c.Node.Listen = "x"
			setMaster(c, "other", func(m *MasterConfig) { m.Quorum = 0; m.ParallelSyncs = -1 })
			setMaster(c, "mymaster", func(m *MasterConfig) { m.DownAfter = -time.Second })
		}, []string{
			`log.level: unknown level "loud", want debug, info, warn or error`,
			`masters.mymaster.down-after: must be > 0, got -1s`,
			`masters.other.parallel-syncs: must be >= 1, got -1`,
			`masters.other.quorum: must be >= 1, got 0`,
			`node.listen: invalid address "x": address x: missing port in address`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.modify(&c)
			got := errLines(c.Validate())
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Validate() errors:\n  got  %q\n  want %q", got, tt.want)
			}
		})
	}
}

func setMaster(c *Config, name string, f func(*MasterConfig)) {
	m := c.Masters[name]
	f(&m)
	c.Masters[name] = m
}

func addMaster(c *Config, name, a string) {
	ad, err := topology.ParseAddr(a)
	if err != nil {
		panic(err) // test table bug
	}
	c.Masters[name] = NewMaster(name, ad, 1)
}

func TestValidateErrorsAreFieldErrors(t *testing.T) {
	c := validConfig(t)
	setMaster(&c, "mymaster", func(m *MasterConfig) { m.Quorum = 0 })
	var fe *FieldError
	if err := c.Validate(); !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *FieldError) = false", err)
	}
	if fe.Key != "masters.mymaster.quorum" || fe.Message != "must be >= 1, got 0" {
		t.Fatalf("FieldError = %+v", fe)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{Key: "k", Message: "bad"}, "k: bad"},
		{FieldError{Key: "k", Message: "bad", Err: cause}, "k: bad: boom"},
		{FieldError{Key: "k", Message: "bad", Origin: "f.yaml:3"}, "k: bad (f.yaml:3)"},
		{FieldError{Message: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(&FieldError{Err: cause}, cause) {
		t.Error("FieldError does not unwrap to its cause")
	}
}

func TestMasterNamesSorted(t *testing.T) {
	c := Default()
	for _, n := range []string{"b", "A", "a", "c.1"} {
		addMaster(&c, n, "h:1")
	}
	if got, want := c.MasterNames(), []string{"A", "a", "b", "c.1"}; !slices.Equal(got, want) {
		t.Fatalf("MasterNames() = %q, want %q", got, want)
	}
	if got := Default().MasterNames(); len(got) != 0 {
		t.Fatalf("MasterNames() of Default() = %q", got)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30s", 30 * time.Second, false},
		{"1500ms", 1500 * time.Millisecond, false},
		{"1m30s", 90 * time.Second, false},
		{"30000", 30 * time.Second, false},
		{" 250 ", 250 * time.Millisecond, false},
		{"+5", 5 * time.Millisecond, false},
		{"0", 0, false},
		{"-1000", -time.Second, false},
		{"-1s", -time.Second, false},
		{"1.5", 0, true},
		{"abc", 0, true},
		{"", 0, true},
		{"-", 0, true},
		{"-+5", 0, true},
		{"9223372036854775807", 0, true},
		{"99999999999999999999", 0, true},
		{"9223372036855", 0, true}, // just over the largest Duration in ms
		{"9223372036854", 9223372036854 * time.Millisecond, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo,
	} {
		if got := (LogConfig{Level: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}

func TestMasterLogValueRedactsPassword(t *testing.T) {
	var buf bytes.Buffer
	m := NewMaster("m", topology.Addr{Host: "h", Port: 1}, 2)
	m.AuthPass = "hunter2"
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "master", m)
	if out := buf.String(); strings.Contains(out, "hunter2") || !strings.Contains(out, "master.auth-pass=******") {
		t.Fatalf("log output %q leaks or misses the password field", out)
	}
}

func TestHTTPLogValueRedactsToken(t *testing.T) {
	var buf bytes.Buffer
	h := HTTPConfig{Listen: "127.0.0.1:9121", Token: "hunter2"}
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "http", h)
	out := buf.String()
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "http.token=******") || !strings.Contains(out, "http.listen=127.0.0.1:9121") {
		t.Fatalf("log output %q leaks or misses the token field", out)
	}
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "http", HTTPConfig{})
	if out := buf.String(); !strings.Contains(out, "http.token=\"\"") {
		t.Fatalf("log output %q: an unset token should show empty", out)
	}
}
