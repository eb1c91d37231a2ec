package commitlog

import (
	"slices"
	"strconv"
)

// MetricType is the type of a MetricFamily, as Prometheus names it.
type MetricType string

// Types of a MetricFamily.
const (
	// Counter only grows (its name ends in _total).
	Counter MetricType = "counter"
	// Gauge goes up and down.
	Gauge MetricType = "gauge"
	// HistogramType is cumulative: Sample.Histogram holds its buckets.
	HistogramType MetricType = "histogram"
)

// MetricFamily is one metric of the broker's Prometheus export: its name
// (Prometheus conventions: snake case under "commitlog_", base units in
// the name, counters ending in _total), help text, type, the names of its
// labels and its samples. Broker.WritePrometheus renders the families as
// text; package commitlog/prom turns them into a prometheus.Collector.
type MetricFamily struct {
	Name   string     `json:"name"`
	Help   string     `json:"help"`
	Type   MetricType `json:"type"`
	Labels []string   `json:"labels"`
	// Samples has one sample per combination of label values (none when
	// nothing is measured yet, as for a broker without groups).
	Samples []Sample `json:"samples"`
}

// Sample is one series of a MetricFamily: its label values, in the order
// of the family's Labels, and its value (Histogram for a histogram).
type Sample struct {
	LabelValues []string   `json:"label_values"`
	Value       float64    `json:"value"`
	Histogram   *Histogram `json:"histogram,omitempty"`
}

// The label sets of the families.
var (
	partitionLabels = []string{"topic", "partition"}
	groupLabels     = []string{"group"}
	groupLagLabels  = []string{"group", "topic", "partition"}
	forwardLabels   = []string{"forwarder", "direction", "topic", "partition"}
	clientLabels    = []string{"client_id"}
	clientLagLabels = []string{"client_id", "topic", "partition"}
)

// family declares a MetricFamily and how a sample gets its value.
type family struct {
	name, help string
	kind       MetricType
	labels     []string
}

