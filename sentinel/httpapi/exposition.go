package httpapi

import (
	"compress/gzip"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// metricsHandler serves GET /metrics: the registry's families (Go runtime,
// process, events_total, webhook deliveries, its own errors) and those of
// nodeSeries, merged by name as one registry would list them.
//
// It answers as promhttp.HandlerFor the registry with ContinueOnError
// would: same formats, compressions, headers, name[] filter, error log and
// promhttp_metric_handler_errors_total. In the text format, which
// Prometheus asks for unless configured to scrape protobuf, it writes
// nodeSeries' families itself (textWriter) and the registry's with expfmt,
// gzipped when asked; for any other format or compression it hands the
// request to promhttp (fallback), with nodeSeries' families built as
// dto.MetricFamily.
type metricsHandler struct {
	reg    *prometheus.Registry
	series *nodeSeries
	// errors is promhttp_metric_handler_errors_total, shared with
	// fallback.
	errors   *prometheus.CounterVec
	log      promhttp.Logger
	fallback http.Handler
	// gzips holds *gzip.Writer for reuse, as promhttp's pool does.
	gzips sync.Pool
}

// newMetricsHandler builds the handler of reg and series and registers its
// error counter on reg. errLog gets the errors of gathering and encoding.
func newMetricsHandler(reg *prometheus.Registry, series *nodeSeries, errLog promhttp.Logger) *metricsHandler {
	h := &metricsHandler{reg: reg, series: series, log: errLog}
	// promhttp registers the same counter on reg and, finding this one
	// already there, uses it: both paths count into it.
	h.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Total number of internal errors encountered by the promhttp metric handler.",
	}, []string{"cause"})
	h.errors.WithLabelValues(errorGathering)
	h.errors.WithLabelValues(errorEncoding)
	reg.MustRegister(h.errors)
	h.fallback = promhttp.HandlerFor(prometheus.GathererFunc(h.gather), promhttp.HandlerOpts{
		ErrorLog:      errLog,
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
	h.gzips.New = func() any { return gzip.NewWriter(nil) }
	return h
}

// The causes of promhttp_metric_handler_errors_total.
const (
	errorGathering = "gathering"
	errorEncoding  = "encoding"
)

// gather is the registry's families and nodeSeries', as dto, sorted by
// name: what fallback serves.
func (h *metricsHandler) gather() ([]*dto.MetricFamily, error) {
	mfs, err := h.reg.Gather()
	sc := h.series.scrape()
	labels := dtoLabels{}
	for _, f := range h.series.families {
		if mf := sc.metricFamily(f, labels); mf != nil {
			mfs = append(mfs, mf)
		}
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, errors.Join(err, sc.err)
}

// ServeHTTP implements http.Handler.
func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	encoding := contentEncoding(r.Header)
	if format.FormatType() != expfmt.TypeTextPlain || (encoding != encodingIdentity && encoding != encodingGzip) {
		h.fallback.ServeHTTP(w, r)
		return
	}

	mfs, err := h.reg.Gather()
	sc := h.series.scrape()
	// With ContinueOnError, promhttp fails only a scrape without any
	// metric; nodeSeries always has vigil_current_epoch and vigil_tilt.
	if err := errors.Join(err, sc.err); err != nil {
		if h.log != nil {
			h.log.Println("error gathering metrics:", err)
		}
		h.errors.WithLabelValues(errorGathering).Inc()
	}

	header := w.Header()
	header.Add("Vary", "Accept")
	header.Add("Vary", "Accept-Encoding")
	header.Set("Content-Type", string(format))
	var out io.Writer = w
	if encoding == encodingGzip {
		gz := h.gzips.Get().(*gzip.Writer)
		gz.Reset(w)
		defer func() {
			_ = gz.Close()
			h.gzips.Put(gz)
		}()
		header.Set("Content-Encoding", encodingGzip)
		out = gz
	}

	var filter map[string]struct{}
	if r.URL != nil {
		if names := r.URL.Query()["name[]"]; len(names) > 0 {
			filter = make(map[string]struct{}, len(names))
			for _, name := range names {
				filter[name] = struct{}{}
			}
		}
	}
	wanted := func(name string) bool {
		if filter == nil {
			return true
		}
		_, ok := filter[name]
		return ok
	}

	enc := expfmt.NewEncoder(out, format)
	tw := &textWriter{w: out, buf: make([]byte, 0, textChunk)}
	families := h.series.families
	for i, j := 0, 0; i < len(mfs) || j < len(families); {
		if j == len(families) || (i < len(mfs) && mfs[i].GetName() < families[j].name) {
			mf := mfs[i]
			i++
			if wanted(mf.GetName()) {
				h.encodingError(enc.Encode(mf))
			}
			continue
		}
		f := families[j]
		j++
		if wanted(f.name) {
			h.encodingError(tw.family(sc, f))
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		h.encodingError(closer.Close())
	}
}

// encodingError logs and counts an error writing a family, as promhttp
// does; the other families are still written.
func (h *metricsHandler) encodingError(err error) {
	if err == nil {
		return
	}
	if h.log != nil {
		h.log.Println("error encoding and sending metric family:", err)
	}
	h.errors.WithLabelValues(errorEncoding).Inc()
}

// Content encodings of /metrics.
const (
	encodingIdentity = "identity"
	encodingGzip     = "gzip"
	encodingZstd     = "zstd"
)

// contentEncoding is the encoding promhttp picks for a request, among
// identity, gzip and zstd, from its Accept-Encoding: "" when the client
// refuses them all. It is promhttp's negotiation (the gddo httputil's
// NegotiateContentEncoding) to the letter. promhttp offers zstd only when
// the binary links its zstd package; the answer is identity or gzip exactly
// when promhttp's would be, with or without zstd.
func contentEncoding(h http.Header) string {
	specs := parseAcceptEncoding(h)
	best, bestQ := encodingIdentity, -1.0
	for _, offer := range [...]string{encodingIdentity, encodingGzip, encodingZstd} {
		for _, s := range specs {
			if s.q > bestQ && (s.value == "*" || s.value == offer) {
				best, bestQ = offer, s.q
			}
		}
	}
	if bestQ == 0 {
		return ""
	}
	return best
}

// acceptSpec is one coding of an Accept-Encoding header and its quality.
type acceptSpec struct {
	value string
	q     float64
}

// parseAcceptEncoding parses the Accept-Encoding headers as the gddo
// httputil's header.ParseAccept does: each header is read up to its first
// malformed element.
func parseAcceptEncoding(h http.Header) []acceptSpec {
	var specs []acceptSpec
	for _, s := range h["Accept-Encoding"] {
		for {
			var spec acceptSpec
			spec.value, s = expectTokenSlash(s)
			if spec.value == "" {
				break
			}
			spec.q = 1
			s = skipSpace(s)
			if strings.HasPrefix(s, ";") {
				s = skipSpace(s[1:])
				if !strings.HasPrefix(s, "q=") {
					break
				}
				spec.q, s = expectQuality(s[2:])
				if spec.q < 0 {
					break
				}
			}
			specs = append(specs, spec)
			s = skipSpace(s)
			if !strings.HasPrefix(s, ",") {
				break
			}
			s = skipSpace(s[1:])
		}
	}
	return specs
}

// isSpace tells the bytes header parsing skips.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// isTokenChar tells the bytes of an HTTP token: US-ASCII but controls and
// separators.
func isTokenChar(c byte) bool {
	return c > 31 && c < 127 && !strings.ContainsRune(" \t\"(),/:;<=>?@[]\\{}", rune(c))
}

func skipSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

func expectTokenSlash(s string) (token, rest string) {
	i := 0
	for i < len(s) && (isTokenChar(s[i]) || s[i] == '/') {
		i++
	}
	return s[:i], s[i:]
}

func expectQuality(s string) (q float64, rest string) {
	switch {
	case len(s) == 0:
		return -1, ""
	case s[0] == '0':
		q = 0
	case s[0] == '1':
		q = 1
	default:
		return -1, ""
	}
	s = s[1:]
	if !strings.HasPrefix(s, ".") {
		return q, s
	}
	s = s[1:]
	i, n, d := 0, 0, 1
	for ; i < len(s); i++ {
		b := s[i]
		if b < '0' || b > '9' {
			break
		}
		n = n*10 + int(b) - '0'
		d *= 10
	}
	return q + float64(n)/float64(d), s[i:]
}

// textChunk is how much text textWriter gathers before passing it on.
const textChunk = 32 << 10

// textWriter writes families of a scrape in the text exposition format,
// byte for byte as expfmt.MetricFamilyToText writes the dto.MetricFamily of
// the same series, with no allocation per series. The families' names and
// label names are valid legacy names, so they are never quoted.
type textWriter struct {
	w   io.Writer
	buf []byte
	// f is the family being written, n how many of its series were.
	f   *family
	n   int
	err error
}

// family writes f's series in sc, if it has any, and returns the first
// error writing them; the family is cut short at that error, as expfmt
// cuts it.
func (t *textWriter) family(sc *scrape, f *family) error {
	t.f, t.n, t.err = f, 0, nil
	sc.walk(f, t)
	t.flush()
	return t.err
}

// add implements sink.
func (t *textWriter) add(value1, value2 string, v float64) {
	if t.err != nil {
		return
	}
	f, b := t.f, t.buf
	if t.n == 0 {
		b = append(b, f.header...)
	}
	t.n++
	b = append(b, f.name...)
	if len(f.labels) > 0 {
		b = append(b, '{')
		b = appendLabel(b, f.labels[0], value1)
		if len(f.labels) > 1 {
			b = append(b, ',')
			b = appendLabel(b, f.labels[1], value2)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	t.buf = append(b, '\n')
	if len(t.buf) >= textChunk-1024 {
		t.flush()
	}
}

// flush passes the text gathered on to w.
func (t *textWriter) flush() {
	if len(t.buf) > 0 && t.err == nil {
		_, t.err = t.w.Write(t.buf)
	}
	t.buf = t.buf[:0]
}

// textHeader is the HELP and TYPE lines of f.
func textHeader(f *family) string {
	b := append([]byte("# HELP "), f.name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	switch f.typ {
	case dto.MetricType_COUNTER:
		b = append(b, " counter\n"...)
	default:
		b = append(b, " gauge\n"...)
	}
	return string(b)
}

// appendLabel appends name="value".
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped appends s with backslash and newline escaped and, when
// quoted, the double quote: the escaping of HELP text and label values.
func appendEscaped(b []byte, s string, quoted bool) []byte {
	if !strings.ContainsAny(s, "\\\n\"") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quoted:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat appends f as expfmt writes a sample value.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// dtoLabels are the label pairs of the dto families of one gather, by name
// and value: all the series of a master share its pair.
type dtoLabels map[[2]string]*dtoLabel

// dtoLabel is one label pair of dtoLabels.
type dtoLabel struct {
	pair  dto.LabelPair
	value string
	// one is the labels of a series with this label alone.
	one [1]*dto.LabelPair
}

// get returns the pair of label name and value, created on first use.
func (l dtoLabels) get(name *string, value string) *dtoLabel {
	key := [2]string{*name, value}
	if x, ok := l[key]; ok {
		return x
	}
	x := &dtoLabel{value: value}
	x.pair.Name, x.pair.Value = name, &x.value
	x.one[0] = &x.pair
	l[key] = x
	return x
}

// dtoGauge and dtoCounter are one series of a family built as dto, in one
// allocation.
type (
	dtoGauge struct {
		metric dto.Metric
		gauge  dto.Gauge
		value  float64
		labels [2]*dto.LabelPair
	}
	dtoCounter struct {
		metric  dto.Metric
		counter dto.Counter
		value   float64
		labels  [2]*dto.LabelPair
	}
)

// dtoFamily is a sink building a dto.MetricFamily as the registry would
// from constant metrics.
type dtoFamily struct {
	f      *family
	mf     *dto.MetricFamily
	labels dtoLabels
}

// add implements sink.
func (d *dtoFamily) add(value1, value2 string, v float64) {
	var m *dto.Metric
	var pairs *[2]*dto.LabelPair
	if d.f.typ == dto.MetricType_COUNTER {
		s := &dtoCounter{value: v}
		s.counter.Value = &s.value
		s.metric.Counter = &s.counter
		m, pairs = &s.metric, &s.labels
	} else {
		s := &dtoGauge{value: v}
		s.gauge.Value = &s.value
		s.metric.Gauge = &s.gauge
		m, pairs = &s.metric, &s.labels
	}
	switch len(d.f.labels) {
	case 1:
		m.Label = d.labels.get(&d.f.labels[0], value1).one[:]
	case 2:
		pairs[0] = &d.labels.get(&d.f.labels[0], value1).pair
		pairs[1] = &d.labels.get(&d.f.labels[1], value2).pair
		m.Label = pairs[:]
	}
	d.mf.Metric = append(d.mf.Metric, m)
}

// metricFamily is f's series in sc as a dto.MetricFamily, or nil when f
// has none. It shares f's name, help and label names, and the label pairs
// in labels with the other families of the gather.
func (sc *scrape) metricFamily(f *family, labels dtoLabels) *dto.MetricFamily {
	d := dtoFamily{f: f, mf: &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: &f.typ}, labels: labels}
	sc.walk(f, &d)
	if len(d.mf.Metric) == 0 {
		return nil
	}
	return d.mf
}
