package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
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
// they are added, after room left for the batch header, so Size is exact
// for uncompressed batches; Build writes the header in place, compresses
// and computes the CRC: an uncompressed batch is never copied. A Builder is
// reusable after Reset and is not safe for concurrent use.
type Builder struct {
	opts       BatchOptions
	baseOffset int64
	firstTS    int64
	maxTS      int64
	fixedTS    bool // SetTimestamps was called: keep firstTS
	count      int32
	lastDelta  int32
	// buf is HeaderSize bytes for the header, then the encoded records
	// (uncompressed); Build fills the header in.
	buf  []byte
	zbuf []byte // a compressed batch: its header, then the compressed records
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
	b.buf = headerRoom(b.buf)
}

// headerRoom returns p emptied down to the HeaderSize bytes the header
// takes, keeping its capacity.
func headerRoom(p []byte) []byte {
	if cap(p) < HeaderSize {
		return make([]byte, HeaderSize, 2*HeaderSize)
	}
	return p[:HeaderSize]
}

// Grow makes room for n more bytes of encoded records, so that adding
// them does not reallocate, as bytes.Buffer.Grow does.
func (b *Builder) Grow(n int) {
	if len(b.buf) < HeaderSize {
		b.buf = headerRoom(b.buf)
	}
	b.buf = slices.Grow(b.buf, n)
}

// Len is the number of records added so far.
func (b *Builder) Len() int { return int(b.count) }

// Size is the size the batch would have if built now without compression.
func (b *Builder) Size() int { return max(len(b.buf), HeaderSize) }

// RecordSize returns the encoded size of a record with the given fields and
// deltas, as Add would write it (length prefix included). It lets a caller
// check a size limit before adding.
func RecordSize(offsetDelta int32, timestampDelta int64, key, value []byte, headers []Header) int {
	// The attributes byte, and the header count of a record without
	// headers (one byte); as AddWithDelta writes them.
	n := 2 + varintLen(timestampDelta) + varintLen(int64(offsetDelta)) +
		varintLen(bytesLenField(key)) + len(key) + varintLen(bytesLenField(value)) + len(value)
	if len(headers) > 0 {
		n += headersSize(headers) - 1
	}
	return varintLen(int64(n)) + n
}

// headersSize is the encoded size of headers, their count included.
func headersSize(headers []Header) int {
	n := varintLen(int64(len(headers)))
	for i := range headers {
		n += varintLen(int64(len(headers[i].Key))) + len(headers[i].Key) + bytesLen(headers[i].Value)
	}
	return n
}

// bytesLenField is the length field of p: -1 for nil.
func bytesLenField(p []byte) int64 {
	if p == nil {
		return -1
	}
	return int64(len(p))
}

func bytesLen(p []byte) int {
	if p == nil {
		return 1 // varint -1
	}
	return varintLen(int64(len(p))) + len(p)
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
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
	// RecordSize and the writes below, inlined for a record without
	// headers: the varints go without a call.
	kl, vl := bytesLenField(key), bytesLenField(value)
	n := 2 + varintLen(tsDelta) + varintLen(int64(offsetDelta)) + varintLen(kl) + len(key) + varintLen(vl) + len(value)
	if len(headers) > 0 {
		n += headersSize(headers) - 1
	}
	if len(b.buf) < HeaderSize {
		b.buf = headerRoom(b.buf)
	}
	// One capacity check for the whole record, then plain stores.
	at, total := len(b.buf), varintLen(int64(n))+n
	p := slices.Grow(b.buf, total)[:at+total]
	i := putVarint(p, at, int64(n))
	p[i] = 0 // record attributes: unused in v2
	i = putVarint(p, i+1, tsDelta)
	i = putVarint(p, i, int64(offsetDelta))
	i = putVarint(p, i, kl)
	if kl > 0 {
		i += copy(p[i:], key)
	}
	i = putVarint(p, i, vl)
	if vl > 0 {
		i += copy(p[i:], value)
	}
	if len(headers) == 0 {
		p[i] = 0
		i++
	} else {
		i = putHeaders(p, i, headers)
	}
	b.buf = p[:i]
	b.count++
	b.lastDelta = offsetDelta
	return offsetDelta
}

// putVarint writes v zigzag-encoded at p[i:], which has room for it, and
// returns the index after it. It is inlined: the deltas and lengths of
// small records take one byte, written without a call.
func putVarint(p []byte, i int, v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	if u < 1<<7 {
		p[i] = byte(u)
		return i + 1
	}
	return i + binary.PutUvarint(p[i:], u)
}

func putBytes(p []byte, i int, v []byte) int {
	if v == nil {
		p[i] = 1 // varint -1
		return i + 1
	}
	i = putVarint(p, i, int64(len(v)))
	return i + copy(p[i:], v)
}

// putHeaders writes headers, their count first, at p[i:].
func putHeaders(p []byte, i int, headers []Header) int {
	i = putVarint(p, i, int64(len(headers)))
	for j := range headers {
		i = putVarint(p, i, int64(len(headers[j].Key)))
		i += copy(p[i:], headers[j].Key)
		i = putBytes(p, i, headers[j].Value)
	}
	return i
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

// Build encodes the batch and returns its bytes, valid until the next call
// to Reset, Add or Build: the bytes are the builder's own buffer (an
// uncompressed batch is built where its records were encoded), which the
// caller may change in place, as the log does (SetBaseOffset) when it
// appends them. Records may be added after Build and the batch built
// again. An empty batch (no records) is valid, as compaction leaves them.
func (b *Builder) Build() ([]byte, error) {
	if len(b.buf) < HeaderSize {
		b.buf = headerRoom(b.buf)
	}
	out := b.buf
	if b.opts.Compression != None && b.count > 0 {
		z, err := compress(b.opts.Compression, headerRoom(b.zbuf), b.buf[HeaderSize:])
		if err != nil {
			return nil, err
		}
		b.zbuf = z
		out = z
	}
	size := len(out)
	if size-LogOverhead > math.MaxInt32 {
		return nil, fmt.Errorf("batch of %d bytes: %w", size, ErrRecordTooLarge)
	}
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
	updateCRC(out)
	return out, nil
}
