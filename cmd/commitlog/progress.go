package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws a progress bar on stderr while long work runs, only
// when stderr is a terminal; redraws are at most five a second, and a bar
// for work that ends within its first redraw interval is never drawn.
type progressBar struct {
	w       io.Writer
	label   string
	total   int64
	start   time.Time
	last    time.Time
	drawn   bool
	enabled bool
}

func (a *app) progress(label string, total int64) *progressBar {
	now := time.Now()
	return &progressBar{w: a.stderr, label: label, total: total, start: now, last: now, enabled: a.stderrTTY && total > 0}
}

// set reports how far the work got.
func (p *progressBar) set(n int64) {
	if !p.enabled {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	frac := min(float64(n)/float64(p.total), 1)
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s", p.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
		frac*100, now.Sub(p.start).Truncate(time.Second))
	p.drawn = true
}

// done erases the bar.
func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
