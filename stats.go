package commitlog

import (
	"encoding/json"
	"expvar"
	"sort"
	"sync"
	"time"
)

// Stats is a snapshot of what a broker is doing, as Kafka's broker and
// consumer-group metrics describe it. Rates are one-minute moving averages
// per second; latencies are over the last one to two minutes.
type Stats struct {
	Dir    string       `json:"dir"`
	Time   time.Time    `json:"time"`
	Totals Throughput   `json:"totals"`
	Topics []TopicStats `json:"topics"`
	// Groups comes from the consumer group coordinator, when one runs.
	Groups []GroupStats `json:"groups,omitempty"`
	// Forwarders comes from the store-and-forward processes registered
	// with RegisterForwarder (package forward).
	Forwarders []ForwarderStats `json:"forwarders,omitempty"`
	// Producers and Consumers are the clients of packages producer and
	// consumer open on the broker, sorted by client id.
	Producers []ProducerStats `json:"producers,omitempty"`
	Consumers []ConsumerStats `json:"consumers,omitempty"`
}

// Throughput is what flows through a partition, a topic or the broker.
type Throughput struct {
	MessagesInPerSec   float64 `json:"messages_in_per_sec"`   // MessagesInPerSec
	BytesInPerSec      float64 `json:"bytes_in_per_sec"`      // BytesInPerSec
	BytesOutPerSec     float64 `json:"bytes_out_per_sec"`     // BytesOutPerSec
	ProduceBatchPerSec float64 `json:"produce_batch_per_sec"` // ProduceRequestsPerSec
	Messages           int64   `json:"messages"`              // since open
	Batches            int64   `json:"batches"`               // since open
	BytesIn            int64   `json:"bytes_in"`              // appended since open
	BytesOut           int64   `json:"bytes_out"`             // fetched since open
	// AvgRecordsPerBatch is Messages / Batches: how well producers batch.
	AvgRecordsPerBatch float64 `json:"avg_records_per_batch"`
	// Fsyncs counts the fsyncs of the logs' segment files since open:
	// one per flush (durable appends, SyncTo, flush.messages, flush.ms)
	// and one per segment roll or close (see log.Log.Fsyncs).
	Fsyncs int64 `json:"fsyncs"`
	// RecordsPerFsync is Messages / Fsyncs (0 before the first fsync):
	// how many records each fsync made durable, that is how well group
	// commit shares fsyncs among durable appends.
	RecordsPerFsync float64 `json:"records_per_fsync"`
}

// TopicStats covers one topic and its partitions.
type TopicStats struct {
	Name       string           `json:"name"`
	Throughput Throughput       `json:"throughput"`
	SizeBytes  int64            `json:"size_bytes"`
	Partitions []PartitionStats `json:"partitions"`
}

// Latency holds percentiles of a latency histogram.
type Latency struct {
	P50   time.Duration `json:"p50"`
	P99   time.Duration `json:"p99"`
	P999  time.Duration `json:"p999"`
	Count int64         `json:"count"`
}

// PartitionStats covers one partition.
type PartitionStats struct {
	Partition      int32      `json:"partition"`
	LogStartOffset int64      `json:"log_start_offset"`
	LogEndOffset   int64      `json:"log_end_offset"`
	HighWatermark  int64      `json:"high_watermark"`
	SizeBytes      int64      `json:"size_bytes"`
	Segments       int        `json:"segments"`
	Throughput     Throughput `json:"throughput"`
	AppendLatency  Latency    `json:"append_latency"`
	FetchLatency   Latency    `json:"fetch_latency"`
	// AppendHistogram and FetchHistogram are the latencies since open,
	// in seconds, cumulative (the Prometheus export's); not in the JSON.
	AppendHistogram Histogram `json:"-"`
	FetchHistogram  Histogram `json:"-"`
}

// GroupStats covers one consumer group.
type GroupStats struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Generation int32          `json:"generation"`
	Members    int            `json:"members"`
	Lag        []PartitionLag `json:"lag"`
	TotalLag   int64          `json:"total_lag"`
	// ClampedCommits counts the group's committed offsets that lay beyond
	// their partition's log end offset when the coordinator loaded them
	// (records a power cut took back after the group committed past them)
	// and were rewritten to the log end offset, so that the records
	// appended there next are not skipped. Anything but 0 is worth an
	// alert.
	ClampedCommits int64 `json:"clamped_commits"`
}

// PartitionLag is a group's lag on one partition: high watermark minus
// committed offset (Kafka's records-lag as kafka-consumer-groups shows it).
type PartitionLag struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	Committed     int64  `json:"committed"`
	HighWatermark int64  `json:"high_watermark"`
	Lag           int64  `json:"lag"`
}

