package producer

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Partitioner picks the partition of a record that has no explicit partition.
// Implementations must be safe for concurrent use.
//
// It is the equivalent of Kafka's org.apache.kafka.clients.producer.Partitioner,
// the interface named by the producer's partitioner.class setting: Partition
// mirrors partition() and OnNewBatch mirrors onNewBatch(), reduced to the inputs
// an in-process log needs (the topic, the serialized key and the partition count
// instead of a Cluster).
//
// A nil key means the record has no key; an empty but non-nil key is a key like
// any other and is hashed, as in Kafka, where only a null key is keyless.
type Partitioner interface {
	// Partition returns a partition in [0, numPartitions). key is nil for a
	// keyless record. numPartitions must be positive; callers validate it, and
	// every partitioner in this package returns 0 when it is not.
	Partition(topic string, key []byte, numPartitions int32) int32
	// OnNewBatch tells a sticky partitioner that the batch it was filling for
	// topic (on partition prev) is complete/sent, so keyless records should
	// move to another partition.
	OnNewBatch(topic string, prev int32, numPartitions int32)
}

// HashPartitioner returns a partitioner that places a keyed record by the
// xxhash64 (github.com/cespare/xxhash/v2) of its key modulo numPartitions;
// keyless records stick to one randomly chosen partition per topic until
// OnNewBatch reports that partition's batch done (sticky partitioning,
// KIP-480).
//
// It was the default before Murmur2Partitioner took its place; keyed records
// land on other partitions than a Kafka client would choose, so keep it only
// for data already partitioned by it. Each call returns an independent
// instance with its own sticky state.
func HashPartitioner() Partitioner {
	return &hashPartitioner{}
}

// Murmur2Partitioner returns the default partitioner (Config.Partitioner
// nil): a keyed record goes where the Kafka Java client and franz-go's
// default (kgo.StickyKeyPartitioner(nil)) put it,
// toPositive(murmur2(key)) % numPartitions with toPositive(x) = x &
// 0x7fffffff, so that a key lands on the same partition on the embedded
// broker and on a Kafka cluster. Keyless records stick to one partition per
// topic until its batch is done (KIP-480).
//
// It is the equivalent of Kafka's default partitioner (partitioner.class
// unset, BuiltInPartitioner.partitionForKey), byte-for-byte for the key
// hash. Each call returns an independent instance with its own sticky state.
func Murmur2Partitioner() Partitioner {
	return &murmur2Partitioner{}
}

// RoundRobinPartitioner returns a partitioner that sends every record, keyed or
// not (the key is ignored), to the next partition of its topic in turn: 0, 1,
// ..., numPartitions-1, 0, ... with one counter per topic. OnNewBatch is a
// no-op.
//
// It is the equivalent of partitioner.class =
// org.apache.kafka.clients.producer.RoundRobinPartitioner. Each call returns an
// independent instance whose counters start at 0.
func RoundRobinPartitioner() Partitioner {
	return &roundRobinPartitioner{}
}

// Murmur2 is Kafka's murmur2 hash (seed 0x9747b28c, m 0x5bd1e995, r 24) and
// returns, for every input, the same 32-bit value as the Java client's
// org.apache.kafka.common.utils.Utils.murmur2(byte[]), which the default
// partitioner uses to place keyed records.
func Murmur2(data []byte) int32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	length := len(data)
	h := uint32(seed) ^ uint32(length)

	n4 := length &^ 3
	for i := 0; i < n4; i += 4 {
		k := binary.LittleEndian.Uint32(data[i : i+4])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}

	tail := data[n4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}

	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// toPositive is Kafka's Utils.toPositive: it clears the sign bit.
func toPositive(x int32) int32 { return x & 0x7fffffff }

// hashPartitioner hashes keys with xxhash64; keyless records are sticky.
type hashPartitioner struct {
	sticky stickyPartitions
}

func (p *hashPartitioner) Partition(topic string, key []byte, numPartitions int32) int32 {
	if numPartitions <= 1 {
		return 0
	}
	if key == nil {
		return p.sticky.partition(topic, numPartitions)
	}
	return int32(xxhash.Sum64(key) % uint64(numPartitions))
}

func (p *hashPartitioner) OnNewBatch(topic string, prev int32, numPartitions int32) {
	p.sticky.onNewBatch(topic, prev, numPartitions)
}

