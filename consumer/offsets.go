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
	"github.com/commitlog-go/commitlog/record"
)

// OffsetsTopic is the internal compacted topic that stores committed
// offsets, as in Kafka: the root package's commitlog.OffsetsTopic.
const OffsetsTopic = commitlog.OffsetsTopic

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
	// mu guards cache, stamps and clamped (load fills them before the store is
	// shared). A commit is appended without it, then cached under it.
	mu    sync.RWMutex
	cache map[string]map[TopicPartition]OffsetAndMetadata
	// stamps holds the commit timestamp (ms) of each cached offset, made
	// on first use: a later commit of the key never carries an older one.
	stamps map[string]map[TopicPartition]int64
	// clamped counts, per group, the commits beyond their partition's log
	// end that the load clamped (clampBeyondEnd).
	clamped map[string]int64
	// ro is set on a read-only broker (readonly.go): the store is loaded
	// again when the owner commits, and refuses commits.
	ro *readOnlyOffsets
}

func openOffsetStore(b commitlog.Store, partitions int32) (*offsetStore, error) {
	t, err := b.OffsetsTopic(partitions)
	if errors.Is(err, commitlog.ErrInvalidConfig) {
		return nil, fmt.Errorf("consumer: offsets topic with %d partitions (offsets.topic.num.partitions): %w", partitions, err)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: offsets topic: %w", err)
	}
	s := &offsetStore{topic: t, cache: map[string]map[TopicPartition]OffsetAndMetadata{}}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.clampBeyondEnd(b); err != nil {
		return nil, err
	}
	return s, nil
}

// clampBeyondEnd finds, for every group, the committed offsets beyond
// their partition's log end offset as it was opened (after recovery,
// before any append of this process: Partition.OpenedEndOffset) and
// rewrites each to that offset, durably (a new commit record, fsynced), logging each at Error
// level and counting it in the group's GroupStats.ClampedCommits.
//
// Such a commit is what a power cut leaves when it takes back records a
// consumer had processed and committed past (records appended without
// fsync, on a topic or producer that does not promise durability): the
// log recovers shorter than the commit. Left alone, the next records
// appended would get the offsets between the log end and the commit, and
// a member resuming from the commit would skip them. Clamped, the group
// resumes at the log end and processes them. (A topic deleted and created
// again shorter leaves the same mismatch and gets the same treatment.)
// Kafka's consumers meet the same situation as an out-of-range fetch and
// apply auto.offset.reset; the clamp instead keeps the group's place.
func (s *offsetStore) clampBeyondEnd(b commitlog.Store) error {
	type clamp struct {
		tp       TopicPartition
		om       OffsetAndMetadata
		was, end int64
	}
	byGroup := map[string][]clamp{}
	for group, m := range s.cache {
		for tp, om := range m {
			t, err := b.Topic(tp.Topic)
			if err != nil {
				continue // the topic is gone: nothing will be read at that commit
			}
			p, err := t.Partition(tp.Partition)
			if err != nil {
				continue
			}
			// The end that recovery left, not the current one: producers may
			// have appended since Open, and records appended at offsets
			// below the commit must not be skipped.
			if end := p.OpenedEndOffset(); om.Offset > end {
				byGroup[group] = append(byGroup[group], clamp{tp, OffsetAndMetadata{Offset: end, Metadata: om.Metadata}, om.Offset, end})
			}
		}
	}
	for group, cs := range byGroup {
		offsets := map[TopicPartition]OffsetAndMetadata{}
		for _, c := range cs {
			offsets[c.tp] = c.om
			b.Logger().Error("consumer: committed offset beyond the partition's log end offset (records a power cut took back, or a topic made again): clamping the commit to the log end so that no record appended there is skipped",
				"group", group, "topic", c.tp.Topic, "partition", c.tp.Partition, "committed", c.was, "log_end_offset", c.end)
		}
		if err := s.commit(group, offsets); err != nil {
			return fmt.Errorf("consumer: clamping the commits of group %s beyond the log end: %w", group, err)
		}
		s.mu.Lock()
		if s.clamped == nil {
			s.clamped = map[string]int64{}
		}
		s.clamped[group] += int64(len(cs))
		s.mu.Unlock()
	}
	return nil
}

