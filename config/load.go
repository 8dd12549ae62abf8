package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix starts every environment variable Load reads: the key in upper
// case with "." and "-" turned into "_", e.g. node.data-dir is
// VIGIL_NODE_DATA_DIR.
const EnvPrefix = "VIGIL_"

// LoadOptions says where Load takes settings from. Precedence, highest
// first: Flags, Env, File, defaults.
type LoadOptions struct {
	// File is the path of a YAML configuration file; empty means none.
	File string
	// Flags, if not nil, is a flag set on which BindFlags registered its
	// flags (any subset of them). Only flags set on the command line
	// override; unset flags fall through to the other sources.
	Flags *pflag.FlagSet
	// Env is an os.Environ()-style list of "NAME=value". Nil means no
	// environment; pass os.Environ() explicitly to use the process's.
	Env []string
	// Base, if not nil, replaces the defaults: a configuration already
	// built from another source (a sentinel.conf) that the environment and
	// flags then override. File must be empty with Base.
	Base *Config
}

// Warning is a problem that does not stop vigil: an unknown key in the file
// or an unknown VIGIL_* environment variable, usually a typo.
type Warning struct {
	// Key is the configuration key ("masters.mymaster.quorom") or the
	// environment variable name.
	Key string
	// Message says what is wrong and where.
	Message string
}

// String formats the warning as "key: message".
func (w Warning) String() string { return w.Key + ": " + w.Message }

// setting is one key outside the masters section: a scalar (str) or a list
// of strings (list), settable from the file, the environment and a flag.
type setting struct {
	key   string // dotted key, e.g. "node.data-dir"
	flag  string // flag name without dashes
	usage string
	str   func(*Config) *string
	list  func(*Config) *[]string
}

func settings() []setting {
	return []setting{
		{key: "node.id", flag: "node-id", usage: "stable node id; empty means generate one and keep it in the data dir",
			str: func(c *Config) *string { return &c.Node.ID }},
		{key: "node.listen", flag: "listen", usage: "host:port for Sentinel-protocol (RESP) clients",
			str: func(c *Config) *string { return &c.Node.Listen }},
		{key: "node.announce", flag: "announce", usage: "host:port peers and clients should use to reach this node (default: the listen address)",
			str: func(c *Config) *string { return &c.Node.Announce }},
		{key: "node.data-dir", flag: "data-dir", usage: "directory for the node's persistent state",
			str: func(c *Config) *string { return &c.Node.DataDir }},
		{key: "node.requirepass", flag: "requirepass", usage: "password RESP clients must send with AUTH (default: none); prefer the environment, flags show in process listings",
			str: func(c *Config) *string { return &c.Node.RequirePass }},
		{key: "node.tls.cert-file", flag: "tls-cert-file", usage: "PEM certificate that makes the RESP port TLS-only (default: plain text)",
			str: func(c *Config) *string { return &c.Node.TLS.CertFile }},
		{key: "node.tls.key-file", flag: "tls-key-file", usage: "PEM private key of --tls-cert-file",
			str: func(c *Config) *string { return &c.Node.TLS.KeyFile }},
		{key: "node.tls.ca-file", flag: "tls-ca-file", usage: "PEM CA certificates; when set, RESP clients must present a certificate they signed",
			str: func(c *Config) *string { return &c.Node.TLS.CAFile }},
		{key: "node.deny-scripts-reconfig", flag: "deny-scripts-reconfig", usage: "yes (default) refuses SENTINEL SET of script paths at runtime; no allows it",
			str: func(c *Config) *string { return &c.Node.DenyScriptsReconfig }},
		{key: "node.announce-hostnames", flag: "announce-hostnames", usage: "yes shows masters configured by host name by that name in replies and events; no (default) by their IP address",
			str: func(c *Config) *string { return &c.Node.AnnounceHostnames }},
		{key: "gossip.bind", flag: "gossip-bind", usage: "host:port for gossip between vigil nodes (TCP and UDP)",
			str: func(c *Config) *string { return &c.Gossip.Bind }},
		{key: "gossip.join", flag: "join", usage: "host:port of a vigil node to join; repeat the flag or separate with commas",
			list: func(c *Config) *[]string { return &c.Gossip.Join }},
		{key: "gossip.advertise", flag: "gossip-advertise", usage: "host:port other nodes should gossip to (default: the bind address)",
			str: func(c *Config) *string { return &c.Gossip.Advertise }},
		{key: "gossip.secret-keys", flag: "gossip-secret-keys", usage: "base64 keys (16, 24 or 32 bytes) encrypting gossip; the first encrypts, all decrypt; prefer the environment, flags show in process listings",
			list: func(c *Config) *[]string { return &c.Gossip.SecretKeys }},
		{key: "log.level", flag: "log-level", usage: "log level: debug, info, warn or error",
			str: func(c *Config) *string { return &c.Log.Level }},
		{key: "log.format", flag: "log-format", usage: "log format: text or json",
			str: func(c *Config) *string { return &c.Log.Format }},
		{key: "http.listen", flag: "http-listen", usage: "host:port for the HTTP metrics and JSON API server, e.g. 127.0.0.1:9121 (default: off)",
			str: func(c *Config) *string { return &c.HTTP.Listen }},
		{key: "http.token", flag: "http-token", usage: "bearer token for the HTTP API's failover and switchover endpoints (default: those endpoints are disabled); prefer the environment, flags show in process listings",
			str: func(c *Config) *string { return &c.HTTP.Token }},
		{key: "http.pprof", flag: "http-pprof", usage: "yes serves Go's runtime profiles under /debug/pprof/ on --http-listen; no (default) does not",
			str: func(c *Config) *string { return &c.HTTP.Pprof }},
	}
}

