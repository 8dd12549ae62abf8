package sentinel

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func historyLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

// TestHistoryStore: attempts are appended, survive a reopen (a line cut
// short by a crash is skipped), the newest historyLimit per master are
// kept, and the file is compacted so it never holds much more.
func TestHistoryStore(t *testing.T) {
	dir := t.TempDir()
	h, err := openHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	const masters, each = 3, historyLimit + 30
	for i := range each {
		for m := range masters {
			a := Attempt{Master: fmt.Sprintf("m%d", m), Kind: "failover", Epoch: uint64(i + 1), Start: start.Add(time.Duration(i) * time.Second), Outcome: "aborted: test"}
			if err := h.add(a); err != nil {
				t.Fatal(err)
			}
		}
		if lines := historyLines(t, h.path); lines > max(2*h.kept, historyCompactMin) {
			t.Fatalf("after %d rounds the file has %d lines for %d kept", i+1, lines, h.kept)
		}
	}
	// A crash in the middle of an append.
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"master":"m0","kind":"fail`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	again, err := openHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	for m := range masters {
		list := again.entries[fmt.Sprintf("m%d", m)]
		if len(list) != historyLimit {
			t.Fatalf("m%d: %d attempts kept, want %d", m, len(list), historyLimit)
		}
		if first, last := list[0].Epoch, list[len(list)-1].Epoch; first != each-historyLimit+1 || last != each {
			t.Fatalf("m%d: epochs %d..%d kept, want the newest %d..%d", m, first, last, each-historyLimit+1, each)
		}
	}
	if again.kept != masters*historyLimit {
		t.Fatalf("kept %d, want %d", again.kept, masters*historyLimit)
	}
	// Appending after the torn line starts a line of its own.
	if err := again.add(Attempt{Master: "m1", Epoch: 999}); err != nil {
		t.Fatal(err)
	}
	third, err := openHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l := third.entries["m1"]; l[len(l)-1].Epoch != 999 {
		t.Fatalf("the attempt appended after a torn line is lost: %+v", l[len(l)-1])
	}
}

// TestHistoryLegacyImport: the history.json of earlier versions is read
// once, written as history.jsonl and removed.
func TestHistoryLegacyImport(t *testing.T) {
	dir := t.TempDir()
	old := map[string][]Attempt{"mymaster": {{Master: "mymaster", Kind: "switchover", Epoch: 7, Outcome: "switched"}}}
	data, err := json.MarshalIndent(old, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dir, legacyHistoryFile)
	if err := os.WriteFile(legacy, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := openHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l := h.entries["mymaster"]; len(l) != 1 || l[0].Epoch != 7 {
		t.Fatalf("imported %+v", h.entries)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Fatalf("history.json still there: %v", err)
	}
	again, err := openHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l := again.entries["mymaster"]; len(l) != 1 || l[0].Kind != "switchover" {
		t.Fatalf("after reopening: %+v", again.entries)
	}
}