// clampedCommits is how many commits of group clampBeyondEnd rewrote.
func (s *offsetStore) clampedCommits(group string) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clamped[group]
}

// load reads every committed offset back. Within one partition of the
// offsets topic the log order decides: the later record of a key wins (a
// tombstone deletes), even if the clock went back between the two. A key
// can have records in several partitions when the topic's partition count
// changed (commits go to partition xxhash(group) % count): across
// partitions the newer commit wins, by commit timestamp (a tombstone's is
// its record timestamp), where a partition's last record of the key counts
// as made at the newest timestamp of the key's records up to it in that
// partition (it was made after them); on a tie the partition the group
// maps to now wins, then the lower-numbered one. A commit of a negative
// offset (older versions of this package accepted them) means no committed
// offset, as it did then.
func (s *offsetStore) load() error {
	type key struct {
		group string
		tp    TopicPartition
	}
	type found struct {
		v         offsetValue
		tombstone bool
		part      int32
		ts        int64 // the newest commit timestamp of the key up to v in its partition
	}
	parts := s.topic.Partitions()
	home := func(group string) int32 { return int32(xxhash.Sum64String(group) % uint64(len(parts))) }
	best := map[key]found{}
	for _, p := range parts {
		latest := map[key]found{}
		err := scanOffsets(p, func(k offsetKey, v offsetValue, tombstone bool) {
			kk := key{k.group, k.tp}
			f := found{v: v, tombstone: tombstone, part: p.ID(), ts: v.commitTS}
			if prev, ok := latest[kk]; ok {
				f.ts = max(f.ts, prev.ts) // made after prev, whatever the clock said
			}
			latest[kk] = f
		})
		if err != nil {
			return err
		}
		for k, f := range latest {
			cur, ok := best[k]
			if !ok || f.ts > cur.ts || (f.ts == cur.ts && f.part == home(k.group)) {
				best[k] = f
			}
		}
	}
	for k, f := range best {
		if !f.tombstone && f.v.offset >= 0 {
			s.put(k.group, k.tp, OffsetAndMetadata{Offset: f.v.offset, Metadata: f.v.metadata}, f.v.commitTS)
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
func scanOffsets(p *brokerPartition, fn func(k offsetKey, v offsetValue, tombstone bool)) error {
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
			return offsetsCorrupt(p.ID(), next, "nothing readable below the high watermark %d", hw)
		}
		from := next
		if next, err = decodeOffsetBatches(p.ID(), data, next, &it, fn); err != nil {
			return err
		}
		if next <= from {
			return offsetsCorrupt(p.ID(), from, "a read made no progress")
		}
	}
	return nil
}

// offsetsCorrupt is the load's error for damaged bytes of partition part
// of the offsets topic at offset.
func offsetsCorrupt(part int32, offset int64, format string, args ...any) error {
	return fmt.Errorf("consumer: loading offsets: %s-%d at offset %d: %s: %w",
		OffsetsTopic, part, offset, fmt.Sprintf(format, args...), commitlog.ErrCorrupt)
}

// decodeOffsetBatches calls fn with each committed offset and tombstone of
// data, the bytes of one read at offset next of partition part of the
// offsets topic, and returns the offset after its last batch. Anything it
// cannot decode is an error wrapping ErrCorrupt; so are batches that do not
// hold or follow next, or go back.
func decodeOffsetBatches(part int32, data []byte, next int64, it *record.Iterator, fn func(k offsetKey, v offsetValue, tombstone bool)) (int64, error) {
	var failed error // the callback's own error, already described
	fail := func(offset int64, format string, args ...any) error {
		failed = offsetsCorrupt(part, offset, format, args...)
		return failed
	}
	first := true
	err := record.Batches(data, func(h *record.BatchHeader, raw []byte) error {
		// The first batch of a read holds next (it may begin before it);
		// every later one begins at or after the previous one's end.
		if h.LastOffset() < next || (!first && h.BaseOffset < next) {
			return fail(next, "batch of offsets %d to %d out of order", h.BaseOffset, h.LastOffset())
		}
		first = false
		if h.IsControl() {
			next = h.NextOffset()
			return nil
		}
		if err := it.ResetChecked(h, raw); err != nil {
			return fail(h.BaseOffset, "%v", err)
		}
		for it.Next() {
			r := it.Record()
			if r.Offset < next {
				continue // below the log start offset
			}
			k, ours, err := decodeOffsetKey(r.Key)
			if err != nil {
				return fail(r.Offset, "%v", err)
			}
			if !ours {
				continue // another kind of record (group metadata): not ours
			}
			if r.Value == nil {
				fn(k, offsetValue{commitTS: r.Timestamp}, true)
				continue
			}
			v, err := decodeOffsetValue(r.Value)
			if err != nil {
				return fail(r.Offset, "offset commit of group %s for %s-%d: %v", k.group, k.tp.Topic, k.tp.Partition, err)
			}
			fn(k, v, false)
		}
		if err := it.Err(); err != nil {
			return fail(h.BaseOffset, "%v", err)
		}
		next = h.NextOffset()
		return nil
	})
	if err != nil && err != failed {
		err = offsetsCorrupt(part, next, "%v", err) // the batch's framing or CRC
	}
	return next, err
}

func (s *offsetStore) put(group string, tp TopicPartition, om OffsetAndMetadata, ts int64) {
	m := s.cache[group]
	if m == nil {
		m = map[TopicPartition]OffsetAndMetadata{}
		s.cache[group] = m
	}
	m[tp] = om
	if s.stamps == nil {
		s.stamps = map[string]map[TopicPartition]int64{}
	}
	st := s.stamps[group]
	if st == nil {
		st = map[TopicPartition]int64{}
		s.stamps[group] = st
	}
	st[tp] = ts
}

// commitTime is the commit timestamp of a new commit of group's offsets:
// now, or the newest timestamp of the commits it replaces if the clock went
// back, so that a newer commit never carries an older timestamp. That is
// what orders commits across partitions of the offsets topic on load.
func (s *offsetStore) commitTime(group string, offsets map[TopicPartition]OffsetAndMetadata) int64 {
	ts := time.Now().UnixMilli()
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.stamps[group]
	for tp := range offsets {
		ts = max(ts, st[tp])
	}
	return ts
}

func (s *offsetStore) partitionFor(group string) (*brokerPartition, error) {
	parts := s.topic.Partitions()
	return s.topic.Partition(int32(xxhash.Sum64String(group) % uint64(len(parts))))
}

// commit writes the offsets as one batch to the group's partition of the
// offsets topic, fsyncs it, and then updates the cache.
func (s *offsetStore) commit(group string, offsets map[TopicPartition]OffsetAndMetadata) error {
	if err := s.readOnlyErr("commit", group); err != nil {
		return err
	}
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
	now := s.commitTime(group, offsets)
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
		s.put(group, tp, om, now)
	}
	s.mu.Unlock()
	return nil
}

