package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Wire format of every message this package sends, as a broadcast, a direct
// message or the user part of a push/pull exchange:
//
//	byte 0   format version (wireVersion)
//	byte 1   Kind
//	byte 2.. one JSON object, the body of that kind
//
// Decoding is strict: an unknown version or kind, a message larger than
// MaxMessageSize, invalid JSON, a missing or null required field, or a field
// value out of range is an error. Unknown JSON fields are ignored so that a
// newer node can add optional fields without breaking a rolling upgrade;
// anything incompatible must bump wireVersion.

const (
	wireVersion = 1
	headerLen   = 2

	// MaxMessageSize is the largest encoded message, header included, that
	// is sent or accepted. A NodeState of about a thousand masters fits.
	MaxMessageSize = 256 << 10

	maxIDLen         = 64
	maxMasterNameLen = 256
	maxHostLen       = 255
)

// Kind identifies the type of a message on the wire.
type Kind byte

// Message kinds. Their values are part of the wire format: never renumber.
const (
	KindState       Kind = 1
	KindVoteRequest Kind = 2
	KindVoteReply   Kind = 3
)

// String returns the kind's name, for logs.
func (k Kind) String() string {
	switch k {
	case KindState:
		return "state"
	case KindVoteRequest:
		return "vote-request"
	case KindVoteReply:
		return "vote-reply"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// NodeState is a node's full view, sent in broadcasts and in push/pull
// exchanges. The cluster fills From, RESPAddr, Boot, Seq and SentAt when it
// sends one, and uses Boot and Seq to deliver a peer's states in order.
type NodeState struct {
	From         string        `json:"from"`      // sender's node id
	RESPAddr     string        `json:"resp_addr"` // sender's Sentinel-protocol host:port
	Boot         uint64        `json:"boot"`      // random, fixed for the life of the sender's Cluster
	Seq          uint64        `json:"seq"`       // increases with every state that Cluster encodes
	CurrentEpoch uint64        `json:"current_epoch"`
	SentAt       int64         `json:"sent_at_ms"` // sender's unix ms; informational only
	Masters      []MasterState `json:"masters"`
	// Config is the sender's runtime configuration (SENTINEL MONITOR,
	// REMOVE, SET): one entry per master changed at runtime, tombstones
	// included. Optional: absent from nodes that never had a change and
	// from older versions.
	Config []ConfigEntry `json:"config,omitempty"`
	// ConfigDigest summarises the sender's runtime configuration (0: none),
	// sent in every state even when Config is left out: a receiver whose
	// own digest differs knows that one of them misses an entry.
	ConfigDigest uint64 `json:"config_digest,omitempty"`
}

// ConfigEntry is one master's runtime configuration as a last-writer-wins
// register: of two entries for the same name, the one with the higher
// (Version, Writer) wins. Version is a Lamport clock. This package only
// checks the entry's shape; the node checks what the options mean.
type ConfigEntry struct {
	Name    string `json:"name"`
	Version uint64 `json:"version"`
	Writer  string `json:"writer"` // id of the node that made the change
	// Removed marks a tombstone (SENTINEL REMOVE): the master is not
	// monitored, and an older entry cannot bring it back.
	Removed bool `json:"removed,omitempty"`
	// Monitor is set when the master was created by SENTINEL MONITOR: its
	// settings start from the defaults rather than from the configuration
	// file's entry of the same name.
	Monitor bool `json:"monitor,omitempty"`
	// Addr is the master's configured address (host:port).
	Addr string `json:"addr,omitempty"`
	// Options are SENTINEL SET options and their values, e.g.
	// "down-after-milliseconds": "5000" or "rename-command config": "cfg".
	Options map[string]string `json:"options,omitempty"`
}

// Limits on a ConfigEntry.
const (
	maxConfigEntries  = 4096
	maxConfigOptions  = 64
	maxOptionKeyLen   = 512
	maxOptionValueLen = 4096
)

// Validate checks an entry's shape: a master name, a positive version, a
// node id as writer, and for a live entry an address and bounded, valid
// UTF-8 options.
func (e ConfigEntry) Validate() error {
	switch {
	case !validMasterName(e.Name):
		return invalidf("config: name %q is not a master name", e.Name)
	case e.Version == 0:
		return invalidf("config %s: version 0", e.Name)
	case !validID(e.Writer):
		return invalidf("config %s: writer %q is not a node id", e.Name, e.Writer)
	case e.Removed:
		if e.Monitor || e.Addr != "" || len(e.Options) != 0 {
			return invalidf("config %s: a removal carries settings", e.Name)
		}
		return nil
	case !validHostPort(e.Addr):
		return invalidf("config %s: addr %q is not host:port", e.Name, e.Addr)
	case len(e.Options) > maxConfigOptions:
		return invalidf("config %s: %d options", e.Name, len(e.Options))
	}
	for k, v := range e.Options {
		if k == "" || len(k) > maxOptionKeyLen || !printable(k) {
			return invalidf("config %s: bad option name %q", e.Name, k)
		}
		if len(v) > maxOptionValueLen || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return invalidf("config %s: bad value for option %q", e.Name, k)
		}
	}
	return nil
}

// printable reports whether s is printable ASCII (spaces allowed).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// MasterState is what a node believes about one monitored master.
type MasterState struct {
	Name         string `json:"name"`
	Addr         string `json:"addr"` // current master host:port as this node believes
	ConfigEpoch  uint64 `json:"config_epoch"`
	SDown        bool   `json:"sdown"`
	SDownSinceMs int64  `json:"sdown_since_ms"` // how long it has been s_down, ms (a duration, not a time)
	LeaderEpoch  uint64 `json:"leader_epoch"`   // epoch of the last vote this node gave for this master
	Leader       string `json:"leader"`         // node id voted for at LeaderEpoch, or ""
	// Paused is the master's maintenance mode (no automatic failover),
	// and PauseVersion orders pause/resume decisions across nodes: the
	// highest version wins.
	Paused       bool   `json:"paused,omitempty"`
	PauseVersion uint64 `json:"pause_version,omitempty"`
}

// Message is a direct message between two nodes: VoteRequest or VoteReply.
// The set is closed; switch on the concrete type.
type Message interface {
	// Kind returns the message's wire kind.
	Kind() Kind
	from() string
	withFrom(id string) Message
	validate() error
}

// VoteRequest asks a peer whether it sees Master at MasterAddr as down and,
// unless Candidate is "" or "*", for its vote for Candidate in Epoch. It is
// Sentinel's SENTINEL is-master-down-by-addr. The cluster fills From.
type VoteRequest struct {
	From       string `json:"from"`
	Master     string `json:"master"`
	MasterAddr string `json:"master_addr"`
	Epoch      uint64 `json:"epoch"`
	Candidate  string `json:"candidate"` // "" or "*": only asking whether it is down
	ReqID      uint64 `json:"req_id"`
}

// VoteReply answers a VoteRequest with the same ReqID. Leader is the node
// voted for at LeaderEpoch, or "" / "*" for no vote. The cluster fills From.
type VoteReply struct {
	From        string `json:"from"`
	Master      string `json:"master"`
	Down        bool   `json:"down"`
	Leader      string `json:"leader"`
	LeaderEpoch uint64 `json:"leader_epoch"`
	ReqID       uint64 `json:"req_id"`
}

// Kind implements Message.
func (VoteRequest) Kind() Kind { return KindVoteRequest }

// Kind implements Message.
func (VoteReply) Kind() Kind { return KindVoteReply }

func (m VoteRequest) from() string { return m.From }
func (m VoteReply) from() string   { return m.From }

func (m VoteRequest) withFrom(id string) Message { m.From = id; return m }
func (m VoteReply) withFrom(id string) Message   { m.From = id; return m }

// requiredKeys lists the JSON keys each body must hold (kind 0: one entry
// of NodeState.Masters). A key that is absent or null is an error.
func requiredKeys(k Kind) []string {
	switch k {
	case KindState:
		return []string{"from", "resp_addr", "boot", "seq", "current_epoch", "sent_at_ms", "masters"}
	case KindVoteRequest:
		return []string{"from", "master", "master_addr", "epoch", "candidate", "req_id"}
	case KindVoteReply:
		return []string{"from", "master", "down", "leader", "leader_epoch", "req_id"}
	}
	return []string{"name", "addr", "config_epoch", "sdown", "sdown_since_ms", "leader_epoch", "leader"}
}

// configEntryKeys are the keys every entry of NodeState.Config must hold.
var configEntryKeys = []string{"name", "version", "writer"}

// Decoding errors. decode wraps them with detail.
var (
	errTooLarge    = errors.New("message too large")
	errTooShort    = errors.New("message too short")
	errVersion     = errors.New("unknown format version")
	errUnknownKind = errors.New("unknown message kind")
	errInvalid     = errors.New("invalid message")
)

// encode returns the wire form of a NodeState, *NodeState or Message.
func encode(v any) ([]byte, error) {
	var k Kind
	switch m := v.(type) {
	case *NodeState:
		if m == nil {
			return nil, fmt.Errorf("encode nil state: %w", errInvalid)
		}
		return encode(*m)
	case NodeState:
		k = KindState
		if m.Masters == nil {
			m.Masters = []MasterState{} // "masters" must not be null
			v = m
		}
	case Message:
		k = m.Kind()
	default:
		return nil, fmt.Errorf("encode %T: %w", v, errUnknownKind)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", k, err)
	}
	if headerLen+len(body) > MaxMessageSize {
		return nil, fmt.Errorf("encode %s: %d bytes: %w", k, headerLen+len(body), errTooLarge)
	}
	return append([]byte{wireVersion, byte(k)}, body...), nil
}

// nodeMeta is the memberlist node meta of a vigil node (at most 512 bytes).
type nodeMeta struct {
	Version  int    `json:"v"`
	RESPAddr string `json:"resp_addr"`
}

func encodeMeta(respAddr string) ([]byte, error) {
	b, err := json.Marshal(nodeMeta{Version: wireVersion, RESPAddr: respAddr})
	if err != nil {
		return nil, fmt.Errorf("encode node meta: %w", err)
	}
	return b, nil
}

// decodeMeta returns the RESP address in a peer's node meta.
func decodeMeta(b []byte) (string, error) {
	var m nodeMeta
	if err := decodeBody(b, []string{"v", "resp_addr"}, &m); err != nil {
		return "", fmt.Errorf("decode node meta: %w", err)
	}
	if m.Version != wireVersion {
		return "", fmt.Errorf("decode node meta: %w %d", errVersion, m.Version)
	}
	if !validHostPort(m.RESPAddr) {
		return "", fmt.Errorf("decode node meta: %w: resp_addr %q", errInvalid, m.RESPAddr)
	}
	return m.RESPAddr, nil
}

// decode parses and validates one message. The result is a NodeState, a
// VoteRequest or a VoteReply. It never panics and never keeps b.
func decode(b []byte) (any, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%d bytes: %w", len(b), errTooLarge)
	}
	if len(b) < headerLen {
		return nil, errTooShort
	}
	if b[0] != wireVersion {
		return nil, fmt.Errorf("%w %d", errVersion, b[0])
	}
	k, body := Kind(b[1]), b[headerLen:]
	switch k {
	case KindState:
		var st NodeState
		if err := decodeBody(body, requiredKeys(k), &st); err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		var raw struct {
			Masters []json.RawMessage `json:"masters"`
			Config  []json.RawMessage `json:"config"`
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		for i, m := range raw.Masters {
			if err := requireKeys(m, requiredKeys(0)); err != nil {
				return nil, fmt.Errorf("decode %s: masters[%d]: %w", k, i, err)
			}
		}
		for i, e := range raw.Config {
			if err := requireKeys(e, configEntryKeys); err != nil {
				return nil, fmt.Errorf("decode %s: config[%d]: %w", k, i, err)
			}
		}
		if err := st.validate(); err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		return st, nil
	case KindVoteRequest:
		var m VoteRequest
		return decodeMessage(k, body, &m)
	case KindVoteReply:
		var m VoteReply
		return decodeMessage(k, body, &m)
	}
	return nil, fmt.Errorf("%w %d", errUnknownKind, b[1])
}

// decodeMessage decodes a direct message body into *p and validates it.
func decodeMessage[M Message](k Kind, body []byte, p *M) (any, error) {
	if err := decodeBody(body, requiredKeys(k), p); err != nil {
		return nil, fmt.Errorf("decode %s: %w", k, err)
	}
	if err := (*p).validate(); err != nil {
		return nil, fmt.Errorf("decode %s: %w", k, err)
	}
	return *p, nil
}

// decodeBody checks that body is one JSON object holding every key in keys,
// then unmarshals it into v.
func decodeBody(body []byte, keys []string, v any) error {
	if err := requireKeys(body, keys); err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	return nil
}

// requireKeys checks that obj is a JSON object in which every key is present
// and not null.
func requireKeys(obj []byte, keys []string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	if fields == nil {
		return fmt.Errorf("%w: not an object", errInvalid)
	}
	for _, k := range keys {
		v, ok := fields[k]
		if !ok || bytes.Equal(v, []byte("null")) {
			return fmt.Errorf("%w: missing field %q", errInvalid, k)
		}
	}
	return nil
}

func (st NodeState) validate() error {
	if !validID(st.From) {
		return invalidf("from %q is not a node id", st.From)
	}
	if !validHostPort(st.RESPAddr) {
		return invalidf("resp_addr %q is not host:port", st.RESPAddr)
	}
	seen := make(map[string]bool, len(st.Masters))
	for i, m := range st.Masters {
		if err := m.validate(); err != nil {
			return fmt.Errorf("masters[%d]: %w", i, err)
		}
		if seen[m.Name] {
			return invalidf("master %q listed twice", m.Name)
		}
		seen[m.Name] = true
	}
	if len(st.Config) > maxConfigEntries {
		return invalidf("%d config entries", len(st.Config))
	}
	seenCfg := make(map[string]bool, len(st.Config))
	for i, e := range st.Config {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("config[%d]: %w", i, err)
		}
		if seenCfg[e.Name] {
			return invalidf("config for %q listed twice", e.Name)
		}
		seenCfg[e.Name] = true
	}
	return nil
}