func lookupSetting(key string) (setting, bool) {
	for _, s := range settings() {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

func isSection(name string) bool {
	return name == "node" || name == "gossip" || name == "log" || name == "http"
}

func topLevelKeys() []string { return []string{"node", "gossip", "log", "http", "masters"} }

// childKeys lists the keys directly under path ("node", "node.tls"), for
// suggestions: settings, groups of settings and node.users.
func childKeys(path string) []string {
	var keys []string
	seen := map[string]bool{}
	add := func(full string) {
		rest, ok := strings.CutPrefix(full, path+".")
		if !ok {
			return
		}
		child, _, _ := strings.Cut(rest, ".")
		if !seen[child] {
			seen[child] = true
			keys = append(keys, child)
		}
	}
	for _, s := range settings() {
		add(s.key)
	}
	add(keyNodeUsers)
	add(keyHTTPWebhooks)
	return keys
}

// isGroup reports a key that holds settings rather than being one, such as
// node.tls.
func isGroup(key string) bool {
	for _, s := range settings() {
		if strings.HasPrefix(s.key, key+".") {
			return true
		}
	}
	return false
}

// setNested stores val in values under the dotted key, creating the
// intermediate maps, as viper expects nested keys.
func setNested(values map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	m := values
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = make(map[string]any)
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = val
}

// envName is the environment variable for key: node.data-dir →
// VIGIL_NODE_DATA_DIR.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// BindFlags registers vigil's configuration flags on fs: --node-id, --listen,
// --announce, --data-dir, --requirepass, --tls-cert-file, --tls-key-file,
// --tls-ca-file, --gossip-bind, --join (repeatable), --gossip-advertise,
// --gossip-secret-keys, --log-level, --log-format, --http-listen and
// --http-token. Defaults shown in help are the Default* constants. Flags
// already defined on fs are left alone.
// Pass fs to Load as LoadOptions.Flags after parsing.
func BindFlags(fs *pflag.FlagSet) {
	def := Default()
	for _, s := range settings() {
		if fs.Lookup(s.flag) != nil {
			continue
		}
		usage := fmt.Sprintf("%s (%s, $%s)", s.usage, s.key, envName(s.key))
		if s.list != nil {
			fs.StringSlice(s.flag, *s.list(&def), usage)
		} else {
			fs.String(s.flag, *s.str(&def), usage)
		}
	}
}

// Load builds a validated Config from defaults, the YAML file, the
// environment and flags (see LoadOptions for precedence). Warnings report
// unknown keys and variables, which are ignored. The error, if any, is
// either about the file as a whole (missing, not YAML) or every broken rule
// joined with errors.Join, each a *FieldError, sorted by key; the Config is
// then nil.
func Load(opts LoadOptions) (*Config, []Warning, error) {
	l := &loader{
		file:       opts.File,
		fileOrigin: make(map[string]string),
		envOrigin:  make(map[string]string),
		flagOrigin: make(map[string]string),
	}
	if opts.Base != nil && opts.File != "" {
		return nil, nil, errors.New("config: a file and a base configuration are mutually exclusive")
	}
	v := viper.New()
	def := Default()
	if opts.Base != nil {
		def = opts.Base.clone()
	}
	for _, s := range settings() {
		if s.list != nil {
			v.SetDefault(s.key, *s.list(&def))
		} else {
			v.SetDefault(s.key, *s.str(&def))
		}
	}

	var masters map[string]MasterConfig
	if opts.File != "" {
		data, err := os.ReadFile(opts.File)
		if err != nil {
			return nil, nil, fmt.Errorf("config file: %w", err)
		}
		values, m, err := l.decodeFile(data)
		if err != nil {
			return nil, l.warnings(), fmt.Errorf("config file %s: %w", opts.File, err)
		}
		if err := v.MergeConfigMap(values); err != nil {
			return nil, l.warnings(), fmt.Errorf("config file %s: %w", opts.File, err)
		}
		masters = m
	}
	// viper cannot read an injected environment, so the environment is
	// merged into its config layer over the file; flags still win.
	if err := v.MergeConfigMap(l.decodeEnv(opts.Env)); err != nil {
		return nil, l.warnings(), fmt.Errorf("environment: %w", err)
	}
	if opts.Flags != nil {
		for _, s := range settings() {
			f := opts.Flags.Lookup(s.flag)
			if f == nil {
				continue
			}
			if err := v.BindPFlag(s.key, f); err != nil {
				return nil, l.warnings(), fmt.Errorf("flag --%s: %w", s.flag, err)
			}
			if f.Changed {
				l.flagOrigin[s.key] = "--" + s.flag
			}
		}
	}

	cfg := def
	for _, s := range settings() {
		if s.list != nil {
			*s.list(&cfg) = asList(v.Get(s.key))
		} else {
			*s.str(&cfg) = asString(v.Get(s.key))
		}
	}
	if masters != nil {
		cfg.Masters = masters
	}
	if l.usersSet {
		cfg.Node.Users = l.users
	}
	if l.webhooksSet {
		cfg.HTTP.Webhooks = l.webhooks
	}

	errs := l.errs
	reported := make(map[string]bool, len(errs))
	for _, e := range errs {
		reported[e.Key] = true
	}
	for _, e := range cfg.check() {
		if reported[e.Key] {
			continue // a parse error on this key already explains it
		}
		if e.Origin == "" {
			e.Origin = l.origin(e.Key)
		}
		errs = append(errs, e)
	}
	if err := joinSorted(errs); err != nil {
		return nil, l.warnings(), err
	}
	return &cfg, l.warnings(), nil
}

// CheckFile loads path on its own (no environment, no flags) and reports
// what `vigil check-config` prints: the warnings and the error, if any.
func CheckFile(path string) ([]Warning, error) {
	if path == "" {
		return nil, errors.New("config: no file given")
	}
	_, warns, err := Load(LoadOptions{File: path})
	return warns, err
}

// loader collects errors, warnings and the origin of each value during one
// Load.
type loader struct {
	file        string
	errs        []*FieldError
	warns       []Warning
	merges      int
	users       []UserConfig // node.users from the file
	usersSet    bool
	webhooks    []WebhookConfig // http.webhooks from the file
	webhooksSet bool
	fileOrigin  map[string]string // key -> "file:line"
	envOrigin   map[string]string // key -> "$VIGIL_..."
	flagOrigin  map[string]string // key -> "--flag"
}

func (l *loader) fail(e *FieldError) { l.errs = append(l.errs, e) }

// at formats a position in the file.
func (l *loader) at(line int) string {
	if line <= 0 {
		return l.file
	}
	return fmt.Sprintf("%s:%d", l.file, line)
}

// origin says where the effective value of key came from; list entries
// ("gossip.join[2]") follow their list.
func (l *loader) origin(key string) string {
	base := key
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndexByte(key, '['); i > 0 {
			base = key[:i]
		}
	}
	if o, ok := l.flagOrigin[base]; ok {
		return o
	}
	if o, ok := l.envOrigin[base]; ok {
		return o
	}
	if o, ok := l.fileOrigin[key]; ok {
		return o
	}
	return l.fileOrigin[base]
}

func (l *loader) warnUnknown(key string, line int, known []string) {
	leaf := key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		leaf = key[i+1:]
	}
	msg := "unknown key, ignored"
	if s := suggest(leaf, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	l.warns = append(l.warns, Warning{Key: key, Message: msg + " (" + l.at(line) + ")"})
}

// warnings returns the warnings sorted by key, without repeats.
func (l *loader) warnings() []Warning {
	ws := append([]Warning(nil), l.warns...)
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].Key != ws[j].Key {
			return ws[i].Key < ws[j].Key
		}
		return ws[i].Message < ws[j].Message
	})
	out := ws[:0]
	for i, w := range ws {
		if i == 0 || w != ws[i-1] {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// decodeEnv turns the VIGIL_* variables into a nested map for viper. An
// empty value counts as unset. Unknown variables under a section prefix
// (VIGIL_NODE_, VIGIL_GOSSIP_, VIGIL_LOG_, VIGIL_HTTP_, VIGIL_MASTERS_) are
// warned about; other VIGIL_* names are left to whoever uses them.
func (l *loader) decodeEnv(env []string) map[string]any {
	last := make(map[string]string)
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, EnvPrefix) {
			last[name] = val // a repeated name: the last one wins, as in os/exec
		}
	}
	names := make([]string, 0, len(last))
	for name := range last {
		names = append(names, name)
	}
	sort.Strings(names)

	byName := make(map[string]setting)
	var known []string
	for _, s := range settings() {
		byName[envName(s.key)] = s
		known = append(known, envName(s.key))
	}
	values := make(map[string]any)
	for _, name := range names {
		s, ok := byName[name]
		if !ok {
			l.warnUnknownEnv(name, known)
			continue
		}
		val := last[name]
		if val == "" {
			continue
		}
		if s.list != nil {
			setNested(values, s.key, splitList(val))
		} else {
			setNested(values, s.key, val)
		}
		l.envOrigin[s.key] = "$" + name
	}
	return values
}

