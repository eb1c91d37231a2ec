package record

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ErrUnsupportedCompression reports a batch whose attributes name a codec
// number Kafka does not define (5, 6 or 7): every Kafka codec (gzip,
// snappy, lz4, zstd) is read and written.
var ErrUnsupportedCompression = errors.New("commitlog: unsupported compression codec")

// MaxDecompressedSize bounds how large a compressed records section may grow
// when decompressed, so that a corrupt or hostile batch cannot exhaust
// memory. Below it, a section may grow only as far as its codec can expand
// data at all (snappy at most about 22x, LZ4 about 255x, deflate about
// 1032x, zstd about 32768x, with a run-length block), so a small corrupt
// batch cannot claim a large buffer either: snappy's declared length and
// each zstd frame's declared content size are checked against that bound
// before anything is allocated.
const MaxDecompressedSize = 256 << 20

// expansionLimit is how many bytes a records section of n bytes compressed
// with c may decompress to: the most the codec's format can produce from n
// bytes, plus slack for tiny sections, and never more than
// MaxDecompressedSize.
func expansionLimit(c Compression, n int) int64 {
	var ratio int64
	switch c {
	case Snappy:
		ratio = 22 // a 3-byte copy of 64 bytes
	case GZIP:
		ratio = 1040 // deflate's 258-byte match in 2 bits, with block overhead
	case ZSTD:
		ratio = 32768 // a 4-byte run-length block of 128 KiB
	default:
		ratio = 256 // LZ4: 255 bytes of match length per extension byte
	}
	return min(int64(n)*ratio+64<<10, MaxDecompressedSize)
}

var lz4Writers = sync.Pool{New: func() any {
	w := lz4.NewWriter(nil)
	// Kafka's LZ4 batches are plain LZ4 frames; 64 KiB blocks as Kafka's
	// Java client writes them, and no content checksum (the batch CRC covers it).
	_ = w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false))
	return w
}}

var lz4Readers = sync.Pool{New: func() any { return lz4.NewReader(nil) }}

// gzipWriters and gzipReaders keep deflate's state (some 800 KiB to write)
// across batches.
var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	gzipReaders sync.Pool // of *gzip.Reader; a Reader is made by its first Reset
)

// zstdEncoder compresses every ZSTD batch. EncodeAll may be called
// concurrently: the encoder keeps GOMAXPROCS encoder states of its own
// (its default concurrency) and hands one to each call, so its large match
// tables survive garbage collections, which a sync.Pool would drop. Level
// SpeedDefault is zstd's level 3, Kafka's default compression.zstd.level.
// Batches up to the 1 MiB window (Kafka's default max.message.bytes is
// about that) are single-segment frames whose window is their own size.
// No frame checksum: the batch CRC covers the records section.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithWindowSize(1<<20),
		zstd.WithEncoderCRC(false),
		zstd.WithZeroFrames(true))
	if err != nil {
		panic(fmt.Sprintf("record: zstd encoder options: %v", err)) // the options are constants
	}
	return e
})

// zstdDecoder decompresses every ZSTD batch, with DecodeAll only (a nil
// reader: no goroutines), which may be called concurrently: like the
// encoder, it keeps GOMAXPROCS decoder states and hands one to each call.
// Its bound is MaxDecompressedSize, for the output and for a frame's
// window: DecodeAll decodes into its output, so a large window (zstd-jni,
// Kafka's Java codec, declares 2 MiB at level 3 and up to 128 MiB at
// level 22) costs nothing. The bound per section is checked around it
// (decompressZstd).
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxDecompressedSize),
		zstd.WithDecoderMaxMemory(MaxDecompressedSize))
	if err != nil {
		panic(fmt.Sprintf("record: zstd decoder options: %v", err)) // the options are constants
	}
	return d
})

type appendWriter struct{ p []byte }

func (w *appendWriter) Write(b []byte) (int, error) {
	w.p = append(w.p, b...)
	return len(b), nil
}

