package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Header is a record header: a key string and an opaque value (nil value
// is encoded as length -1, as Kafka does).
type Header struct {
	Key   string
	Value []byte
}

// BatchOptions are the batch-level fields a Builder writes.
type BatchOptions struct {
	// Compression of the records section: None, GZIP, Snappy, LZ4 or ZSTD.
	Compression Compression
	// TimestampType of the batch. With LogAppendTime the log overwrites
	// MaxTimestamp on append; see SetLogAppendTime.
	TimestampType TimestampType
	// ProducerID, ProducerEpoch and BaseSequence are -1 when no idempotent
	// producer wrote the batch. The zero BatchOptions means "none" for all
	// three, as NoProducer documents.
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	// PartitionLeaderEpoch is written as is (commitlog writes 0).
	PartitionLeaderEpoch int32
	// Transactional and Control set attribute bits 4 and 5.
	Transactional bool
	Control       bool
	// DeleteHorizon, when positive, is the time (ms since the epoch) after
	// which the log cleaner may remove the batch's tombstones (KIP-534). The
	// builder sets attribute bit 6 and stores the horizon as the batch's
	// base timestamp (Kafka's baseTimestamp field); record timestamps are
	// encoded as deltas from it, so they read back unchanged. Zero or
	// negative means no horizon: the base timestamp is the first record's.
	DeleteHorizon int64

	// fromHeader is set by BatchHeader.Options for a header whose producer
	// fields are all zero: they are taken as they are (producer id 0,
	// epoch 0 and sequence 0 is a real idempotent producer's first batch),
	// not as the "none" of the zero BatchOptions.
	fromHeader bool
}

// Options returns the BatchOptions that rebuild a batch with the same
// batch-level fields as the one h describes (compression, timestamp type,
// producer fields, leader epoch, transactional and control bits, delete
// horizon). The log cleaner uses it to rewrite batches.
func (h *BatchHeader) Options() BatchOptions {
	o := BatchOptions{
		Compression:          h.Compression(),
		TimestampType:        h.TimestampType(),
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		BaseSequence:         h.BaseSequence,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		Transactional:        h.IsTransactional(),
		Control:              h.IsControl(),
	}
	// Producer id 0, epoch 0, sequence 0 would read as "none" to Reset.
	o.fromHeader = o.ProducerID == 0 && o.ProducerEpoch == 0 && o.BaseSequence == 0
	if ms, ok := h.DeleteHorizon(); ok {
		o.DeleteHorizon = ms
	}
	return o
}

// NoProducer is ProducerID, ProducerEpoch and BaseSequence of a batch that
// no idempotent producer wrote.
const NoProducer = -1

// Builder encodes records into one v2 record batch. Records are encoded as
// they are added, so Size is exact for uncompressed batches; Build adds the
// header, compresses and computes the CRC. A Builder is reusable after
// Reset and is not safe for concurrent use.
type Builder struct {
	opts       BatchOptions
	baseOffset int64
	firstTS    int64
	maxTS      int64
	fixedTS    bool // SetTimestamps was called: keep firstTS
	count      int32
	lastDelta  int32
	body       []byte // encoded records, uncompressed
	out        []byte // whole batch
	zbuf       []byte // compression scratch
}

// NewBuilder returns a Builder for a batch starting at baseOffset. The base
// offset is usually rewritten by the log on append (SetBaseOffset).
func NewBuilder(baseOffset int64, opts BatchOptions) *Builder {
	b := &Builder{}
	b.Reset(baseOffset, opts)
	return b
}

// Reset empties the builder for a new batch, keeping its buffers.
func (b *Builder) Reset(baseOffset int64, opts BatchOptions) {
	if opts.ProducerID == 0 && opts.ProducerEpoch == 0 && opts.BaseSequence == 0 && !opts.fromHeader {
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = NoProducer, NoProducer, NoProducer
	}
	b.opts = opts
	b.baseOffset = baseOffset
	b.count = 0
	b.lastDelta = 0
	b.firstTS = 0
	b.maxTS = -1
	b.fixedTS = false
	if opts.DeleteHorizon > 0 {
		// The base timestamp field holds the horizon; record timestamps
		// are deltas from it.
		b.firstTS = opts.DeleteHorizon
		b.fixedTS = true
	}
	b.body = b.body[:0]
}

// Grow makes room for n more bytes of encoded records, so that adding
// them does not reallocate, as bytes.Buffer.Grow does.
func (b *Builder) Grow(n int) { b.body = slices.Grow(b.body, n) }

// Len is the number of records added so far.
func (b *Builder) Len() int { return int(b.count) }

// Size is the size the batch would have if built now without compression.
func (b *Builder) Size() int { return HeaderSize + len(b.body) }

// RecordSize returns the encoded size of a record with the given fields and
// deltas, as Add would write it (length prefix included). It lets a caller
// check a size limit before adding.
func RecordSize(offsetDelta int32, timestampDelta int64, key, value []byte, headers []Header) int {
	n := bodySize(offsetDelta, timestampDelta, key, value, headers)
	return varintLen(int64(n)) + n
}

func bodySize(offsetDelta int32, timestampDelta int64, key, value []byte, headers []Header) int {
	n := 1 + varintLen(timestampDelta) + varintLen(int64(offsetDelta))
	n += bytesLen(key) + bytesLen(value)
	n += varintLen(int64(len(headers)))
	for i := range headers {
		n += varintLen(int64(len(headers[i].Key))) + len(headers[i].Key) + bytesLen(headers[i].Value)
	}
	return n
}

func bytesLen(p []byte) int {
	if p == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(p))) + len(p)
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// Add appends a record with timestamp ts (ms since the epoch). A nil key or
// value is written as null (length -1); an empty non-nil one as length 0.
// It returns the record's offset delta within the batch.
func (b *Builder) Add(ts int64, key, value []byte, headers []Header) int32 {
	return b.AddWithDelta(b.nextDelta(), ts, key, value, headers)
}

