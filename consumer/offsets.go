package consumer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/commitlog-go/commitlog/partition"
	"github.com/commitlog-go/commitlog/record"
)

// OffsetsTopic is the internal compacted topic that stores committed
// offsets, as in Kafka.
const OffsetsTopic = "__consumer_offsets"

// maxOffsetMetadata is Kafka's offset.metadata.max.bytes default: longer
// commit metadata is refused (OFFSET_METADATA_TOO_LARGE).
const maxOffsetMetadata = 4096

// DefaultOffsetsTopicPartitions is offsets.topic.num.partitions. Kafka's
// default is 50; an embedded broker serves far fewer groups, and every
// partition costs files and memory maps, so commitlog uses 8.
const DefaultOffsetsTopicPartitions = 8

// TopicPartition names one partition of a topic.
type TopicPartition = assignor.TopicPartition

// OffsetAndMetadata is a committed position: the next offset to consume,
// with optional metadata, as Kafka's OffsetAndMetadata.
type OffsetAndMetadata struct {
	Offset   int64
	Metadata string
}

// offsetStore keeps committed offsets in __consumer_offsets, keyed by
// (group, topic, partition) in Kafka's own binary layout (key version 1,
// value version 3), and caches them in memory. Compaction of the topic
// keeps it at one record per key.
type offsetStore struct {
	topic *commitlog.Topic
	mu    sync.RWMutex
	cache map[string]map[TopicPartition]OffsetAndMetadata
}

