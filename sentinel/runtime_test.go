package sentinel

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel/cluster"
	"github.com/vigil-ha/vigil/topology"
)

var (
	writerA = strings.Repeat("a", 40)
	writerB = strings.Repeat("b", 40)
)

func TestEntryNewer(t *testing.T) {
	e := func(v uint64, w string) cluster.ConfigEntry {
		return cluster.ConfigEntry{Name: "m", Version: v, Writer: w}
	}
	for _, tc := range []struct {
		a, b cluster.ConfigEntry
		want bool
	}{
		{e(2, writerA), e(1, writerB), true},  // higher version wins
		{e(1, writerB), e(2, writerA), false}, // whatever the writer
		{e(3, writerB), e(3, writerA), true},  // tie: higher writer id
		{e(3, writerA), e(3, writerB), false},
		{e(3, writerA), e(3, writerA), false}, // the same entry is not newer
	} {
		if got := entryNewer(tc.a, tc.b); got != tc.want {
			t.Errorf("entryNewer(%d/%s, %d/%s) = %t", tc.a.Version, tc.a.Writer[:1], tc.b.Version, tc.b.Writer[:1], got)
		}
	}
}

// TestMergeEntriesConverges: whatever order the entries arrive in, and
// however often, every node ends with the same entries, the newest per
// master; a tombstone beats an older live entry and loses to a newer one.
func TestMergeEntriesConverges(t *testing.T) {
	all := []cluster.ConfigEntry{
		{Name: "m1", Version: 1, Writer: writerA, Monitor: true, Addr: "10.0.0.1:6379", Options: map[string]string{"quorum": "2"}},
		{Name: "m1", Version: 4, Writer: writerB, Removed: true},                                                                   // REMOVE on B
		{Name: "m1", Version: 3, Writer: writerA, Monitor: true, Addr: "10.0.0.1:6379", Options: map[string]string{"quorum": "3"}}, // older SET
		{Name: "m2", Version: 2, Writer: writerA, Addr: "10.0.0.2:6379", Options: map[string]string{"down-after-milliseconds": "5000"}},
		{Name: "m2", Version: 2, Writer: writerB, Addr: "10.0.0.2:6379", Options: map[string]string{"down-after-milliseconds": "7000"}}, // concurrent: B wins the tie
		{Name: "m3", Version: 5, Writer: writerA, Removed: true},
		{Name: "m3", Version: 6, Writer: writerA, Monitor: true, Addr: "10.0.0.3:6379", Options: map[string]string{"quorum": "1"}}, // MONITOR again after REMOVE
	}
	want := map[string]cluster.ConfigEntry{"m1": all[1], "m2": all[4], "m3": all[6]}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		have := map[string]cluster.ConfigEntry{}
		in := append([]cluster.ConfigEntry(nil), all...)
		in = append(in, all[rng.IntN(len(all))]) // a duplicate delivery
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		split := rng.IntN(len(in) + 1) // two messages
		_, v1 := mergeEntries(have, in[:split])
		_, v2 := mergeEntries(have, in[split:])
		if !reflect.DeepEqual(have, want) {
			t.Fatalf("round %d: merged %+v, want %+v", round, have, want)
		}
		if max(v1, v2) != 6 {
			t.Fatalf("max version %d, want 6", max(v1, v2))
		}
	}
	have := map[string]cluster.ConfigEntry{}
	mergeEntries(have, all)
	if changed, _ := mergeEntries(have, all); len(changed) != 0 {
		t.Fatalf("merging the same entries again changed %v", changed)
	}
}

