package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file holds the security settings: passwords and TLS on the Sentinel
// port (node.requirepass, node.users, node.tls), gossip encryption
// (gossip.secret-keys) and TLS towards Redis (masters.NAME.tls), with
// their validation, YAML decoding and encoding, and redacted logging.

// Keys of the security settings that are not viper settings.
const (
	keyNodeUsers = "node.users"
	keyTLS       = "tls" // masters.NAME.tls

	keyUserName     = "name"
	keyUserPassword = "password"

	keyTLSEnabled            = "enabled"
	keyTLSCAFile             = "ca-file"
	keyTLSCertFile           = "cert-file"
	keyTLSKeyFile            = "key-file"
	keyTLSServerName         = "server-name"
	keyTLSInsecureSkipVerify = "insecure-skip-verify"

	// defaultUser is the user AUTH with a password alone logs in as; its
	// password is node.requirepass.
	defaultUser = "default"
)

func userKeys() []string { return []string{keyUserName, keyUserPassword} }

func masterTLSKeys() []string {
	return []string{keyTLSEnabled, keyTLSCAFile, keyTLSCertFile, keyTLSKeyFile, keyTLSServerName, keyTLSInsecureSkipVerify}
}

// UserConfig is one entry of node.users.
type UserConfig struct {
	// Name is the user name clients pass to AUTH and HELLO AUTH: printable
	// ASCII without spaces, not "default" (that is node.requirepass).
	Name string
	// Password is the user's password. A secret.
	Password string
}

// NodeTLSConfig is node.tls: TLS on the Sentinel port.
type NodeTLSConfig struct {
	// CertFile and KeyFile are the PEM server certificate (chain) and its
	// private key. Both empty means plain text.
	CertFile string
	KeyFile  string
	// CAFile, when set, makes the port require client certificates signed
	// by one of the PEM certificates it holds.
	CAFile string
}

// Enabled reports whether the Sentinel port serves TLS.
func (t NodeTLSConfig) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// MasterTLSConfig is masters.NAME.tls: TLS towards the master and its
// replicas.
type MasterTLSConfig struct {
	// Enabled turns TLS on. The other fields need it.
	Enabled bool
	// CAFile holds the PEM certificates that may sign the servers'
	// certificates. Empty means the system's roots.
	CAFile string
	// CertFile and KeyFile are an optional client certificate and its key,
	// for servers that verify clients (redis-server's tls-auth-clients).
	CertFile string
	KeyFile  string
	// ServerName is the name checked against the servers' certificates.
	// Empty means the host of each instance's address.
	ServerName string
	// InsecureSkipVerify accepts any server certificate, giving up the
	// protection against a man in the middle. For tests.
	InsecureSkipVerify bool
}

// AuthRequired reports whether clients of the Sentinel port must
// authenticate: a password or users are configured.
func (n NodeConfig) AuthRequired() bool { return n.RequirePass != "" || len(n.Users) > 0 }

// LogValue renders the section with the passwords redacted and the users
// listed by name.
func (n NodeConfig) LogValue() slog.Value {
	users := make([]string, len(n.Users))
	for i, u := range n.Users {
		users[i] = u.Name
	}
	return slog.GroupValue(
		slog.String("id", n.ID),
		slog.String("listen", n.Listen),
		slog.String("announce", n.Announce),
		slog.String("data-dir", n.DataDir),
		slog.String("requirepass", redact(n.RequirePass)),
		slog.Any("users", users),
		slog.Bool("tls", n.TLS.Enabled()),
	)
}

// LogValue renders the section with the secret keys replaced by their
// number.
func (g GossipConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("bind", g.Bind),
		slog.Any("join", g.Join),
		slog.String("advertise", g.Advertise),
		slog.Int("secret-keys", len(g.SecretKeys)),
	)
}

// LogValue renders the whole configuration with every secret redacted.
func (c Config) LogValue() slog.Value {
	masters := make([]slog.Attr, 0, len(c.Masters))
	for _, name := range c.MasterNames() {
		masters = append(masters, slog.Any(name, c.Masters[name]))
	}
	return slog.GroupValue(
		slog.Any("node", c.Node),
		slog.Any("gossip", c.Gossip),
		slog.Group("log", slog.String("level", c.Log.Level), slog.String("format", c.Log.Format)),
		slog.Any("http", c.HTTP),
		slog.Attr{Key: "masters", Value: slog.GroupValue(masters...)},
	)
}

