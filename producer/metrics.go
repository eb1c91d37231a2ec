package producer

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/cumulative"
)

// producerSeq numbers the producers of the process, for the default
// client.id ("producer-1", "producer-2", ..., as Kafka's).
var producerSeq atomic.Int64

// producerMetrics are a producer's counters and histograms (Kafka's
// producer metrics). The embedded producer counts once a batch, on the
// partition's sender: when it appends the batch (queue time) and when the
// batch completes (records, bytes, errors); nothing on the path of a
// record. A producer on a driver sees records, not batches: it counts each
// record as the driver completes it, and has no batch metrics.
type producerMetrics struct {
	clientID   string
	records    atomic.Int64
	batches    atomic.Int64
	errors     atomic.Int64
	batchSize  *cumulative.Histogram // bytes
	queueTime  *cumulative.Histogram // seconds
	unregister func()                // from the broker's registry; nil if none
}

// start names the metrics after cfg's client.id (or the next default)
// and, on a broker that exports its clients' metrics, registers them.
func (m *producerMetrics) start(p *Producer, store commitlog.Store) {
	m.clientID = p.cfg.ClientID
	if m.clientID == "" {
		m.clientID = "producer-" + strconv.FormatInt(producerSeq.Add(1), 10)
	}
	m.batchSize = cumulative.New(cumulative.SizeBounds, 1)
	m.queueTime = cumulative.New(cumulative.LatencyBounds, cumulative.Nanosecond)
	if r, ok := store.(commitlog.ClientRegistry); ok {
		m.unregister = r.RegisterProducer(p)
	}
}

// stop unregisters the metrics; Close calls it once the senders stopped.
func (m *producerMetrics) stop() {
	if m.unregister != nil {
		m.unregister()
	}
}

// appending records how long b waited, from its first record's Send (its
// creation) to its append.
func (m *producerMetrics) appending(b *batch) {
	m.queueTime.ObserveDuration(time.Since(b.created))
}

// completed counts b's outcome: the records appended and those that
// failed (the batch's error, or their context ended before the append).
func (m *producerMetrics) completed(b *batch) {
	sent := 0
	if b.err == nil {
		sent = int(b.info.NumRecords)
	}
	if sent > 0 {
		m.records.Add(int64(sent))
		m.batches.Add(1)
		m.batchSize.Observe(int64(b.built))
	}
	if failed := b.n - sent; failed > 0 {
		m.errors.Add(int64(failed))
	}
}

// driven counts a record a driver completed.
func (m *producerMetrics) driven(err error) {
	if err != nil {
		m.errors.Add(1)
	} else {
		m.records.Add(1)
	}
}

// Stats returns what the producer has sent since New: records, batches
// (the embedded broker only) and errors, batch sizes and queue times, as
// Kafka's producer metrics. On the embedded broker the producer's stats
// are also part of the broker's Stats and Prometheus export until Close.
// It makes *Producer a commitlog.ProducerStatsSource, for package prom's
// WithProducers.
func (p *Producer) Stats() commitlog.ProducerStats {
	m := &p.metrics
	return commitlog.ProducerStats{
		ClientID:     m.clientID,
		RecordsSent:  m.records.Load(),
		BatchesSent:  m.batches.Load(),
		RecordErrors: m.errors.Load(),
		BatchSize:    commitlog.Histogram(m.batchSize.Snapshot()),
		QueueTime:    commitlog.Histogram(m.queueTime.Snapshot()),
	}
}