// murmur2Partitioner hashes keys like the Kafka Java client; keyless records
// are sticky.
type murmur2Partitioner struct {
	sticky stickyPartitions
}

func (p *murmur2Partitioner) Partition(topic string, key []byte, numPartitions int32) int32 {
	if numPartitions <= 1 {
		return 0
	}
	if key == nil {
		return p.sticky.partition(topic, numPartitions)
	}
	return toPositive(Murmur2(key)) % numPartitions
}

func (p *murmur2Partitioner) OnNewBatch(topic string, prev int32, numPartitions int32) {
	p.sticky.onNewBatch(topic, prev, numPartitions)
}

// roundRobinPartitioner keeps one counter per topic.
type roundRobinPartitioner struct {
	counters topicMap[atomic.Uint64]
}

func (p *roundRobinPartitioner) Partition(topic string, _ []byte, numPartitions int32) int32 {
	if numPartitions <= 1 {
		return 0
	}
	c := p.counters.lookup(topic)
	if c == nil {
		c = p.counters.get(topic, nil)
	}
	// A uint64 counter does not wrap in practice, so the sequence never jumps.
	return int32((c.Add(1) - 1) % uint64(numPartitions))
}

func (p *roundRobinPartitioner) OnNewBatch(string, int32, int32) {}

// stickyPartitions holds, per topic, the partition keyless records currently
// go to (KIP-480). -1 never appears: a topic's entry is created holding a
// random partition.
type stickyPartitions struct {
	current topicMap[atomic.Int32]
}

// partition returns the topic's current sticky partition, choosing one at
// random the first time the topic is seen or when the current one is no longer
// below numPartitions. numPartitions must be > 1.
func (s *stickyPartitions) partition(topic string, numPartitions int32) int32 {
	cur := s.current.lookup(topic)
	if cur == nil {
		cur = s.current.get(topic, func(c *atomic.Int32) {
			c.Store(rand.Int32N(numPartitions))
		})
	}
	p := cur.Load()
	for p < 0 || p >= numPartitions {
		// The topic has fewer partitions than when p was chosen: pick again.
		np := rand.Int32N(numPartitions)
		if cur.CompareAndSwap(p, np) {
			return np
		}
		p = cur.Load()
	}
	return p
}

// onNewBatch moves the topic's sticky partition away from prev, if prev is
// still the current one (another caller may already have moved it, in which
// case this is a no-op, as in Kafka's StickyPartitionCache.nextPartition).
func (s *stickyPartitions) onNewBatch(topic string, prev int32, numPartitions int32) {
	cur := s.current.lookup(topic)
	if cur == nil || cur.Load() != prev {
		return
	}
	var np int32
	switch {
	case numPartitions <= 1:
		np = 0
	case prev < 0 || prev >= numPartitions:
		np = rand.Int32N(numPartitions)
	default:
		// Uniform over every partition but prev.
		np = rand.Int32N(numPartitions - 1)
		if np >= prev {
			np++
		}
	}
	cur.CompareAndSwap(prev, np)
}

// topicMap is a copy-on-write map from topic to per-topic state *T. Reads are
// one atomic pointer load and a map lookup (no lock, no allocation, no shared
// write); adding a topic takes a mutex and publishes a new map. Topics are few
// and added rarely, so copying on insert is cheap.
type topicMap[T any] struct {
	m  atomic.Pointer[map[string]*T]
	mu sync.Mutex // serialises writers of m (insert); readers only load m
}

// lookup returns the state of topic, or nil when the topic has none yet.
func (t *topicMap[T]) lookup(topic string) *T {
	if m := t.m.Load(); m != nil {
		return (*m)[topic]
	}
	return nil
}

// get returns the state of topic, creating it (and running init on it before
// anyone else can see it) when it does not exist yet.
func (t *topicMap[T]) get(topic string, init func(*T)) *T {
	if v := t.lookup(topic); v != nil {
		return v
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old != nil {
		if v := (*old)[topic]; v != nil {
			return v
		}
	}
	v := new(T)
	if init != nil {
		init(v)
	}
	next := make(map[string]*T, 1+len(ptrMap(old)))
	for k, e := range ptrMap(old) {
		next[k] = e
	}
	next[topic] = v
	t.m.Store(&next)
	return v
}

func ptrMap[T any](m *map[string]*T) map[string]*T {
	if m == nil {
		return nil
	}
	return *m
}
