package commitlog

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// WritePrometheus writes the broker's Stats in the Prometheus text
// exposition format (version 0.0.4), with no dependency on a Prometheus
// client library. Metric names follow Kafka's JMX names, snake-cased under
// the "commitlog_" prefix.
func (b *Broker) WritePrometheus(w io.Writer) error {
	s := b.Stats()
	pw := &promWriter{w: w}
	type metric struct {
		name, help, kind string
	}
	gauge := func(m metric, labels string, v float64) {
		pw.metric(m.name, m.help, m.kind, labels, v)
	}
	var (
		msgs    = metric{"commitlog_messages_in_per_sec", "Records appended per second, one-minute rate (MessagesInPerSec).", "gauge"}
		bytesIn = metric{"commitlog_bytes_in_per_sec", "Bytes appended per second, one-minute rate (BytesInPerSec).", "gauge"}
		bytesOu = metric{"commitlog_bytes_out_per_sec", "Bytes fetched per second, one-minute rate (BytesOutPerSec).", "gauge"}
		batches = metric{"commitlog_produce_batches_per_sec", "Batches appended per second, one-minute rate (ProduceRequestsPerSec).", "gauge"}
		total   = metric{"commitlog_messages_total", "Records appended since the broker opened.", "counter"}
		fsyncs  = metric{"commitlog_log_fsyncs_total", "Fsyncs of the partition's segment files since the broker opened (flushes, rolls).", "counter"}
		perSync = metric{"commitlog_records_per_fsync", "Records appended per fsync since the broker opened: how well group commit shares fsyncs.", "gauge"}
		leo     = metric{"commitlog_log_end_offset", "Log end offset.", "gauge"}
		lso     = metric{"commitlog_log_start_offset", "Log start offset.", "gauge"}
		hw      = metric{"commitlog_high_watermark", "High watermark.", "gauge"}
		size    = metric{"commitlog_log_size_bytes", "Size of the partition's segments.", "gauge"}
		segs    = metric{"commitlog_log_segments", "Number of segments.", "gauge"}
		appendL = metric{"commitlog_append_latency_seconds", "Append latency percentiles over the last one to two minutes.", "gauge"}
		fetchL  = metric{"commitlog_fetch_latency_seconds", "Fetch latency percentiles over the last one to two minutes.", "gauge"}
		lag     = metric{"commitlog_consumer_group_lag", "High watermark minus committed offset.", "gauge"}
		members = metric{"commitlog_consumer_group_members", "Members of the group.", "gauge"}
		fwdLag  = metric{"commitlog_forward_lag_records", "Offsets of the source partition not yet copied by a forwarder (package forward).", "gauge"}
		fwdLagB = metric{"commitlog_forward_lag_bytes", "Bytes of the source partition not yet copied by a forwarder, estimated.", "gauge"}
		fwdAge  = metric{"commitlog_forward_oldest_unforwarded_age_seconds", "Age of the oldest record not yet copied by a forwarder.", "gauge"}
		fwdRisk = metric{"commitlog_forward_retention_at_risk", "1 while a forwarder's backlog nears the source's retention.", "gauge"}
		fwdLost = metric{"commitlog_forward_lost_records_total", "Offsets deleted by retention at the source before a forwarder copied them.", "counter"}
	)
	for _, t := range s.Topics {
		for _, p := range t.Partitions {
			l := fmt.Sprintf(`topic=%s,partition="%d"`, promLabel(t.Name), p.Partition)
			gauge(msgs, l, p.Throughput.MessagesInPerSec)
			gauge(bytesIn, l, p.Throughput.BytesInPerSec)
			gauge(bytesOu, l, p.Throughput.BytesOutPerSec)
			gauge(batches, l, p.Throughput.ProduceBatchPerSec)
			gauge(total, l, float64(p.Throughput.Messages))
			gauge(fsyncs, l, float64(p.Throughput.Fsyncs))
			gauge(perSync, l, p.Throughput.RecordsPerFsync)
			gauge(leo, l, float64(p.LogEndOffset))
			gauge(lso, l, float64(p.LogStartOffset))
			gauge(hw, l, float64(p.HighWatermark))
			gauge(size, l, float64(p.SizeBytes))
			gauge(segs, l, float64(p.Segments))
			for _, lat := range []struct {
				m   metric
				lat Latency
			}{{appendL, p.AppendLatency}, {fetchL, p.FetchLatency}} {
				gauge(lat.m, l+`,quantile="0.5"`, lat.lat.P50.Seconds())
				gauge(lat.m, l+`,quantile="0.99"`, lat.lat.P99.Seconds())
				gauge(lat.m, l+`,quantile="0.999"`, lat.lat.P999.Seconds())
			}
		}
	}
	for _, g := range s.Groups {
		gauge(members, `group=`+promLabel(g.Group), float64(g.Members))
		for _, pl := range g.Lag {
			gauge(lag, fmt.Sprintf(`group=%s,topic=%s,partition="%d"`, promLabel(g.Group), promLabel(pl.Topic), pl.Partition), float64(pl.Lag))
		}
	}
	for _, f := range s.Forwarders {
		for _, p := range f.Partitions {
			l := fmt.Sprintf(`forwarder=%s,direction=%s,topic=%s,partition="%d"`, promLabel(f.Name), promLabel(f.Direction), promLabel(p.Topic), p.Partition)
			gauge(fwdLag, l, float64(p.LagRecords))
			gauge(fwdLagB, l, float64(p.LagBytes))
			gauge(fwdAge, l, p.OldestAge.Seconds())
			risk := 0.0
			if p.AtRisk {
				risk = 1
			}
			gauge(fwdRisk, l, risk)
			gauge(fwdLost, l, float64(p.LostRecords))
		}
	}
	return pw.flush()
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

// promWriter groups samples by metric family, as the text format
// requires, and writes them out in the order the families first appeared.
type promWriter struct {
	w      io.Writer
	order  []string
	family map[string]*promFamily
}

type promFamily struct {
	help, kind string
	lines      []string
}

func (p *promWriter) metric(name, help, kind, labels string, v float64) {
	if p.family == nil {
		p.family = map[string]*promFamily{}
	}
	f := p.family[name]
	if f == nil {
		f = &promFamily{help: help, kind: kind}
		p.family[name] = f
		p.order = append(p.order, name)
	}
	f.lines = append(f.lines, fmt.Sprintf("%s{%s} %s\n", name, labels, strconv.FormatFloat(v, 'g', -1, 64)))
}

func (p *promWriter) flush() error {
	for _, name := range p.order {
		f := p.family[name]
		if _, err := fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, f.help, name, f.kind); err != nil {
			return err
		}
		for _, l := range f.lines {
			if _, err := io.WriteString(p.w, l); err != nil {
				return err
			}
		}
	}
	return nil
}