func (b *Builder) nextDelta() int32 {
	if b.count == 0 {
		return 0
	}
	return b.lastDelta + 1
}

// AddWithDelta appends a record with an explicit offset delta, which must be
// greater than the previous one; compaction uses it to keep the offsets of
// the records it retains.
func (b *Builder) AddWithDelta(offsetDelta int32, ts int64, key, value []byte, headers []Header) int32 {
	if b.count == 0 && !b.fixedTS {
		b.firstTS = ts
	}
	if ts > b.maxTS {
		b.maxTS = ts
	}
	tsDelta := ts - b.firstTS
	n := bodySize(offsetDelta, tsDelta, key, value, headers)
	p := b.body
	p = binary.AppendVarint(p, int64(n))
	p = append(p, 0) // record attributes: unused in v2
	p = binary.AppendVarint(p, tsDelta)
	p = binary.AppendVarint(p, int64(offsetDelta))
	p = appendBytes(p, key)
	p = appendBytes(p, value)
	p = binary.AppendVarint(p, int64(len(headers)))
	for i := range headers {
		p = binary.AppendVarint(p, int64(len(headers[i].Key)))
		p = append(p, headers[i].Key...)
		p = appendBytes(p, headers[i].Value)
	}
	b.body = p
	b.count++
	b.lastDelta = offsetDelta
	return offsetDelta
}

// SetLastOffsetDelta widens the batch's offset range past its last record,
// as a compacted batch whose trailing records were removed keeps it.
func (b *Builder) SetLastOffsetDelta(d int32) {
	if d > b.lastDelta {
		b.lastDelta = d
	}
}

// SetTimestamps overrides the batch's first and max timestamps; compaction
// uses it to keep those of the original batch. Call it before the first Add:
// record timestamps are then encoded as deltas from firstTS. A batch with a
// delete horizon (BatchOptions.DeleteHorizon) keeps the horizon in the base
// timestamp field, and only maxTS is taken.
func (b *Builder) SetTimestamps(firstTS, maxTS int64) {
	if b.opts.DeleteHorizon <= 0 {
		b.firstTS = firstTS
	}
	b.maxTS = maxTS
	b.fixedTS = true
}

func appendBytes(p, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(p, -1)
	}
	p = binary.AppendVarint(p, int64(len(v)))
	return append(p, v...)
}

// Build encodes the batch and returns its bytes, valid until the next call to
// Reset or Build. An empty batch (no records) is valid, as compaction leaves
// them.
func (b *Builder) Build() ([]byte, error) {
	records := b.body
	if b.opts.Compression != None && b.count > 0 {
		z, err := compress(b.opts.Compression, b.zbuf[:0], b.body)
		if err != nil {
			return nil, err
		}
		b.zbuf = z
		records = z
	}
	size := HeaderSize + len(records)
	if size-LogOverhead > math.MaxInt32 {
		return nil, fmt.Errorf("batch of %d bytes: %w", size, ErrRecordTooLarge)
	}
	out := b.out[:0]
	if cap(out) < size {
		out = make([]byte, 0, size)
	}
	out = out[:HeaderSize]
	attrs := uint16(b.opts.Compression) & compressionMask
	if b.opts.TimestampType == LogAppendTime {
		attrs |= timestampTypeBit
	}
	if b.opts.Transactional {
		attrs |= transactionalBit
	}
	if b.opts.Control {
		attrs |= controlBit
	}
	if b.opts.DeleteHorizon > 0 {
		attrs |= deleteHorizonFlagBit
	}
	maxTS := b.maxTS
	if b.count == 0 && maxTS < 0 {
		maxTS = -1
	}
	be := binary.BigEndian
	be.PutUint64(out[offBaseOffset:], uint64(b.baseOffset))
	be.PutUint32(out[offBatchLength:], uint32(size-LogOverhead))
	be.PutUint32(out[offLeaderEpoch:], uint32(b.opts.PartitionLeaderEpoch))
	out[offMagic] = Magic
	be.PutUint16(out[offAttributes:], attrs)
	be.PutUint32(out[offLastOffsetDelta:], uint32(b.lastDelta))
	be.PutUint64(out[offFirstTimestamp:], uint64(b.firstTS))
	be.PutUint64(out[offMaxTimestamp:], uint64(maxTS))
	be.PutUint64(out[offProducerID:], uint64(b.opts.ProducerID))
	be.PutUint16(out[offProducerEpoch:], uint16(b.opts.ProducerEpoch))
	be.PutUint32(out[offBaseSequence:], uint32(b.opts.BaseSequence))
	be.PutUint32(out[offRecordCount:], uint32(b.count))
	out = append(out, records...)
	updateCRC(out)
	b.out = out
	return out, nil
}
