package commitlog

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// WritePrometheus writes the broker's Metrics in the Prometheus text
// exposition format (version 0.0.4), with no dependency on a Prometheus
// client library: counters (_total), gauges and cumulative histograms
// (_bucket, _sum, _count), each family with its HELP and TYPE. Package
// commitlog/prom exports the same families through a prometheus.Registry.
func (b *Broker) WritePrometheus(w io.Writer) error {
	return WriteMetrics(w, b.Metrics())
}

// WriteMetrics writes fams in the Prometheus text exposition format.
func WriteMetrics(w io.Writer, fams []MetricFamily) error {
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		bw.WriteString("# HELP " + f.Name + " " + promHelp(f.Help) + "\n# TYPE " + f.Name + " " + string(f.Type) + "\n")
		for _, s := range f.Samples {
			labels := promLabels(f.Labels, s.LabelValues)
			if f.Type != HistogramType || s.Histogram == nil {
				bw.WriteString(f.Name + "{" + labels + "} " + promValue(s.Value) + "\n")
				continue
			}
			h := s.Histogram
			sep := ""
			if labels != "" {
				sep = ","
			}
			for i, ub := range h.Bounds {
				bw.WriteString(f.Name + "_bucket{" + labels + sep + `le="` + promValue(ub) + `"} ` + strconv.FormatUint(h.Counts[i], 10) + "\n")
			}
			bw.WriteString(f.Name + "_bucket{" + labels + sep + `le="+Inf"} ` + strconv.FormatUint(h.Count, 10) + "\n")
			bw.WriteString(f.Name + "_sum{" + labels + "} " + promValue(h.Sum) + "\n")
			bw.WriteString(f.Name + "_count{" + labels + "} " + strconv.FormatUint(h.Count, 10) + "\n")
		}
	}
	return bw.Flush()
}

func promLabels(names, values []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		v := ""
		if i < len(values) {
			v = values[i]
		}
		b.WriteString(n + "=" + promLabel(v))
	}
	return b.String()
}

func promValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// promHelp escapes help text: backslash and line feed.
func promHelp(v string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(v)
}

// promLabel quotes a label value as the text format says: backslash,
// double quote and line feed escaped, every other character as is (Go's
// %q escapes, such as \t or \u00a0, make Prometheus reject the scrape).
// The format wants UTF-8: invalid bytes become U+FFFD.
func promLabel(v string) string {
	return `"` + promEscaper.Replace(strings.ToValidUTF8(v, "\uFFFD")) + `"`
}

var promEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// PrometheusHandler serves WritePrometheus over HTTP, for a /metrics route.
func (b *Broker) PrometheusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = b.WritePrometheus(w)
	})
}
