package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Layout of the fixed part of a v2 record batch. All integers are big-endian.
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// HeaderSize is the size of the fixed batch header that precedes the
	// records section (Kafka's RECORD_BATCH_OVERHEAD).
	HeaderSize = 61
	// LogOverhead is the size of the baseOffset and batchLength fields, which
	// batchLength does not count (Kafka's LOG_OVERHEAD).
	LogOverhead = 12
	// Magic is the only record batch format version this package reads and
	// writes.
	Magic = 2

	// crcStart is where the CRC-covered region begins (attributes).
	crcStart = offAttributes
)

// Attribute bits.
const (
	compressionMask      = 0x07
	timestampTypeBit     = 0x08
	transactionalBit     = 0x10
	controlBit           = 0x20
	deleteHorizonFlagBit = 0x40
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Compression is the codec of a batch's records section (attribute bits 0-2).
type Compression int8

// Compression codecs, numbered as Kafka numbers them. This package reads
// and writes all five. GZIP is deflate in a gzip stream, LZ4 an LZ4 frame,
// ZSTD zstd frames (written at zstd's level 3, Kafka's default
// compression.zstd.level). Snappy is written as one raw snappy block, as
// librdkafka and franz-go write it, and read both as a raw block and in the
// xerial framing that Kafka's Java producer writes (snappy-java's
// SnappyOutputStream). Attributes naming codec 5, 6 or 7 fail with
// ErrUnsupportedCompression.
const (
	None   Compression = 0
	GZIP   Compression = 1
	Snappy Compression = 2
	LZ4    Compression = 3
	ZSTD   Compression = 4
)

// String returns Kafka's name for the codec (compression.type).
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case GZIP:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case ZSTD:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int8(c))
}

// ParseCompression maps Kafka's compression.type names to a Compression.
func ParseCompression(name string) (Compression, error) {
	switch name {
	case "", "none":
		return None, nil
	case "gzip":
		return GZIP, nil
	case "snappy":
		return Snappy, nil
	case "lz4":
		return LZ4, nil
	case "zstd":
		return ZSTD, nil
	}
	return None, fmt.Errorf("record: unknown compression.type %q", name)
}

// TimestampType says which clock a batch's timestamps come from (Kafka's
// message.timestamp.type).
type TimestampType int8

const (
	// CreateTime timestamps are set by the producer.
	CreateTime TimestampType = 0
	// LogAppendTime timestamps are set by the log when the batch is appended;
	// every record of the batch then has the batch's MaxTimestamp.
	LogAppendTime TimestampType = 1
)

