package httpapi

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// goldenNow is the clock of the golden scrapes: ping ages are measured from
// it.
var goldenNow = time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)

// setScrapeClock makes the server's scrapes measure ages from now.
func setScrapeClock(s *Server, now func() time.Time) {
	s.series.now = now
}

// goldenStatus is a node monitoring four masters, listed out of name order:
// gamma is objectively down with a failover of this node in progress, beta
// is subjectively down, alpha is fine with two replicas (listed out of
// address order), and one name needs escaping in a label value.
func goldenStatus() sentinel.Status {
	return sentinel.Status{
		NodeID:       "node-a",
		CurrentEpoch: 12,
		Masters: []sentinel.MasterStatus{
			{
				Name: "gamma", ConfigEpoch: 11, Quorum: 2, SDown: true, ODown: true,
				LastOKPing: goldenNow.Add(-7 * time.Second), FailoverState: "select-slave",
				UsablePeers: 3, QuorumReachable: true, MasterOffset: 123456789012,
				Peers:    []string{"node-b", "node-c"},
				Decision: sentinel.Decision{Reason: sentinel.ReasonFailoverRunning},
				Replicas: []sentinel.ReplicaStatus{{Addr: "10.0.0.3:6380", SDown: true, Offset: 5, Lag: -5, Priority: 0}},
			},
			{
				Name: "beta", ConfigEpoch: 3, Quorum: 2, SDown: true,
				LastOKPing: goldenNow.Add(-1250 * time.Millisecond), UsablePeers: 1,
				Peers:    []string{"node-b"},
				Decision: sentinel.Decision{Reason: sentinel.ReasonNotODown},
			},
			{
				Name: "alpha", ConfigEpoch: 5, Quorum: 2, LastOKPing: goldenNow.Add(-250 * time.Millisecond),
				UsablePeers: 3, QuorumReachable: true, MasterOffset: 1000,
				Peers:    []string{"node-b", "node-c"},
				Decision: sentinel.Decision{Reason: sentinel.ReasonMasterOK},
				Replicas: []sentinel.ReplicaStatus{
					{Addr: "10.0.0.2:6380", LinkUp: true, Offset: 990, Lag: 10, Priority: 100, InfoAge: 750 * time.Millisecond},
					{Addr: "10.0.0.10:6380", LinkUp: true, Offset: 1000, Priority: 50, InfoAge: 2 * time.Second},
				},
			},
			{
				// Never answered a PING: no ping age.
				Name: "quo\"te\\back\nslash", Quorum: 1,
				Decision: sentinel.Decision{Reason: sentinel.ReasonMasterOK},
			},
		},
		Peers: []sentinel.PeerStatus{{ID: "node-c", Alive: false}, {ID: "node-b", Alive: true}},
	}
}

// goldenServer is a server over st, with a webhook (so that its counter sits
// among the vigil_* families), whose scrapes measure ages from goldenNow,
// and whose event counters saw a few failovers.
func goldenServer(t *testing.T, st sentinel.Status) *Server {
	t.Helper()
	node := newFakeNode(st)
	s := New(node, config.HTTPConfig{Listen: "127.0.0.1:0"}, testLogger(t))
	NewWebhooks(node, []config.WebhookConfig{{URL: "http://127.0.0.1:1/hook"}}, testLogger(t), s.Registerer())
	setScrapeClock(s, func() time.Time { return goldenNow })
	t0 := goldenNow.Add(-time.Hour)
	for _, ev := range []sentinel.Event{
		{Type: "+try-failover", Payload: "master alpha 10.0.0.1 6379", Time: t0},
		{Type: "+elected-leader", Payload: "master alpha 10.0.0.1 6379", Time: t0},
		{Type: "+failover-end", Payload: "master alpha 10.0.0.1 6379", Time: t0.Add(4500 * time.Millisecond)},
		{Type: "+switch-master", Payload: "alpha 10.0.0.1 6379 10.0.0.2 6379", Time: t0.Add(4500 * time.Millisecond)},
		{Type: "+try-failover", Payload: "master beta 10.0.0.5 6379", Time: t0},
		{Type: "-failover-abort-not-elected", Payload: "master beta 10.0.0.5 6379", Time: t0},
		{Type: "-failover-abort-odd-reason", Payload: "master beta 10.0.0.5 6379", Time: t0},
		{Type: "+try-failover", Payload: "master gamma 10.0.0.3 6379", Time: t0},
		{Type: "+elected-leader", Payload: "master gamma 10.0.0.3 6379", Time: t0},
		// A master this node was not configured with.
		{Type: "+switch-master", Payload: "delta 10.0.0.7 6379 10.0.0.8 6379", Time: t0},
	} {
		s.metrics.observe(ev)
	}
	return s
}

