package config

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/testpki"
)

func testKey(b byte, n int) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n))
}

// setSecurity sets every security setting of c, with values that need care
// in YAML, and TLS towards Redis on master masterName.
func setSecurity(t *testing.T, c *Config, masterName string) {
	t.Helper()
	pki := testpki.New(t, t.TempDir(), "yes: # ")
	c.Node.RequirePass = "no"
	c.Node.Users = []UserConfig{{Name: "true", Password: "~"}, {Name: "alice", Password: "0123"}}
	c.Node.TLS = NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile}
	c.Gossip.SecretKeys = []string{testKey(1, 32), testKey(2, 16)}
	m := c.Masters[masterName]
	m.TLS = MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile,
		ServerName: "redis.example", InsecureSkipVerify: true}
	c.Masters[masterName] = m
}

func TestValidateSecurity(t *testing.T) {
	dir := t.TempDir()
	pki := testpki.New(t, dir, "a-")
	other := testpki.New(t, dir, "b-")
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string
	}{
		{"requirepass and users", func(c *Config) {
			c.Node.RequirePass = "s3cret"
			c.Node.Users = []UserConfig{{"alice", "pw1"}, {"bob", "pw2"}}
		}, nil},
		{"bad users", func(c *Config) {
			c.Node.Users = []UserConfig{{"", "pw"}, {"default", "pw"}, {"a b", "pw"}, {"bob", ""}, {"carl", "x"}, {"carl", "y"}}
		}, []string{
			`node.users[0].name: required`,
			`node.users[1].name: "default" is the user of node.requirepass; set that instead`,
			`node.users[2].name: invalid user name "a b": want printable ASCII without spaces`,
			`node.users[3].password: required`,
			`node.users[5].name: user "carl" is also node.users[4]`,
		}},
		{"node tls ok", func(c *Config) { c.Node.TLS = NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile} }, nil},
		{"node tls with client CA", func(c *Config) {
			c.Node.TLS = NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile}
		}, nil},
		{"node tls cert without key", func(c *Config) { c.Node.TLS.CertFile = pki.CertFile },
			[]string{`node.tls.key-file: required with cert-file`}},
		{"node tls ca alone", func(c *Config) { c.Node.TLS.CAFile = pki.CAFile },
			[]string{`node.tls.cert-file: required with ca-file: the CA only verifies clients of a TLS port`}},
		{"node tls missing files", func(c *Config) {
			c.Node.TLS = NodeTLSConfig{CertFile: missing, KeyFile: pki.KeyFile, CAFile: missing}
		}, []string{
			`node.tls.ca-file: cannot read "` + missing + `": no such file or directory`,
			`node.tls.cert-file: cannot read "` + missing + `": no such file or directory`,
		}},
		{"node tls key of another cert", func(c *Config) {
			c.Node.TLS = NodeTLSConfig{CertFile: pki.CertFile, KeyFile: other.KeyFile}
		}, []string{`node.tls.key-file: "` + other.KeyFile + `" is not the private key of cert-file "` + pki.CertFile + `": tls: private key does not match public key`}},
		{"node tls not PEM", func(c *Config) {
			c.Node.TLS = NodeTLSConfig{CertFile: notPEM, KeyFile: pki.KeyFile, CAFile: notPEM}
		}, []string{
			`node.tls.ca-file: no PEM certificate in "` + notPEM + `"`,
			`node.tls.cert-file: no PEM certificate in "` + notPEM + `"`,
		}},
		{"master tls ok", func(c *Config) {
			setMaster(c, "mymaster", func(m *MasterConfig) {
				m.TLS = MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}
			})
		}, nil},
		{"master tls with system roots", func(c *Config) {
			setMaster(c, "mymaster", func(m *MasterConfig) { m.TLS = MasterTLSConfig{Enabled: true, ServerName: "redis"} })
		}, nil},
		{"master tls settings without enabled", func(c *Config) {
			setMaster(c, "mymaster", func(m *MasterConfig) { m.TLS.CAFile = pki.CAFile })
		}, []string{`masters.mymaster.tls.enabled: is false but other tls settings are set; set enabled: true, or remove them`}},
		{"master tls bad files", func(c *Config) {
			setMaster(c, "other", func(m *MasterConfig) {
				m.TLS = MasterTLSConfig{Enabled: true, CAFile: missing, KeyFile: pki.KeyFile}
			})
		}, []string{
			`masters.other.tls.ca-file: cannot read "` + missing + `": no such file or directory`,
			`masters.other.tls.cert-file: required with key-file`,
		}},
		{"secret keys ok", func(c *Config) { c.Gossip.SecretKeys = []string{testKey(1, 16), testKey(2, 24), testKey(3, 32)} }, nil},
		{"bad secret keys", func(c *Config) {
			c.Gossip.SecretKeys = []string{"not base64!", testKey(1, 20), testKey(2, 32), testKey(2, 32)}
		}, []string{
			"gossip.secret-keys[0]: not valid base64 (value not shown); generate a key with `openssl rand -base64 32`",
			`gossip.secret-keys[1]: decodes to 20 bytes, want 16, 24 or 32 (value not shown)`,
			`gossip.secret-keys[3]: same key as gossip.secret-keys[2] (value not shown)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.modify(&c)
			if got := errLines(c.Validate()); !slices.Equal(got, tt.want) {
				t.Fatalf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadSecurity(t *testing.T) {
	dir := t.TempDir()
	pki := testpki.New(t, dir, "")
	path := writeConfig(t, `node:
  requirepass: "0123"
  users:
    - name: alice
      password: a-pass
    - {name: bob, password: b-pass}
  tls:
    cert-file: `+pki.CertFile+`
    key-file: `+pki.KeyFile+`
gossip:
  secret-keys:
    - `+testKey(1, 32)+`
    - `+testKey(2, 16)+`
masters:
  m:
    addr: redis.example:6380
    quorum: 1
    tls:
      enabled: yes
      ca-file: `+pki.CAFile+`
      server-name: redis.internal
`)
	cfg, warns, err := Load(LoadOptions{File: path})
	if err != nil || warns != nil {
		t.Fatalf("Load: %v, %v", warningStrings(warns), err)
	}
	if cfg.Node.RequirePass != "0123" {
		t.Errorf("requirepass = %q", cfg.Node.RequirePass)
	}
	if want := []UserConfig{{"alice", "a-pass"}, {"bob", "b-pass"}}; !slices.Equal(cfg.Node.Users, want) {
		t.Errorf("users = %+v, want %+v", cfg.Node.Users, want)
	}
	if want := (NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile}); cfg.Node.TLS != want {
		t.Errorf("node.tls = %+v, want %+v", cfg.Node.TLS, want)
	}
	keys, err := cfg.Gossip.DecodeSecretKeys()
	if err != nil || len(keys) != 2 || len(keys[0]) != 32 || keys[0][0] != 1 || len(keys[1]) != 16 {
		t.Errorf("DecodeSecretKeys = %v, %v", keys, err)
	}
	if want := (MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, ServerName: "redis.internal"}); cfg.Masters["m"].TLS != want {
		t.Errorf("masters.m.tls = %+v, want %+v", cfg.Masters["m"].TLS, want)
	}

	// The environment and flags override the file, key by key.
	env := []string{"VIGIL_NODE_REQUIREPASS=from-env", "VIGIL_GOSSIP_SECRET_KEYS=" + testKey(3, 24) + "," + testKey(1, 32),
		"VIGIL_NODE_TLS_CA_FILE=" + pki.CAFile}
	cfg, _, err = Load(LoadOptions{File: path, Env: env, Flags: newFlags(t, "--tls-key-file="+pki.KeyFile, "--requirepass=from-flag")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node.RequirePass != "from-flag" || len(cfg.Gossip.SecretKeys) != 2 || cfg.Gossip.SecretKeys[0] != testKey(3, 24) ||
		cfg.Node.TLS.CAFile != pki.CAFile || cfg.Node.TLS.CertFile != pki.CertFile {
		t.Errorf("overrides not applied: node %+v, gossip keys %d", cfg.Node, len(cfg.Gossip.SecretKeys))
	}
}

func TestLoadSecurityErrorsAndWarnings(t *testing.T) {
	path := writeConfig(t, `node:
  users:
    - name: alice
      pasword: x
  tls:
    cert-fil: /x
gossip:
  secret-keys: [AAAA]
masters:
  m:
    addr: h:1
    quorum: 1
    tls:
      enabled: maybe
      ca-fle: /x
`)
	_, warns, err := Load(LoadOptions{File: path, Env: []string{"VIGIL_NODE_USERS=alice:x"}})
	wantErrs := []string{
		`gossip.secret-keys[0]: decodes to 3 bytes, want 16, 24 or 32 (value not shown) (FILE:8)`,
		`masters.m.tls.enabled: must be true or false, got "maybe" (FILE:14)`,
		`node.users[0].password: required (FILE:3)`,
	}
	if got := errLines(err); !slices.Equal(got, expand(wantErrs, path)) {
		t.Errorf("errors:\n got %q\nwant %q", got, expand(wantErrs, path))
	}
	wantWarns := []string{
		`VIGIL_NODE_USERS: node.users cannot be set from the environment, ignored; use the config file, or node.requirepass ($VIGIL_NODE_REQUIREPASS)`,
		`masters.m.tls.ca-fle: unknown key, ignored; did you mean "ca-file"? (FILE:15)`,
		`node.tls.cert-fil: unknown key, ignored; did you mean "cert-file"? (FILE:6)`,
		`node.users[0].pasword: unknown key, ignored; did you mean "password"? (FILE:4)`,
	}
	if got := warningStrings(warns); !slices.Equal(got, expand(wantWarns, path)) {
		t.Errorf("warnings:\n got %q\nwant %q", got, expand(wantWarns, path))
	}

	for name, text := range map[string]string{
		"users not a list":  "node:\n  users: alice\n",
		"user not a map":    "node:\n  users: [alice]\n",
		"tls not a mapping": "node:\n  tls: yes\n",
		"master tls a list": "masters:\n  m:\n    addr: h:1\n    quorum: 1\n    tls: [a]\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Load(LoadOptions{File: writeConfig(t, text)}); err == nil {
				t.Fatal("Load accepted it")
			}
		})
	}
}

func TestSecurityLogValueRedacts(t *testing.T) {
	c := validConfig(t)
	setSecurity(t, &c, "mymaster")
	c.HTTP.Token = "http-token-secret"
	m := c.Masters["other"]
	m.AuthPass = "auth-pass-secret"
	c.Masters["other"] = m
	c.Node.RequirePass = "requirepass-secret"
	c.Node.Users = []UserConfig{{Name: "alice", Password: "user-secret"}}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", c)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", c)
	out := buf.String()
	for _, secret := range append([]string{"http-token-secret", "auth-pass-secret", "requirepass-secret", "user-secret"}, c.Gossip.SecretKeys...) {
		if strings.Contains(out, secret) {
			t.Errorf("log output leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"cfg.node.requirepass=******", "cfg.node.users=[alice]", "cfg.gossip.secret-keys=2", "cfg.masters.mymaster.tls=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output misses %q:\n%s", want, out)
		}
	}
}

func TestMarshalYAMLSecurity(t *testing.T) {
	c := validConfig(t)
	setSecurity(t, &c, "mymaster")
	data := string(roundTrip(t, &c))
	if !strings.Contains(data, "secrets (node.requirepass, gossip.secret-keys, node.users)") {
		t.Errorf("the header does not list the secrets:\n%s", data)
	}
	for _, want := range []string{"  requirepass: no\n", "  tls:\n    cert-file: ", "  users:\n    - name: \"true\"\n      password: \"~\"\n",
		"    tls:\n      enabled: true\n      ca-file: "} {
		if !strings.Contains(data, want) {
			t.Errorf("output lacks %q:\n%s", want, data)
		}
	}
}

func TestTLSConfigs(t *testing.T) {
	pki := testpki.New(t, t.TempDir(), "")
	if cfg, err := (NodeTLSConfig{}).ServerConfig(); cfg != nil || err != nil {
		t.Errorf("no node.tls: %v, %v", cfg, err)
	}
	if cfg, err := (MasterTLSConfig{CAFile: pki.CAFile}).ClientConfig(); cfg != nil || err != nil {
		t.Errorf("tls not enabled: %v, %v", cfg, err)
	}
	srv, err := NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile}.ServerConfig()
	if err != nil || len(srv.Certificates) != 1 || srv.ClientAuth != tls.RequireAndVerifyClientCert || srv.ClientCAs == nil {
		t.Errorf("ServerConfig = %+v, %v", srv, err)
	}
	cli, err := MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}.ClientConfig()
	if err != nil || len(cli.Certificates) != 1 || cli.RootCAs == nil || cli.InsecureSkipVerify {
		t.Errorf("ClientConfig = %+v, %v", cli, err)
	}
	if _, err := (MasterTLSConfig{Enabled: true, CAFile: "/nonexistent"}).ClientConfig(); err == nil || !strings.HasPrefix(err.Error(), "tls.ca-file: ") {
		t.Errorf("missing CA: %v", err)
	}
}

func TestSentinelConfRequirepass(t *testing.T) {
	const hashOfS3cret = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
	tests := []struct {
		name, conf string
		pass       string
		warns      []string
	}{
		{"requirepass", monitorLine + "requirepass s3cret\n", "s3cret", nil},
		{"as Sentinel's config rewrite leaves it",
			monitorLine + "requirepass \"s3cret\"\nuser default on #" + hashOfS3cret + " ~* &* +@all\n", "s3cret", nil},
		{"rewrite with sanitize-payload, user line first",
			monitorLine + "user default on sanitize-payload #" + strings.ToUpper(hashOfS3cret) + " ~* &* +@all\nrequirepass s3cret\n", "s3cret", nil},
		{"default user password in clear", monitorLine + "requirepass s3cret\nuser default on >s3cret ~* &* +@all\n", "s3cret", nil},
		{"default user with another password", monitorLine + "requirepass other\nuser default on #" + hashOfS3cret + " ~* &* +@all\n", "other",
			[]string{"user: not supported yet, ignored: vigil's Sentinel port has no ACL rules; give clients passwords with node.requirepass or node.users (sentinel.conf:3)"}},
		{"default user password without requirepass", monitorLine + "user default on >s3cret ~* &* +@all\n", "",
			[]string{"user: not supported yet, ignored: vigil's Sentinel port has no ACL rules; give clients passwords with node.requirepass or node.users (sentinel.conf:2)"}},
		{"restricted default user", monitorLine + "requirepass s3cret\nuser default on >s3cret ~* &* -@all +ping\n", "s3cret",
			[]string{"user: not supported yet, ignored: vigil's Sentinel port has no ACL rules; give clients passwords with node.requirepass or node.users (sentinel.conf:3)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSentinelConf(t, tt.conf)
			cfg, _, warns, err := LoadSentinelConf(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Node.RequirePass != tt.pass {
				t.Errorf("node.requirepass = %q, want %q", cfg.Node.RequirePass, tt.pass)
			}
			if got := warningLines(warns, filepath.Dir(path)); !slices.Equal(got, tt.warns) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warns)
			}
		})
	}
}
