package sentinel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-ha/vigil/internal/atomicfile"
)

// History: every failover attempt this node led (or a configuration change
// it adopted from a peer), with its timeline, is kept in
// data-dir/history.json, the newest historyLimit per master.
const (
	historyFile  = "history.json"
	historyLimit = 50
	// timelineLimit bounds the events kept for one attempt.
	timelineLimit = 200
)

// Attempt is one entry of a master's history.
type Attempt struct {
	Master string `json:"master"`
	// Kind is "failover" (led by this node), "manual-failover",
	// "switchover", or "adopted" (a peer's failover this node followed).
	Kind      string          `json:"kind"`
	Epoch     uint64          `json:"epoch"`
	Leader    string          `json:"leader"`
	Start     time.Time       `json:"start"`
	End       time.Time       `json:"end,omitzero"`
	Outcome   string          `json:"outcome"` // "switched", "aborted: <reason>", "running"
	OldMaster string          `json:"old_master"`
	NewMaster string          `json:"new_master,omitempty"`
	Replicas  []AttemptSample `json:"replicas,omitempty"`
	Timeline  []TimelineEntry `json:"timeline"`
}

// AttemptSample is what the leader knew of a replica when it selected.
type AttemptSample struct {
	Addr     string `json:"addr"`
	Offset   int64  `json:"offset"`
	Priority int    `json:"priority"`
	SDown    bool   `json:"s_down"`
}

// TimelineEntry is one event of an attempt.
type TimelineEntry struct {
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Payload string    `json:"payload"`
}

// note appends an event to a running attempt's timeline.
func (a *Attempt) note(ev Event) {
	if a == nil || len(a.Timeline) >= timelineLimit {
		return
	}
	a.Timeline = append(a.Timeline, TimelineEntry{At: ev.Time, Type: ev.Type, Payload: ev.Payload})
}

// historyStore keeps the history file. Guarded by Node.mu.
type historyStore struct {
	path    string
	entries map[string][]Attempt // by master, oldest first
}

func openHistory(dataDir string) (*historyStore, error) {
	h := &historyStore{path: filepath.Join(dataDir, historyFile), entries: map[string][]Attempt{}}
	data, err := os.ReadFile(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	if err := json.Unmarshal(data, &h.entries); err != nil {
		// History is informational: a corrupt file is set aside, not fatal.
		_ = os.Rename(h.path, h.path+".corrupt")
		h.entries = map[string][]Attempt{}
	}
	return h, nil
}

// add records a finished attempt and writes the file.
func (h *historyStore) add(a Attempt) error {
	list := append(h.entries[a.Master], a)
	if len(list) > historyLimit {
		list = list[len(list)-historyLimit:]
	}
	h.entries[a.Master] = list
	data, err := json.MarshalIndent(h.entries, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(h.path, data, 0o600)
}

// History returns the recorded attempts for a master, newest first, with
// the one in progress (if any) at the head.
func (n *Node) History(name string) ([]Attempt, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[name]
	if g == nil {
		return nil, errNoSuchMaster
	}
	var out []Attempt
	if g.record != nil {
		out = append(out, *g.record)
	}
	list := n.history.entries[name]
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i])
	}
	return out, nil
}

// beginRecordLocked starts the history record of an attempt. Requires n.mu.
func (n *Node) beginRecordLocked(g *group, kind string, epoch uint64) {
	g.record = &Attempt{
		Master: g.name(), Kind: kind, Epoch: epoch, Leader: n.id, Start: time.Now(),
		Outcome: "running", OldMaster: g.master.addr.String(), Timeline: []TimelineEntry{},
	}
}

// sampleReplicasLocked stores what the replicas looked like at selection.
func (n *Node) sampleReplicasLocked(g *group) {
	if g.record == nil {
		return
	}
	g.record.Replicas = g.record.Replicas[:0]
	for _, r := range g.sortedReplicas() {
		g.record.Replicas = append(g.record.Replicas, AttemptSample{Addr: r.addr.String(), Offset: r.info.ReplicaReplOffset, Priority: r.info.ReplicaPriority, SDown: r.sdown})
	}
}

// endRecordLocked closes and saves the current record. Requires n.mu.
func (n *Node) endRecordLocked(g *group, outcome, newMaster string) {
	a := g.record
	if a == nil {
		return
	}
	g.record = nil
	a.End, a.Outcome, a.NewMaster = time.Now(), outcome, newMaster
	if err := n.history.add(*a); err != nil {
		n.log.Warn("cannot write failover history", "err", err)
	}
}