func openOffsetStore(b *commitlog.Broker, partitions int32) (*offsetStore, error) {
	t, err := b.Topic(OffsetsTopic)
	if errors.Is(err, commitlog.ErrUnknownTopic) {
		t, err = b.CreateTopic(OffsetsTopic, commitlog.TopicConfig{
			Partitions:    partitions,
			CleanupPolicy: commitlog.CleanupCompact,
			SegmentBytes:  100 << 20, // Kafka's offsets.topic.segment.bytes
		})
		if errors.Is(err, commitlog.ErrTopicExists) {
			t, err = b.Topic(OffsetsTopic)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: offsets topic: %w", err)
	}
	s := &offsetStore{topic: t, cache: map[string]map[TopicPartition]OffsetAndMetadata{}}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads every committed offset back, the last record of a key
// winning and tombstones deleting.
func (s *offsetStore) load() error {
	for _, p := range s.topic.Partitions() {
		err := scanOffsets(p, func(group string, tp TopicPartition, om OffsetAndMetadata, tombstone bool) {
			if tombstone {
				delete(s.cache[group], tp)
				return
			}
			s.put(group, tp, om)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// loadReadBytes is how much of the offsets topic one read takes.
const loadReadBytes = 1 << 20

// scanOffsets calls fn with every committed offset and tombstone of one
// partition of the offsets topic, in log order, from its log start offset
// to its high watermark as it was when the scan began. Every read must move
// the scan forward: a read that returns nothing below the high watermark,
// or batches whose offsets do not increase (a damaged base offset field,
// which the CRC does not cover), fails with ErrCorrupt naming the
// partition and the offset, instead of reading the same bytes forever or
// applying commits out of order.
func scanOffsets(p *partition.Partition, fn func(group string, tp TopicPartition, om OffsetAndMetadata, tombstone bool)) error {
	corrupt := func(offset int64, format string, args ...any) error {
		return fmt.Errorf("consumer: loading offsets: %s-%d at offset %d: %s: %w",
			OffsetsTopic, p.ID(), offset, fmt.Sprintf(format, args...), commitlog.ErrCorrupt)
	}
	var it record.Iterator
	var data []byte
	next := p.LogStartOffset()
	for hw := p.HighWatermark(); next < hw; {
		var err error
		data, err = p.Read(data, next, loadReadBytes)
		if err != nil {
			return fmt.Errorf("consumer: loading offsets: %s-%d at offset %d: %w", OffsetsTopic, p.ID(), next, err)
		}
		if len(data) == 0 {
			return corrupt(next, "nothing readable below the high watermark %d", hw)
		}
		from := next
		first := true
		err = record.Batches(data, func(h *record.BatchHeader, raw []byte) error {
			// The first batch of a read holds next (it may begin before
			// it); every later one begins at or after the previous end.
			if h.LastOffset() < next || (!first && h.BaseOffset < next) {
				return corrupt(next, "batch of offsets %d to %d out of order", h.BaseOffset, h.LastOffset())
			}
			first = false
			if h.IsControl() {
				next = h.NextOffset()
				return nil
			}
			if err := it.ResetChecked(h, raw); err != nil {
				return corrupt(h.BaseOffset, "%v", err)
			}
			for it.Next() {
				r := it.Record()
				if r.Offset < next {
					continue // below the log start offset
				}
				group, tp, ok := decodeOffsetKey(r.Key)
				if !ok {
					continue // another kind of record (group metadata): not ours
				}
				if r.Value == nil {
					fn(group, tp, OffsetAndMetadata{}, true)
					continue
				}
				om, ok := decodeOffsetValue(r.Value)
				if !ok {
					return corrupt(r.Offset, "offset commit value of group %s for %s-%d", group, tp.Topic, tp.Partition)
				}
				fn(group, tp, om, false)
			}
			if err := it.Err(); err != nil {
				return corrupt(h.BaseOffset, "%v", err)
			}
			next = h.NextOffset()
			return nil
		})
		if err != nil {
			if errors.Is(err, commitlog.ErrCorrupt) {
				return err
			}
			return corrupt(next, "%v", err)
		}
		if next <= from {
			return corrupt(from, "a read made no progress")
		}
	}
	return nil
}

func (s *offsetStore) put(group string, tp TopicPartition, om OffsetAndMetadata) {
	m := s.cache[group]
	if m == nil {
		m = map[TopicPartition]OffsetAndMetadata{}
		s.cache[group] = m
	}
	m[tp] = om
}

func (s *offsetStore) partitionFor(group string) (*partition.Partition, error) {
	parts := s.topic.Partitions()
	return s.topic.Partition(int32(xxhash.Sum64String(group) % uint64(len(parts))))
}

// commit writes the offsets as one batch to the group's partition of the
// offsets topic, fsyncs it, and then updates the cache.
func (s *offsetStore) commit(group string, offsets map[TopicPartition]OffsetAndMetadata) error {
	if len(offsets) == 0 {
		return nil
	}
	// Strings in the records carry an int16 length: a longer one would be
	// written truncated and make the whole topic fail to load.
	if len(group) > math.MaxInt16 {
		return fmt.Errorf("consumer: group id of %d bytes, at most %d: %w", len(group), math.MaxInt16, commitlog.ErrInvalidConfig)
	}
	for tp, om := range offsets {
		if len(tp.Topic) > math.MaxInt16 {
			return fmt.Errorf("consumer: commit for group %s: topic name of %d bytes: %w", group, len(tp.Topic), commitlog.ErrInvalidTopic)
		}
		if len(om.Metadata) > maxOffsetMetadata {
			return fmt.Errorf("consumer: commit for group %s: %s-%d metadata of %d bytes, at most %d (offset.metadata.max.bytes): %w",
				group, tp.Topic, tp.Partition, len(om.Metadata), maxOffsetMetadata, commitlog.ErrRecordTooLarge)
		}
	}
	p, err := s.partitionFor(group)
	if err != nil {
		return err
	}
	b := record.NewBuilder(0, record.BatchOptions{})
	now := time.Now().UnixMilli()
	for tp, om := range offsets {
		b.Add(now, encodeOffsetKey(group, tp), encodeOffsetValue(om, now), nil)
	}
	raw, err := b.Build()
	if err != nil {
		return err
	}
	if _, err := p.Append(raw, true); err != nil {
		return fmt.Errorf("consumer: commit for group %s: %w", group, err)
	}
	s.mu.Lock()
	for tp, om := range offsets {
		s.put(group, tp, om)
	}
	s.mu.Unlock()
	return nil
}

func (s *offsetStore) fetch(group string, tps []TopicPartition) map[TopicPartition]OffsetAndMetadata {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[TopicPartition]OffsetAndMetadata{}
	m := s.cache[group]
	if tps == nil {
		for tp, om := range m {
			out[tp] = om
		}
		return out
	}
	for _, tp := range tps {
		if om, ok := m[tp]; ok {
			out[tp] = om
		}
	}
	return out
}

// Kafka's OffsetCommitKey v1: version int16, group string, topic string,
// partition int32 (strings as int16 length + bytes).
func encodeOffsetKey(group string, tp TopicPartition) []byte {
	p := make([]byte, 0, 2+2+len(group)+2+len(tp.Topic)+4)
	p = binary.BigEndian.AppendUint16(p, 1)
	p = appendString(p, group)
	p = appendString(p, tp.Topic)
	return binary.BigEndian.AppendUint32(p, uint32(tp.Partition))
}

func decodeOffsetKey(p []byte) (string, TopicPartition, bool) {
	if len(p) < 2 {
		return "", TopicPartition{}, false
	}
	if v := binary.BigEndian.Uint16(p); v != 0 && v != 1 {
		return "", TopicPartition{}, false
	}
	p = p[2:]
	group, p, ok := readString(p)
	if !ok {
		return "", TopicPartition{}, false
	}
	topic, p, ok := readString(p)
	if !ok || len(p) != 4 {
		return "", TopicPartition{}, false
	}
	return group, TopicPartition{Topic: topic, Partition: int32(binary.BigEndian.Uint32(p))}, true
}

// Kafka's OffsetCommitValue v3: version int16, offset int64, leader epoch
// int32, metadata string, commit timestamp int64.
func encodeOffsetValue(om OffsetAndMetadata, ts int64) []byte {
	p := make([]byte, 0, 2+8+4+2+len(om.Metadata)+8)
	p = binary.BigEndian.AppendUint16(p, 3)
	p = binary.BigEndian.AppendUint64(p, uint64(om.Offset))
	p = binary.BigEndian.AppendUint32(p, 0xffffffff) // no leader epoch
	p = appendString(p, om.Metadata)
	return binary.BigEndian.AppendUint64(p, uint64(ts))
}

func decodeOffsetValue(p []byte) (OffsetAndMetadata, bool) {
	if len(p) < 2+8+4 || binary.BigEndian.Uint16(p) != 3 {
		return OffsetAndMetadata{}, false
	}
	om := OffsetAndMetadata{Offset: int64(binary.BigEndian.Uint64(p[2:]))}
	md, rest, ok := readString(p[14:])
	if !ok || len(rest) != 8 {
		return OffsetAndMetadata{}, false
	}
	om.Metadata = md
	return om, true
}

func appendString(p []byte, s string) []byte {
	p = binary.BigEndian.AppendUint16(p, uint16(len(s)))
	return append(p, s...)
}

func readString(p []byte) (string, []byte, bool) {
	if len(p) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+n {
		return "", nil, false
	}
	return string(p[2 : 2+n]), p[2+n:], true
}