// The families, in the order of the export. Each is filled by Metrics
// from Stats; MetricDescriptions lists them.
var (
	famRecords      = family{"commitlog_log_records_appended_total", "Records appended to the partition since the broker opened (Kafka's MessagesInPerSec, as a counter).", Counter, partitionLabels}
	famBytesIn      = family{"commitlog_log_bytes_appended_total", "Bytes of record batches appended to the partition since the broker opened (BytesInPerSec, as a counter).", Counter, partitionLabels}
	famBatches      = family{"commitlog_log_batches_appended_total", "Record batches appended to the partition since the broker opened (ProduceRequestsPerSec, as a counter).", Counter, partitionLabels}
	famBytesOut     = family{"commitlog_log_bytes_fetched_total", "Bytes read from the partition by fetches since the broker opened (BytesOutPerSec, as a counter).", Counter, partitionLabels}
	famFsyncs       = family{"commitlog_log_fsyncs_total", "Fsyncs of the partition's segment files since the broker opened (flushes, rolls).", Counter, partitionLabels}
	famEndOffset    = family{"commitlog_log_end_offset", "Log end offset of the partition: the offset of the next record appended.", Gauge, partitionLabels}
	famStartOffset  = family{"commitlog_log_start_offset", "Log start offset of the partition: its first offset kept.", Gauge, partitionLabels}
	famHighWater    = family{"commitlog_log_high_watermark", "High watermark of the partition: consumers read below it.", Gauge, partitionLabels}
	famSize         = family{"commitlog_log_size_bytes", "Size of the partition's segments.", Gauge, partitionLabels}
	famSegments     = family{"commitlog_log_segments", "Number of segments of the partition.", Gauge, partitionLabels}
	famAppendLat    = family{"commitlog_log_append_duration_seconds", "Time to append a batch to the partition, fsync included when durable.", HistogramType, partitionLabels}
	famFetchLat     = family{"commitlog_log_fetch_duration_seconds", "Time to read from the partition for a fetch.", HistogramType, partitionLabels}
	famGroupMembers = family{"commitlog_consumer_group_members", "Members of the consumer group.", Gauge, groupLabels}
	famGroupLag     = family{"commitlog_consumer_group_lag", "High watermark minus the group's committed offset, in records.", Gauge, groupLagLabels}
	famGroupClamped = family{"commitlog_consumer_group_clamped_commits_total", "Committed offsets found beyond their partition's recovered log end when the group's commits were loaded (after a power cut), and rewritten to the log end.", Counter, groupLabels}
	famFwdLag       = family{"commitlog_forward_lag_records", "Offsets of the source partition not yet copied by a forwarder (package forward).", Gauge, forwardLabels}
	famFwdLagBytes  = family{"commitlog_forward_lag_bytes", "Bytes of the source partition not yet copied by a forwarder, estimated.", Gauge, forwardLabels}
	famFwdAge       = family{"commitlog_forward_oldest_unforwarded_age_seconds", "Age of the oldest record not yet copied by a forwarder.", Gauge, forwardLabels}
	famFwdRisk      = family{"commitlog_forward_retention_at_risk", "1 while a forwarder's backlog nears the source's retention, else 0.", Gauge, forwardLabels}
	famFwdLost      = family{"commitlog_forward_lost_records_total", "Offsets deleted by retention at the source before a forwarder copied them.", Counter, forwardLabels}
	famProdRecords  = family{"commitlog_producer_records_sent_total", "Records the producer appended (Kafka's record-send-total).", Counter, clientLabels}
	famProdBatches  = family{"commitlog_producer_batches_sent_total", "Record batches the producer appended.", Counter, clientLabels}
	famProdErrors   = family{"commitlog_producer_record_errors_total", "Records that failed once queued: their batch failed, or their context ended first (record-error-total).", Counter, clientLabels}
	famProdSize     = family{"commitlog_producer_batch_size_bytes", "Encoded size of the batches the producer sent (batch-size-avg).", HistogramType, clientLabels}
	famProdQueue    = family{"commitlog_producer_queue_time_seconds", "Time a batch waited in the producer, from its first record's send to its append (record-queue-time-avg).", HistogramType, clientLabels}
	famConsRecords  = family{"commitlog_consumer_records_fetched_total", "Records Poll returned to the application (records-consumed-total).", Counter, clientLabels}
	famConsPoll     = family{"commitlog_consumer_poll_duration_seconds", "Time spent in a Poll call, waiting for records included.", HistogramType, clientLabels}
	famConsLag      = family{"commitlog_consumer_records_lag", "High watermark minus the consumer's position on an assigned partition, as of its latest Poll (records-lag).", Gauge, clientLagLabels}
	famConsRebal    = family{"commitlog_consumer_rebalances_total", "Assignments the consumer received from its group (rebalance-total).", Counter, clientLabels}
)

var families = []*family{
	&famRecords, &famBytesIn, &famBatches, &famBytesOut, &famFsyncs,
	&famEndOffset, &famStartOffset, &famHighWater, &famSize, &famSegments,
	&famAppendLat, &famFetchLat,
	&famGroupMembers, &famGroupLag, &famGroupClamped,
	&famFwdLag, &famFwdLagBytes, &famFwdAge, &famFwdRisk, &famFwdLost,
	&famProdRecords, &famProdBatches, &famProdErrors, &famProdSize, &famProdQueue,
	&famConsRecords, &famConsPoll, &famConsLag, &famConsRebal,
}

// MetricDescriptions returns every family the export can hold, without
// samples: what a Prometheus collector describes.
func MetricDescriptions() []MetricFamily {
	out := make([]MetricFamily, len(families))
	for i, f := range families {
		out[i] = MetricFamily{Name: f.name, Help: f.help, Type: f.kind, Labels: f.labels}
	}
	return out
}