// scrapeCase is one way of asking for /metrics.
type scrapeCase struct {
	name   string
	target string
	header []string // name, value, ...
}

// scrapeCases are the requests the golden test replays: what curl,
// Prometheus 2 and 3 send, gzip, the protobuf format, OpenMetrics (not
// enabled: served as text) and a name[] filter.
var scrapeCases = []scrapeCase{
	{name: "plain", target: "/metrics"},
	{name: "prometheus2", target: "/metrics", header: []string{
		"Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
	}},
	{name: "prometheus3", target: "/metrics", header: []string{
		"Accept", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
	}},
	{name: "gzip", target: "/metrics", header: []string{"Accept-Encoding", "gzip"}},
	{name: "protobuf", target: "/metrics", header: []string{
		"Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
		"Accept-Encoding", "gzip",
	}},
	{name: "openmetrics", target: "/metrics", header: []string{"Accept", "application/openmetrics-text;version=1.0.0"}},
	{name: "filter", target: "/metrics?name[]=vigil_master_up&name[]=vigil_failovers_aborted_total&name[]=vigil_current_epoch&name[]=go_goroutines"},
}

// serveScrape serves one request for /metrics with s's handler and returns the
// recorded response.
func serveScrape(t testing.TB, s *Server, c scrapeCase) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, c.target, nil)
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], c.header[i+1])
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

// isRuntimeMetric tells the go_* and process_* families, whose values
// change from one scrape to the next, from the others.
func isRuntimeMetric(name string) bool {
	return strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_")
}

// stableText renders a response as its status, headers and body, without
// the go_* and process_* families; the body is decompressed and, when in
// the protobuf format, rendered as text.
func stableText(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	h := rec.Result().Header
	var out strings.Builder
	fmt.Fprintf(&out, "Status: %d\n", rec.Code)
	for _, k := range []string{"Content-Type", "Content-Encoding", "Vary"} {
		fmt.Fprintf(&out, "%s: %s\n", k, strings.Join(h.Values(k), ", "))
	}
	out.WriteString("\n")

	var body io.Reader = bytes.NewReader(rec.Body.Bytes())
	if h.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		body = zr
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	if ct := h.Get("Content-Type"); ct != "" {
		format = expfmt.Format(ct)
	}
	if format.FormatType() != expfmt.TypeProtoDelim {
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
			if !isRuntimeMetric(name) {
				out.WriteString(line)
			}
		}
		return out.String()
	}
	dec := expfmt.NewDecoder(body, format)
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("decoding the protobuf response: %v", err)
		}
		if isRuntimeMetric(mf.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&out, &mf); err != nil {
			t.Fatalf("rendering %s: %v", mf.GetName(), err)
		}
	}
	return out.String()
}