func (l *loader) warnUnknownEnv(name string, known []string) {
	if strings.HasPrefix(name, EnvPrefix+"MASTERS_") {
		l.warns = append(l.warns, Warning{Key: name, Message: "masters cannot be set from the environment, ignored; use the config file"})
		return
	}
	if strings.HasPrefix(name, envName(keyNodeUsers)) {
		l.warns = append(l.warns, Warning{Key: name, Message: "node.users cannot be set from the environment, ignored; use the config file, or node.requirepass ($" + envName("node.requirepass") + ")"})
		return
	}
	if strings.HasPrefix(name, envName(keyHTTPWebhooks)) {
		l.warns = append(l.warns, Warning{Key: name, Message: "http.webhooks cannot be set from the environment, ignored; use the config file"})
		return
	}
	inSection := false
	for _, section := range topLevelKeys() {
		inSection = inSection || strings.HasPrefix(name, EnvPrefix+strings.ToUpper(section)+"_")
	}
	if !inSection {
		return
	}
	msg := "unknown environment variable, ignored"
	if s := suggest(name, known); s != "" {
		msg += "; did you mean " + s + "?"
	}
	l.warns = append(l.warns, Warning{Key: name, Message: msg})
}

// splitList splits a comma-separated list, trimming blanks and dropping
// empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// asString and asList convert what viper returns for a key (a string or a
// string list from the file or environment, typed values from flags).
func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func asList(v any) []string {
	var out []string
	switch x := v.(type) {
	case nil:
	case string:
		out = splitList(x)
	case []string:
		for _, item := range x {
			out = append(out, splitList(item)...)
		}
	case []any:
		for _, item := range x {
			out = append(out, splitList(asString(item))...)
		}
	default:
		out = splitList(fmt.Sprint(x))
	}
	return out
}

// suggest returns the known key closest to s when it is plausibly a typo:
// at most two edits away (and fewer than a third of the key), or one is a
// prefix of the other.
func suggest(s string, known []string) string {
	if len(s) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for _, k := range known {
		d := editDistance(strings.ToLower(s), strings.ToLower(k))
		if d < bestDist && 3*d <= len(k) {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return best
	}
	for _, k := range known {
		if len(s) >= 3 && (strings.HasPrefix(s, k) || strings.HasPrefix(k, s)) {
			return k
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// clone copies c deeply enough that Load can fill the copy without
// touching c: the maps and the slices Load replaces or appends to.
func (c *Config) clone() Config {
	out := *c
	out.Masters = maps.Clone(c.Masters)
	out.Node.Users = slices.Clone(c.Node.Users)
	out.HTTP.Webhooks = slices.Clone(c.HTTP.Webhooks)
	out.Gossip.Join = slices.Clone(c.Gossip.Join)
	out.Gossip.SecretKeys = slices.Clone(c.Gossip.SecretKeys)
	return out
}
