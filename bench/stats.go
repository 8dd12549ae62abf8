package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/vigil-ha/vigil/internal/testbed"
)

// caseKey identifies one (down-after, fault, kind) case.
type caseKey struct {
	downAfterMS int64
	fault       testbed.Fault
	kind        testbed.Kind
}

// stat summarises one metric of one case.
type stat struct {
	n                int // runs that measured it
	min, median, max float64
	values           []float64
}

func (s stat) ok() bool { return s.n > 0 }

// summarize returns min, median and max of values (median of an even count:
// mean of the middle two).
func summarize(values []float64) stat {
	if len(values) == 0 {
		return stat{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{n: len(v), min: v[0], median: med, max: v[len(v)-1], values: v}
}

// quantile returns the q-quantile (0..1) of sorted values by linear
// interpolation.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return sorted[lo]*(1-frac) + sorted[hi]*frac
}

// table groups the successful runs' metrics by case.
type table struct {
	res   *Results
	cases map[caseKey][]RunResult
}

func newTable(res *Results) *table {
	t := &table{res: res, cases: map[caseKey][]RunResult{}}
	for _, r := range res.Failover {
		k := caseKey{r.DownAfterMS, r.Fault, r.Kind}
		t.cases[k] = append(t.cases[k], r)
	}
	return t
}

// runs returns (successful, total) runs of a case.
func (t *table) runs(k caseKey) (int, int) {
	ok := 0
	for _, r := range t.cases[k] {
		if r.OK {
			ok++
		}
	}
	return ok, len(t.cases[k])
}

// stat summarises metric over the successful runs of a case.
func (t *table) stat(k caseKey, metric string) stat {
	var vals []float64
	for _, r := range t.cases[k] {
		if !r.OK {
			continue
		}
		if v, ok := r.Metrics[metric]; ok {
			vals = append(vals, v)
		}
	}
	return summarize(vals)
}

// total sums metric over the successful runs of a case and counts the runs
// where it was above zero.
func (t *table) total(k caseKey, metric string) (sum float64, nonzero, runs int) {
	for _, r := range t.cases[k] {
		if !r.OK {
			continue
		}
		if v, ok := r.Metrics[metric]; ok {
			sum += v
			runs++
			if v > 0 {
				nonzero++
			}
		}
	}
	return sum, nonzero, runs
}

// ratio renders vigil's median over sentinel's, or "—" when undefined.
func ratio(v, s stat) string {
	if !v.ok() || !s.ok() {
		return "—"
	}
	switch {
	case s.median == 0 && v.median == 0:
		return "—"
	case s.median == 0:
		return "∞"
	}
	return fmt.Sprintf("%.2f×", v.median/s.median)
}

// fmtValue renders a metric value: milliseconds with no decimals (one below
// 10 ms), counts as integers.
func fmtValue(v float64, unit string) string {
	if unit == "" {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// fmtStat renders "min / median / max".
func fmtStat(s stat, unit string) string {
	if !s.ok() {
		return "—"
	}
	return fmtValue(s.min, unit) + " / " + fmtValue(s.median, unit) + " / " + fmtValue(s.max, unit)
}