func (s *offsetStore) fetch(group string, tps []TopicPartition) map[TopicPartition]OffsetAndMetadata {
	s.syncLogged()
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

// offsetKey is Kafka's OffsetCommitKey (versions 0 and 1, the same
// fields): group string, topic string, partition int32, after the int16
// version. Strings are an int16 length and the bytes.
type offsetKey struct {
	version int16
	group   string
	tp      TopicPartition
}

func encodeOffsetKey(group string, tp TopicPartition) []byte {
	return offsetKey{version: 1, group: group, tp: tp}.encode()
}

func (k offsetKey) encode() []byte {
	p := make([]byte, 0, 2+2+len(k.group)+2+len(k.tp.Topic)+4)
	p = binary.BigEndian.AppendUint16(p, uint16(k.version))
	p = appendString(p, k.group)
	p = appendString(p, k.tp.Topic)
	return binary.BigEndian.AppendUint32(p, uint32(k.tp.Partition))
}

// errOffsetRecord is why a committed-offset key or value does not decode;
// the loader wraps it with ErrCorrupt and where it was found.
var errOffsetRecord = errors.New("malformed committed-offset record")

// decodeOffsetKey decodes a key of the offsets topic. ours is false, with
// no error, for the keys of the topic's other records (group metadata,
// versions 2 and up); a key of version 0 or 1 that does not decode, or one
// with no version at all, is an error.
func decodeOffsetKey(p []byte) (k offsetKey, ours bool, err error) {
	if len(p) < 2 {
		return k, false, fmt.Errorf("key of %d bytes: %w", len(p), errOffsetRecord)
	}
	k.version = int16(binary.BigEndian.Uint16(p))
	switch {
	case k.version < 0:
		return k, false, fmt.Errorf("key version %d: %w", k.version, errOffsetRecord)
	case k.version > 1:
		return k, false, nil
	}
	p = p[2:]
	var ok bool
	if k.group, p, ok = readString(p); !ok {
		return k, false, fmt.Errorf("offset key v%d: group: %w", k.version, errOffsetRecord)
	}
	if k.tp.Topic, p, ok = readString(p); !ok {
		return k, false, fmt.Errorf("offset key v%d: topic: %w", k.version, errOffsetRecord)
	}
	if len(p) != 4 {
		return k, false, fmt.Errorf("offset key v%d: %d bytes where the partition's 4 end it: %w", k.version, len(p), errOffsetRecord)
	}
	k.tp.Partition = int32(binary.BigEndian.Uint32(p))
	return k, true, nil
}

// offsetValue is Kafka's OffsetCommitValue v3: version int16, offset
// int64, leader epoch int32 (-1: none), metadata string, commit timestamp
// int64 (ms). Only v3 is written, and read.
type offsetValue struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTS    int64
}

