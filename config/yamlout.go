package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlHeader starts every file MarshalYAML writes.
const yamlHeader = "# vigil configuration; docs/configuration.md describes every key.\n"

// yamlSecretsNote follows the header when the file holds a secret.
const yamlSecretsNote = "# It contains secrets (%s) in clear text: keep it readable by vigil's user only.\n"

// MarshalYAML renders c as a YAML configuration file that Load reads back
// to an equal Config (lists compare equal when both are empty). It writes a
// header comment, then every non-empty key of the node, gossip, log and
// other sections in the order docs/configuration.md lists them, then the
// masters sorted by name with every setting (auth-user, auth-pass and
// the scripts only when set). Durations are in Go syntax ("30s", "3m", "1.5s").
//
// Secrets (auth-pass, http.token, node.requirepass, node.users,
// gossip.secret-keys, http.webhooks' secrets and URL credentials) are
// written in clear text, since the file must work as it is; the header
// then says so. It is what `vigil import-sentinel-conf` prints. The error
// reports a string YAML cannot hold (invalid UTF-8).
func MarshalYAML(c *Config) ([]byte, error) {
	if c == nil {
		return nil, errors.New("config: MarshalYAML of a nil Config")
	}
	var secrets []string
	var docs []*yaml.Node

	// The viper-managed sections, in settings() order.
	var section, nodeSection, httpSection *yaml.Node
	var sectionName string
	for _, s := range settings() {
		name, field, _ := strings.Cut(s.key, ".")
		if name != sectionName {
			sectionName = name
			section = &yaml.Node{Kind: yaml.MappingNode}
			docs = append(docs, yamlMap(name, section))
			if name == "http" {
				httpSection = section
			}
		}
		var val *yaml.Node
		if s.list != nil {
			list := *s.list(c)
			if len(list) == 0 {
				continue
			}
			val = &yaml.Node{Kind: yaml.SequenceNode}
			for i, item := range list {
				n, err := yamlString(fmt.Sprintf("%s[%d]", s.key, i), item)
				if err != nil {
					return nil, err
				}
				val.Content = append(val.Content, n)
			}
			if isSecretKey(field) {
				secrets = append(secrets, s.key)
			}
		} else {
			str := *s.str(c)
			if str == "" {
				continue
			}
			n, err := yamlString(s.key, str)
			if err != nil {
				return nil, err
			}
			val = n
			if isSecretKey(field) {
				secrets = append(secrets, s.key)
			}
		}
		yamlSet(section, field, val)
		if sectionName == "node" {
			nodeSection = section
		}
	}
	if len(c.Node.Users) > 0 && nodeSection != nil {
		// node.users is no viper setting; it follows the other node keys.
		users, err := usersYAML(c.Node.Users)
		if err != nil {
			return nil, err
		}
		yamlSet(nodeSection, "users", users)
		secrets = append(secrets, keyNodeUsers)
	}
	if len(c.HTTP.Webhooks) > 0 && httpSection != nil {
		// http.webhooks is no viper setting; it follows the other http keys.
		hooks, err := webhooksYAML(c.HTTP.Webhooks)
		if err != nil {
			return nil, err
		}
		yamlSet(httpSection, "webhooks", hooks)
		if webhooksHaveSecrets(c.HTTP.Webhooks) {
			secrets = append(secrets, keyHTTPWebhooks)
		}
	}

	masters := &yaml.Node{Kind: yaml.MappingNode}
	if len(c.Masters) == 0 {
		masters.Style = yaml.FlowStyle // "masters: {}"
	}
	for _, name := range c.MasterNames() {
		m := c.Masters[name]
		key := masterKey(name)
		if _, err := yamlString(key, name); err != nil {
			return nil, err
		}
		node, err := masterYAML(key, m)
		if err != nil {
			return nil, err
		}
		masters.Content = append(masters.Content, yamlKey(name), node)
		if m.AuthPass != "" && !containsString(secrets, "auth-pass") {
			secrets = append(secrets, "auth-pass")
		}
	}
	docs = append(docs, yamlMap("masters", masters))

	var out bytes.Buffer
	out.WriteString(yamlHeader)
	if len(secrets) > 0 {
		fmt.Fprintf(&out, yamlSecretsNote, strings.Join(secrets, ", "))
	}
	for _, doc := range docs {
		if body := doc.Content[1]; body.Kind == yaml.MappingNode && len(body.Content) == 0 && body.Style != yaml.FlowStyle {
			continue // a section with nothing set
		}
		out.WriteString("\n")
		if err := encodeYAML(&out, doc); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// masterYAML renders one master's settings, keys in masterKeys() order.
func masterYAML(key string, m MasterConfig) (*yaml.Node, error) {
	node := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) { node.Content = append(node.Content, yamlKey(k), v) }
	addr, err := yamlString(key+"."+keyAddr, m.Addr.String())
	if err != nil {
		return nil, err
	}
	add(keyAddr, addr)
	add(keyQuorum, yamlInt(m.Quorum))
	add(keyDownAfter, yamlScalar("!!str", FormatDuration(m.DownAfter)))
	add(keyFailoverTimeout, yamlScalar("!!str", FormatDuration(m.FailoverTimeout)))
	add(keyParallelSyncs, yamlInt(m.ParallelSyncs))
	if m.WriteGuard {
		add(keyWriteGuard, yamlScalar("!!bool", "true"))
	}
	if m.DisableIsolationFence {
		add(keyIsolationFence, yamlScalar("!!bool", "false"))
	}
	if m.WriteGuardMaxLag != 0 {
		add(keyWriteGuardMaxLag, yamlScalar("!!str", FormatDuration(m.WriteGuardMaxLag)))
	}
	if m.AntiFlap != 0 {
		add(keyAntiFlap, yamlScalar("!!str", FormatDuration(m.AntiFlap)))
	}
	if m.PreFailoverHookTimeout != 0 {
		add(keyPreFailoverHookTimeout, yamlScalar("!!str", FormatDuration(m.PreFailoverHookTimeout)))
	}
	optional := []struct{ key, val string }{
		{keyAuthUser, m.AuthUser},
		{keyAuthPass, m.AuthPass},
		{keyNotificationScript, m.NotificationScript},
		{keyClientReconfigScript, m.ClientReconfigScript},
		{keyPreFailoverHook, m.PreFailoverHook},
	}
	for _, kv := range optional {
		if kv.val == "" {
			continue
		}
		v, err := yamlString(key+"."+kv.key, kv.val)
		if err != nil {
			return nil, err
		}
		add(kv.key, v)
	}
	tlsNode, err := masterTLSYAML(key+"."+keyTLS, m.TLS)
	if err != nil {
		return nil, err
	}
	if tlsNode != nil {
		add(keyTLS, tlsNode)
	}
	return node, nil
}

// FormatDuration writes d in Go syntax without the zero units that
// time.Duration.String adds: "3m" rather than "3m0s", "1h" rather than
// "1h0m0s". ParseDuration reads it back to d.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// isSecretKey reports a key whose value is a secret.
func isSecretKey(field string) bool {
	return strings.HasSuffix(field, "pass") || strings.HasSuffix(field, "password") ||
		strings.HasSuffix(field, "token") || strings.HasSuffix(field, "secret") ||
		strings.HasSuffix(field, "secret-key") || strings.HasSuffix(field, "secret-keys")
}

// yamlSet adds key: val to mapping m; a dotted key ("tls.cert-file") goes
// into nested mappings, created on first use.
func yamlSet(m *yaml.Node, key string, val *yaml.Node) {
	for {
		head, rest, nested := strings.Cut(key, ".")
		if !nested {
			m.Content = append(m.Content, yamlKey(key), val)
			return
		}
		var child *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == head && m.Content[i+1].Kind == yaml.MappingNode {
				child = m.Content[i+1]
			}
		}
		if child == nil {
			child = &yaml.Node{Kind: yaml.MappingNode}
			m.Content = append(m.Content, yamlKey(head), child)
		}
		m, key = child, rest
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func yamlMap(key string, val *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{yamlKey(key), val}}
}

func yamlKey(s string) *yaml.Node { return yamlScalar("!!str", s) }

func yamlInt(n int) *yaml.Node { return yamlScalar("!!int", strconv.Itoa(n)) }

func yamlScalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// yamlString is a string scalar; the encoder quotes it when it would
// otherwise read back as another type ("0123", "yes", "~").
func yamlString(key, s string) (*yaml.Node, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("config: %s is not valid UTF-8 and cannot be written as YAML", key)
	}
	return yamlScalar("!!str", s), nil
}

func encodeYAML(out *bytes.Buffer, node *yaml.Node) error {
	enc := yaml.NewEncoder(out)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return fmt.Errorf("config: encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: encode YAML: %w", err)
	}
	return nil
}
