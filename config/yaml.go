package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/topology"
)

// The YAML file is walked as a yaml.Node tree rather than decoded into
// map[string]any, for three reasons:
//   - master names are case-sensitive and may contain dots, but viper folds
//     key case and splits keys on dots, so the masters section never goes
//     through viper;
//   - string values keep their exact text (auth-pass: 0123 stays "0123",
//     not the integer 83);
//   - every key keeps its line number for error messages.

// maxMerges bounds how many "<<" merge keys one file may expand, so that a
// merge cycle or an exponential chain of aliases ends with an error.
const maxMerges = 1000

// entry is one key of a YAML mapping, after merge keys are applied.
type entry struct {
	key  string
	line int
	val  *yaml.Node
}

// parseYAML returns the file's top-level mapping, or nil for an empty file.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, errors.New("more than one YAML document; vigil reads a single document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	root = resolve(root)
	if isNull(root) {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the top level must be a mapping of sections (node, gossip, log, http, masters), got %s", describe(root))
	}
	return root, nil
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports an absent value or an explicit null ("~", "null", nothing).
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case n.Kind == yaml.AliasNode:
		return "an alias"
	default:
		return "a document"
	}
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// entries lists the keys of mapping n (at config path "path") in document
// order. Keys pulled in with "<<" come after the explicit ones and never
// override them; between merged mappings the first wins, as YAML specifies.
// A key written twice is an error; the first value is kept.
func (l *loader) entries(n *yaml.Node, path string) []entry {
	var out []entry
	index := make(map[string]int) // key -> line of explicit definition
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			merged = append(merged, v)
			continue
		}
		if k = resolve(k); k == nil || k.Kind != yaml.ScalarNode {
			l.fail(&FieldError{Key: path, Message: fmt.Sprintf("keys must be strings, got %s", describe(k)), Origin: l.at(n.Content[i].Line)})
			continue
		}
		if first, dup := index[k.Value]; dup {
			l.fail(&FieldError{
				Key:     joinKey(path, k.Value),
				Message: fmt.Sprintf("defined twice, on lines %d and %d; only the first is used", first, k.Line),
				Origin:  l.at(k.Line),
			})
			continue
		}
		index[k.Value] = k.Line
		out = append(out, entry{key: k.Value, line: k.Line, val: v})
	}
	for _, m := range merged {
		for _, e := range l.mergeSource(m, path) {
			if _, seen := index[e.key]; seen {
				continue
			}
			index[e.key] = e.line
			out = append(out, e)
		}
	}
	return out
}

