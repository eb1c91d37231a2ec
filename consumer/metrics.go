package consumer

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/cumulative"
)

// consumerSeq numbers the consumers of the process, for the default
// client.id ("consumer-<group>-1", ..., as Kafka's).
var consumerSeq atomic.Int64

// consumerMetrics are a consumer's counters and histograms (Kafka's
// consumer metrics), counted once a Poll: the records it returned and how
// long it took; on the embedded broker also the lag of each assigned
// partition as the Poll left it, and the assignments received.
type consumerMetrics struct {
	clientID, group string
	records         atomic.Int64
	rebalances      atomic.Int64
	poll            *cumulative.Histogram // seconds
	mu              sync.Mutex            // guards lag
	lag             []commitlog.PartitionLag
	unregister      func() // from the broker's registry; nil if none
}

// start names the metrics after client.id (or the next default) and, on
// a broker that exports its clients' metrics, registers them.
func (m *consumerMetrics) start(c *Consumer, store commitlog.Store) {
	m.group = c.set.GroupID
	m.clientID = c.set.ClientID
	if m.clientID == "" {
		n := strconv.FormatInt(consumerSeq.Add(1), 10)
		if m.group != "" {
			m.clientID = "consumer-" + m.group + "-" + n
		} else {
			m.clientID = "consumer-" + n
		}
	}
	m.poll = cumulative.New(cumulative.LatencyBounds, cumulative.Nanosecond)
	if r, ok := store.(commitlog.ClientRegistry); ok {
		m.unregister = r.RegisterConsumer(c)
	}
}

// stop unregisters the metrics; Close calls it.
func (m *consumerMetrics) stop() {
	if m.unregister != nil {
		m.unregister()
	}
}

// polled counts a Poll that started at start and returned n records.
func (m *consumerMetrics) polled(start time.Time, n int) {
	m.poll.ObserveDuration(time.Since(start))
	m.records.Add(int64(n))
}

// recordLag notes the lag of each assigned partition whose position is
// known: its high watermark minus the position. Poll calls it while it
// holds the poll role, which owns f.
func (m *consumerMetrics) recordLag(f *fetcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lag = m.lag[:0]
	for _, tp := range f.order {
		ps := f.parts[tp]
		if ps == nil || ps.gone || ps.pos < 0 {
			continue
		}
		hw := ps.part.HighWatermark()
		m.lag = append(m.lag, commitlog.PartitionLag{Topic: tp.Topic, Partition: tp.Partition,
			Committed: -1, HighWatermark: hw, Lag: max(hw-ps.pos, 0)})
	}
}

// Stats returns what the consumer has fetched since New: the records
// Poll returned, Poll's latencies and, on the embedded broker, the
// rebalances and the lag of each assigned partition as of the latest
// Poll, as Kafka's consumer metrics. On the embedded broker the
// consumer's stats are also part of the broker's Stats and Prometheus
// export until Close. It makes *Consumer a commitlog.ConsumerStatsSource,
// for package prom's WithConsumers.
func (c *Consumer) Stats() commitlog.ConsumerStats {
	m := &c.metrics
	s := commitlog.ConsumerStats{
		ClientID:       m.clientID,
		Group:          m.group,
		RecordsFetched: m.records.Load(),
		Rebalances:     m.rebalances.Load(),
		PollLatency:    commitlog.Histogram(m.poll.Snapshot()),
	}
	m.mu.Lock()
	s.Lag = append([]commitlog.PartitionLag(nil), m.lag...)
	m.mu.Unlock()
	return s
}