// redact hides a secret, showing only whether it is set.
func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return "******"
}

// DecodeSecretKeys decodes gossip.secret-keys, primary key first. The error
// names the bad entry but never shows a key.
func (g GossipConfig) DecodeSecretKeys() ([][]byte, error) {
	keys := make([][]byte, 0, len(g.SecretKeys))
	for i, s := range g.SecretKeys {
		k, err := decodeSecretKey(s)
		if err != nil {
			return nil, fmt.Errorf("gossip.secret-keys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func decodeSecretKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not valid base64 (value not shown); generate a key with `openssl rand -base64 32`")
	}
	switch len(k) {
	case 16, 24, 32:
		return k, nil
	}
	return nil, fmt.Errorf("decodes to %d bytes, want 16, 24 or 32 (value not shown)", len(k))
}

// ServerConfig builds the TLS configuration of the Sentinel port from the
// files, read now: the certificate, and client verification when CAFile is
// set. It returns nil, nil when TLS is off.
func (t NodeTLSConfig) ServerConfig() (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cfg, errs := t.build("node.tls")
	if len(errs) > 0 {
		return nil, joinSorted(errs)
	}
	return cfg, nil
}

// ClientConfig builds the TLS configuration for connecting to the master
// and its replicas from the files, read now. It returns nil, nil when TLS
// is off. Errors name the keys relative to the master ("tls.ca-file").
// An empty ServerName is left empty: the dialer then checks each
// instance's host.
func (t MasterTLSConfig) ClientConfig() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg, errs := t.build(keyTLS)
	if len(errs) > 0 {
		return nil, joinSorted(errs)
	}
	return cfg, nil
}

func (t NodeTLSConfig) build(prefix string) (*tls.Config, []*FieldError) {
	var errs []*FieldError
	switch {
	case t.CertFile == "" && t.KeyFile == "":
		errs = append(errs, fieldErr(prefix+"."+keyTLSCertFile, "required with ca-file: the CA only verifies clients of a TLS port"))
	case t.CertFile == "":
		errs = append(errs, fieldErr(prefix+"."+keyTLSCertFile, "required with key-file"))
	case t.KeyFile == "":
		errs = append(errs, fieldErr(prefix+"."+keyTLSKeyFile, "required with cert-file"))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CertFile != "" && t.KeyFile != "" {
		cert, e := loadKeyPair(prefix, t.CertFile, t.KeyFile)
		errs = append(errs, e...)
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pool, e := loadCAPool(prefix+"."+keyTLSCAFile, t.CAFile)
		if e != nil {
			errs = append(errs, e)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, errs
}

func (t MasterTLSConfig) build(prefix string) (*tls.Config, []*FieldError) {
	var errs []*FieldError
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, // #nosec G402 -- the operator's explicit choice, documented as unsafe
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		errs = append(errs, fieldErr(prefix+"."+keyTLSKeyFile, "required with cert-file"))
	case t.CertFile == "" && t.KeyFile != "":
		errs = append(errs, fieldErr(prefix+"."+keyTLSCertFile, "required with key-file"))
	case t.CertFile != "":
		cert, e := loadKeyPair(prefix, t.CertFile, t.KeyFile)
		errs = append(errs, e...)
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pool, e := loadCAPool(prefix+"."+keyTLSCAFile, t.CAFile)
		if e != nil {
			errs = append(errs, e)
		}
		cfg.RootCAs = pool
	}
	return cfg, errs
}

// readFile reads a file named by key, reporting a failure without
// repeating the path twice.
func readFile(key, path string) ([]byte, *FieldError) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &FieldError{Key: key, Message: fmt.Sprintf("cannot read %q", path), Err: err}
	}
	return data, nil
}