// String returns Kafka's name for the timestamp type.
func (t TimestampType) String() string {
	if t == LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// BatchHeader is the decoded fixed part of a v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after the BatchLength field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64 // Kafka's baseTimestamp; the delete horizon when HasDeleteHorizon
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the whole size of the batch in bytes, header included.
func (h *BatchHeader) Size() int { return int(h.BatchLength) + LogOverhead }

// LastOffset is the offset of the last record the batch was written with
// (compaction may have removed that record; the offset stays taken).
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset that follows the batch.
func (h *BatchHeader) NextOffset() int64 { return h.LastOffset() + 1 }

// Compression is the codec of the records section.
func (h *BatchHeader) Compression() Compression {
	return Compression(h.Attributes & compressionMask)
}

// TimestampType reports CreateTime or LogAppendTime.
func (h *BatchHeader) TimestampType() TimestampType {
	if h.Attributes&timestampTypeBit != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// IsTransactional reports attribute bit 4.
func (h *BatchHeader) IsTransactional() bool { return h.Attributes&transactionalBit != 0 }

// IsControl reports attribute bit 5 (a control batch, e.g. a transaction marker).
func (h *BatchHeader) IsControl() bool { return h.Attributes&controlBit != 0 }

// HasDeleteHorizon reports attribute bit 6: the log cleaner has stamped the
// batch with a delete horizon (KIP-534), kept in the base timestamp field.
func (h *BatchHeader) HasDeleteHorizon() bool { return h.Attributes&deleteHorizonFlagBit != 0 }

// DeleteHorizon returns the time (ms since the epoch) from which the log
// cleaner may remove the batch's tombstones, and whether the batch has one.
// With a horizon, FirstTimestamp holds it rather than the first record's
// timestamp (record timestamps still decode correctly: they are deltas from
// whatever the field holds).
func (h *BatchHeader) DeleteHorizon() (int64, bool) {
	if !h.HasDeleteHorizon() {
		return -1, false
	}
	return h.FirstTimestamp, true
}

// ParseHeader decodes the fixed header at the start of b and checks that it
// is a plausible v2 batch: magic 2, a batch length that covers at least the
// header, and a non-negative record count. It does not check the CRC or that
// b holds the whole batch; use Check for that.
func ParseHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) < HeaderSize {
		return h, fmt.Errorf("batch header: %d bytes, need %d: %w", len(b), HeaderSize, ErrCorrupt)
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.FirstTimestamp = int64(binary.BigEndian.Uint64(b[offFirstTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[offRecordCount:]))
	switch {
	case h.Magic != Magic:
		return h, fmt.Errorf("batch at offset %d: magic %d, want %d: %w", h.BaseOffset, h.Magic, Magic, ErrCorrupt)
	case h.BatchLength < HeaderSize-LogOverhead:
		return h, fmt.Errorf("batch at offset %d: length %d shorter than its header: %w", h.BaseOffset, h.BatchLength, ErrCorrupt)
	case h.NumRecords < 0:
		return h, fmt.Errorf("batch at offset %d: record count %d: %w", h.BaseOffset, h.NumRecords, ErrCorrupt)
	case h.LastOffsetDelta < 0:
		return h, fmt.Errorf("batch at offset %d: last offset delta %d: %w", h.BaseOffset, h.LastOffsetDelta, ErrCorrupt)
	case int64(h.NumRecords) > int64(h.LastOffsetDelta)+1:
		return h, fmt.Errorf("batch at offset %d: %d records in %d offsets: %w", h.BaseOffset, h.NumRecords, int64(h.LastOffsetDelta)+1, ErrCorrupt)
	case h.BaseOffset < 0:
		return h, fmt.Errorf("batch: base offset %d: %w", h.BaseOffset, ErrCorrupt)
	}
	return h, nil
}

// Check parses the header of the batch at the start of b, verifies that b
// holds all of it and that its CRC-32C matches, and returns the header.
// Bytes after the batch are ignored.
func Check(b []byte) (BatchHeader, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() > len(b) {
		return h, fmt.Errorf("batch at offset %d: length %d runs past the %d bytes available: %w", h.BaseOffset, h.Size(), len(b), ErrCorrupt)
	}
	if got := crc32.Checksum(b[crcStart:h.Size()], castagnoli); got != h.CRC {
		return h, fmt.Errorf("batch at offset %d: crc %08x, stored %08x: %w", h.BaseOffset, got, h.CRC, ErrCorrupt)
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset of the encoded batch b in place.
// The base offset is outside the CRC-covered region, so the CRC stays valid.
func SetBaseOffset(b []byte, baseOffset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(baseOffset))
}

// SetPartitionLeaderEpoch rewrites the partition leader epoch in place; it
// too lies outside the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the encoded batch b as LogAppendTime with the given
// time (ms since the epoch) as its MaxTimestamp, which every record of the
// batch then reports, and recomputes the CRC. b must hold a whole batch.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | timestampTypeBit
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	updateCRC(b)
}

// SetBaseOffset is the package's SetBaseOffset for a batch b whose header
// h the caller holds: it rewrites b and h alike, so that h still describes
// b and nothing needs to parse b again.
func (h *BatchHeader) SetBaseOffset(b []byte, baseOffset int64) {
	SetBaseOffset(b, baseOffset)
	h.BaseOffset = baseOffset
}

// SetLogAppendTime is the package's SetLogAppendTime for a batch b whose
// header h the caller holds (b must hold the whole batch h describes): it
// stamps b, recomputes its CRC, and updates h to match (attributes,
// MaxTimestamp and CRC) without parsing b again.
func (h *BatchHeader) SetLogAppendTime(b []byte, ts int64) {
	h.Attributes |= timestampTypeBit
	h.MaxTimestamp = ts
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(h.Attributes))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	h.CRC = crc32.Checksum(b[crcStart:h.Size()], castagnoli)
	binary.BigEndian.PutUint32(b[offCRC:], h.CRC)
}

func updateCRC(b []byte) {
	size := int(int32(binary.BigEndian.Uint32(b[offBatchLength:]))) + LogOverhead
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:size], castagnoli))
}

// Batches walks the concatenated batches in b (as read from a segment file)
// and calls fn with each batch's header and bytes; the header is reused
// from one call to the next. It stops at the first
// batch that is cut short or corrupt and returns an error wrapping
// ErrCorrupt, or at the first error fn returns.
func Batches(b []byte, fn func(h *BatchHeader, batch []byte) error) error {
	h := new(BatchHeader) // one header for the walk: fn may keep no reference to it
	for len(b) > 0 {
		var err error
		if *h, err = Check(b); err != nil {
			return err
		}
		size := h.Size()
		if err := fn(h, b[:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}
