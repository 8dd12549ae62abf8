package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// FieldError is one broken configuration rule. Validate and Load return
// several of them joined with errors.Join, sorted by Key.
type FieldError struct {
	// Key is the dotted configuration key, e.g. "masters.mymaster.quorum"
	// or "gossip.join[1]".
	Key string
	// Message says what is wrong, e.g. "must be >= 1, got 0".
	Message string
	// Origin says where the value came from when Load knows it:
	// "vigil.yaml:12", "$VIGIL_NODE_LISTEN" or "--listen". Empty for
	// defaults and for values set in code.
	Origin string
	// Err is the underlying parse error, if any.
	Err error
}

// Error formats the error as "key: message[: cause] [(origin)]".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Origin != "" {
		b.WriteString(" (")
		b.WriteString(e.Origin)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying parse error, if any.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(key, format string, args ...any) *FieldError {
	return &FieldError{Key: key, Message: fmt.Sprintf(format, args...)}
}

// Validate checks every rule and returns all violations joined with
// errors.Join (sorted by key, each a *FieldError), or nil.
func (c *Config) Validate() error {
	return joinSorted(c.check())
}

// Validate checks one master's settings on their own (not duplicate
// addresses, which need the whole Config). Keys are "masters.NAME.*".
func (m MasterConfig) Validate() error {
	return joinSorted(m.check())
}

