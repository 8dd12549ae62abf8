package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/vigil-ha/vigil/topology"
)

// writeConfig writes text to a fresh file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// expand replaces FILE in each want line with the config file's path.
func expand(lines []string, path string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.ReplaceAll(l, "FILE", path)
	}
	return out
}

func warningStrings(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

func TestLoadNothingGivesDefaults(t *testing.T) {
	t.Setenv("VIGIL_LOG_LEVEL", "debug") // Load reads only LoadOptions.Env
	t.Chdir(t.TempDir())
	if err := os.WriteFile("vigil.yaml", []byte("log: {level: error}\n"), 0o600); err != nil {
		t.Fatal(err) // nor does it look for a file of its own
	}
	cfg, warns, err := Load(LoadOptions{})
	if err != nil || warns != nil {
		t.Fatalf("Load() = %v, %v", warns, err)
	}
	if want := Default(); !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("Load() = %+v, want %+v", *cfg, want)
	}
}

func TestLoadFullFile(t *testing.T) {
	path := writeConfig(t, `
node:
  id: node-a
  listen: 0.0.0.0:26379
  announce: 10.0.0.5:26379
  data-dir: /var/lib/vigil
gossip:
  bind: 0.0.0.0:7946
  join:
    - 10.0.0.6:7946
    - vigil-c.internal:7946
  advertise: 10.0.0.5:7946
log:
  level: debug
  format: json
masters:
  cache:
    addr: 10.0.1.10:6379
    quorum: 2
    down-after: 5s
    failover-timeout: 60000
    parallel-syncs: 2
    auth-user: sentinel
    auth-pass: 0123
  Sessions.EU:
    addr: "[2001:db8::1]:6380"
    quorum: "3"
`)
	cfg, warns, err := Load(LoadOptions{File: path})
	if err != nil || warns != nil {
		t.Fatalf("Load() = %v, %v", warns, err)
	}
	want := Config{
		Node:   NodeConfig{ID: "node-a", Listen: "0.0.0.0:26379", Announce: "10.0.0.5:26379", DataDir: "/var/lib/vigil"},
		Gossip: GossipConfig{Bind: "0.0.0.0:7946", Join: []string{"10.0.0.6:7946", "vigil-c.internal:7946"}, Advertise: "10.0.0.5:7946"},
		Log:    LogConfig{Level: "debug", Format: "json"},
		Masters: map[string]MasterConfig{
			"cache": {Name: "cache", Addr: topology.Addr{Host: "10.0.1.10", Port: 6379}, Quorum: 2,
				DownAfter: 5 * time.Second, FailoverTimeout: time.Minute, ParallelSyncs: 2,
				AuthUser: "sentinel", AuthPass: "0123"},
			"Sessions.EU": {Name: "Sessions.EU", Addr: topology.Addr{Host: "2001:db8::1", Port: 6380}, Quorum: 3,
				DownAfter: DefaultDownAfter, FailoverTimeout: DefaultFailoverTimeout, ParallelSyncs: DefaultParallelSyncs},
		},
	}
	if !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("Load():\n got  %+v\n want %+v", *cfg, want)
	}
}

