package sentinel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/vigil-ha/vigil/internal/atomicfile"
)

// stateFile is the name of the node's durable state inside data-dir.
const stateFile = "state.json"

// stateVersion is bumped when the file's shape changes incompatibly.
const stateVersion = 1

// DurableState is everything a node must remember across restarts: who it
// is, the epochs and votes it has seen and given, and per master the current
// master address and the replicas and peers it knows. It is written
// atomically (temp file, fsync, rename, fsync dir) before the node acts on a
// change.
type DurableState struct {
	Version      int                      `json:"version"`
	NodeID       string                   `json:"node_id"`
	CurrentEpoch uint64                   `json:"current_epoch"`
	Masters      map[string]*MasterRecord `json:"masters,omitempty"`
}

// MasterRecord is the durable state of one monitored master.
type MasterRecord struct {
	// ConfiguredAddr is the address the configuration gave when Addr was
	// recorded. When the operator changes the configured address, the
	// configuration wins over the recorded state.
	ConfiguredAddr string `json:"configured_addr"`
	// Addr is the current master's address, changed by failovers.
	Addr string `json:"addr"`
	// ConfigEpoch is the epoch of the failover that made Addr the master.
	ConfigEpoch uint64 `json:"config_epoch"`
	// LeaderEpoch and Leader are this node's last vote for this master.
	LeaderEpoch uint64 `json:"leader_epoch,omitempty"`
	Leader      string `json:"leader,omitempty"`
	// KnownReplicas are replica addresses discovered so far.
	KnownReplicas []string `json:"known_replicas,omitempty"`
	// KnownPeers are other vigil nodes seen monitoring this master.
	KnownPeers []PeerRecord `json:"known_peers,omitempty"`
	// Paused is maintenance mode (vigil pause NAME); PauseVersion orders
	// pause and resume decisions across nodes, the highest wins.
	Paused       bool   `json:"paused,omitempty"`
	PauseVersion uint64 `json:"pause_version,omitempty"`
}

// PeerRecord is a known vigil peer.
type PeerRecord struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// store reads and writes DurableState in a data directory.
type store struct {
	path string
}

func openStore(dataDir string) (*store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node.data-dir %q: %w", dataDir, err)
	}
	return &store{path: filepath.Join(dataDir, stateFile)}, nil
}

// load returns the saved state, or an empty state when none was saved yet.
// A file that exists but cannot be parsed is an error, never a silent reset:
// forgetting a vote could let this node vote twice in one epoch.
func (s *store) load() (*DurableState, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &DurableState{Version: stateVersion, Masters: map[string]*MasterRecord{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var st DurableState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (%w); move it away only if you know this node's votes may be forgotten", s.path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("state file %s has version %d, this vigil understands %d", s.path, st.Version, stateVersion)
	}
	if st.Masters == nil {
		st.Masters = map[string]*MasterRecord{}
	}
	return &st, nil
}

// save writes st atomically.
func (s *store) save(st *DurableState) error {
	st.Version = stateVersion
	for _, m := range st.Masters {
		sort.Strings(m.KnownReplicas)
		sort.Slice(m.KnownPeers, func(i, j int) bool { return m.KnownPeers[i].ID < m.KnownPeers[j].ID })
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return atomicfile.WriteFile(s.path, append(data, '\n'), 0o600)
}

// newNodeID returns a random 40-hex-character id, the shape of Sentinel's
// myid, so that clients and tools that expect one are satisfied.
func newNodeID() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate node id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