// checkGolden compares got with testdata/name.golden, or rewrites the file
// under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, path, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+), in order.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	inWant, inGot := map[string]int{}, map[string]int{}
	for _, l := range wl {
		inWant[l]++
	}
	for _, l := range gl {
		inGot[l]++
	}
	var out strings.Builder
	for _, l := range wl {
		if inGot[l] == 0 {
			fmt.Fprintf(&out, "- %q\n", l)
		}
	}
	for _, l := range gl {
		if inWant[l] == 0 {
			fmt.Fprintf(&out, "+ %q\n", l)
		}
	}
	if out.Len() == 0 {
		out.WriteString("(same lines, different order)\n")
	}
	return out.String()
}

// TestMetricsGolden checks the whole /metrics output (but the go_* and
// process_* families) of a small node, for each way of asking for it,
// against the output captured before the per-master series were written
// without client_golang's registry.
func TestMetricsGolden(t *testing.T) {
	s := goldenServer(t, goldenStatus())
	for _, c := range scrapeCases {
		t.Run(c.name, func(t *testing.T) {
			checkGolden(t, "metrics-"+c.name, stableText(t, serveScrape(t, s, c)))
		})
	}
}

// TestMetricsGoldenInvalidLabels checks the output when a master name and a
// replica address are not valid label values (not UTF-8): their series are
// left out, the rest is served, and the error is counted.
func TestMetricsGoldenInvalidLabels(t *testing.T) {
	st := goldenStatus()
	st.Masters[1].Name = "be\xffta"
	st.Masters[2].Replicas[1].Addr = "10.0.0.\xff:6380"
	st.Peers[0].ID = "node-\xff"
	s := goldenServer(t, st)
	// The error of a scrape is counted after it: the first scrape shows
	// none, the second one, the third two.
	serveScrape(t, s, scrapeCases[0])
	checkGolden(t, "metrics-invalid", stableText(t, serveScrape(t, s, scrapeCases[0])))
	checkGolden(t, "metrics-invalid-protobuf", stableText(t, serveScrape(t, s, scrapeCases[4])))
}

// TestMetricsGoldenRepeated checks the output when a master and a replica
// are listed twice (the node never does): the series are exposed once, and
// the error is counted.
func TestMetricsGoldenRepeated(t *testing.T) {
	st := goldenStatus()
	st.Masters = append(st.Masters, st.Masters[0])
	st.Masters[2].Replicas = append(st.Masters[2].Replicas, st.Masters[2].Replicas[0])
	st.Peers = append(st.Peers, st.Peers[1])
	s := goldenServer(t, st)
	serveScrape(t, s, scrapeCases[0])
	checkGolden(t, "metrics-repeated", stableText(t, serveScrape(t, s, scrapeCases[0])))
}

// scaleStatus is a node monitoring n masters, each with the given number of
// replicas, all up and answering.
func scaleStatus(n, replicas int, now time.Time) sentinel.Status {
	st := sentinel.Status{NodeID: "node-a", CurrentEpoch: 3}
	for _, id := range []string{"node-b", "node-c"} {
		st.Peers = append(st.Peers, sentinel.PeerStatus{ID: id, Alive: true})
	}
	for i := range n {
		ms := sentinel.MasterStatus{
			Name: fmt.Sprintf("m%04d", i), ConfigEpoch: uint64(i % 5), Quorum: 2,
			LastOKPing: now.Add(-time.Duration(i) * time.Millisecond), UsablePeers: 3, QuorumReachable: true,
			MasterOffset: int64(1000 + i), Peers: []string{"node-b", "node-c"},
			Decision: sentinel.Decision{Reason: sentinel.ReasonMasterOK},
		}
		for r := range replicas {
			ms.Replicas = append(ms.Replicas, sentinel.ReplicaStatus{
				Addr: fmt.Sprintf("10.%d.%d.%d:6379", i/250, i%250, r+1), LinkUp: true,
				Offset: int64(990 + i), Lag: 10, Priority: 100, InfoAge: time.Second,
			})
		}
		st.Masters = append(st.Masters, ms)
	}
	return st
}