// mergeSource expands the value of a "<<" key: a mapping or a list of them.
func (l *loader) mergeSource(v *yaml.Node, path string) []entry {
	v = resolve(v)
	var maps []*yaml.Node
	switch {
	case v != nil && v.Kind == yaml.MappingNode:
		maps = []*yaml.Node{v}
	case v != nil && v.Kind == yaml.SequenceNode:
		for _, item := range v.Content {
			maps = append(maps, resolve(item))
		}
	}
	var out []entry
	seen := make(map[string]bool)
	for _, m := range maps {
		if m == nil || m.Kind != yaml.MappingNode {
			l.fail(&FieldError{Key: joinKey(path, "<<"), Message: fmt.Sprintf("merge value must be a mapping or a list of mappings, got %s", describe(m)), Origin: l.at(v.Line)})
			continue
		}
		if l.merges >= maxMerges {
			l.fail(&FieldError{Key: joinKey(path, "<<"), Message: fmt.Sprintf("more than %d merges; is a mapping merged into itself?", maxMerges), Origin: l.at(v.Line)})
			return out
		}
		l.merges++
		for _, e := range l.entries(m, path) {
			if !seen[e.key] {
				seen[e.key] = true
				out = append(out, e)
			}
		}
	}
	if len(maps) == 0 {
		l.fail(&FieldError{Key: joinKey(path, "<<"), Message: fmt.Sprintf("merge value must be a mapping or a list of mappings, got %s", describe(v)), Origin: l.at(lineOf(v))})
	}
	return out
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// decodeFile splits the file into the viper-managed sections (returned as a
// nested map of strings and string lists) and the masters.
func (l *loader) decodeFile(data []byte) (map[string]any, map[string]MasterConfig, error) {
	root, err := parseYAML(data)
	if err != nil || root == nil {
		return nil, nil, err
	}
	values := make(map[string]any)
	var masters map[string]MasterConfig
	for _, e := range l.entries(root, "") {
		switch {
		case e.key == "masters":
			masters = l.decodeMasters(e)
		case isSection(e.key):
			l.decodeSection(e.key, e, values)
		case strings.HasPrefix(e.key, "x-"):
			// Extension key: a place for YAML anchors, ignored.
		default:
			l.warnUnknown(e.key, e.line, topLevelKeys())
		}
	}
	return values, masters, nil
}

// mappingAt resolves e's value, which must be what (a mapping) at key: it
// reports anything else, and returns false for that and for null (an empty
// section, left at its defaults).
func (l *loader) mappingAt(key string, e entry, what string) (*yaml.Node, bool) {
	v := resolve(e.val)
	if isNull(v) {
		return nil, false
	}
	if v.Kind != yaml.MappingNode {
		l.fail(&FieldError{Key: key, Message: "must be " + what + ", got " + describe(v), Origin: l.at(e.line)})
		return nil, false
	}
	return v, true
}

// decodeSection reads one of node, gossip, log, http, or a group of keys
// within one (node.tls) at path, storing the values in values under their
// dotted keys. node.users is kept aside: it is not a viper setting.
func (l *loader) decodeSection(path string, e entry, values map[string]any) {
	v, ok := l.mappingAt(path, e, "a mapping")
	if !ok {
		return
	}
	for _, f := range l.entries(v, path) {
		key := path + "." + f.key
		s, ok := lookupSetting(key)
		switch {
		case ok:
		case key == keyNodeUsers:
			l.fileOrigin[key] = l.at(f.line)
			l.users, l.usersSet = l.decodeUsers(key, f)
			continue
		case key == keyHTTPWebhooks:
			l.fileOrigin[key] = l.at(f.line)
			l.webhooks, l.webhooksSet = l.decodeWebhooks(key, f)
			continue
		case isGroup(key):
			l.fileOrigin[key] = l.at(f.line)
			l.decodeSection(key, f, values)
			continue
		default:
			l.warnUnknown(key, f.line, childKeys(path))
			continue
		}
		l.fileOrigin[key] = l.at(f.line)
		if s.list != nil {
			if list, ok := l.stringList(key, f); ok {
				setNested(values, key, list)
			}
			continue
		}
		if str, ok := l.scalar(key, f); ok {
			setNested(values, key, str)
		}
	}
}

// scalar returns a scalar's text; ok is false for null (unset) and for a
// list or mapping (an error).
func (l *loader) scalar(key string, e entry) (string, bool) {
	v := resolve(e.val)
	if isNull(v) {
		return "", false
	}
	if v.Kind != yaml.ScalarNode {
		l.fail(&FieldError{Key: key, Message: "must be a single value, got " + describe(v), Origin: l.at(e.line)})
		return "", false
	}
	return v.Value, true
}

// stringList reads a list of strings; a single string is split on commas as
// in the environment variable.
func (l *loader) stringList(key string, e entry) ([]string, bool) {
	v := resolve(e.val)
	switch {
	case isNull(v):
		return nil, false
	case v.Kind == yaml.ScalarNode:
		return splitList(v.Value), true
	case v.Kind != yaml.SequenceNode:
		l.fail(&FieldError{Key: key, Message: "must be a list, got " + describe(v), Origin: l.at(e.line)})
		return nil, false
	}
	list := make([]string, 0, len(v.Content))
	ok := true
	for _, item := range v.Content {
		itemKey := fmt.Sprintf("%s[%d]", key, len(list))
		r := resolve(item)
		if isNull(r) || r.Kind != yaml.ScalarNode {
			l.fail(&FieldError{Key: itemKey, Message: "must be a single value, got " + describe(r), Origin: l.at(item.Line)})
			ok = false
			continue
		}
		l.fileOrigin[itemKey] = l.at(item.Line)
		list = append(list, strings.TrimSpace(r.Value))
	}
	return list, ok
}

// Master keys, in the order docs/configuration.md lists them.
const (
	keyAddr            = "addr"
	keyQuorum          = "quorum"
	keyDownAfter       = "down-after"
	keyFailoverTimeout = "failover-timeout"
	keyParallelSyncs   = "parallel-syncs"
	keyAuthUser        = "auth-user"
	keyAuthPass        = "auth-pass"

	keyNotificationScript   = "notification-script"
	keyClientReconfigScript = "client-reconfig-script"

	keyWriteGuard       = "write-guard"
	keyWriteGuardMaxLag = "write-guard-max-lag"
	keyIsolationFence   = "isolation-fence"

	keyAntiFlap               = "anti-flap"
	keyPreFailoverHook        = "pre-failover-hook"
	keyPreFailoverHookTimeout = "pre-failover-hook-timeout"
)

func masterKeys() []string {
	return []string{keyAddr, keyQuorum, keyDownAfter, keyFailoverTimeout, keyParallelSyncs, keyAuthUser, keyAuthPass,
		keyNotificationScript, keyClientReconfigScript, keyTLS, keyWriteGuard, keyWriteGuardMaxLag, keyIsolationFence,
		keyAntiFlap, keyPreFailoverHook, keyPreFailoverHookTimeout}
}

// decodeMasters reads the masters section. Masters whose value is not a
// mapping are reported and left out.
func (l *loader) decodeMasters(e entry) map[string]MasterConfig {
	v, ok := l.mappingAt("masters", e, "a mapping of master name to settings")
	if !ok {
		return nil
	}
	out := make(map[string]MasterConfig)
	for _, me := range l.entries(v, "masters") {
		key := masterKey(me.key)
		l.fileOrigin[key] = l.at(me.line)
		mv := resolve(me.val)
		if !isNull(mv) && mv.Kind != yaml.MappingNode {
			l.fail(&FieldError{Key: key, Message: "must be a mapping of settings, got " + describe(mv), Origin: l.at(me.line)})
			continue
		}
		m := NewMaster(me.key, topology.Addr{}, 0)
		set := make(map[string]bool)
		if mv != nil && mv.Kind == yaml.MappingNode {
			for _, f := range l.entries(mv, key) {
				l.decodeMasterKey(&m, key, f, set)
			}
		}
		for _, required := range []string{keyAddr, keyQuorum} {
			if !set[required] {
				l.fail(&FieldError{Key: key + "." + required, Message: "required", Origin: l.at(me.line)})
			}
		}
		out[me.key] = m
	}
	return out
}

func (l *loader) decodeMasterKey(m *MasterConfig, masterKey string, f entry, set map[string]bool) {
	key := masterKey + "." + f.key
	known := false
	for _, k := range masterKeys() {
		known = known || k == f.key
	}
	if !known {
		l.warnUnknown(key, f.line, masterKeys())
		return
	}
	l.fileOrigin[key] = l.at(f.line)
	if f.key == keyTLS {
		l.decodeMasterTLS(&m.TLS, key, f)
		return
	}
	s, ok := l.scalar(key, f)
	if !ok {
		if isNull(resolve(f.val)) {
			return // null: unset, default applies
		}
		set[f.key] = true // wrong type, already reported
		return
	}
	set[f.key] = true
	origin := l.at(f.line)
	bad := func(msg string, err error) {
		l.fail(&FieldError{Key: key, Message: msg, Origin: origin, Err: err})
	}
	switch f.key {
	case keyAddr:
		a, err := topology.ParseAddr(s)
		if err != nil {
			e := addrError(key, s, err)
			e.Origin = origin
			l.fail(e)
			return
		}
		m.Addr = a
	case keyQuorum, keyParallelSyncs:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			bad(fmt.Sprintf("must be an integer, got %q", s), nil)
			return
		}
		if f.key == keyQuorum {
			m.Quorum = n
		} else {
			m.ParallelSyncs = n
		}
	case keyDownAfter, keyFailoverTimeout, keyWriteGuardMaxLag, keyAntiFlap, keyPreFailoverHookTimeout:
		d, err := ParseDuration(s)
		if err != nil {
			bad(fmt.Sprintf("invalid duration %q", s), err)
			return
		}
		switch f.key {
		case keyDownAfter:
			m.DownAfter = d
		case keyFailoverTimeout:
			m.FailoverTimeout = d
		case keyAntiFlap:
			m.AntiFlap = d
		case keyPreFailoverHookTimeout:
			m.PreFailoverHookTimeout = d
		default:
			m.WriteGuardMaxLag = d
		}
	case keyWriteGuard:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			bad(fmt.Sprintf("must be true or false, got %q", s), nil)
			return
		}
		m.WriteGuard = b
	case keyIsolationFence:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			bad(fmt.Sprintf("must be true or false, got %q", s), nil)
			return
		}
		m.DisableIsolationFence = !b
	case keyAuthUser:
		m.AuthUser = s
	case keyAuthPass:
		m.AuthPass = s
	case keyNotificationScript:
		m.NotificationScript = s
	case keyClientReconfigScript:
		m.ClientReconfigScript = s
	case keyPreFailoverHook:
		m.PreFailoverHook = s
	}
}

// ParseDuration parses a duration the way the configuration file does: Go
// syntax ("30s", "1500ms", "1m30s") or a plain integer meaning milliseconds,
// as in Sentinel's down-after-milliseconds ("30000").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if isInteger(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms > maxMillis || ms < -maxMillis {
			return 0, fmt.Errorf("%s milliseconds is out of range", s)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New(`want a Go duration such as "30s" or "1500ms", or an integer number of milliseconds`)
	}
	return d, nil
}

const maxMillis = int64(1<<63-1) / int64(time.Millisecond)

func isInteger(s string) bool {
	digits := s
	if digits != "" && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if digits == "" {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}
