package main

import (
	"fmt"
	"io"
	"math"
)

// A target compares one measured figure with a goal: PASS, MISS, or "not
// measured" when a row it needs is missing (workload not run, system
// skipped or failed).
type target struct {
	what    string
	value   float64 // NaN: not measured
	unit    string  // "x", " records/fsync", ...
	goal    string
	pass    bool
	comment string
}

func (g target) result() string {
	switch {
	case math.IsNaN(g.value):
		return "not measured"
	case g.pass:
		return "PASS"
	}
	return "MISS"
}

// rowRatio is the median of the per-round ratios a/b in t (median over
// median when the rounds do not pair up); NaN when a row is missing.
func rowRatio(t *table, a, b string) float64 {
	va, vb := t.vals(a), t.vals(b)
	if len(va) == 0 || len(vb) == 0 {
		return math.NaN()
	}
	return ratio(va, vb)
}

func atLeast(what string, v, goal float64, comment string) target {
	return target{what: what, value: v, unit: "x", goal: fmt.Sprintf("≥ %gx", goal), pass: v >= goal, comment: comment}
}

func atMost(what string, v, goal float64, comment string) target {
	return target{what: what, value: v, unit: "x", goal: fmt.Sprintf("≤ %gx", goal), pass: v <= goal, comment: comment}
}

func targets(p params, r *results) []target {
	var out []target
	bestPeer := func(t *table) (string, string) {
		b := t.best(kindPeer)
		if b == "" {
			return "", "no peer measured"
		}
		return b, "best peer: " + b
	}
	// Workload 1.
	out = append(out, atLeast("W1 100 B append: producer ÷ log.Log", rowRatio(r.w1, nameCLProducer, nameCLLog), 0.7, ""))
	b, c := bestPeer(r.w1)
	out = append(out, atLeast("W1 100 B append: producer ÷ best peer", rowRatio(r.w1, nameCLProducer, b), 2, c))
	// Workload 2.
	out = append(out, atLeast("W2 1 KiB append: producer ÷ log.Log", rowRatio(r.w2, nameCLProducer, nameCLLog), 0.8, ""))
	out = append(out, atLeast("W2 1 KiB append: producer ÷ write(2)", rowRatio(r.w2, nameCLProducer, nameWrite), 0.5, "write(2) per batch, no fsync"))
	// Workload 3.
	out = append(out, atLeast("W3 sequential read: consumer ÷ read(2)", rowRatio(r.w3, nameCLConsumer, nameRead), 0.4, "read(2) with the same verification of every value"))
	b, c = bestPeer(r.w3)
	out = append(out, atLeast("W3 sequential read: consumer ÷ best peer", rowRatio(r.w3, nameCLConsumer, b), 3, c))
	// Workload 4: time per lookup against raft-wal's, at every size, then
	// the growth from the smallest to the largest size measured.
	for _, n := range r.w4sizes {
		t := r.w4[n]
		for _, row := range []string{nameCLLog, nameCLConsumer} {
			out = append(out, atMost(fmt.Sprintf("W4 random read at %s records: %s ÷ raft-wal (time)", si(float64(n)), shortRef(row)),
				rowRatio(t, row, "hashicorp/raft-wal"), 0.5, ""))
		}
	}
	if r.w4growth != nil {
		for _, row := range []string{nameCLLog, nameCLConsumer} {
			v := math.NaN()
			if vals := r.w4growth.vals(row); len(vals) > 0 {
				v = median(vals)
			}
			comment := ""
			if r.w4small != 1e5 || r.w4large != 1e7 {
				comment = fmt.Sprintf("the target is 10^7 ÷ 10^5; this run compares %s ÷ %s records", si(float64(r.w4large)), si(float64(r.w4small)))
			}
			out = append(out, atMost(fmt.Sprintf("W4 random read growth: %s, largest ÷ smallest log", shortRef(row)), v, 1.2, comment))
		}
	} else {
		out = append(out, atMost("W4 random read growth (needs two sizes)", math.NaN(), 1.2, ""))
	}
	// Workload 5: SendSync at 100k records/s, or a tenth of the async path.
	{
		g := target{what: "W5 one-goroutine SendSync, default config", value: math.NaN(), goal: "≥ 100k records/s or ≥ 0.1x async"}
		sync, async := r.w5.vals(nameW5Sync), r.w5.vals(nameW5Async)
		if len(sync) > 0 && len(async) > 0 {
			rate, rel := median(sync), ratio(sync, async)
			g.value, g.unit = rate, " records/s"
			g.pass = rate >= 100e3 || rel >= 0.1
			g.comment = fmt.Sprintf("%.3gx the async path (%s records/s)", rel, si(median(async)))
		}
		out = append(out, g)
	}
	// Workload 6: group commit through the producer.
	for _, w := range p.senders {
		var goal float64
		switch w {
		case 8:
			goal = 7
		case 64:
			goal = 40
		default:
			continue
		}
		g := target{what: fmt.Sprintf("W6 durable, %d senders: producer records per fsync", w), value: math.NaN(), unit: " records/fsync", goal: fmt.Sprintf("≥ %g", goal)}
		if t := r.w6[w]; t != nil {
			if row := t.rows[nameCLProducer]; row != nil && len(row.extra) > 0 {
				g.value = median(row.extra)
				g.pass = g.value >= goal
			}
			if v := rowRatio(t, nameCLProducer, namePwrite); !math.IsNaN(v) {
				g.comment = fmt.Sprintf("records/s %.2fx %d concurrent pwrite+fdatasync", v, w)
			}
		}
		out = append(out, g)
	}
	return out
}

func printTargets(w io.Writer, p params, r *results) {
	fmt.Fprintf(w, "\n## Targets\n\n")
	if !p.fullMode {
		fmt.Fprintln(w, "(quick mode: one round of small sizes, a smoke run; judge the targets on a full run)")
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| target | measured | goal | result | note |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, g := range targets(p, r) {
		m := "-"
		if !math.IsNaN(g.value) {
			if g.unit == "x" {
				m = fmt.Sprintf("%.2fx", g.value)
			} else {
				m = si(g.value) + g.unit
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", g.what, m, g.goal, g.result(), g.comment)
	}
}
