package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"
	"strings"

	"github.com/vigil-ha/vigil/internal/testbed"
)

// Plot geometry, in pixels.
const (
	plotWidth    = 1500
	plotMargin   = 20
	headerHeight = 110
	panelHeight  = 400
	panelTitle   = 40
	axisWidth    = 70
	labelsHeight = 46
	panelPadding = 14
	textScale    = 2
	titleScale   = 3
	glyphW       = 5
	glyphH       = 7
	glyphGap     = 1
	dotSize      = 6
	capHalf      = 8
)

// plotColors are the palette of the figure.
type plotColors struct {
	bg, fg, grid, axis color.RGBA
	kind               map[testbed.Kind]color.RGBA
}

func newPlotColors() plotColors {
	return plotColors{
		bg:   color.RGBA{255, 255, 255, 255},
		fg:   color.RGBA{30, 30, 30, 255},
		grid: color.RGBA{228, 228, 228, 255},
		axis: color.RGBA{120, 120, 120, 255},
		kind: map[testbed.Kind]color.RGBA{
			testbed.KindVigil:    {31, 119, 180, 255},
			testbed.KindSentinel: {230, 110, 10, 255},
		},
	}
}

// canvas draws rectangles and 5x7 text on an RGBA image.
type canvas struct {
	img *image.RGBA
}

func (c *canvas) rect(x0, y0, x1, y1 int, col color.RGBA) {
	if x1 < x0 {
		x0, x1 = x1, x0
	}
	if y1 < y0 {
		y0, y1 = y1, y0
	}
	draw.Draw(c.img, image.Rect(x0, y0, x1, y1), &image.Uniform{C: col}, image.Point{}, draw.Src)
}

// outline draws a rectangle's border, width 2.
func (c *canvas) outline(x0, y0, x1, y1 int, col color.RGBA) {
	c.rect(x0, y0, x1, y0+2, col)
	c.rect(x0, y1-2, x1, y1, col)
	c.rect(x0, y0, x0+2, y1, col)
	c.rect(x1-2, y0, x1, y1, col)
}

// textWidth is the width of s drawn at scale.
func textWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return n*(glyphW+glyphGap)*scale - glyphGap*scale
}

// text draws s with its top-left corner at (x, y). Characters the font
// lacks are drawn as a hollow box.
func (c *canvas) text(x, y int, s string, scale int, col color.RGBA) {
	for _, r := range s {
		g, ok := glyph(r)
		if !ok {
			g = [7]uint8{0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f}
		}
		for row := range glyphH {
			for bit := range glyphW {
				if g[row]&(1<<(glyphW-1-bit)) != 0 {
					c.rect(x+bit*scale, y+row*scale, x+(bit+1)*scale, y+(row+1)*scale, col)
				}
			}
		}
		x += (glyphW + glyphGap) * scale
	}
}

// centered draws s centred on cx.
func (c *canvas) centered(cx, y int, s string, scale int, col color.RGBA) {
	c.text(cx-textWidth(s, scale)/2, y, s, scale, col)
}

// lighten mixes col with white: f=0 is col, f=1 white.
func lighten(col color.RGBA, f float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(float64(v) + (255-float64(v))*f) }
	return color.RGBA{mix(col.R), mix(col.G), mix(col.B), 255}
}

// darken scales col towards black.
func darken(col color.RGBA, f float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(float64(v) * (1 - f)) }
	return color.RGBA{mix(col.R), mix(col.G), mix(col.B), 255}
}

// niceStep returns a round tick step (1, 2 or 5 times a power of ten) that
// splits span into about five intervals.
func niceStep(span float64) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

// fmtTick renders a tick value in seconds without trailing zeros.
func fmtTick(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// plotSeries is one column of a panel: a metric for one kind.
type plotSeries struct {
	kind   testbed.Kind
	label  string
	values []float64 // seconds
}

// plotFailover draws, for every (down-after, fault) case, box plots with
// the individual runs of "every node answers the new master" and "first
// acknowledged write on the new master" for each kind, and returns the PNG.
func plotFailover(res *Results) ([]byte, error) {
	st := res.Settings
	cols, rows := len(st.Faults), len(st.DownAfterMS)
	if cols == 0 || rows == 0 {
		return nil, fmt.Errorf("plot: nothing to draw")
	}
	pal := newPlotColors()
	height := headerHeight + rows*panelHeight + plotMargin
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, plotWidth, height))}
	c.rect(0, 0, plotWidth, height, pal.bg)

	runs := "1 RUN"
	if st.Runs != 1 {
		runs = fmt.Sprintf("%d RUNS", st.Runs)
	}
	c.text(plotMargin, plotMargin, "FAILOVER TIMES, VIGIL VS REDIS-SENTINEL ("+runs+" PER CASE, SECONDS)", titleScale, pal.fg)
	x := plotMargin
	y := plotMargin + 40
	for _, k := range st.Kinds {
		col := pal.kind[k]
		c.rect(x, y, x+18, y+14, col)
		name := strings.ToUpper(string(k))
		if k == testbed.KindSentinel {
			name = "REDIS-SENTINEL"
		}
		c.text(x+26, y, name, textScale, pal.fg)
		x += 26 + textWidth(name, textScale) + 40
	}
	c.text(plotMargin, y+28, "ADDR: FAULT TO EVERY NODE ANSWERING THE NEW MASTER.  WRITE: FAULT TO FIRST ACKED WRITE ON THE NEW MASTER.", textScale, pal.axis)

	t := newTable(res)
	panelW := (plotWidth - 2*plotMargin) / cols
	for ri, da := range st.DownAfterMS {
		for ci, f := range st.Faults {
			x0 := plotMargin + ci*panelW
			y0 := headerHeight + ri*panelHeight
			var series []plotSeries
			for _, m := range []struct{ key, label string }{{mAllNodes, "ADDR"}, {mFirstWrite, "WRITE"}} {
				for _, k := range st.Kinds {
					s := t.stat(caseKey{da, f, k}, m.key)
					secs := make([]float64, len(s.values))
					for i, v := range s.values {
						secs[i] = v / 1000
					}
					series = append(series, plotSeries{kind: k, label: m.label, values: secs})
				}
			}
			title := fmt.Sprintf("%s, DOWN-AFTER %d MS", shortFaultName(f), da)
			drawPanel(c, pal, x0, y0, panelW, panelHeight, title, series)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, c.img); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	return buf.Bytes(), nil
}