// Metrics returns the broker's metrics as Prometheus families, from one
// Stats snapshot: every family of MetricDescriptions, in that order,
// with the families that have no sample left out.
func (b *Broker) Metrics() []MetricFamily {
	return StatsMetrics(b.Stats())
}

// StatsMetrics turns s into the families of Broker.Metrics. Clients with
// the same client id (s may list a client twice, or two clients given the
// same client.id) share their series: counters and histograms add up.
func StatsMetrics(s Stats) []MetricFamily {
	s.Producers, s.Consumers = mergeClients(slices.Clone(s.Producers), slices.Clone(s.Consumers))
	samples := map[*family][]Sample{}
	add := func(f *family, v float64, labels ...string) {
		samples[f] = append(samples[f], Sample{LabelValues: labels, Value: v})
	}
	hist := func(f *family, h Histogram, labels ...string) {
		samples[f] = append(samples[f], Sample{LabelValues: labels, Value: float64(h.Count), Histogram: &h})
	}
	part := func(p int32) string { return strconv.FormatInt(int64(p), 10) }
	for _, t := range s.Topics {
		for _, p := range t.Partitions {
			l := []string{t.Name, part(p.Partition)}
			add(&famRecords, float64(p.Throughput.Messages), l...)
			add(&famBytesIn, float64(p.Throughput.BytesIn), l...)
			add(&famBatches, float64(p.Throughput.Batches), l...)
			add(&famBytesOut, float64(p.Throughput.BytesOut), l...)
			add(&famFsyncs, float64(p.Throughput.Fsyncs), l...)
			add(&famEndOffset, float64(p.LogEndOffset), l...)
			add(&famStartOffset, float64(p.LogStartOffset), l...)
			add(&famHighWater, float64(p.HighWatermark), l...)
			add(&famSize, float64(p.SizeBytes), l...)
			add(&famSegments, float64(p.Segments), l...)
			hist(&famAppendLat, p.AppendHistogram, l...)
			hist(&famFetchLat, p.FetchHistogram, l...)
		}
	}
	for _, g := range s.Groups {
		add(&famGroupMembers, float64(g.Members), g.Group)
		add(&famGroupClamped, float64(g.ClampedCommits), g.Group)
		for _, pl := range g.Lag {
			add(&famGroupLag, float64(pl.Lag), g.Group, pl.Topic, part(pl.Partition))
		}
	}
	for _, f := range s.Forwarders {
		for _, p := range f.Partitions {
			l := []string{f.Name, f.Direction, p.Topic, part(p.Partition)}
			add(&famFwdLag, float64(p.LagRecords), l...)
			add(&famFwdLagBytes, float64(p.LagBytes), l...)
			add(&famFwdAge, p.OldestAge.Seconds(), l...)
			risk := 0.0
			if p.AtRisk {
				risk = 1
			}
			add(&famFwdRisk, risk, l...)
			add(&famFwdLost, float64(p.LostRecords), l...)
		}
	}
	for _, p := range s.Producers {
		add(&famProdRecords, float64(p.RecordsSent), p.ClientID)
		add(&famProdBatches, float64(p.BatchesSent), p.ClientID)
		add(&famProdErrors, float64(p.RecordErrors), p.ClientID)
		hist(&famProdSize, p.BatchSize, p.ClientID)
		hist(&famProdQueue, p.QueueTime, p.ClientID)
	}
	for _, c := range s.Consumers {
		add(&famConsRecords, float64(c.RecordsFetched), c.ClientID)
		hist(&famConsPoll, c.PollLatency, c.ClientID)
		for _, pl := range c.Lag {
			add(&famConsLag, float64(pl.Lag), c.ClientID, pl.Topic, part(pl.Partition))
		}
		add(&famConsRebal, float64(c.Rebalances), c.ClientID)
	}
	var out []MetricFamily
	for _, f := range families {
		if ss := samples[f]; len(ss) > 0 {
			out = append(out, MetricFamily{Name: f.name, Help: f.help, Type: f.kind, Labels: f.labels, Samples: ss})
		}
	}
	return out
}