// loadKeyPair loads prefix.cert-file and prefix.key-file as a certificate
// and its key.
func loadKeyPair(prefix, certFile, keyFile string) (tls.Certificate, []*FieldError) {
	certKey, keyKey := prefix+"."+keyTLSCertFile, prefix+"."+keyTLSKeyFile
	certPEM, e1 := readFile(certKey, certFile)
	keyPEM, e2 := readFile(keyKey, keyFile)
	var errs []*FieldError
	for _, e := range []*FieldError{e1, e2} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return tls.Certificate{}, errs
	}
	if !hasPEMCertificate(certPEM) {
		return tls.Certificate{}, []*FieldError{fieldErr(certKey, "no PEM certificate in %q", certFile)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The error never quotes the key material.
		return tls.Certificate{}, []*FieldError{{Key: keyKey, Message: fmt.Sprintf("%q is not the private key of cert-file %q", keyFile, certFile), Err: err}}
	}
	return cert, nil
}

// loadCAPool loads the PEM certificates of a CA file.
func loadCAPool(key, file string) (*x509.CertPool, *FieldError) {
	data, e := readFile(key, file)
	if e != nil {
		return nil, e
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fieldErr(key, "no PEM certificate in %q", file)
	}
	return pool, nil
}

func hasPEMCertificate(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" {
			return true
		}
	}
}

// checkSecurity validates node.requirepass, node.users, node.tls and
// gossip.secret-keys. Secrets never appear in the messages.
func (c *Config) checkSecurity() []*FieldError {
	var errs []*FieldError
	seen := make(map[string]int)
	for i, u := range c.Node.Users {
		key := fmt.Sprintf("%s[%d]", keyNodeUsers, i)
		switch {
		case u.Name == "":
			errs = append(errs, fieldErr(key+"."+keyUserName, "required"))
		case u.Name == defaultUser:
			errs = append(errs, fieldErr(key+"."+keyUserName, "%q is the user of node.requirepass; set that instead", defaultUser))
		case !validToken(u.Name):
			errs = append(errs, fieldErr(key+"."+keyUserName, "invalid user name %q: want printable ASCII without spaces", u.Name))
		default:
			if first, dup := seen[u.Name]; dup {
				errs = append(errs, fieldErr(key+"."+keyUserName, "user %q is also %s[%d]", u.Name, keyNodeUsers, first))
			} else {
				seen[u.Name] = i
			}
		}
		if u.Password == "" {
			errs = append(errs, fieldErr(key+"."+keyUserPassword, "required"))
		}
	}
	if c.Node.TLS.Enabled() {
		_, e := c.Node.TLS.build("node.tls")
		errs = append(errs, e...)
	}
	seenKeys := make(map[string]int)
	for i, s := range c.Gossip.SecretKeys {
		key := fmt.Sprintf("gossip.secret-keys[%d]", i)
		k, err := decodeSecretKey(s)
		if err != nil {
			errs = append(errs, fieldErr(key, "%s", err.Error()))
			continue
		}
		if first, dup := seenKeys[string(k)]; dup {
			errs = append(errs, fieldErr(key, "same key as gossip.secret-keys[%d] (value not shown)", first))
			continue
		}
		seenKeys[string(k)] = i
	}
	return errs
}

// check validates masters.NAME.tls under key.
func (t MasterTLSConfig) check(key string) []*FieldError {
	if !t.Enabled {
		if t != (MasterTLSConfig{}) {
			return []*FieldError{fieldErr(key+"."+keyTLSEnabled, "is false but other tls settings are set; set enabled: true, or remove them")}
		}
		return nil
	}
	_, errs := t.build(key)
	return errs
}