func encodeOffsetValue(om OffsetAndMetadata, ts int64) []byte {
	return offsetValue{offset: om.Offset, leaderEpoch: -1, metadata: om.Metadata, commitTS: ts}.encode()
}

func (v offsetValue) encode() []byte {
	p := make([]byte, 0, 2+8+4+2+len(v.metadata)+8)
	p = binary.BigEndian.AppendUint16(p, 3)
	p = binary.BigEndian.AppendUint64(p, uint64(v.offset))
	p = binary.BigEndian.AppendUint32(p, uint32(v.leaderEpoch))
	p = appendString(p, v.metadata)
	return binary.BigEndian.AppendUint64(p, uint64(v.commitTS))
}

func decodeOffsetValue(p []byte) (offsetValue, error) {
	var v offsetValue
	if len(p) < 2 {
		return v, fmt.Errorf("value of %d bytes: %w", len(p), errOffsetRecord)
	}
	if ver := int16(binary.BigEndian.Uint16(p)); ver != 3 {
		return v, fmt.Errorf("offset value version %d, want 3: %w", ver, errOffsetRecord)
	}
	if len(p) < 2+8+4 {
		return v, fmt.Errorf("offset value of %d bytes: %w", len(p), errOffsetRecord)
	}
	v.offset = int64(binary.BigEndian.Uint64(p[2:]))
	v.leaderEpoch = int32(binary.BigEndian.Uint32(p[10:]))
	md, rest, ok := readString(p[14:])
	if !ok {
		return v, fmt.Errorf("offset value: metadata: %w", errOffsetRecord)
	}
	if len(rest) != 8 {
		return v, fmt.Errorf("offset value: %d bytes where the commit timestamp's 8 end it: %w", len(rest), errOffsetRecord)
	}
	v.metadata = md
	v.commitTS = int64(binary.BigEndian.Uint64(rest))
	return v, nil
}

func appendString(p []byte, s string) []byte {
	p = binary.BigEndian.AppendUint16(p, uint16(len(s)))
	return append(p, s...)
}

// readString reads an int16-length string; a negative length (a null,
// which these fields never are) is refused.
func readString(p []byte) (string, []byte, bool) {
	if len(p) < 2 {
		return "", nil, false
	}
	n := int(int16(binary.BigEndian.Uint16(p)))
	if n < 0 || len(p) < 2+n {
		return "", nil, false
	}
	return string(p[2 : 2+n]), p[2+n:], true
}