// throughput is a partition's Throughput: its metrics m and the fsyncs
// of its log.
func throughput(m *metrics, fsyncs int64) Throughput {
	t := Throughput{
		MessagesInPerSec:   m.Records.Rate(),
		BytesInPerSec:      m.Bytes.Rate(),
		BytesOutPerSec:     m.BytesOut.Rate(),
		ProduceBatchPerSec: m.Batches.Rate(),
		Messages:           m.Records.Count(),
		Batches:            m.Batches.Count(),
		BytesIn:            m.Bytes.Count(),
		BytesOut:           m.BytesOut.Count(),
		Fsyncs:             fsyncs,
	}
	t.finish()
	return t
}

func (t *Throughput) add(o Throughput) {
	t.MessagesInPerSec += o.MessagesInPerSec
	t.BytesInPerSec += o.BytesInPerSec
	t.BytesOutPerSec += o.BytesOutPerSec
	t.ProduceBatchPerSec += o.ProduceBatchPerSec
	t.Messages += o.Messages
	t.Batches += o.Batches
	t.BytesIn += o.BytesIn
	t.BytesOut += o.BytesOut
	t.Fsyncs += o.Fsyncs
	t.finish()
}

func (t *Throughput) finish() {
	if t.Batches > 0 {
		t.AvgRecordsPerBatch = float64(t.Messages) / float64(t.Batches)
	}
	if t.Fsyncs > 0 {
		t.RecordsPerFsync = float64(t.Messages) / float64(t.Fsyncs)
	}
}

func latency(h *histogram) Latency {
	ps, n := h.Percentiles(0.5, 0.99, 0.999)
	return Latency{P50: ps[0], P99: ps[1], P999: ps[2], Count: n}
}

// Stats returns a snapshot of the broker's topics, partitions and (with a
// consumer group coordinator running) consumer groups. It takes no lock on
// the append or read path.
func (b *Broker) Stats() Stats {
	now := time.Now()
	s := Stats{Dir: b.dir, Time: now}
	topics := *b.topics.Load()
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := topics[name]
		ts := TopicStats{Name: name}
		for _, p := range t.Partitions() {
			m := &p.metrics
			m.Tick(now)
			l := p.log
			ps := PartitionStats{
				Partition:       p.ID(),
				LogStartOffset:  p.LogStartOffset(),
				LogEndOffset:    p.LogEndOffset(),
				HighWatermark:   p.HighWatermark(),
				SizeBytes:       l.Size(),
				Segments:        l.NumSegments(),
				Throughput:      throughput(m, l.Fsyncs()),
				AppendLatency:   latency(&m.AppendLatency),
				FetchLatency:    latency(&m.FetchLatency),
				AppendHistogram: m.AppendLatency.histogram(),
				FetchHistogram:  m.FetchLatency.histogram(),
			}
			ts.SizeBytes += ps.SizeBytes
			ts.Throughput.add(ps.Throughput)
			ts.Partitions = append(ts.Partitions, ps)
		}
		s.Totals.add(ts.Throughput)
		s.Topics = append(s.Topics, ts)
	}
	if gc := b.coordinator(); gc != nil {
		s.Groups = gc.GroupStats()
	}
	s.Forwarders = b.forwarderStats()
	s.Producers, s.Consumers = b.clientStats()
	return s
}

// Brokers open in this process, published through expvar as "commitlog":
// a map from data directory to Stats, served by net/http/pprof-style
// /debug/vars when the program imports expvar's handler.
var (
	expvarOnce sync.Once
	openMu     sync.Mutex // guards open
	open       = map[*Broker]struct{}{}
)

func publishExpvar(b *Broker) {
	expvarOnce.Do(func() {
		expvar.Publish("commitlog", expvar.Func(func() any {
			openMu.Lock()
			brokers := make([]*Broker, 0, len(open))
			for b := range open {
				brokers = append(brokers, b)
			}
			openMu.Unlock()
			out := map[string]Stats{}
			for _, b := range brokers {
				out[b.dir] = b.Stats()
			}
			return out
		}))
	})
	openMu.Lock()
	open[b] = struct{}{}
	openMu.Unlock()
}

func unpublishExpvar(b *Broker) {
	openMu.Lock()
	delete(open, b)
	openMu.Unlock()
}

// String renders the stats as indented JSON.
func (s Stats) String() string {
	out, _ := json.MarshalIndent(s, "", "  ")
	return string(out)
}
