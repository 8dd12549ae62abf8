package sentinel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/atomicfile"
)

// History: every failover attempt this node led (or a configuration change
// it adopted from a peer), with its timeline, is kept in
// data-dir/history.jsonl, the newest historyLimit per master.
const (
	historyFile  = "history.jsonl"
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

// historyStore keeps the history file, data-dir/history.jsonl: one
// attempt per line, appended as each ends, so that recording one costs the
// same whatever the history holds (a node watching a thousand masters that
// keep failing records many a second). When the file holds more than twice
// what is kept (historyLimit per master) it is rewritten, atomically, with
// what is kept. A line cut short by a crash is dropped when the file is
// read. Guarded by Node.mu.
type historyStore struct {
	path    string
	entries map[string][]Attempt // by master, oldest first
	kept    int                  // attempts in entries
	lines   int                  // lines in the file
}

// historyCompactMin is the fewest lines worth compacting.
const historyCompactMin = 256

// legacyHistoryFile is where versions before history.jsonl kept the
// history, as one JSON object of every master's list; it is read once
// and replaced.
const legacyHistoryFile = "history.json"

func openHistory(dataDir string) (*historyStore, error) {
	h := &historyStore{path: filepath.Join(dataDir, historyFile), entries: map[string][]Attempt{}}
	data, err := os.ReadFile(h.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return h, h.importLegacy(filepath.Join(dataDir, legacyHistoryFile))
	case err != nil:
		return nil, fmt.Errorf("read history: %w", err)
	}
	torn := false
	for line := range bytes.Lines(data) {
		h.lines++
		var a Attempt
		// History is informational: a line that cannot be read is
		// skipped.
		if json.Unmarshal(line, &a) != nil || a.Master == "" || line[len(line)-1] != '\n' {
			torn = true
			continue
		}
		h.keep(a)
	}
	if torn {
		// The last append was cut short by a crash: rewrite the file
		// without it, so the next append starts a line of its own.
		if err := h.compact(); err != nil {
			return nil, fmt.Errorf("rewrite history: %w", err)
		}
	}
	return h, nil
}

// importLegacy reads a history.json of an earlier version into h, writes it
// as history.jsonl and removes it.
func (h *historyStore) importLegacy(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	var old map[string][]Attempt
	if err := json.Unmarshal(data, &old); err != nil {
		// Set aside, not fatal, as a corrupt history always was.
		_ = os.Rename(path, path+".corrupt")
		return nil
	}
	for _, list := range old {
		for _, a := range list {
			h.keep(a)
		}
	}
	if err := h.compact(); err != nil {
		return err
	}
	_ = os.Remove(path)
	return nil
}

// keep adds a to the attempts kept in memory, dropping the oldest of its
// master beyond historyLimit.
func (h *historyStore) keep(a Attempt) {
	list := append(h.entries[a.Master], a)
	h.kept++
	if len(list) > historyLimit {
		drop := len(list) - historyLimit
		clear(list[:drop])
		list = list[drop:]
		h.kept -= drop
	}
	h.entries[a.Master] = list
}

// add records a finished attempt: appended to the file, which is compacted
// when it has grown to twice what is kept.
func (h *historyStore) add(a Attempt) error {
	h.keep(a)
	if h.lines+1 > max(2*h.kept, historyCompactMin) {
		return h.compact() // writes a with the rest
	}
	line, err := json.Marshal(a)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	h.lines++
	return nil
}

// compact rewrites the file with the attempts kept, masters in name order.
func (h *historyStore) compact() error {
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(h.entries)) {
		for _, a := range h.entries[name] {
			line, err := json.Marshal(a)
			if err != nil {
				return err
			}
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	if err := atomicfile.WriteFile(h.path, b.Bytes(), 0o600); err != nil {
		return err
	}
	h.lines = h.kept
	return nil
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