// compress appends the compressed form of src to dst.
//
// Snappy is written as one raw snappy block (the varint length, then the
// block), as librdkafka and franz-go write it, not in the xerial framing
// of Kafka's Java client: every Kafka reader (the Java client's
// SnappyInputStream falls back to a raw block when the xerial header is
// absent), this package's included, reads both, and a raw block is smaller
// and declares its decoded length up front, so a reader allocates once.
func compress(c Compression, dst, src []byte) ([]byte, error) {
	switch c {
	case Snappy:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return nil, fmt.Errorf("snappy: %d bytes of records: %w", len(src), ErrRecordTooLarge)
		}
		dst = slices.Grow(dst, n)
		block := s2.EncodeSnappy(dst[len(dst):len(dst)+n], src)
		return dst[:len(dst)+len(block)], nil
	case ZSTD:
		return zstdEncoder().EncodeAll(src, dst), nil
	}
	w := &appendWriter{p: dst}
	switch c {
	case LZ4:
		zw := lz4Writers.Get().(*lz4.Writer)
		defer lz4Writers.Put(zw)
		zw.Reset(w)
		if _, err := zw.Write(src); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
	case GZIP:
		zw := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(zw)
		zw.Reset(w)
		if _, err := zw.Write(src); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	default:
		return nil, fmt.Errorf("writing %v: %w", c, ErrUnsupportedCompression)
	}
	return w.p, nil
}

// decompress appends the decompressed form of src to dst. Every failure
// wraps ErrCorrupt, except a codec number Kafka does not define
// (ErrUnsupportedCompression).
func decompress(c Compression, dst, src []byte) ([]byte, error) {
	limit := expansionLimit(c, len(src))
	var r io.Reader
	switch c {
	case Snappy:
		return decompressSnappy(dst, src, limit)
	case ZSTD:
		return decompressZstd(dst, src, limit)
	case LZ4:
		zr := lz4Readers.Get().(*lz4.Reader)
		defer lz4Readers.Put(zr)
		zr.Reset(bytes.NewReader(src))
		r = zr
	case GZIP:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return nil, fmt.Errorf("gzip: %v: %w", err, ErrCorrupt)
		}
		defer gzipReaders.Put(zr)
		r = zr
	default:
		return nil, fmt.Errorf("reading %v: %w", c, ErrUnsupportedCompression)
	}
	buf := bytes.NewBuffer(dst)
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%v records: %v: %w", c, err, ErrCorrupt)
	}
	if n > limit {
		return nil, fmt.Errorf("%v records of %d bytes decompress past %d bytes: %w", c, len(src), limit, ErrCorrupt)
	}
	return buf.Bytes(), nil
}

// xerialMagic opens a snappy records section in the framing of the xerial
// snappy-java library (SnappyOutputStream), which Kafka's Java producer
// writes: these 8 bytes, a big-endian int32 version and an int32 minimum
// compatible version (both 1), then chunks, each a big-endian uint32 length
// and a raw snappy block of that length. A raw block cannot begin with
// these bytes: 0x82 0x53 declares a length of 10626 bytes, and the 'N'
// that follows is a copy from before the start of the output.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = len("\x82SNAPPY\x00") + 8