func (c *Config) check() []*FieldError {
	var errs []*FieldError
	add := func(e *FieldError) {
		if e != nil {
			errs = append(errs, e)
		}
	}

	if c.Node.ID != "" && !validNodeID(c.Node.ID) {
		add(fieldErr("node.id", "invalid id %q: want 1 to %d characters from A-Z a-z 0-9 . - _", c.Node.ID, maxNodeIDLen))
	}
	add(checkBindAddr("node.listen", c.Node.Listen))
	if c.Node.Announce != "" {
		add(checkPeerAddr("node.announce", c.Node.Announce))
	}
	if c.Node.DataDir == "" {
		add(fieldErr("node.data-dir", "must not be empty"))
	}
	add(checkYesNo("node.deny-scripts-reconfig", c.Node.DenyScriptsReconfig))
	add(checkYesNo("node.announce-hostnames", c.Node.AnnounceHostnames))
	add(checkYesNo("http.pprof", c.HTTP.Pprof))
	errs = append(errs, c.checkSecurity()...)

	add(checkBindAddr("gossip.bind", c.Gossip.Bind))
	add(checkPortClash(c.Node.Listen, c.Gossip.Bind))
	for i, seed := range c.Gossip.Join {
		add(checkPeerAddr(fmt.Sprintf("gossip.join[%d]", i), seed))
	}
	if c.Gossip.Advertise != "" {
		add(checkPeerAddr("gossip.advertise", c.Gossip.Advertise))
	}

	if c.HTTP.Listen != "" {
		add(checkBindAddr("http.listen", c.HTTP.Listen))
		add(checkTCPClash("http.listen", c.HTTP.Listen, "node.listen", c.Node.Listen))
		add(checkTCPClash("http.listen", c.HTTP.Listen, "gossip.bind", c.Gossip.Bind))
	}
	if c.HTTP.Token != "" && !validToken(c.HTTP.Token) {
		// Never echo the token: it is a secret.
		add(fieldErr("http.token", "must be printable ASCII without spaces (value not shown)"))
	}
	errs = append(errs, c.HTTP.checkWebhooks()...)

	switch c.Log.Level {
	case LevelDebug, LevelInfo, LevelWarn, LevelError:
	default:
		add(fieldErr("log.level", "unknown level %q, want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case FormatText, FormatJSON:
	default:
		add(fieldErr("log.format", "unknown format %q, want text or json", c.Log.Format))
	}

	owner := make(map[string]string) // normalised address -> first master using it
	for _, name := range c.MasterNames() {
		m := c.Masters[name]
		key := masterKey(name)
		if m.Name != name {
			add(fieldErr(key+".name", "is %q but the map key is %q; they must match", m.Name, name))
		}
		errs = append(errs, m.checkAs(name)...)
		if m.Addr.IsZero() {
			continue
		}
		norm := normalizeAddr(m.Addr)
		if first, dup := owner[norm]; dup {
			add(fieldErr(key+".addr", "%s is also the address of %s; each master needs its own address", m.Addr, masterKey(first)))
			continue
		}
		owner[norm] = name
	}
	return errs
}

func (m MasterConfig) check() []*FieldError { return m.checkAs(m.Name) }

// checkAs validates m under the key "masters.NAME".
func (m MasterConfig) checkAs(name string) []*FieldError {
	var errs []*FieldError
	key := masterKey(name)
	if !validMasterName(name) {
		errs = append(errs, fieldErr(key, "invalid master name %q: want 1 or more characters from A-Z a-z 0-9 . - _", name))
	}
	switch {
	case m.Addr.IsZero():
		errs = append(errs, fieldErr(key+".addr", "required"))
	case m.Addr.Host == "":
		errs = append(errs, fieldErr(key+".addr", "invalid address %q: missing host", m.Addr))
	case m.Addr.Port < 1 || m.Addr.Port > 65535:
		errs = append(errs, fieldErr(key+".addr", "invalid address %q: port must be 1..65535, got %d", m.Addr, m.Addr.Port))
	}
	if m.Quorum < 1 {
		errs = append(errs, fieldErr(key+".quorum", "must be >= 1, got %d", m.Quorum))
	}
	if m.DownAfter <= 0 {
		errs = append(errs, fieldErr(key+".down-after", "must be > 0, got %s", m.DownAfter))
	}
	if m.FailoverTimeout <= 0 {
		errs = append(errs, fieldErr(key+".failover-timeout", "must be > 0, got %s", m.FailoverTimeout))
	}
	if m.AntiFlap < 0 {
		errs = append(errs, fieldErr(key+".anti-flap", "must be >= 0, got %s", m.AntiFlap))
	}
	if m.PreFailoverHookTimeout < 0 {
		errs = append(errs, fieldErr(key+".pre-failover-hook-timeout", "must be >= 0, got %s", m.PreFailoverHookTimeout))
	}
	if m.WriteGuardMaxLag != 0 && (m.WriteGuardMaxLag < time.Second || m.WriteGuardMaxLag%time.Second != 0) {
		errs = append(errs, fieldErr(key+".write-guard-max-lag", "must be a whole number of seconds >= 1s, got %s", m.WriteGuardMaxLag))
	}
	if m.ParallelSyncs < 1 {
		errs = append(errs, fieldErr(key+".parallel-syncs", "must be >= 1, got %d", m.ParallelSyncs))
	}
	if m.AuthUser != "" && m.AuthPass == "" {
		errs = append(errs, fieldErr(key+".auth-user", "set without auth-pass; AUTH needs a password"))
	}
	errs = append(errs, m.TLS.check(key+"."+keyTLS)...)
	if m.NotificationScript != "" {
		if e := checkScript(key+"."+keyNotificationScript, m.NotificationScript); e != nil {
			errs = append(errs, e)
		}
	}
	if m.ClientReconfigScript != "" {
		if e := checkScript(key+"."+keyClientReconfigScript, m.ClientReconfigScript); e != nil {
			errs = append(errs, e)
		}
	}
	if m.PreFailoverHook != "" {
		if e := checkScript(key+"."+keyPreFailoverHook, m.PreFailoverHook); e != nil {
			errs = append(errs, e)
		}
	}
	return errs
}

// checkScript applies Sentinel's rule for a script path, that the file
// exists and is executable when the configuration is loaded, and vigil's,
// that the path is absolute (vigil's working directory means nothing).
func checkScript(key, path string) *FieldError {
	if !filepath.IsAbs(path) {
		return fieldErr(key, "%q is not an absolute path", path)
	}
	if err := scriptRunnable(path); err != nil {
		return &FieldError{Key: key, Message: fmt.Sprintf("cannot run %q", path), Err: err}
	}
	return nil
}

// scriptRunnable reports why the file at path cannot be executed by this
// process, or nil.
func scriptRunnable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("no such file")
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if !executable(path, fi) {
		return errors.New("not executable by this user")
	}
	return nil
}

// checkBindAddr accepts what net.Listen accepts: "host:port" with an
// optional host (all interfaces) and a port in 0..65535 (0 = any free port).
func checkBindAddr(key, s string) *FieldError {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return &FieldError{Key: key, Message: fmt.Sprintf("invalid address %q", s), Err: err}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fieldErr(key, "invalid address %q: port must be 0..65535", s)
	}
	return nil
}

