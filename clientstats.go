package commitlog

import (
	"slices"
	"sort"
	"sync"
)

// Histogram is a cumulative histogram, as Prometheus exports one: Counts[i]
// observations were at most Bounds[i] (increasing upper bounds, +Inf left
// out), Count were made in all, and they sum to Sum. Counts only grow.
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
	Count  uint64    `json:"count"`
	Sum    float64   `json:"sum"`
}

// ProducerStats is what a producer of package producer has sent, as
// Kafka's producer metrics describe it.
type ProducerStats struct {
	// ClientID is the producer's client.id.
	ClientID string `json:"client_id"`
	// RecordsSent and BatchesSent count the records and batches appended
	// (Kafka's record-send-total; batches, Kafka's request-total).
	RecordsSent int64 `json:"records_sent"`
	BatchesSent int64 `json:"batches_sent"`
	// RecordErrors counts the records that failed once queued: their
	// batch's append failed, or their context ended before it was sent
	// (record-error-total).
	RecordErrors int64 `json:"record_errors"`
	// BatchSize is the encoded size of the batches sent, in bytes
	// (batch-size-avg, -max).
	BatchSize Histogram `json:"-"`
	// QueueTime is how long batches waited, from their first record's
	// Send to their append, in seconds (record-queue-time-avg, -max).
	QueueTime Histogram `json:"-"`
}

// ConsumerStats is what a consumer of package consumer has fetched, as
// Kafka's consumer metrics describe it.
type ConsumerStats struct {
	// ClientID is the consumer's client.id; Group its group.id, if any.
	ClientID string `json:"client_id"`
	Group    string `json:"group,omitempty"`
	// RecordsFetched counts the records Poll returned
	// (records-consumed-total).
	RecordsFetched int64 `json:"records_fetched"`
	// Rebalances counts the assignments received from the group
	// (rebalance-total).
	Rebalances int64 `json:"rebalances"`
	// PollLatency is how long Poll calls took, in seconds.
	PollLatency Histogram `json:"-"`
	// Lag is, for each assigned partition, the high watermark minus the
	// consumer's position, as of its latest Poll (records-lag).
	Lag []PartitionLag `json:"lag,omitempty"`
}

// ProducerStatsSource is a producer whose stats are part of the broker's
// Stats and Prometheus export while registered.
type ProducerStatsSource interface {
	// Stats returns the producer's counters; it must not block.
	// *producer.Producer implements it.
	Stats() ProducerStats
}

// ConsumerStatsSource is a consumer whose stats are part of the broker's
// Stats and Prometheus export while registered.
type ConsumerStatsSource interface {
	// Stats returns the consumer's counters; it must not block.
	// *consumer.Consumer implements it.
	Stats() ConsumerStats
}

// ClientRegistry is implemented by a Store that exports its clients'
// metrics (*Broker). Packages producer and consumer register every client
// they open on one and unregister it on Close; programs have no reason to
// call it.
type ClientRegistry interface {
	RegisterProducer(src ProducerStatsSource) (unregister func())
	RegisterConsumer(src ConsumerStatsSource) (unregister func())
}

var _ ClientRegistry = (*Broker)(nil)

// clientSets holds the broker's registered clients.
type clientSets struct {
	producers sourceSet[ProducerStatsSource]
	consumers sourceSet[ConsumerStatsSource]
}

// sourceSet is a list of registered stats sources.
type sourceSet[T any] struct {
	mu   sync.Mutex // guards list
	list []*T
}

// add registers src until the returned function (idempotent) is called.
func (s *sourceSet[T]) add(src T) func() {
	e := &src
	s.mu.Lock()
	s.list = append(s.list, e)
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for i, x := range s.list {
				if x == e {
					s.list = append(s.list[:i:i], s.list[i+1:]...)
					return
				}
			}
		})
	}
}

// snapshot returns the sources registered, without holding the lock
// while they are called.
func (s *sourceSet[T]) snapshot() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]T, len(s.list))
	for i, e := range s.list {
		out[i] = *e
	}
	return out
}

// RegisterProducer adds src's stats to the broker's Stats and Prometheus
// export until the returned function (idempotent) is called. Package
// producer registers each producer it opens on the broker.
func (b *Broker) RegisterProducer(src ProducerStatsSource) (unregister func()) {
	return b.clients.producers.add(src)
}

// RegisterConsumer adds src's stats to the broker's Stats and Prometheus
// export until the returned function (idempotent) is called. Package
// consumer registers each consumer it opens on the broker.
func (b *Broker) RegisterConsumer(src ConsumerStatsSource) (unregister func()) {
	return b.clients.consumers.add(src)
}

// clientStats collects the registered clients' stats, sorted by client id.
func (b *Broker) clientStats() ([]ProducerStats, []ConsumerStats) {
	var ps []ProducerStats
	for _, src := range b.clients.producers.snapshot() {
		ps = append(ps, src.Stats())
	}
	var cs []ConsumerStats
	for _, src := range b.clients.consumers.snapshot() {
		cs = append(cs, src.Stats())
	}
	return mergeClients(ps, cs)
}

// mergeClients sorts the clients by client id, merging those with the
// same id.
func mergeClients(ps []ProducerStats, cs []ConsumerStats) ([]ProducerStats, []ConsumerStats) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].ClientID < ps[j].ClientID })
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].ClientID < cs[j].ClientID })
	// Clients given the same client.id (Kafka allows it) share a series:
	// their counters and histograms add up, their lags are listed
	// together (different partitions, in a group).
	ps = mergeAdjacent(ps, func(a, b *ProducerStats) bool {
		if a.ClientID != b.ClientID {
			return false
		}
		a.RecordsSent += b.RecordsSent
		a.BatchesSent += b.BatchesSent
		a.RecordErrors += b.RecordErrors
		a.BatchSize = a.BatchSize.merge(b.BatchSize)
		a.QueueTime = a.QueueTime.merge(b.QueueTime)
		return true
	})
	cs = mergeAdjacent(cs, func(a, b *ConsumerStats) bool {
		if a.ClientID != b.ClientID {
			return false
		}
		a.RecordsFetched += b.RecordsFetched
		a.Rebalances += b.Rebalances
		a.PollLatency = a.PollLatency.merge(b.PollLatency)
		seen := map[[2]any]bool{}
		for _, l := range a.Lag {
			seen[[2]any{l.Topic, l.Partition}] = true
		}
		for _, l := range b.Lag {
			if !seen[[2]any{l.Topic, l.Partition}] {
				a.Lag = append(slices.Clip(a.Lag), l)
			}
		}
		return true
	})
	return ps, cs
}

// mergeAdjacent folds each element into the one before it when merge
// (which adds b into a) says they are the same.
func mergeAdjacent[T any](xs []T, merge func(a, b *T) bool) []T {
	if len(xs) < 2 {
		return xs
	}
	out := xs[:1]
	for i := 1; i < len(xs); i++ {
		if !merge(&out[len(out)-1], &xs[i]) {
			out = append(out, xs[i])
		}
	}
	return out
}

// merge returns h plus o, histograms with the same bounds (h itself if
// they differ).
func (h Histogram) merge(o Histogram) Histogram {
	if len(h.Bounds) == 0 {
		return o
	}
	if len(h.Bounds) != len(o.Bounds) {
		return h
	}
	out := Histogram{Bounds: h.Bounds, Counts: make([]uint64, len(h.Counts)), Count: h.Count + o.Count, Sum: h.Sum + o.Sum}
	for i := range h.Counts {
		out.Counts[i] = h.Counts[i] + o.Counts[i]
	}
	return out
}