// decompressSnappy appends the decoded form of src, a raw snappy block or
// xerial-framed chunks, to dst, refusing more than limit bytes before
// decoding anything.
func decompressSnappy(dst, src []byte, limit int64) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return appendSnappyBlock(dst, src, limit)
	}
	// First pass: check the framing and sum the declared lengths, so that
	// dst grows once and a hostile section is refused before it is decoded.
	var total int64
	err := xerialChunks(src, func(block []byte) error {
		n, err := s2.DecodedLen(block)
		if err != nil {
			return fmt.Errorf("snappy (xerial) chunk: %v: %w", err, ErrCorrupt)
		}
		if total += int64(n); total > limit {
			return fmt.Errorf("snappy (xerial) records of %d bytes declare more than %d bytes: %w", len(src), limit, ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	dst = slices.Grow(dst, int(total))
	err = xerialChunks(src, func(block []byte) error {
		var err error
		dst, err = appendSnappyBlock(dst, block, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// xerialChunks calls fn with the raw snappy block of each chunk of src,
// xerial-framed snappy. A second stream header where a chunk length is
// due (concatenated streams, which snappy-java reads) is skipped: as an
// int32 length its first byte would be negative, so it is no chunk.
func xerialChunks(src []byte, fn func(block []byte) error) error {
	for len(src) > 0 {
		if bytes.HasPrefix(src, xerialMagic) {
			if len(src) < xerialHeaderSize {
				return fmt.Errorf("snappy (xerial) header of %d bytes: %w", len(src), ErrCorrupt)
			}
			src = src[xerialHeaderSize:]
			continue
		}
		if len(src) < 4 {
			return fmt.Errorf("snappy (xerial) chunk length cut at %d bytes: %w", len(src), ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return fmt.Errorf("snappy (xerial) chunk of %d bytes with %d left: %w", n, len(src), ErrCorrupt)
		}
		if err := fn(src[:n]); err != nil {
			return err
		}
		src = src[n:]
	}
	return nil
}

// appendSnappyBlock appends the decoded form of block, one raw snappy
// block, to dst; its declared length must be at most limit.
func appendSnappyBlock(dst, block []byte, limit int64) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, fmt.Errorf("snappy records: %v: %w", err, ErrCorrupt)
	}
	if int64(n) > limit {
		return nil, fmt.Errorf("snappy records of %d bytes declare %d bytes, more than %d: %w", len(block), n, limit, ErrCorrupt)
	}
	dst = slices.Grow(dst, n)
	if _, err := s2.Decode(dst[len(dst):len(dst)+n], block); err != nil {
		return nil, fmt.Errorf("snappy records: %v: %w", err, ErrCorrupt)
	}
	return dst[:len(dst)+n], nil
}

// decompressZstd appends the decoded frames of src to dst. Before
// decoding, the frames are walked (headers and block headers only) and
// the content sizes they declare must sum to at most limit, so that a
// section cannot make the decoder allocate for more than it may hold;
// a frame that declares no size grows the output only as it decodes, and
// the output is checked against limit after.
func decompressZstd(dst, src []byte, limit int64) ([]byte, error) {
	if err := checkZstdFrames(src, uint64(limit)); err != nil {
		return nil, err
	}
	start := len(dst)
	out, err := zstdDecoder().DecodeAll(src, dst)
	if err != nil {
		return nil, fmt.Errorf("zstd records of %d bytes: %v: %w", len(src), err, ErrCorrupt)
	}
	if int64(len(out)-start) > limit {
		return nil, fmt.Errorf("zstd records of %d bytes decompress past %d bytes: %w", len(src), limit, ErrCorrupt)
	}
	return out, nil
}

// checkZstdFrames walks the frames of src, skippable ones included, and
// fails if there is no frame of data, if one is cut short or if the
// content sizes they declare sum past limit.
func checkZstdFrames(src []byte, limit uint64) error {
	var declared uint64
	frames := 0
	for len(src) > 0 {
		var h zstd.Header
		rest, err := h.DecodeAndStrip(src)
		if err != nil {
			return fmt.Errorf("zstd frame header: %v: %w", err, ErrCorrupt)
		}
		if h.Skippable {
			if uint64(h.SkippableSize) > uint64(len(rest)) {
				return fmt.Errorf("zstd skippable frame of %d bytes with %d left: %w", h.SkippableSize, len(rest), ErrCorrupt)
			}
			src = rest[h.SkippableSize:]
			continue
		}
		frames++
		if h.HasFCS {
			if declared += h.FrameContentSize; declared > limit || h.FrameContentSize > limit {
				return fmt.Errorf("zstd frames declare more than %d bytes: %w", limit, ErrCorrupt)
			}
		}
		// Blocks: a 3-byte little-endian header (last flag, type, size),
		// then size bytes (raw, compressed) or 1 byte (run-length).
		for last := false; !last; {
			if len(rest) < 3 {
				return fmt.Errorf("zstd block header cut: %w", ErrCorrupt)
			}
			bh := uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16
			rest = rest[3:]
			last = bh&1 != 0
			n := uint64(bh >> 3)
			switch bh >> 1 & 3 {
			case 1: // run-length
				n = 1
			case 3:
				return fmt.Errorf("zstd block of reserved type: %w", ErrCorrupt)
			}
			if n > uint64(len(rest)) {
				return fmt.Errorf("zstd block of %d bytes with %d left: %w", n, len(rest), ErrCorrupt)
			}
			rest = rest[n:]
		}
		if h.HasCheckSum {
			if len(rest) < 4 {
				return fmt.Errorf("zstd frame checksum cut: %w", ErrCorrupt)
			}
			rest = rest[4:]
		}
		src = rest
	}
	if frames == 0 {
		return fmt.Errorf("zstd records: no frame of data: %w", ErrCorrupt)
	}
	return nil
}
