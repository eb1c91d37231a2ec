package record

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// ErrUnsupportedCompression reports a batch compressed with a codec this
// package cannot read or write (snappy, zstd).
var ErrUnsupportedCompression = errors.New("commitlog: unsupported compression codec")

// MaxDecompressedSize bounds how large a compressed records section may grow
// when decompressed, so that a corrupt or hostile batch cannot exhaust
// memory. Below it, a section may grow only as far as its codec can expand
// data at all (LZ4 at most about 255x, deflate about 1032x), so a small
// corrupt batch cannot claim a large buffer either.
const MaxDecompressedSize = 256 << 20

func expansionLimit(c Compression, n int) int64 {
	ratio := int64(256)
	if c == GZIP {
		ratio = 1040
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

type appendWriter struct{ p []byte }

func (w *appendWriter) Write(b []byte) (int, error) {
	w.p = append(w.p, b...)
	return len(b), nil
}

func compress(c Compression, dst, src []byte) ([]byte, error) {
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
		zw := gzip.NewWriter(w)
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

// decompress appends the decompressed form of src to dst.
func decompress(c Compression, dst, src []byte) ([]byte, error) {
	var r io.Reader
	switch c {
	case LZ4:
		zr := lz4Readers.Get().(*lz4.Reader)
		defer lz4Readers.Put(zr)
		zr.Reset(bytes.NewReader(src))
		r = zr
	case GZIP:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("gzip: %v: %w", err, ErrCorrupt)
		}
		r = zr
	default:
		return nil, fmt.Errorf("reading %v: %w", c, ErrUnsupportedCompression)
	}
	limit := expansionLimit(c, len(src))
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