// decodeUsers reads node.users: a list of {name, password} mappings. ok is
// false when the key is null or malformed (the error is recorded).
func (l *loader) decodeUsers(key string, e entry) (users []UserConfig, ok bool) {
	v := resolve(e.val)
	if isNull(v) {
		return nil, false
	}
	if v.Kind != yaml.SequenceNode {
		l.fail(&FieldError{Key: key, Message: "must be a list of {name, password} mappings, got " + describe(v), Origin: l.at(e.line)})
		return nil, false
	}
	ok = true
	for i, item := range v.Content {
		itemKey := fmt.Sprintf("%s[%d]", key, i)
		for _, k := range []string{itemKey, itemKey + "." + keyUserName, itemKey + "." + keyUserPassword} {
			l.fileOrigin[k] = l.at(item.Line) // a missing name or password is reported here
		}
		r := resolve(item)
		if isNull(r) || r.Kind != yaml.MappingNode {
			l.fail(&FieldError{Key: itemKey, Message: "must be a mapping with name and password, got " + describe(r), Origin: l.at(item.Line)})
			ok = false
			continue
		}
		var u UserConfig
		for _, f := range l.entries(r, itemKey) {
			fk := itemKey + "." + f.key
			if f.key != keyUserName && f.key != keyUserPassword {
				l.warnUnknown(fk, f.line, userKeys())
				continue
			}
			l.fileOrigin[fk] = l.at(f.line)
			s, sok := l.scalar(fk, f)
			switch {
			case !sok:
			case f.key == keyUserName:
				u.Name = s
			default:
				u.Password = s
			}
		}
		users = append(users, u)
	}
	if !ok || len(users) == 0 {
		return nil, false
	}
	return users, true
}

// decodeMasterTLS reads masters.NAME.tls into t.
func (l *loader) decodeMasterTLS(t *MasterTLSConfig, key string, e entry) {
	v, ok := l.mappingAt(key, e, "a mapping")
	if !ok {
		return
	}
	for _, f := range l.entries(v, key) {
		fk := key + "." + f.key
		known := false
		for _, k := range masterTLSKeys() {
			known = known || k == f.key
		}
		if !known {
			l.warnUnknown(fk, f.line, masterTLSKeys())
			continue
		}
		l.fileOrigin[fk] = l.at(f.line)
		s, ok := l.scalar(fk, f)
		if !ok {
			continue
		}
		switch f.key {
		case keyTLSEnabled, keyTLSInsecureSkipVerify:
			b, ok := parseBool(s)
			if !ok {
				l.fail(&FieldError{Key: fk, Message: fmt.Sprintf("must be true or false, got %q", s), Origin: l.at(f.line)})
				continue
			}
			if f.key == keyTLSEnabled {
				t.Enabled = b
			} else {
				t.InsecureSkipVerify = b
			}
		case keyTLSCAFile:
			t.CAFile = s
		case keyTLSCertFile:
			t.CertFile = s
		case keyTLSKeyFile:
			t.KeyFile = s
		case keyTLSServerName:
			t.ServerName = s
		}
	}
}

// parseBool accepts YAML's usual spellings of a boolean.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// usersYAML renders node.users.
func usersYAML(users []UserConfig) (*yaml.Node, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i, u := range users {
		key := fmt.Sprintf("%s[%d]", keyNodeUsers, i)
		name, err := yamlString(key+"."+keyUserName, u.Name)
		if err != nil {
			return nil, err
		}
		pass, err := yamlString(key+"."+keyUserPassword, u.Password)
		if err != nil {
			return nil, err
		}
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			yamlKey(keyUserName), name, yamlKey(keyUserPassword), pass,
		}})
	}
	return seq, nil
}

// masterTLSYAML renders masters.NAME.tls, or nil when nothing is set.
func masterTLSYAML(key string, t MasterTLSConfig) (*yaml.Node, error) {
	if t == (MasterTLSConfig{}) {
		return nil, nil
	}
	node := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) { node.Content = append(node.Content, yamlKey(k), v) }
	add(keyTLSEnabled, yamlBool(t.Enabled))
	for _, kv := range []struct{ key, val string }{
		{keyTLSCAFile, t.CAFile}, {keyTLSCertFile, t.CertFile}, {keyTLSKeyFile, t.KeyFile}, {keyTLSServerName, t.ServerName},
	} {
		if kv.val == "" {
			continue
		}
		v, err := yamlString(key+"."+kv.key, kv.val)
		if err != nil {
			return nil, err
		}
		add(kv.key, v)
	}
	if t.InsecureSkipVerify {
		add(keyTLSInsecureSkipVerify, yamlBool(true))
	}
	return node, nil
}

func yamlBool(b bool) *yaml.Node {
	if b {
		return yamlScalar("!!bool", "true")
	}
	return yamlScalar("!!bool", "false")
}