// BenchmarkScrape1000Masters serves /metrics for a node monitoring 1000
// masters (all of their event counters present), as curl asks for it, as
// Prometheus 3 does (text, gzip) and in the protobuf format (gzip). B/op is
// the garbage one scrape leaves.
func BenchmarkScrape1000Masters(b *testing.B) {
	for _, replicas := range []int{0, 2} {
		st := scaleStatus(1000, replicas, time.Now())
		node := newFakeNode(st)
		s := New(node, config.HTTPConfig{Listen: "127.0.0.1:0"}, nil)
		for _, c := range []scrapeCase{
			scrapeCases[0],
			{name: "prometheus3-gzip", target: "/metrics", header: append(scrapeCases[2].header[:2:2], "Accept-Encoding", "gzip")},
			scrapeCases[4], // protobuf, gzip
		} {
			b.Run(fmt.Sprintf("replicas=%d/%s", replicas, c.name), func(b *testing.B) {
				b.ReportAllocs()
				req := httptest.NewRequest(http.MethodGet, c.target, nil)
				for i := 0; i+1 < len(c.header); i += 2 {
					req.Header.Set(c.header[i], c.header[i+1])
				}
				w := &discardResponse{header: http.Header{}}
				for b.Loop() {
					clear(w.header)
					w.code, w.n = 0, 0
					s.handler.ServeHTTP(w, req)
					if w.code != http.StatusOK {
						b.Fatalf("GET /metrics = %d", w.code)
					}
				}
				b.ReportMetric(float64(w.n), "resp-bytes")
			})
		}
	}
}

// discardResponse is a ResponseWriter that keeps the status and the size of
// the body, not the body.
type discardResponse struct {
	header http.Header
	code   int
	n      int
}

func (w *discardResponse) Header() http.Header { return w.header }

func (w *discardResponse) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// TestMetricsTextMatchesPromhttp serves the same requests with the handler
// and with promhttp over the same families (built as dto), on two servers
// over the same node, and checks that status, headers and body (but the
// go_* and process_* families) are the same: the text nodeSeries writes,
// the content type and the compression it picks.
func TestMetricsTextMatchesPromhttp(t *testing.T) {
	invalid := goldenStatus()
	invalid.Masters[1].Name = "be\xffta"
	invalid.Masters[2].Replicas[1].Addr = "10.0.0.\xff:6380"
	invalid.Masters[3].Decision.Reason = "re\xffason"
	invalid.Peers[0].ID = "node-\xff"
	repeated := goldenStatus()
	repeated.Masters = append(repeated.Masters, repeated.Masters[0])
	repeated.Masters[2].Replicas = append(repeated.Masters[2].Replicas, repeated.Masters[2].Replicas[0])
	statuses := map[string]sentinel.Status{
		"golden":   goldenStatus(),
		"invalid":  invalid,
		"repeated": repeated,
		"scale":    scaleStatus(50, 2, goldenNow),
		"empty":    {NodeID: "node-a"},
	}
	accepts := []string{
		"",
		"text/plain",
		"text/plain;version=0.0.4",
		"text/plain;version=1.0.0;escaping=allow-utf-8",
		"text/plain;version=1.0.0;escaping=dots",
		"text/plain;version=1.0.0;escaping=values",
		"text/*;q=0.5, application/json",
		"*/*",
		"application/json",
		"application/openmetrics-text;version=1.0.0",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
		scrapeCases[1].header[1],
		scrapeCases[2].header[1],
	}
	encodings := [][]string{
		nil,
		{"gzip"},
		{"gzip, deflate, br"},
		{"GZIP"},
		{"gzip;q=0"},
		{"gzip;q=0.5, identity;q=0.8"},
		{"gzip;q=0.8, identity;q=0.5"},
		{"gzip;q=1.0, identity"},
		{"identity;q=0"},
		{"identity;q=0, gzip;q=0"},
		{"*"},
		{"*;q=0"},
		{"*;q=0.3, gzip;q=0.2"},
		{"br"},
		{"zstd"},
		{"zstd, gzip"},
		{"zstd;q=0"},
		{"gzip ; q=0.9 , zstd;q=0.1"},
		{"gzip;level=1"},
		{"x-y, gzip"},
		{"gzip;q=", "identity"},
		{"identity;q=0.1", "gzip;q=0.2"},
		{"@, gzip"},
	}
	// Each Accept with and without gzip, each Accept-Encoding with the
	// default Accept and Prometheus 3's.
	type request struct {
		accept    string
		encodings []string
	}
	var requests []request
	for _, a := range accepts {
		requests = append(requests, request{a, nil}, request{a, []string{"gzip"}})
	}
	for _, e := range encodings {
		requests = append(requests, request{"", e}, request{scrapeCases[2].header[1], e})
	}
	targets := []string{"/metrics", "/metrics?name[]=vigil_master_up&name[]=vigil_tilt&name[]=vigil_events_total&name[]=nope"}
	for name, st := range statuses {
		fast, ref := goldenServer(t, st), goldenServer(t, st)
		for _, target := range targets {
			for _, r := range requests {
				req := httptest.NewRequest(http.MethodGet, target, nil)
				if r.accept != "" {
					req.Header.Set("Accept", r.accept)
				}
				for _, e := range r.encodings {
					req.Header.Add("Accept-Encoding", e)
				}
				got, want := httptest.NewRecorder(), httptest.NewRecorder()
				fast.scrapes.ServeHTTP(got, req)
				ref.scrapes.fallback.ServeHTTP(want, req)
				if g, w := stableText(t, got), stableText(t, want); g != w {
					t.Errorf("%s: GET %s, Accept %q, Accept-Encoding %q:\n%s", name, target, r.accept, r.encodings, lineDiff(w, g))
				}
			}
		}
	}
}