// drawPanel draws one case's box plots in the rectangle (x0, y0, w, h).
func drawPanel(c *canvas, pal plotColors, x0, y0, w, h int, title string, series []plotSeries) {
	c.text(x0+panelPadding, y0+12, title, textScale, pal.fg)
	left := x0 + panelPadding + axisWidth
	right := x0 + w - panelPadding
	top := y0 + panelTitle + 10
	bottom := y0 + h - labelsHeight
	maxV := 0.0
	for _, s := range series {
		for _, v := range s.values {
			maxV = max(maxV, v)
		}
	}
	step := niceStep(maxV * 1.05)
	yMax := math.Ceil(maxV*1.05/step) * step
	if yMax <= 0 {
		yMax = step
	}
	yOf := func(v float64) int { return bottom - int(math.Round(v/yMax*float64(bottom-top))) }

	for v := 0.0; v <= yMax+step/2; v += step {
		y := yOf(v)
		c.rect(left, y, right, y+1, pal.grid)
		label := fmtTick(math.Round(v*1000) / 1000)
		c.text(left-10-textWidth(label, textScale), y-glyphH*textScale/2, label, textScale, pal.axis)
	}
	c.rect(left, top, left+2, bottom+1, pal.axis)
	c.rect(left, bottom, right, bottom+2, pal.axis)

	n := len(series)
	colW := (right - left) / max(n, 1)
	for i, s := range series {
		cx := left + colW*i + colW/2
		col := pal.kind[s.kind]
		c.centered(cx, bottom+10, s.label, textScale, pal.fg)
		c.rect(cx-9, bottom+30, cx+9, bottom+38, col)
		if len(s.values) == 0 {
			c.centered(cx, bottom-30, "NO DATA", textScale, pal.axis)
			continue
		}
		sorted := s.values // already sorted by summarize
		q1, med, q3 := quantile(sorted, 0.25), quantile(sorted, 0.5), quantile(sorted, 0.75)
		lo, hi := sorted[0], sorted[len(sorted)-1]
		boxHalf := colW / 4
		// Whiskers and caps.
		c.rect(cx-1, yOf(hi), cx+1, yOf(q3), pal.axis)
		c.rect(cx-1, yOf(q1), cx+1, yOf(lo), pal.axis)
		c.rect(cx-capHalf, yOf(hi)-1, cx+capHalf, yOf(hi)+1, pal.axis)
		c.rect(cx-capHalf, yOf(lo)-1, cx+capHalf, yOf(lo)+1, pal.axis)
		// Box and median.
		c.rect(cx-boxHalf, yOf(q3), cx+boxHalf, yOf(q1)+1, lighten(col, 0.7))
		c.outline(cx-boxHalf, yOf(q3)-1, cx+boxHalf, yOf(q1)+2, col)
		c.rect(cx-boxHalf, yOf(med)-2, cx+boxHalf, yOf(med)+2, darken(col, 0.35))
		// One dot per run, spread across the box.
		for j, v := range sorted {
			dx := 0
			if len(sorted) > 1 {
				dx = -boxHalf/2 + j*boxHalf/(len(sorted)-1)
			}
			y := yOf(v)
			c.rect(cx+dx-dotSize/2, y-dotSize/2, cx+dx+dotSize/2, y+dotSize/2, darken(col, 0.5))
		}
	}
}

// shortFaultName is a panel title's name for f.
func shortFaultName(f testbed.Fault) string {
	switch f {
	case testbed.FaultKill9:
		return "KILL -9"
	case testbed.FaultSigstop:
		return "SIGSTOP"
	case testbed.FaultManual:
		return "MANUAL FAILOVER"
	}
	return strings.ToUpper(string(f))
}
