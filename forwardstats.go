package commitlog

import (
	"sort"
	"sync"
	"time"
)

// ForwarderStatsSource is a store-and-forward process that copies records
// between the broker and somewhere else (package forward's Forwarder, which
// copies local topics to a Kafka cluster, and Mirror, which copies Kafka
// topics into local ones). Registered on the broker with RegisterForwarder,
// its per-partition lag is part of Broker.Stats and WritePrometheus.
type ForwarderStatsSource interface {
	// ForwarderStats returns the source's current lag. It is called from
	// Broker.Stats and must not block on the network.
	ForwarderStats() ForwarderStats
}

// Directions of a ForwarderStats.
const (
	// ForwardOut copies local topics to a remote cluster.
	ForwardOut = "out"
	// ForwardIn copies remote topics into local ones.
	ForwardIn = "in"
)

// ForwarderStats covers one store-and-forward process.
type ForwarderStats struct {
	// Name identifies the process (package forward uses its checkpoint
	// group).
	Name string `json:"name"`
	// Direction is ForwardOut or ForwardIn.
	Direction  string         `json:"direction"`
	Partitions []ForwardedLag `json:"partitions"`
	// LagRecords and LagBytes sum those of the partitions.
	LagRecords int64 `json:"lag_records"`
	LagBytes   int64 `json:"lag_bytes"`
}

// ForwardedLag is where copying one partition stands. For ForwardOut the
// partition is the local one; for ForwardIn, the remote one (and Topic the
// remote name).
type ForwardedLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Position is the next offset of the source partition to copy: every
	// record below it is in the destination and acknowledged there.
	Position int64 `json:"position"`
	// HighWatermark is the source partition's, as last seen.
	HighWatermark int64 `json:"high_watermark"`
	// LagRecords is HighWatermark - Position (offsets: on a compacted
	// source, fewer records).
	LagRecords int64 `json:"lag_records"`
	// LagBytes is the size of the records not yet copied, estimated
	// (package forward: from the local partition's bytes per offset, or
	// for a mirror from the size of the records it copied so far).
	LagBytes int64 `json:"lag_bytes"`
	// OldestAge is how old the oldest record not yet copied is, by its
	// timestamp (0 without lag or when unknown, as for a mirror).
	OldestAge time.Duration `json:"oldest_age"`
	// AtRisk is set while the backlog nears what the source's retention
	// keeps (retention.ms or retention.bytes): records may be deleted
	// before they are copied. Only a copier that knows the source's
	// retention sets it (package forward's Forwarder).
	AtRisk bool `json:"at_risk"`
	// LostRecords counts the offsets retention deleted at the source
	// before they were copied, since the process started.
	LostRecords int64 `json:"lost_records"`
}

// forwarderSet holds the broker's registered forwarders.
type forwarderSet struct {
	mu   sync.Mutex // guards list
	list []*forwarderEntry
}

type forwarderEntry struct{ src ForwarderStatsSource }

// RegisterForwarder adds src's lag to the broker's Stats and Prometheus
// output until the returned function (idempotent) is called. Package
// forward registers its Forwarder and Mirror; programs have no reason to
// call it.
func (b *Broker) RegisterForwarder(src ForwarderStatsSource) (unregister func()) {
	e := &forwarderEntry{src: src}
	s := &b.forwarders
	s.mu.Lock()
	s.list = append(s.list, e)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.list {
			if x == e {
				s.list = append(s.list[:i:i], s.list[i+1:]...)
				return
			}
		}
	}
}

// forwarderStats collects the registered forwarders' stats, sorted by
// name and direction. It calls them without holding the set's lock.
func (b *Broker) forwarderStats() []ForwarderStats {
	b.forwarders.mu.Lock()
	list := append([]*forwarderEntry(nil), b.forwarders.list...)
	b.forwarders.mu.Unlock()
	if len(list) == 0 {
		return nil
	}
	out := make([]ForwarderStats, 0, len(list))
	for _, e := range list {
		out = append(out, e.src.ForwarderStats())
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Direction < out[j].Direction
	})
	return out
}
