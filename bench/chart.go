package main

import (
	"fmt"
	"math"
	"strings"
)

// chart draws durable Set throughput against the number of writers, one line
// per durable system, as a self-contained SVG.
func chart(results []result, chosen []system, writers []int) string {
	const (
		width, height            = 760, 440
		left, right, top, bottom = 80, 200, 40, 60
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	values := map[string]map[int]float64{}
	maxY := 0.0
	for _, r := range results {
		var w int
		if _, err := fmt.Sscanf(r.workload, "set/writers=%d", &w); err != nil {
			continue
		}
		if values[r.system] == nil {
			values[r.system] = map[int]float64{}
		}
		values[r.system][w] = r.perSecond
		maxY = math.Max(maxY, r.perSecond)
	}
	// Only durable systems share the axis: the others are in the table.
	maxY = 0
	for _, s := range chosen {
		if s.durable {
			for _, v := range values[s.name] {
				maxY = math.Max(maxY, v)
			}
		}
	}
	if maxY == 0 || len(writers) == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg"/>`
	}
	step := niceStep(maxY / 5)
	maxY = math.Ceil(maxY/step) * step
	minX, maxX := math.Log2(float64(writers[0])), math.Log2(float64(writers[len(writers)-1]))
	x := func(w int) float64 {
		if maxX == minX {
			return left + plotW/2
		}
		return left + (math.Log2(float64(w))-minX)/(maxX-minX)*plotW
	}
	y := func(v float64) float64 { return top + plotH - v/maxY*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">Durable Set throughput (writes/s) by number of writers</text>`+"\n", left)
	for v := 0.0; v <= maxY+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, left+plotW, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y(v)+4, thousands(v))
	}
	for _, w := range writers {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.0f" stroke="#eee"/>`+"\n", x(w), x(w), top, top+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", x(w), top+plotH+18, w)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">concurrent writers</text>`+"\n", left+plotW/2, height-14)
	colors := []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}
	line := 0
	for _, s := range chosen {
		if !s.durable || values[s.name] == nil {
			continue
		}
		color := colors[line%len(colors)]
		var pts []string
		for _, w := range writers {
			if v, ok := values[s.name][w]; ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(w), y(v)))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(w), y(v), color)
			}
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), color)
		ly := top + 10 + line*20
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", left+plotW+16, left+plotW+36, ly, ly, color)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%s</text>`+"\n", left+plotW+42, ly+4, s.name)
		line++
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// findChart draws the search workloads (find/…) as groups of horizontal
// bars, one per system that ran them, on a logarithmic axis of finds per
// second: the indexed and unindexed figures differ by orders of magnitude.
func findChart(results []result, chosen []system) string {
	values := map[string]map[string]float64{}
	var workloads []string
	maxV, minV := 0.0, math.Inf(1)
	for _, r := range results {
		if !strings.HasPrefix(r.workload, "find/") || r.perSecond <= 0 {
			continue
		}
		if values[r.workload] == nil {
			values[r.workload] = map[string]float64{}
			workloads = append(workloads, r.workload)
		}
		values[r.workload][r.system] = r.perSecond
		maxV, minV = math.Max(maxV, r.perSecond), math.Min(minV, r.perSecond)
	}
	var systems []system
	for _, s := range chosen {
		for _, w := range workloads {
			if _, ok := values[w][s.name]; ok {
				systems = append(systems, s)
				break
			}
		}
	}
	if len(workloads) == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg"/>`
	}
	const left, right, top, bar, gap = 130, 40, 50, 14, 16
	const width = 760
	plotW := float64(width - left - right)
	lo, hi := math.Floor(math.Log10(minV)), math.Ceil(math.Log10(maxV))
	if hi == lo {
		hi++
	}
	x := func(v float64) float64 { return left + (math.Log10(v)-lo)/(hi-lo)*plotW }
	groupH := len(systems)*bar + gap
	height := top + len(workloads)*groupH + 60 + len(systems)*18
	colors := []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">Find: first page of 50 and the total (finds/s, log scale)</text>`+"\n", left)
	plotBottom := top + len(workloads)*groupH
	for e := lo; e <= hi; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>`+"\n", x(v), x(v), top-6, plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), plotBottom+16, thousands(v))
	}
	for i, w := range workloads {
		y0 := top + i*groupH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y0+len(systems)*bar/2+4, w)
		for j, s := range systems {
			v, ok := values[w][s.name]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y0+j*bar, math.Max(x(v)-left, 1), bar-2, colors[j%len(colors)])
		}
	}
	for j, s := range systems {
		ly := plotBottom + 40 + j*18
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", left, ly-10, colors[j%len(colors)])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+18, ly, s.name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
