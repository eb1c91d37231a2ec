package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// table collects one figure per system per repetition and prints medians,
// min–max, and the ratio commitlog/peer (the median of the per-repetition
// ratios, each taken between measurements made minutes apart at most).
type table struct {
	title        string
	unit         string // e.g. "records/s"
	higherBetter bool
	second       string  // name of a second figure derived from the first (e.g. MB/s), or ""
	secondScale  float64 // second = first * secondScale
	rows         map[string]*row
	order        []string
	refs         []string // commitlog variants to take ratios against
	notes        []string
	kinds        map[string]string // row name -> kindCommitlog, kindPeer, kindLimit
}

type row struct {
	vals   []float64
	extra  []float64 // e.g. records per fsync, per rep
	exName string
	errs   []string
	note   string
}

func newTable(title, unit string, higherBetter bool) *table {
	return &table{title: title, unit: unit, higherBetter: higherBetter, rows: map[string]*row{}, kinds: map[string]string{}}
}

// rowOf adds (or finds) a row and records what kind of system it is.
func (t *table) rowOf(name, kind string) *row {
	t.kinds[name] = kind
	return t.row(name)
}

// vals returns a row's measurements, nil when it has none.
func (t *table) vals(name string) []float64 {
	if t == nil {
		return nil
	}
	if r := t.rows[name]; r != nil {
		return r.vals
	}
	return nil
}

// best returns the peer row with the best median, "" when none has a
// measurement.
func (t *table) best(kind string) string {
	if t == nil {
		return ""
	}
	bestName, bestV := "", math.NaN()
	for _, name := range t.order {
		v := t.rows[name].vals
		if t.kinds[name] != kind || len(v) == 0 {
			continue
		}
		m := median(v)
		if bestName == "" || (t.higherBetter && m > bestV) || (!t.higherBetter && m < bestV) {
			bestName, bestV = name, m
		}
	}
	return bestName
}

func (t *table) row(name string) *row {
	r := t.rows[name]
	if r == nil {
		r = &row{}
		t.rows[name] = r
		t.order = append(t.order, name)
	}
	return r
}

func (t *table) add(name string, v float64) { r := t.row(name); r.vals = append(r.vals, v) }
func (t *table) addErr(name string, err error) {
	r := t.row(name)
	r.errs = append(r.errs, err.Error())
}
func (t *table) setNote(name, note string) { t.row(name).note = note }
func (t *table) addExtra(name, ex string, v float64) {
	r := t.row(name)
	r.exName = ex
	r.extra = append(r.extra, v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func si(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "-"
	case a >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(a, b []float64) float64 {
	n := min(len(a), len(b))
	if n == 0 {
		return math.NaN()
	}
	var rs []float64
	if len(a) == len(b) {
		for i := range n {
			rs = append(rs, a[i]/b[i])
		}
		return median(rs)
	}
	return median(a) / median(b)
}

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "\n### %s\n\n", t.title)
	dir := "higher is better"
	if !t.higherBetter {
		dir = "lower is better"
	}
	hdr := []string{"system", t.unit + " median", "min–max"}
	if t.second != "" {
		hdr = append(hdr, t.second)
	}
	for _, r := range t.refs {
		hdr = append(hdr, shortRef(r)+"/peer")
	}
	hdr = append(hdr, "note")
	fmt.Fprintf(w, "(%s; ratio = commitlog ÷ peer, from the same repetition)\n\n", dir)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(hdr, " | "), strings.Repeat("---|", len(hdr)))
	for _, name := range t.order {
		r := t.rows[name]
		cells := []string{name}
		if len(r.vals) == 0 {
			cells = append(cells, "failed", "")
			if t.second != "" {
				cells = append(cells, "")
			}
			for range t.refs {
				cells = append(cells, "")
			}
		} else {
			mn, mx := slices.Min(r.vals), slices.Max(r.vals)
			cells = append(cells, si(median(r.vals)), si(mn)+"–"+si(mx))
			if t.second != "" {
				cells = append(cells, si(median(r.vals)*t.secondScale))
			}
			for _, ref := range t.refs {
				rr := t.rows[ref]
				if rr == nil || len(rr.vals) == 0 || ref == name {
					cells = append(cells, "")
					continue
				}
				cells = append(cells, fmt.Sprintf("%.2fx", ratio(rr.vals, r.vals)))
			}
		}
		note := r.note
		if len(r.extra) > 0 {
			ex := fmt.Sprintf("%s %.1f", r.exName, median(r.extra))
			if note != "" {
				note = ex + "; " + note
			} else {
				note = ex
			}
		}
		if len(r.errs) > 0 {
			e := r.errs[0]
			if len(e) > 160 {
				e = e[:160] + "…"
			}
			note = strings.TrimPrefix(note+"; ERROR ("+fmt.Sprint(len(r.errs))+"x): "+e, "; ")
		}
		cells = append(cells, note)
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	for _, n := range t.notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

func shortRef(name string) string {
	switch name {
	case nameCLLog:
		return "cl-log"
	case nameCLProducer:
		return "cl-prod"
	case nameCLConsumer:
		return "cl-cons"
	case nameCLPartition:
		return "cl-part"
	}
	return name
}