func TestEffectiveMaster(t *testing.T) {
	addr := func(s string) topology.Addr {
		a, err := topology.ParseAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	fileM := config.NewMaster("mymaster", addr("10.0.0.1:6379"), 2)
	fileM.AuthPass = "from-file"
	file := map[string]config.MasterConfig{"mymaster": fileM}

	if mc, ok, err := effectiveMaster(file, "mymaster", nil); err != nil || !ok || mc.AuthPass != "from-file" {
		t.Fatalf("no entry: %+v %t %v", mc, ok, err)
	}
	if _, ok, err := effectiveMaster(file, "other", nil); ok || err != nil {
		t.Fatalf("unknown master: %t %v", ok, err)
	}
	if _, ok, err := effectiveMaster(file, "mymaster", &cluster.ConfigEntry{Name: "mymaster", Removed: true}); ok || err != nil {
		t.Fatalf("tombstone: %t %v", ok, err)
	}
	// SET on a file master: the file's settings plus the options.
	set := &cluster.ConfigEntry{Name: "mymaster", Addr: "10.0.0.1:6379", Options: map[string]string{
		"down-after-milliseconds": "5000", "quorum": "3", "write-guard": "yes", "anti-flap": "60000", "isolation-fence": "no",
		"rename-command config": "cfg", "master-reboot-down-after-period": "0",
	}}
	mc, ok, err := effectiveMaster(file, "mymaster", set)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if mc.DownAfter != 5*time.Second || mc.Quorum != 3 || !mc.WriteGuard || mc.AntiFlap != time.Minute || mc.AuthPass != "from-file" || !mc.DisableIsolationFence {
		t.Fatalf("SET on file master: %+v", mc)
	}
	// SET of a master this node's file does not define: not monitored.
	if _, ok, err := effectiveMaster(file, "theirs", &cluster.ConfigEntry{Name: "theirs", Addr: "10.0.0.7:6379", Options: map[string]string{"quorum": "2"}}); ok || err != nil {
		t.Fatalf("SET of another node's file master: %t %v", ok, err)
	}
	// MONITOR: defaults, not the file's entry of the same name.
	mon := &cluster.ConfigEntry{Name: "mymaster", Monitor: true, Addr: "10.0.0.9:6380", Options: map[string]string{"quorum": "1"}}
	mc, ok, err = effectiveMaster(file, "mymaster", mon)
	if err != nil || !ok || mc.Addr != addr("10.0.0.9:6380") || mc.AuthPass != "" || mc.Quorum != 1 || mc.DownAfter != config.DefaultDownAfter {
		t.Fatalf("MONITOR: %+v %t %v", mc, ok, err)
	}
	// Garbage from a peer is refused with an error, never applied.
	for _, opts := range []map[string]string{
		{"quorum": "0"}, {"quorum": "x"}, {"down-after-milliseconds": "-1"}, {"no-such-option": "1"},
		{"write-guard-max-lag": "1500"}, // the file's rule: whole seconds
		{"auth-user": "u"},              // the file's rule: auth-user needs auth-pass
		{"notification-script": "relative/path"},
		{"rename-command ": "x"},
	} {
		e := &cluster.ConfigEntry{Name: "new", Monitor: true, Addr: "10.0.0.5:6379", Options: opts}
		e.Options["quorum"] = firstNonEmpty(opts["quorum"], "1")
		if _, ok, err := effectiveMaster(file, "new", e); err == nil || ok {
			t.Errorf("options %v accepted", opts)
		}
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestParseSet(t *testing.T) {
	script := filepath.Join(t.TempDir(), "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ok := func(deny bool, args ...string) []string {
		t.Helper()
		out, err := parseSet(args, deny)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	if got := ok(true, "Down-After-Milliseconds", "5000", "quorum", "2", "rename-command", "CONFIG", "cfg", "auth-pass", ""); !reflect.DeepEqual(got,
		[]string{"down-after-milliseconds", "5000", "quorum", "2", "rename-command config", "cfg", "auth-pass", ""}) {
		t.Fatalf("parsed %q", got)
	}
	ok(false, "notification-script", script, "client-reconfig-script", "")
	for _, tc := range []struct {
		deny bool
		args []string
		want string
	}{
		{true, []string{"quorum", "0"}, "ERR Invalid argument '0' for SENTINEL SET 'quorum'"},
		{true, []string{"quorum", "+4"}, "ERR Invalid argument '+4' for SENTINEL SET 'quorum'"},
		{true, []string{"quorum", " 4"}, "ERR Invalid argument ' 4' for SENTINEL SET 'quorum'"},
		{true, []string{"failover-timeout", "1.5"}, "ERR Invalid argument '1.5' for SENTINEL SET 'failover-timeout'"},
		{true, []string{"master-reboot-down-after-period", "-1"}, "ERR Invalid argument '-1' for SENTINEL SET 'master-reboot-down-after-period'"},
		{true, []string{"foo", "1"}, "ERR Unknown option or number of arguments for SENTINEL SET 'foo'"},
		{true, []string{"quorum", "2", "foo"}, "ERR Unknown option or number of arguments for SENTINEL SET 'foo'"},
		{true, []string{"rename-command", "x"}, "ERR Unknown option or number of arguments for SENTINEL SET 'rename-command'"},
		{true, []string{"rename-command", "", "x"}, "ERR Invalid argument '' for SENTINEL SET 'rename-command'"},
		{true, []string{"notification-script", script}, errScriptsDenied},
		{false, []string{"notification-script", "/no/such/script"}, "ERR Notification script seems non existing or non executable"},
		{false, []string{"client-reconfig-script", "/no/such/script"}, "ERR Client reconfiguration script seems non existing or non executable"},
		{true, []string{"write-guard", "maybe"}, "ERR Invalid argument 'maybe' for SENTINEL SET 'write-guard'"},
		{true, []string{"isolation-fence", "off"}, "ERR Invalid argument 'off' for SENTINEL SET 'isolation-fence'"},
		{true, []string{"auth-pass", "bad\xffutf8"}, "ERR Invalid argument 'bad\xffutf8' for SENTINEL SET 'auth-pass'"},
	} {
		_, err := parseSet(tc.args, tc.deny)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestParseStrictInt(t *testing.T) {
	for s, want := range map[string]bool{"0": true, "1": true, "-5": true, "9223372036854775807": true,
		"": false, "+1": false, "01": false, "-0": false, " 1": false, "1 ": false, "1.0": false, "9223372036854775808": false} {
		if _, ok := parseStrictInt(s); ok != want {
			t.Errorf("parseStrictInt(%q) ok=%t", s, ok)
		}
	}
}

// TestRuntimeFileCorrupt: a runtime.json that cannot be read stops the
// node rather than silently dropping tombstones.
func TestRuntimeFileCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, runtimeFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadRuntime(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("loadRuntime = %v", err)
	}
	bad := `{"version":1,"clock":1,"masters":{"m":{"name":"m","version":0,"writer":"x"}}}`
	if err := os.WriteFile(filepath.Join(dir, runtimeFile), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadRuntime(dir); err == nil {
		t.Fatal("invalid entry accepted")
	}
}

// TestMergeRuntimeRefusesWhatItCannotApply: entries that pass the wire
// checks but break the configuration rules are kept (so every node still
// converges on the same entries) but not applied; the node keeps its
// settings and applies the next good entry.
func TestMergeRuntimeRefusesWhatItCannotApply(t *testing.T) {
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)})
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mergeRuntimeLocked(writerB, 0, []cluster.ConfigEntry{
		{Name: "mymaster", Version: 5, Writer: writerB, Addr: "127.0.0.1:1", Options: map[string]string{"quorum": "0"}},
		{Name: "new", Version: 6, Writer: writerB, Monitor: true, Addr: "127.0.0.1:2"}, // no quorum
		{Name: "hook", Version: 7, Writer: writerB, Monitor: true, Addr: "127.0.0.1:3", Options: map[string]string{"quorum": "1", "notification-script": "/bin/true"}},
	}...)
	if q := n.groups["mymaster"].cfg.Quorum; q != 2 {
		t.Fatalf("quorum 0 applied: %d", q)
	}
	if n.groups["new"] != nil || n.groups["hook"] != nil {
		t.Fatal("a master without quorum, or with a script path under deny-scripts-reconfig, was added")
	}
	if len(n.rt.state.Masters) != 3 || n.rt.state.Clock != 7 {
		t.Fatalf("entries not kept: %d entries, clock %d", len(n.rt.state.Masters), n.rt.state.Clock)
	}
	n.mergeRuntimeLocked(writerB, 0, []cluster.ConfigEntry{
		{Name: "mymaster", Version: 8, Writer: writerB, Addr: "127.0.0.1:1", Options: map[string]string{"quorum": "3"}},
	}...)
	if q := n.groups["mymaster"].cfg.Quorum; q != 3 {
		t.Fatalf("good entry not applied: quorum %d", q)
	}
	rc, err := loadRuntime(cfg.Node.DataDir)
	if err != nil || rc.state.Masters["mymaster"].Version != 8 || rc.state.Clock != 8 {
		t.Fatalf("runtime.json: %+v %v", rc, err)
	}
}

// TestGossipEntriesOnlyWhenNeeded: states carry the digest always and the
// entries after a change, on a digest mismatch, and every runtimeResend.
func TestGossipEntriesOnlyWhenNeeded(t *testing.T) {
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)})
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if cfgs, d := n.gossipEntriesLocked(now); cfgs != nil || d != 0 {
		t.Fatalf("no entries: %v %d", cfgs, d)
	}
	e := cluster.ConfigEntry{Name: "mymaster", Addr: "127.0.0.1:1", Options: map[string]string{"quorum": "3"}}
	if err := n.commitEntryLocked(e); err != nil {
		t.Fatal(err)
	}
	digest := n.rt.digest
	if cfgs, d := n.gossipEntriesLocked(now); len(cfgs) != 1 || d != digest || d == 0 {
		t.Fatalf("after a change: %v %d", cfgs, d)
	}
	quiet := time.Now().Add(runtimeSendFor + 10*time.Millisecond)
	if cfgs, d := n.gossipEntriesLocked(quiet); cfgs != nil || d != digest {
		t.Fatalf("quiet: %v %d", cfgs, d)
	}
	if cfgs, _ := n.gossipEntriesLocked(quiet.Add(runtimeResend)); len(cfgs) != 1 {
		t.Fatalf("resend: %v", cfgs)
	}
	n.rt.sendUntil = time.Time{}
	n.mergeRuntimeLocked(writerB, digest) // a peer that agrees
	if !n.rt.sendUntil.IsZero() {
		t.Fatal("a peer with the same digest triggered a resend")
	}
	n.mergeRuntimeLocked(writerB, digest+1) // a peer that misses something
	if n.rt.sendUntil.IsZero() {
		t.Fatal("a peer with another digest did not trigger a resend")
	}
	// Same entries, same digest, whatever the order they were merged in.
	a, b := map[string]cluster.ConfigEntry{}, map[string]cluster.ConfigEntry{}
	x := cluster.ConfigEntry{Name: "x", Version: 1, Writer: writerA, Removed: true}
	y := cluster.ConfigEntry{Name: "y", Version: 2, Writer: writerB, Addr: "h:1", Options: map[string]string{"quorum": "1", "auth-pass": "p"}}
	mergeEntries(a, []cluster.ConfigEntry{x, y})
	mergeEntries(b, []cluster.ConfigEntry{y, x})
	if entriesDigest(a) != entriesDigest(b) || entriesDigest(a) == entriesDigest(map[string]cluster.ConfigEntry{"x": x}) {
		t.Fatal("digest does not identify the entries")
	}
}
