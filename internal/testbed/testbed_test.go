package testbed

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
)

func TestParseKindAndFault(t *testing.T) {
	for _, k := range AllKinds() {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	for _, f := range AllFaults() {
		if got, err := ParseFault(string(f)); err != nil || got != f {
			t.Errorf("ParseFault(%q) = %q, %v", f, got, err)
		}
	}
	for _, bad := range []string{"", "Vigil", "redis", "kill"} {
		if _, err := ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) accepted", bad)
		}
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) accepted", bad)
		}
	}
}

func testControllerConfig(kind Kind) ControllerConfig {
	return ControllerConfig{
		Kind:            kind,
		MasterName:      "mymaster",
		MasterAddr:      "127.0.0.1:6390",
		Quorum:          2,
		DownAfter:       1500 * time.Millisecond,
		FailoverTimeout: 10 * time.Second,
	}
}

// TestVigilConfigIsValid checks the generated YAML against vigil's own
// loader: no errors and no warnings (an unknown key would be one).
func TestVigilConfigIsValid(t *testing.T) {
	dir := t.TempDir()
	text := VigilConfig(testControllerConfig(KindVigil), "vigil-1", 26390, 27390, filepath.Join(dir, "data dir"), []int{27391, 27392})
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	warnings, err := config.CheckFile(path)
	if err != nil {
		t.Fatalf("generated config rejected: %v\n%s", err, text)
	}
	if len(warnings) > 0 {
		t.Fatalf("generated config has warnings %v\n%s", warnings, text)
	}
	for _, want := range []string{
		"listen: 127.0.0.1:26390", "bind: 127.0.0.1:27390", "- 127.0.0.1:27391",
		"down-after: 1500ms", "failover-timeout: 10000ms", "quorum: 2", `addr: "127.0.0.1:6390"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("vigil config lacks %q:\n%s", want, text)
		}
	}
}

func TestSentinelConfig(t *testing.T) {
	text, err := SentinelConfig(testControllerConfig(KindSentinel), 26390, "/tmp/x y")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"port 26390\n", "bind 127.0.0.1\n", `dir "/tmp/x y"`,
		"sentinel resolve-hostnames no\n",
		"sentinel monitor mymaster 127.0.0.1 6390 2\n",
		"sentinel down-after-milliseconds mymaster 1500\n",
		"sentinel failover-timeout mymaster 10000\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("sentinel config lacks %q:\n%s", want, text)
		}
	}
	cfg := testControllerConfig(KindSentinel)
	cfg.MasterAddr = "nohost"
	if _, err := SentinelConfig(cfg, 1, "/tmp"); err == nil {
		t.Error("SentinelConfig accepted a master address without a port")
	}
}

func TestControllerConfigValidate(t *testing.T) {
	good := testControllerConfig(KindVigil)
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*ControllerConfig){
		"kind":      func(c *ControllerConfig) { c.Kind = "x" },
		"name":      func(c *ControllerConfig) { c.MasterName = "" },
		"addr":      func(c *ControllerConfig) { c.MasterAddr = "127.0.0.1" },
		"quorum":    func(c *ControllerConfig) { c.Quorum = 0 },
		"downAfter": func(c *ControllerConfig) { c.DownAfter = 0 },
	} {
		c := good
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}

func TestRedisConfig(t *testing.T) {
	text, err := RedisConfig(6391, "/d", "127.0.0.1:6390")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"port 6391\n", "bind 127.0.0.1\n", "replicaof 127.0.0.1 6390\n", "save \"\"\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("redis config lacks %q:\n%s", want, text)
		}
	}
	if _, err := RedisConfig(1, "/d", "127.0.0.1:notaport"); err == nil {
		t.Error("bad replicaof accepted")
	}
}

func TestParseCPUTicks(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int64
		ok   bool
	}{
		{"42 (vigil) S 1 42 42 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 9 0 1000 0 0", 22, true},
		{"42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 0 0", 7, true},
		{"42 (x) S 1 2", 0, false},
		{"no parenthesis", 0, false},
		{"42 (x) S 1 42 42 0 -1 0 0 0 0 0 a 4 0", 0, false},
	} {
		got, err := parseCPUTicks(tc.line)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseCPUTicks(%q) = %d, %v; want %d ok=%v", tc.line, got, err, tc.want, tc.ok)
		}
	}
}

func TestTimelineQueries(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	changes := []Change{{at(0), "a"}, {at(100), ""}, {at(250), "b"}}
	if v := valueAt(changes, at(-1)); v != "" {
		t.Errorf("valueAt before start = %q", v)
	}
	if v := valueAt(changes, at(100)); v != "" {
		t.Errorf("valueAt(100) = %q", v)
	}
	if v := valueAt(changes, at(300)); v != "b" {
		t.Errorf("valueAt(300) = %q", v)
	}
	if got, ok := firstAt(changes, "b", at(0)); !ok || !got.Equal(at(250)) {
		t.Errorf("firstAt b = %v %v", got, ok)
	}
	if got, ok := firstAt(changes, "a", at(50)); !ok || !got.Equal(at(50)) {
		t.Errorf("firstAt a while in force = %v %v", got, ok)
	}
	if _, ok := firstAt(changes, "c", at(0)); ok {
		t.Error("firstAt found a value never seen")
	}
}

func TestOverlap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	lines := map[string][]Change{
		"old": {{at(0), StateMasterWritable}, {at(100), ""}, {at(500), StateMasterWritable}, {at(800), StateReplica}},
		"new": {{at(0), StateReplica}, {at(300), StateMasterWritable}},
		"r2":  {{at(0), StateReplica}, {at(600), "slave+w"}, {at(700), StateReplica}},
	}
	for _, tc := range []struct {
		name     string
		from, to int
		pred     func(string) bool
		want     time.Duration
	}{
		{"masters", 0, 1000, IsMaster, 300 * time.Millisecond},                 // 500..800
		{"writable", 0, 1000, IsWritable, 300 * time.Millisecond},              // 500..800 (600..700 has three)
		{"clipped", 600, 700, IsMaster, 100 * time.Millisecond},                // inside the window
		{"empty window", 700, 700, IsMaster, 0},                                // nothing
		{"before", 0, 300, IsMaster, 0},                                        // only one master
		{"r2 counts as writable", 650, 690, IsWritable, 40 * time.Millisecond}, // three writable
	} {
		if got := Overlap(lines, at(tc.from), at(tc.to), tc.pred); got != tc.want {
			t.Errorf("%s: Overlap = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReadRESP(t *testing.T) {
	in := "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$6\r\n+sdown\r\n$30\r\nmaster mymaster 127.0.0.1 6379\r\n" +
		">3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n" +
		"+OK\r\n-ERR no\r\n$-1\r\n%1\r\n+k\r\n+v\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	v, err := readRESP(br)
	if err != nil {
		t.Fatal(err)
	}
	parts, ok := v.([]any)
	if !ok || len(parts) != 4 || parts[2] != "+sdown" || parts[3] != "master mymaster 127.0.0.1 6379" {
		t.Fatalf("pmessage = %#v", v)
	}
	v, err = readRESP(br)
	if parts, ok := v.([]any); err != nil || !ok || len(parts) != 3 || parts[2] != int64(1) {
		t.Fatalf("push = %#v, %v", v, err)
	}
	if v, err := readRESP(br); err != nil || v != "OK" {
		t.Fatalf("simple = %#v, %v", v, err)
	}
	if v, err := readRESP(br); err != nil {
		t.Fatal(err)
	} else if e, ok := v.(error); !ok || e.Error() != "ERR no" {
		t.Fatalf("error = %#v", v)
	}
	if v, err := readRESP(br); err != nil || v != nil {
		t.Fatalf("null = %#v, %v", v, err)
	}
	if v, err := readRESP(br); err != nil || len(v.([]any)) != 2 {
		t.Fatalf("map = %#v, %v", v, err)
	}

	for _, bad := range []string{
		"",
		"?\r\n",
		"$5\r\nab",
		"$x\r\n",
		"*99999999\r\n",
		"no CRLF\n",
		strings.Repeat("*1\r\n", 20) + ":1\r\n",
	} {
		if _, err := readRESP(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readRESP(%q) accepted", bad)
		}
	}
}

func TestFirstEvent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	events := []Event{
		{Type: "+sdown", Payload: "slave 127.0.0.1:1 127.0.0.1 1 @ mymaster 127.0.0.1 2", At: t0.Add(1)},
		{Type: "+sdown", Payload: "master mymaster 127.0.0.1 2", At: t0.Add(2)},
		{Type: "+sdown", Payload: "master mymaster 127.0.0.1 2", At: t0.Add(3)},
	}
	ev, ok := FirstEvent(events, "+sdown", "master mymaster ", t0)
	if !ok || !ev.At.Equal(t0.Add(2)) {
		t.Errorf("FirstEvent = %+v, %v", ev, ok)
	}
	if _, ok := FirstEvent(events, "+odown", "", t0); ok {
		t.Error("FirstEvent found a type that is absent")
	}
	if _, ok := FirstEvent(events, "+sdown", "", t0.Add(4)); ok {
		t.Error("FirstEvent found an event before from")
	}
}

func TestFirstAckOn(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	writes := []Write{
		{Seq: 0, Start: at(0), End: at(1), Addr: "a"},
		{Seq: 1, Start: at(2), End: at(3), Err: "refused"},
		{Seq: 2, Start: at(4), End: at(5), Addr: "b"},
		{Seq: 3, Start: at(6), End: at(7), Addr: "a"},
	}
	if w, ok := FirstAckOn(writes, "a", at(1)); !ok || w.Seq != 3 {
		t.Errorf("FirstAckOn a from 1 = %+v, %v", w, ok)
	}
	if w, ok := FirstAckOn(writes, "b", at(0)); !ok || w.Seq != 2 {
		t.Errorf("FirstAckOn b = %+v, %v", w, ok)
	}
	if _, ok := FirstAckOn(writes, "c", at(0)); ok {
		t.Error("FirstAckOn found an unknown address")
	}
	if _, ok := FirstAckOn(nil, "a", at(0)); ok {
		t.Error("FirstAckOn on no writes")
	}
}

func TestFlatMap(t *testing.T) {
	m, err := flatMap([]any{"name", "mymaster", "port", int64(6379)})
	if err != nil || m["name"] != "mymaster" || m["port"] != "6379" {
		t.Errorf("flatMap = %v, %v", m, err)
	}
	if _, err := flatMap([]any{"odd"}); err == nil {
		t.Error("odd list accepted")
	}
	if _, err := flatMap("x"); err == nil {
		t.Error("string accepted")
	}
	m, err = flatMap(map[any]any{"a": "b"})
	if err != nil || m["a"] != "b" {
		t.Errorf("flatMap(map) = %v, %v", m, err)
	}
}

func TestPortsNeverRepeat(t *testing.T) {
	var p Ports
	seen := map[int]bool{}
	for range 50 {
		port, err := p.Free()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
	}
	port, err := p.FreeTCPUDP()
	if err != nil || seen[port] {
		t.Fatalf("FreeTCPUDP = %d, %v", port, err)
	}
}
