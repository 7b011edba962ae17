package admin

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/theeye/eye"
)

// The size of a chart's drawing, in SVG units, and its margins.
const (
	chartW      = 600
	chartH      = 160
	chartLeft   = 44 // the y axis's labels
	chartRight  = 8
	chartTop    = 10
	chartBottom = 22 // the x axis's labels
)

// chart is a count per minute drawn in SVG by the template: bars when
// there are few minutes, an area when there are many.
type chart struct {
	Title string
	Kind  string // events or errors: the colour
	Total int64
	Peak  int64
	Bars  []chartBar
	Area  string // the path of the area, when there are no bars
	Line  string // the path of its top
	Grid  []chartMark
	Ticks []chartMark
	Top   float64 // the y of the plot's top
	Base  float64 // the y of zero
	Left  float64 // the x of the axis
	Right float64
}

// chartBar is one minute's bar, with its tooltip.
type chartBar struct {
	X, Y, W, H float64
	Tip        string
}

// chartMark is a line of the grid (Y) or a tick of the time axis (X).
type chartMark struct {
	X, Y  float64
	Label string
}

// series returns the count of each minute from start on (n minutes) out
// of the store's buckets, which hold only the minutes that count anything.
func series(buckets []eye.StatsBucket, start time.Time, n int, errors bool) []int64 {
	out := make([]int64, n)
	for _, b := range buckets {
		i := int(b.Start.Sub(start) / time.Minute)
		if i < 0 || i >= n {
			continue
		}
		if errors {
			out[i] += b.Errors
		} else {
			out[i] += b.Events
		}
	}
	return out
}

// newChart draws the counts of the minutes from start on, with a tick
// every tick (labelled as layout says) on the time axis.
func newChart(title, kind string, start time.Time, values []int64, tick time.Duration, layout string) chart {
	c := chart{Title: title, Kind: kind, Left: chartLeft, Right: chartW - chartRight, Top: chartTop, Base: chartH - chartBottom}
	for _, v := range values {
		c.Total += v
		c.Peak = max(c.Peak, v)
	}
	top := niceCeil(c.Peak)
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	y := func(v int64) float64 { return c.Base - float64(v)/float64(top)*plotH }
	step := plotW / float64(len(values))
	x := func(i int) float64 { return chartLeft + float64(i)*step }

	marks := []int64{0, top}
	if top >= 2 {
		marks = []int64{0, top / 2, top}
	}
	for _, f := range marks {
		c.Grid = append(c.Grid, chartMark{Y: round(y(f)), Label: compact(f)})
	}
	for i := range values {
		t := start.Add(time.Duration(i) * time.Minute)
		if t.Truncate(tick).Equal(t) {
			c.Ticks = append(c.Ticks, chartMark{X: round(x(i)), Label: t.UTC().Format(layout)})
		}
	}

	if len(values) <= 120 {
		for i, v := range values {
			if v == 0 {
				continue
			}
			t := start.Add(time.Duration(i) * time.Minute).UTC()
			unit := kind
			if v == 1 {
				unit = strings.TrimSuffix(kind, "s")
			}
			c.Bars = append(c.Bars, chartBar{X: round(x(i) + 0.5), Y: round(y(v)), W: round(max(step-1, 0.5)),
				H: round(c.Base - y(v)), Tip: t.Format("15:04") + " UTC: " + strconv.FormatInt(v, 10) + " " + unit})
		}
		return c
	}
	var area, line strings.Builder
	area.WriteString("M" + num(x(0)) + "," + num(c.Base))
	for i, v := range values {
		p := num(x(i)+step/2) + "," + num(y(v))
		area.WriteString("L" + p)
		if i == 0 {
			line.WriteString("M" + p)
		} else {
			line.WriteString("L" + p)
		}
	}
	area.WriteString("L" + num(x(len(values))) + "," + num(c.Base) + "Z")
	c.Area, c.Line = area.String(), line.String()
	return c
}

// niceCeil is the least of 1, 2, 4, 6, 8, 10, 20, 40, … that is at least
// n: the top of a chart's scale, whose half is a whole number too.
func niceCeil(n int64) int64 {
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 4, 6, 8} {
			if m*p >= n {
				return m * p
			}
		}
		if p > math.MaxInt64/100 {
			return n
		}
	}
}

// compact writes a count in few characters: 950, 1.2k, 35k, 4.5M.
func compact(n int64) string {
	switch {
	case n >= 1_000_000:
		return trimZero(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64)) + "M"
	case n >= 1000:
		return trimZero(strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64)) + "k"
	}
	return strconv.FormatInt(n, 10)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

func round(f float64) float64 { return math.Round(f*10) / 10 }

func num(f float64) string { return strconv.FormatFloat(round(f), 'f', -1, 64) }