func TestLoadFileValues(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config)
	}{
		{"empty file", "", func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(*c, Default()) {
				t.Errorf("got %+v", *c)
			}
		}},
		{"comments only", "# nothing\n", func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(*c, Default()) {
				t.Errorf("got %+v", *c)
			}
		}},
		{"null sections and values", "node:\nlog:\n  level: ~\nmasters: null\n", func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(*c, Default()) {
				t.Errorf("got %+v", *c)
			}
		}},
		{"join as comma string", "gossip:\n  join: a:1, b:2\n", func(t *testing.T, c *Config) {
			if !slices.Equal(c.Gossip.Join, []string{"a:1", "b:2"}) {
				t.Errorf("join = %q", c.Gossip.Join)
			}
		}},
		{"durations", "masters:\n  m:\n    addr: h:1\n    quorum: 1\n    down-after: 1500ms\n    failover-timeout: 90000\n",
			func(t *testing.T, c *Config) {
				m := c.Masters["m"]
				if m.DownAfter != 1500*time.Millisecond || m.FailoverTimeout != 90*time.Second {
					t.Errorf("durations = %v, %v", m.DownAfter, m.FailoverTimeout)
				}
			}},
		{"strings keep their text", "node:\n  id: 0x1F\nmasters:\n  m:\n    addr: h:1\n    quorum: 1\n    auth-pass: 1e3\n    auth-user: yes\n",
			func(t *testing.T, c *Config) {
				if c.Node.ID != "0x1F" || c.Masters["m"].AuthPass != "1e3" || c.Masters["m"].AuthUser != "yes" {
					t.Errorf("got id %q pass %q user %q", c.Node.ID, c.Masters["m"].AuthPass, c.Masters["m"].AuthUser)
				}
			}},
		{"master names are case-sensitive", "masters:\n  a:\n    addr: h:1\n    quorum: 1\n  A:\n    addr: h:2\n    quorum: 1\n",
			func(t *testing.T, c *Config) {
				if got := c.MasterNames(); !slices.Equal(got, []string{"A", "a"}) {
					t.Errorf("names = %q", got)
				}
			}},
		{"merge keys share settings", `
x-common: &common
  down-after: 5s
  quorum: 2
masters:
  a:
    <<: *common
    addr: h:1
  b:
    <<: *common
    addr: h:2
    quorum: 3
`, func(t *testing.T, c *Config) {
			a, b := c.Masters["a"], c.Masters["b"]
			if a.Quorum != 2 || a.DownAfter != 5*time.Second || b.Quorum != 3 || b.DownAfter != 5*time.Second {
				t.Errorf("a = %+v, b = %+v", a, b)
			}
		}},
		{"merge list, first wins", `
x-one: &one {quorum: 1, down-after: 1s}
x-two: &two {quorum: 2, parallel-syncs: 4}
masters:
  m:
    <<: [*one, *two]
    addr: h:1
`, func(t *testing.T, c *Config) {
			m := c.Masters["m"]
			if m.Quorum != 1 || m.DownAfter != time.Second || m.ParallelSyncs != 4 {
				t.Errorf("m = %+v", m)
			}
		}},
		{"alias to scalar", "x-host: &h 10.0.0.1:6379\nmasters:\n  m:\n    addr: *h\n    quorum: 1\n",
			func(t *testing.T, c *Config) {
				if c.Masters["m"].Addr.String() != "10.0.0.1:6379" {
					t.Errorf("addr = %v", c.Masters["m"].Addr)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warns, err := Load(LoadOptions{File: writeConfig(t, tt.yaml)})
			if err != nil || warns != nil {
				t.Fatalf("Load() = %v, %v", warningStrings(warns), err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // error lines; FILE stands for the file's path
	}{
		{"quorum zero", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 0\n",
			[]string{"masters.mymaster.quorum: must be >= 1, got 0 (FILE:4)"}},
		{"quorum not a number", "masters:\n  mymaster:\n    addr: h:1\n    quorum: abc\n",
			[]string{`masters.mymaster.quorum: must be an integer, got "abc" (FILE:4)`}},
		{"quorum is a list", "masters:\n  mymaster:\n    addr: h:1\n    quorum: [1]\n",
			[]string{`masters.mymaster.quorum: must be a single value, got a list (FILE:4)`}},
		{"quorum and addr missing", "masters:\n  mymaster:\n    down-after: 1s\n",
			[]string{"masters.mymaster.addr: required (FILE:2)", "masters.mymaster.quorum: required (FILE:2)"}},
		{"master with no settings", "masters:\n  mymaster:\n",
			[]string{"masters.mymaster.addr: required (FILE:2)", "masters.mymaster.quorum: required (FILE:2)"}},
		{"master not a mapping", "masters:\n  mymaster: 10.0.0.1:6379\n",
			[]string{`masters.mymaster: must be a mapping of settings, got "10.0.0.1:6379" (FILE:2)`}},
		{"masters not a mapping", "masters:\n  - mymaster\n",
			[]string{`masters: must be a mapping of master name to settings, got a list (FILE:1)`}},
		{"addr invalid", "masters:\n  mymaster:\n    addr: foo\n    quorum: 1\n",
			[]string{`masters.mymaster.addr: invalid address "foo": address foo: missing port in address (FILE:3)`}},
		{"addr bad port", "masters:\n  mymaster:\n    addr: h:99999\n    quorum: 1\n",
			[]string{`masters.mymaster.addr: invalid address "h:99999": invalid port "99999" (FILE:3)`}},
		{"down-after negative", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    down-after: -1s\n",
			[]string{"masters.mymaster.down-after: must be > 0, got -1s (FILE:5)"}},
		{"down-after negative millis", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    down-after: -1000\n",
			[]string{"masters.mymaster.down-after: must be > 0, got -1s (FILE:5)"}},
		{"down-after not a duration", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    down-after: soon\n",
			[]string{`masters.mymaster.down-after: invalid duration "soon": want a Go duration such as "30s" or "1500ms", or an integer number of milliseconds (FILE:5)`}},
		{"failover-timeout zero", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    failover-timeout: 0\n",
			[]string{"masters.mymaster.failover-timeout: must be > 0, got 0s (FILE:5)"}},
		{"parallel-syncs zero", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    parallel-syncs: 0\n",
			[]string{"masters.mymaster.parallel-syncs: must be >= 1, got 0 (FILE:5)"}},
		{"notification-script missing", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    notification-script: /nonexistent/vigil/notify.sh\n",
			[]string{`masters.mymaster.notification-script: cannot run "/nonexistent/vigil/notify.sh": no such file (FILE:5)`}},
		{"client-reconfig-script relative", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    client-reconfig-script: reconfig.sh\n",
			[]string{`masters.mymaster.client-reconfig-script: "reconfig.sh" is not an absolute path (FILE:5)`}},
		{"notification-script is a list", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    notification-script: [/bin/true]\n",
			[]string{`masters.mymaster.notification-script: must be a single value, got a list (FILE:5)`}},
		{"parallel-syncs float", "masters:\n  mymaster:\n    addr: h:1\n    quorum: 1\n    parallel-syncs: 1.5\n",
			[]string{`masters.mymaster.parallel-syncs: must be an integer, got "1.5" (FILE:5)`}},
		{"bad master name", "masters:\n  my/master:\n    addr: h:1\n    quorum: 1\n",
			[]string{`masters."my/master": invalid master name "my/master": want 1 or more characters from A-Z a-z 0-9 . - _ (FILE:2)`}},
		{"duplicate master address", "masters:\n  b:\n    addr: h:1\n    quorum: 1\n  a:\n    addr: h:1\n    quorum: 1\n",
			[]string{"masters.b.addr: h:1 is also the address of masters.a; each master needs its own address (FILE:3)"}},
		{"master defined twice", "masters:\n  m:\n    addr: h:1\n    quorum: 1\n  m:\n    addr: h:2\n    quorum: 1\n",
			[]string{"masters.m: defined twice, on lines 2 and 5; only the first is used (FILE:5)"}},
		{"key defined twice", "node:\n  listen: a:1\n  listen: b:2\n",
			[]string{"node.listen: defined twice, on lines 2 and 3; only the first is used (FILE:3)"}},
		{"listen unparsable", "node:\n  listen: nowhere\n",
			[]string{`node.listen: invalid address "nowhere": address nowhere: missing port in address (FILE:2)`}},
		{"listen is a mapping", "node:\n  listen: {host: a}\n",
			[]string{`node.listen: must be a single value, got a mapping (FILE:2)`}},
		{"section not a mapping", "node: 1.2.3.4:26379\n",
			[]string{`node: must be a mapping, got "1.2.3.4:26379" (FILE:1)`}},
		{"log level unknown", "log:\n  level: notice\n",
			[]string{`log.level: unknown level "notice", want debug, info, warn or error (FILE:2)`}},
		{"log format unknown", "log:\n  format: logfmt\n",
			[]string{`log.format: unknown format "logfmt", want text or json (FILE:2)`}},
		{"join entry invalid", "gossip:\n  join:\n    - a:1\n    - b\n",
			[]string{`gossip.join[1]: invalid address "b": address b: missing port in address (FILE:4)`}},
		{"join entry a list", "gossip:\n  join:\n    - [a:1]\n",
			[]string{`gossip.join[0]: must be a single value, got a list (FILE:3)`}},
		{"join a mapping", "gossip:\n  join: {a: 1}\n",
			[]string{`gossip.join: must be a list, got a mapping (FILE:2)`}},
		{"merge of a scalar", "masters:\n  m:\n    <<: 5\n    addr: h:1\n    quorum: 1\n",
			[]string{`masters.m.<<: merge value must be a mapping or a list of mappings, got "5" (FILE:3)`}},
		{"merge cycle", "masters:\n  m: &m\n    <<: *m\n    addr: h:1\n    quorum: 1\n",
			[]string{`masters.m.<<: more than 1000 merges; is a mapping merged into itself? (FILE:2)`}},
		{"non-string key", "masters:\n  [a, b]:\n    addr: h:1\n",
			[]string{`masters: keys must be strings, got a list (FILE:2)`}},
		{"many errors, sorted", `
log:
  level: loud
masters:
  z:
    addr: h:1
    quorum: 0
  a:
    addr: nope
    quorum: x
    down-after: 0
`, []string{
			`log.level: unknown level "loud", want debug, info, warn or error (FILE:3)`,
			`masters.a.addr: invalid address "nope": address nope: missing port in address (FILE:9)`,
			`masters.a.down-after: must be > 0, got 0s (FILE:11)`,
			`masters.a.quorum: must be an integer, got "x" (FILE:10)`,
			`masters.z.quorum: must be >= 1, got 0 (FILE:7)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			cfg, _, err := Load(LoadOptions{File: path})
			if cfg != nil {
				t.Errorf("Load() returned a config with an error")
			}
			if got, want := errLines(err), expand(tt.want, path); !slices.Equal(got, want) {
				t.Fatalf("Load() errors:\n  got  %q\n  want %q", got, want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a *FieldError: %v", err)
			}
		})
	}
}

func TestLoadFileLevelErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // substring of the error after the path
	}{
		{"syntax", "node:\n  listen: [\n", "yaml:"},
		{"top level list", "- a\n- b\n", "the top level must be a mapping of sections (node, gossip, log, http, masters), got a list"},
		{"top level scalar", "hello\n", `got "hello"`},
		{"two documents", "node: {}\n---\nlog: {}\n", "more than one YAML document"},
		{"tab indentation", "node:\n\tlisten: a:1\n", "yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, _, err := Load(LoadOptions{File: path})
			if err == nil || !strings.HasPrefix(err.Error(), "config file "+path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() error = %v, want it to name %s and contain %q", err, path, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, _, err := Load(LoadOptions{File: path})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load() error = %v, want a not-exist error naming %s", err, path)
	}
}

func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		want []string
	}{
		{"unknown master key", "masters:\n  x:\n    addr: h:1\n    quorum: 1\n    quorom: 2\n", nil,
			[]string{`masters.x.quorom: unknown key, ignored; did you mean "quorum"? (FILE:5)`}},
		{"unknown top-level key", "nodee:\n  listen: a:1\n", nil,
			[]string{`nodee: unknown key, ignored; did you mean "node"? (FILE:1)`}},
		{"unknown section key", "node:\n  lsten: a:1\n  colour: blue\n", nil,
			[]string{
				`node.colour: unknown key, ignored (FILE:3)`,
				`node.lsten: unknown key, ignored; did you mean "listen"? (FILE:2)`,
			}},
		{"sentinel habit", "masters:\n  x:\n    addr: h:1\n    quorum: 1\n    down-after-milliseconds: 5000\n", nil,
			[]string{`masters.x.down-after-milliseconds: unknown key, ignored; did you mean "down-after"? (FILE:5)`}},
		{"keys are case-sensitive", "Node:\n  listen: a:1\n", nil,
			[]string{`Node: unknown key, ignored; did you mean "node"? (FILE:1)`}},
		{"extension keys are silent", "x-anchors:\n  a: 1\n", nil, nil},
		{"unknown env var", "", []string{"VIGIL_NODE_LISTN=a:1", "VIGIL_LOG_LEVLE=debug", "VIGIL_GOSSIP_SEEDS=a:1"},
			[]string{
				"VIGIL_GOSSIP_SEEDS: unknown environment variable, ignored",
				"VIGIL_LOG_LEVLE: unknown environment variable, ignored; did you mean VIGIL_LOG_LEVEL?",
				"VIGIL_NODE_LISTN: unknown environment variable, ignored; did you mean VIGIL_NODE_LISTEN?",
			}},
		{"masters via env", "", []string{"VIGIL_MASTERS_MYMASTER_ADDR=h:1"},
			[]string{"VIGIL_MASTERS_MYMASTER_ADDR: masters cannot be set from the environment, ignored; use the config file"}},
		{"other VIGIL_ vars are not ours", "", []string{"VIGIL_CONFIG=/etc/vigil.yaml", "VIGILANT=1", "HOME=/root"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, warns, err := Load(LoadOptions{File: path, Env: tt.env})
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if got, want := warningStrings(warns), expand(tt.want, path); !slices.Equal(got, want) {
				t.Fatalf("warnings:\n  got  %q\n  want %q", got, want)
			}
		})
	}
}

func TestWarningsComeWithErrors(t *testing.T) {
	path := writeConfig(t, "masters:\n  x:\n    addr: h:1\n    quorum: 0\n    quorom: 2\n")
	cfg, warns, err := Load(LoadOptions{File: path})
	if cfg != nil || err == nil || len(warns) != 1 || warns[0].Key != "masters.x.quorom" {
		t.Fatalf("Load() = %v, %v, %v", cfg, warns, err)
	}
}

func TestEnvMapping(t *testing.T) {
	env := []string{
		"VIGIL_NODE_ID=n1",
		"VIGIL_NODE_LISTEN=0.0.0.0:1",
		"VIGIL_NODE_ANNOUNCE=a:1",
		"VIGIL_NODE_DATA_DIR=/data",
		"VIGIL_GOSSIP_BIND=0.0.0.0:2",
		"VIGIL_GOSSIP_JOIN= s1:1 ,s2:2,,",
		"VIGIL_GOSSIP_ADVERTISE=a:2",
		"VIGIL_LOG_LEVEL=warn",
		"VIGIL_LOG_FORMAT=json",
		"NOT_OURS=1",
		"malformed",
	}
	cfg, warns, err := Load(LoadOptions{Env: env})
	if err != nil || warns != nil {
		t.Fatalf("Load() = %v, %v", warns, err)
	}
	want := Default()
	want.Node = NodeConfig{ID: "n1", Listen: "0.0.0.0:1", Announce: "a:1", DataDir: "/data"}
	want.Gossip = GossipConfig{Bind: "0.0.0.0:2", Join: []string{"s1:1", "s2:2"}, Advertise: "a:2"}
	want.Log = LogConfig{Level: "warn", Format: "json"}
	if !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("Load():\n got  %+v\n want %+v", *cfg, want)
	}
}

func TestEnvEmptyValueIsUnset(t *testing.T) {
	path := writeConfig(t, "node:\n  listen: 10.0.0.1:26379\n")
	cfg, _, err := Load(LoadOptions{File: path, Env: []string{"VIGIL_NODE_LISTEN="}})
	if err != nil || cfg.Node.Listen != "10.0.0.1:26379" {
		t.Fatalf("Load() = %+v, %v", cfg, err)
	}
}

func TestEnvLastRepeatWins(t *testing.T) {
	cfg, _, err := Load(LoadOptions{Env: []string{"VIGIL_LOG_LEVEL=debug", "VIGIL_LOG_LEVEL=error"}})
	if err != nil || cfg.Log.Level != "error" {
		t.Fatalf("Load() = %+v, %v", cfg, err)
	}
}

// newFlags returns a flag set with BindFlags applied and args parsed.
func newFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("vigil", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestPrecedence(t *testing.T) {
	const file = "node:\n  listen: 10.0.0.1:1\ngossip:\n  join: [file:1]\nlog:\n  level: warn\n"
	tests := []struct {
		name       string
		file       bool
		env        []string
		args       []string
		wantListen string
		wantJoin   []string
		wantLevel  string
	}{
		{"defaults", false, nil, nil, DefaultListen, nil, DefaultLogLevel},
		{"file over defaults", true, nil, nil, "10.0.0.1:1", []string{"file:1"}, "warn"},
		{"env over defaults", false, []string{"VIGIL_NODE_LISTEN=10.0.0.2:2"}, nil, "10.0.0.2:2", nil, DefaultLogLevel},
		{"env over file", true, []string{"VIGIL_NODE_LISTEN=10.0.0.2:2", "VIGIL_GOSSIP_JOIN=env:1,env:2"}, nil,
			"10.0.0.2:2", []string{"env:1", "env:2"}, "warn"},
		{"flag over defaults", false, nil, []string{"--listen", "10.0.0.3:3"}, "10.0.0.3:3", nil, DefaultLogLevel},
		{"flag over file", true, nil, []string{"--listen=10.0.0.3:3", "--join", "flag:1", "--join", "flag:2"},
			"10.0.0.3:3", []string{"flag:1", "flag:2"}, "warn"},
		{"flag over env over file", true, []string{"VIGIL_NODE_LISTEN=10.0.0.2:2", "VIGIL_LOG_LEVEL=error"},
			[]string{"--listen=10.0.0.3:3", "--join=flag:1,flag:2"}, "10.0.0.3:3", []string{"flag:1", "flag:2"}, "error"},
		{"unset flags do not override", true, []string{"VIGIL_LOG_LEVEL=error"}, []string{"--data-dir=/x"},
			"10.0.0.1:1", []string{"file:1"}, "error"},
		{"flag set to its default still wins", true, nil, []string{"--listen=" + DefaultListen}, DefaultListen, []string{"file:1"}, "warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{Env: tt.env, Flags: newFlags(t, tt.args...)}
			if tt.file {
				opts.File = writeConfig(t, file)
			}
			cfg, _, err := Load(opts)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Node.Listen != tt.wantListen || !slices.Equal(cfg.Gossip.Join, tt.wantJoin) || cfg.Log.Level != tt.wantLevel {
				t.Fatalf("listen %q join %q level %q; want %q %q %q",
					cfg.Node.Listen, cfg.Gossip.Join, cfg.Log.Level, tt.wantListen, tt.wantJoin, tt.wantLevel)
			}
		})
	}
}

func TestErrorOriginFollowsPrecedence(t *testing.T) {
	path := writeConfig(t, "node:\n  listen: file\n")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"file", nil, nil, `node.listen: invalid address "file": address file: missing port in address (FILE:2)`},
		{"env", []string{"VIGIL_NODE_LISTEN=env"}, nil,
			`node.listen: invalid address "env": address env: missing port in address ($VIGIL_NODE_LISTEN)`},
		{"flag", []string{"VIGIL_NODE_LISTEN=env"}, []string{"--listen=flag"},
			`node.listen: invalid address "flag": address flag: missing port in address (--listen)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(LoadOptions{File: path, Env: tt.env, Flags: newFlags(t, tt.args...)})
			if got, want := errLines(err), expand([]string{tt.want}, path); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
	_, _, err := Load(LoadOptions{Flags: newFlags(t, "--join=a:1,b")})
	if got, want := errLines(err), []string{`gossip.join[1]: invalid address "b": address b: missing port in address (--join)`}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestBindFlags(t *testing.T) {
	fs := pflag.NewFlagSet("vigil", pflag.ContinueOnError)
	BindFlags(fs)
	BindFlags(fs) // idempotent: no redefinition panic
	wantDefaults := map[string]string{
		"node-id":               "",
		"listen":                DefaultListen,
		"announce":              "",
		"data-dir":              DefaultDataDir,
		"gossip-bind":           DefaultGossipBind,
		"join":                  "[]",
		"gossip-advertise":      "",
		"log-level":             DefaultLogLevel,
		"log-format":            DefaultLogFormat,
		"http-listen":           DefaultHTTPListen,
		"http-token":            "",
		"http-pprof":            "",
		"requirepass":           "",
		"tls-cert-file":         "",
		"tls-key-file":          "",
		"tls-ca-file":           "",
		"gossip-secret-keys":    "[]",
		"deny-scripts-reconfig": "",
		"announce-hostnames":    "",
	}
	n := 0
	fs.VisitAll(func(f *pflag.Flag) { n++ })
	if n != len(wantDefaults) {
		t.Errorf("BindFlags registered %d flags, want %d", n, len(wantDefaults))
	}
	for name, def := range wantDefaults {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("flag --%s not registered", name)
			continue
		}
		if f.DefValue != def {
			t.Errorf("--%s default = %q, want %q", name, f.DefValue, def)
		}
		if !strings.Contains(f.Usage, "$VIGIL_") {
			t.Errorf("--%s usage %q does not name its environment variable", name, f.Usage)
		}
	}
}

func TestBindFlagsKeepsExistingFlags(t *testing.T) {
	fs := pflag.NewFlagSet("vigil", pflag.ContinueOnError)
	fs.String("listen", "x", "someone else's flag")
	BindFlags(fs)
	if fs.Lookup("listen").Usage != "someone else's flag" || fs.Lookup("data-dir") == nil {
		t.Fatal("BindFlags replaced an existing flag or skipped the rest")
	}
}

func TestLoadWithForeignFlagSet(t *testing.T) {
	// A flag set with only some of our flags, one of them a plain string
	// rather than a list.
	fs := pflag.NewFlagSet("other", pflag.ContinueOnError)
	fs.String("join", "", "")
	fs.Int("verbose", 0, "")
	if err := fs.Parse([]string{"--join=a:1, b:2", "--verbose=3"}); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(LoadOptions{Flags: fs})
	if err != nil || !slices.Equal(cfg.Gossip.Join, []string{"a:1", "b:2"}) {
		t.Fatalf("Load() = %+v, %v", cfg, err)
	}
}

func TestLoadsAreIndependent(t *testing.T) {
	a, _, errA := Load(LoadOptions{Env: []string{"VIGIL_LOG_LEVEL=debug"}})
	b, _, errB := Load(LoadOptions{})
	if errA != nil || errB != nil || a.Log.Level != "debug" || b.Log.Level != DefaultLogLevel {
		t.Fatalf("a = %+v (%v), b = %+v (%v)", a, errA, b, errB)
	}
}

func TestCheckFile(t *testing.T) {
	good := writeConfig(t, "masters:\n  m:\n    addr: h:1\n    quorum: 1\n    quorom: 1\n")
	warns, err := CheckFile(good)
	if err != nil || len(warns) != 1 {
		t.Fatalf("CheckFile(good) = %v, %v", warns, err)
	}
	bad := writeConfig(t, "masters:\n  m:\n    addr: h:1\n")
	if _, err := CheckFile(bad); err == nil || !strings.Contains(err.Error(), "masters.m.quorum: required") {
		t.Fatalf("CheckFile(bad) error = %v", err)
	}
	if _, err := CheckFile(""); err == nil {
		t.Fatal("CheckFile(\"\") succeeded")
	}
	t.Setenv("VIGIL_LOG_LEVEL", "nonsense") // CheckFile ignores the environment
	if _, err := CheckFile(good); err != nil {
		t.Fatalf("CheckFile read the environment: %v", err)
	}
}

// TestDocsExample keeps the example in docs/configuration.md loadable.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- example:begin -->\n```yaml\n", "```\n<!-- example:end -->"
	_, rest, ok := strings.Cut(string(doc), start)
	example, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatal("docs/configuration.md has no marked example")
	}
	cfg, warns, err := Load(LoadOptions{File: writeConfig(t, example)})
	if err != nil || warns != nil {
		t.Fatalf("docs example: %v, %v", warningStrings(warns), err)
	}
	if len(cfg.Masters) != 2 {
		t.Fatalf("docs example has %d masters, want 2", len(cfg.Masters))
	}
}

func TestHTTPSection(t *testing.T) {
	t.Run("defaults: off, no token", func(t *testing.T) {
		cfg, _, err := Load(LoadOptions{})
		if err != nil || !reflect.DeepEqual(cfg.HTTP, HTTPConfig{}) {
			t.Fatalf("Load() = %+v, %v", cfg, err)
		}
	})
	t.Run("file", func(t *testing.T) {
		path := writeConfig(t, "http:\n  listen: 127.0.0.1:9121\n  token: 0123\n")
		cfg, warns, err := Load(LoadOptions{File: path})
		if err != nil || warns != nil {
			t.Fatalf("Load() = %v, %v", warningStrings(warns), err)
		}
		if want := (HTTPConfig{Listen: "127.0.0.1:9121", Token: "0123"}); !reflect.DeepEqual(cfg.HTTP, want) {
			t.Fatalf("http = %+v, want %+v", cfg.HTTP, want)
		}
	})
	t.Run("env over file, flag over env", func(t *testing.T) {
		path := writeConfig(t, "http:\n  listen: 127.0.0.1:1\n  token: file-token\n")
		env := []string{"VIGIL_HTTP_LISTEN=127.0.0.1:2", "VIGIL_HTTP_TOKEN=env-token"}
		cfg, _, err := Load(LoadOptions{File: path, Env: env})
		if err != nil || !reflect.DeepEqual(cfg.HTTP, HTTPConfig{Listen: "127.0.0.1:2", Token: "env-token"}) {
			t.Fatalf("env: Load() = %+v, %v", cfg, err)
		}
		cfg, _, err = Load(LoadOptions{File: path, Env: env, Flags: newFlags(t, "--http-listen=127.0.0.1:3", "--http-token=flag-token")})
		if err != nil || !reflect.DeepEqual(cfg.HTTP, HTTPConfig{Listen: "127.0.0.1:3", Token: "flag-token"}) {
			t.Fatalf("flags: Load() = %+v, %v", cfg, err)
		}
	})
	t.Run("errors name the key and origin, never the token", func(t *testing.T) {
		path := writeConfig(t, "http:\n  listen: 9121\n")
		_, _, err := Load(LoadOptions{File: path, Env: []string{"VIGIL_HTTP_TOKEN=two words"}})
		want := []string{
			`http.listen: invalid address "9121": address 9121: missing port in address (` + path + `:2)`,
			`http.token: must be printable ASCII without spaces (value not shown) ($VIGIL_HTTP_TOKEN)`,
		}
		if got := errLines(err); !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	t.Run("pprof: yes or no, from the file, the environment or a flag", func(t *testing.T) {
		path := writeConfig(t, "http:\n  listen: 127.0.0.1:9121\n  pprof: yes\n")
		cfg, _, err := Load(LoadOptions{File: path})
		if err != nil || !cfg.HTTP.PprofEnabled() {
			t.Fatalf("file: Load() = %+v, %v", cfg.HTTP, err)
		}
		cfg, _, err = Load(LoadOptions{File: path, Env: []string{"VIGIL_HTTP_PPROF=no"}})
		if err != nil || cfg.HTTP.PprofEnabled() {
			t.Fatalf("env: Load() = %+v, %v", cfg.HTTP, err)
		}
		cfg, _, err = Load(LoadOptions{File: path, Env: []string{"VIGIL_HTTP_PPROF=no"}, Flags: newFlags(t, "--http-pprof=yes")})
		if err != nil || !cfg.HTTP.PprofEnabled() {
			t.Fatalf("flag: Load() = %+v, %v", cfg.HTTP, err)
		}
		_, _, err = Load(LoadOptions{File: writeConfig(t, "http:\n  pprof: sometimes\n")})
		if err == nil || !strings.Contains(err.Error(), `http.pprof: want yes or no, got "sometimes"`) {
			t.Fatalf("bad value: %v", err)
		}
	})
	t.Run("unknown keys and variables warn", func(t *testing.T) {
		path := writeConfig(t, "http:\n  listn: 127.0.0.1:9121\n")
		_, warns, err := Load(LoadOptions{File: path, Env: []string{"VIGIL_HTTP_TOKN=x"}})
		want := []string{
			`VIGIL_HTTP_TOKN: unknown environment variable, ignored; did you mean VIGIL_HTTP_TOKEN?`,
			`http.listn: unknown key, ignored; did you mean "listen"? (` + path + `:2)`,
		}
		if err != nil || !slices.Equal(warningStrings(warns), want) {
			t.Fatalf("Load() = %q, %v; want warnings %q", warningStrings(warns), err, want)
		}
	})
}

func TestLoadScripts(t *testing.T) {
	dir := t.TempDir()
	notify := writeExecutable(t, dir, "notify.sh")
	reconfig := writeExecutable(t, dir, "reconfig.sh")
	path := writeConfig(t, "masters:\n"+
		"  a:\n    addr: h:1\n    quorum: 1\n    notification-script: "+notify+"\n    client-reconfig-script: "+reconfig+"\n"+
		"  b:\n    addr: h:2\n    quorum: 1\n    notification-script: ~\n")
	cfg, warns, err := Load(LoadOptions{File: path})
	if err != nil || warns != nil {
		t.Fatalf("Load: %v, %v", warningStrings(warns), err)
	}
	if a := cfg.Masters["a"]; a.NotificationScript != notify || a.ClientReconfigScript != reconfig {
		t.Errorf("master a: scripts %q, %q; want %q, %q", a.NotificationScript, a.ClientReconfigScript, notify, reconfig)
	}
	if b := cfg.Masters["b"]; b.NotificationScript != "" || b.ClientReconfigScript != "" {
		t.Errorf("master b: scripts %q, %q; want none", b.NotificationScript, b.ClientReconfigScript)
	}
}