// TestContentEncoding checks the port of promhttp's negotiation.
func TestContentEncoding(t *testing.T) {
	for _, tt := range []struct {
		header []string
		want   string
	}{
		{nil, encodingIdentity},
		{[]string{""}, encodingIdentity},
		{[]string{"gzip"}, encodingGzip},
		{[]string{"gzip, deflate, br, zstd"}, encodingGzip},
		{[]string{"zstd, gzip"}, encodingGzip},
		{[]string{"zstd"}, encodingZstd},
		{[]string{"br"}, encodingIdentity},
		{[]string{"GZIP"}, encodingIdentity},
		{[]string{"gzip;q=0"}, ""},
		{[]string{"gzip;q=0.5, identity;q=0.8"}, encodingIdentity},
		{[]string{"gzip;q=0.8, identity;q=0.5"}, encodingGzip},
		{[]string{"identity;q=0"}, ""},
		{[]string{"*"}, encodingIdentity},
		{[]string{"*;q=0"}, ""},
		{[]string{"*;q=0.3, gzip;q=0.4"}, encodingGzip},
		{[]string{"gzip;level=1"}, encodingIdentity},
		{[]string{"gzip ; q=0.9 , zstd;q=0.1"}, encodingGzip},
		{[]string{"@, gzip"}, encodingIdentity},
		{[]string{"@", "gzip"}, encodingGzip},
		{[]string{"identity;q=0.1", "gzip;q=0.2"}, encodingGzip},
		{[]string{"gzip;q=1.5"}, encodingGzip},
		{[]string{"gzip;q=2"}, encodingIdentity},
	} {
		h := http.Header{}
		for _, v := range tt.header {
			h.Add("Accept-Encoding", v)
		}
		if got := contentEncoding(h); got != tt.want {
			t.Errorf("contentEncoding(Accept-Encoding: %q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

// FuzzTextWriter checks that textWriter writes a series as expfmt writes
// the dto.Metric built for it, whatever the label values and value.
func FuzzTextWriter(f *testing.F) {
	f.Add("alpha", "10.0.0.1:6379", 1.0)
	f.Add("quo\"te\\back\nslash", "", 0.25)
	f.Add("", "\xff", -1.0)
	f.Add("m", "r", 1.23456789012e+11)
	f.Add("m", "r", math.Inf(-1))
	f.Add("m", "r", math.NaN())
	f.Add("m", "r", math.Copysign(0, -1))
	ns := newNodeSeries(newFakeNode(sentinel.Status{}), newEventMetrics(slog.New(slog.DiscardHandler)))
	f.Fuzz(func(t *testing.T, value1, value2 string, v float64) {
		for _, fam := range ns.families {
			var got bytes.Buffer
			tw := &textWriter{w: &got}
			tw.f = fam
			tw.add(value1, value2, v)
			tw.flush()
			d := dtoFamily{f: fam, mf: &dto.MetricFamily{Name: &fam.name, Help: &fam.help, Type: &fam.typ}, labels: dtoLabels{}}
			d.add(value1, value2, v)
			var want bytes.Buffer
			if _, err := expfmt.MetricFamilyToText(&want, d.mf); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("%s: textWriter wrote\n%q\nexpfmt\n%q", fam.name, got.String(), want.String())
			}
		}
	})
}

// TestNodeSeriesFamilies checks what textWriter relies on: names and label
// names that are valid legacy names (never quoted), label names in the
// order the registry sorts them, families sorted by name and each name
// reserved on the server's registry.
func TestNodeSeriesFamilies(t *testing.T) {
	s := New(newFakeNode(testStatus()), config.HTTPConfig{}, nil)
	for i, f := range s.series.families {
		if !model.LegacyValidation.IsValidMetricName(f.name) {
			t.Errorf("%s is not a valid legacy metric name", f.name)
		}
		if !slices.IsSorted(f.labels) {
			t.Errorf("%s has labels %q, not sorted", f.name, f.labels)
		}
		for _, l := range f.labels {
			if !model.LegacyValidation.IsValidLabelName(l) {
				t.Errorf("%s has label %q, not a valid legacy label name", f.name, l)
			}
		}
		if i > 0 && s.series.families[i-1].name >= f.name {
			t.Errorf("%s listed after %s", f.name, s.series.families[i-1].name)
		}
		if err := s.Registerer().Register(prometheus.NewGauge(prometheus.GaugeOpts{Name: f.name, Help: "clash"})); err == nil {
			t.Errorf("registering another %s succeeded", f.name)
		}
	}
	if len(s.series.families) != int(famLastFailoverDuration)+1 {
		t.Errorf("%d families, want %d", len(s.series.families), famLastFailoverDuration+1)
	}
}

// TestScrapeGarbage checks what the metrics handler allocates for a scrape
// of a node monitoring 1000 masters, in the text format: less than 1 KiB
// per master (through the registry it was about 11 KiB). The timeout
// handler's buffer and gzip's writer, whose cost is the response's size,
// are left out.
func TestScrapeGarbage(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	const n = 1000
	s := New(newFakeNode(scaleStatus(n, 0, time.Now())), config.HTTPConfig{}, nil)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", scrapeCases[2].header[1])
	w := &discardResponse{header: http.Header{}}
	s.scrapes.ServeHTTP(w, req)
	const runs = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		clear(w.header)
		w.code, w.n = 0, 0
		s.scrapes.ServeHTTP(w, req)
	}
	runtime.ReadMemStats(&after)
	if w.code != http.StatusOK || w.n < n*100 {
		t.Fatalf("GET /metrics = %d with %d bytes", w.code, w.n)
	}
	perMaster := (after.TotalAlloc - before.TotalAlloc) / runs / n
	t.Logf("a scrape of %d masters allocates %d bytes per master", n, perMaster)
	if perMaster >= 1024 {
		t.Errorf("a scrape of %d masters allocates %d bytes per master, want < 1024", n, perMaster)
	}
}