func (m MasterState) validate() error {
	if !validMasterName(m.Name) {
		return invalidf("name %q is not a master name", m.Name)
	}
	if !validHostPort(m.Addr) {
		return invalidf("master %s: addr %q is not host:port", m.Name, m.Addr)
	}
	if m.SDownSinceMs < 0 || (!m.SDown && m.SDownSinceMs != 0) {
		return invalidf("master %s: sdown_since_ms %d with sdown %t", m.Name, m.SDownSinceMs, m.SDown)
	}
	if m.Leader != "" && !validID(m.Leader) {
		return invalidf("master %s: leader %q is not a node id", m.Name, m.Leader)
	}
	return nil
}

func (m VoteRequest) validate() error {
	switch {
	case !validID(m.From):
		return invalidf("from %q is not a node id", m.From)
	case !validMasterName(m.Master):
		return invalidf("master %q is not a master name", m.Master)
	case !validHostPort(m.MasterAddr):
		return invalidf("master_addr %q is not host:port", m.MasterAddr)
	case m.Candidate != "" && m.Candidate != "*" && !validID(m.Candidate):
		return invalidf("candidate %q is not a node id", m.Candidate)
	}
	return nil
}

func (m VoteReply) validate() error {
	switch {
	case !validID(m.From):
		return invalidf("from %q is not a node id", m.From)
	case !validMasterName(m.Master):
		return invalidf("master %q is not a master name", m.Master)
	case m.Leader != "" && m.Leader != "*" && !validID(m.Leader):
		return invalidf("leader %q is not a node id", m.Leader)
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalid, fmt.Sprintf(format, args...))
}

// validID reports whether s is a node id as package config accepts it:
// 1 to 64 characters from A-Z a-z 0-9 . - _ (generated ids are 40 hex).
func validID(s string) bool {
	return len(s) <= maxIDLen && validName(s)
}

// validMasterName applies Sentinel's master name charset.
func validMasterName(s string) bool {
	return len(s) <= maxMasterNameLen && validName(s)
}

func validName(s string) bool {
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

// validHostPort reports whether s is host:port with a printable host and a
// port in 1..65535.
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || len(host) > maxHostLen {
		return false
	}
	for i := 0; i < len(host); i++ {
		if host[i] <= ' ' || host[i] >= 0x7f {
			return false
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return err == nil && p > 0
}