// checkPeerAddr accepts an address others dial: a host and a port in
// 1..65535.
func checkPeerAddr(key, s string) *FieldError {
	if _, err := topology.ParseAddr(s); err != nil {
		return addrError(key, s, err)
	}
	return nil
}

// checkYesNo checks a yes/no setting: empty (the default), yes, no, true
// or false, in any case.
func checkYesNo(key, v string) *FieldError {
	switch strings.ToLower(v) {
	case "", "yes", "no", "true", "false":
		return nil
	}
	return fieldErr(key, "want yes or no, got %q", v)
}

// addrError reports a topology.ParseAddr failure without repeating the
// address ParseAddr already quotes.
func addrError(key, s string, err error) *FieldError {
	cause := errors.Unwrap(err)
	if cause == nil {
		cause = errors.New(strings.TrimPrefix(err.Error(), fmt.Sprintf("address %q: ", s)))
	}
	return &FieldError{Key: key, Message: fmt.Sprintf("invalid address %q", s), Err: cause}
}

// checkPortClash rejects a gossip.bind that would take the TCP port the
// Sentinel-protocol server listens on.
func checkPortClash(listen, bind string) *FieldError {
	return checkTCPClash("gossip.bind", bind, "node.listen", listen)
}

// checkTCPClash rejects addr (the value of key) when it would bind the same
// TCP port as other (the value of otherKey): same port (not 0) and the same
// host or a wildcard on either side.
func checkTCPClash(key, addr, otherKey, other string) *FieldError {
	ah, ap, err1 := net.SplitHostPort(addr)
	oh, op, err2 := net.SplitHostPort(other)
	if err1 != nil || err2 != nil || ap != op || ap == "0" {
		return nil
	}
	if ah == oh || isWildcard(ah) || isWildcard(oh) {
		return fieldErr(key, "%q uses the same TCP port as %s %q", addr, otherKey, other)
	}
	return nil
}

// validToken accepts a bearer token that travels unchanged in an HTTP
// header: printable ASCII, no spaces.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func isWildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

// normalizeAddr makes equal addresses compare equal: hostnames are
// case-insensitive and IP literals have several spellings.
func normalizeAddr(a topology.Addr) string {
	host := strings.ToLower(a.Host)
	if ip, err := netip.ParseAddr(a.Host); err == nil {
		host = ip.Unmap().String()
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port))
}

const maxNodeIDLen = 64

func validNodeID(s string) bool {
	return len(s) <= maxNodeIDLen && validMasterName(s)
}

// validMasterName applies Sentinel's master name charset: A-Z a-z 0-9 . - _,
// at least one character.
func validMasterName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// masterKey is the configuration key of a master: "masters.NAME", with the
// name quoted when it is not a valid name (so odd bytes stay readable).
func masterKey(name string) string {
	if validMasterName(name) {
		return "masters." + name
	}
	return "masters." + strconv.Quote(name)
}

// joinSorted sorts errs by key and message, drops exact repeats and joins
// them; nil when there are none.
func joinSorted(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Key != errs[j].Key {
			return errs[i].Key < errs[j].Key
		}
		return errs[i].Error() < errs[j].Error()
	})
	out := make([]error, 0, len(errs))
	prev := ""
	for _, e := range errs {
		if s := e.Error(); len(out) == 0 || s != prev {
			out = append(out, e)
			prev = s
		}
	}
	return errors.Join(out...)
}

// ValidateMaster checks m, to be monitored as masters.NAME next to others
// (the masters already monitored, by name), with the rules the file's
// masters section follows: m's own settings, and an address no other master
// uses. For masters added at runtime (SENTINEL MONITOR). The error joins
// *FieldError values, sorted by key.
func ValidateMaster(others map[string]MasterConfig, m MasterConfig) error {
	errs := m.checkAs(m.Name)
	if !m.Addr.IsZero() {
		norm := normalizeAddr(m.Addr)
		for _, name := range sortedNames(others) {
			if name != m.Name && normalizeAddr(others[name].Addr) == norm {
				errs = append(errs, fieldErr(masterKey(m.Name)+".addr", "%s is also the address of %s; each master needs its own address", m.Addr, masterKey(name)))
				break
			}
		}
	}
	return joinSorted(errs)
}

func sortedNames(m map[string]MasterConfig) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
