package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/stretchr/testify/require"
)

var allCodecs = []Compression{None, GZIP, Snappy, LZ4, ZSTD}

// codecRecords are record sets that exercise the codecs: small, empty
// values, and one over a MiB of partly random data (several snappy blocks'
// worth, more than the zstd window, LZ4 blocks and deflate windows).
func codecRecords() map[string][]testRec {
	rng := rand.New(rand.NewPCG(1, 2))
	var big []testRec
	for i := range 300 {
		v := make([]byte, 1024, 4096) // 1 KiB random, 3 KiB of text
		for j := range v {
			v[j] = byte(rng.UintN(256))
		}
		for len(v) < 4096 {
			v = fmt.Appendf(v, "record %d of the big set; ", i)
		}
		big = append(big, testRec{ts: 1_700_000_000_000 + int64(i), key: fmt.Appendf(nil, "key-%d", i), value: v})
	}
	return map[string][]testRec{"sample": sampleRecords(), "one": sampleRecords()[:1], "big": big}
}

// TestCodecRoundTrip: every codec writes batches that read back the same
// records, and its records section decompresses to exactly the
// uncompressed batch's.
func TestCodecRoundTrip(t *testing.T) {
	for name, recs := range codecRecords() {
		plain := build(t, 5, BatchOptions{}, recs)
		_, want, err := Decode(plain)
		require.NoError(t, err)
		for _, c := range allCodecs {
			t.Run(fmt.Sprintf("%v/%s", c, name), func(t *testing.T) {
				raw := build(t, 5, BatchOptions{Compression: c}, recs)
				h, got, err := Decode(raw)
				require.NoError(t, err)
				require.Equal(t, c, h.Compression())
				require.Equal(t, want, got)
				if c == None {
					return
				}
				if name == "big" {
					require.Less(t, len(raw), len(plain)*3/4, "the partly random records compress")
				}
				body, err := decompress(c, []byte("prefix"), raw[HeaderSize:])
				require.NoError(t, err)
				require.Equal(t, append([]byte("prefix"), plain[HeaderSize:]...), body, "decompress appends")
			})
		}
	}
}

// xerialFrame frames src as Kafka's Java producer (snappy-java's
// SnappyOutputStream) does, written here from the format's description:
// the magic, version 1, minimum compatible version 1, then per chunk of
// at most chunk bytes a big-endian length and a raw snappy block.
func xerialFrame(src []byte, chunk int) []byte {
	out := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	for len(src) > 0 {
		n := min(chunk, len(src))
		block := s2.EncodeSnappy(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		src = src[n:]
	}
	return out
}

// withSection replaces the records section of batch with section, with
// codec c, and fixes the length and CRC.
func withSection(batch []byte, c Compression, section []byte) []byte {
	out := append(append([]byte(nil), batch[:HeaderSize]...), section...)
	binary.BigEndian.PutUint32(out[offBatchLength:], uint32(len(out)-LogOverhead))
	attrs := binary.BigEndian.Uint16(out[offAttributes:])
	binary.BigEndian.PutUint16(out[offAttributes:], attrs&^compressionMask|uint16(c))
	updateCRC(out)
	return out
}

// TestSnappyXerial: snappy batches in the Java client's xerial framing are
// read, whether framed here by hand, by klauspost's xerial package, in
// one chunk or many, or as two concatenated streams.
func TestSnappyXerial(t *testing.T) {
	for name, recs := range codecRecords() {
		plain := build(t, 0, BatchOptions{}, recs)
		_, want, err := Decode(plain)
		require.NoError(t, err)
		body := plain[HeaderSize:]
		half := len(body) / 2
		for fname, section := range map[string][]byte{
			"32KiB chunks":  xerialFrame(body, 32<<10),
			"1KiB chunks":   xerialFrame(body, 1<<10),
			"one chunk":     xerialFrame(body, len(body)),
			"xerial.Encode": xerial.Encode(nil, body),
			"two streams":   append(xerialFrame(body[:half], 32<<10), xerialFrame(body[half:], 32<<10)...),
		} {
			t.Run(name+"/"+fname, func(t *testing.T) {
				_, got, err := Decode(withSection(plain, Snappy, section))
				require.NoError(t, err)
				require.Equal(t, want, got)
			})
		}
	}
}

func zstdFrameHeader(contentSize uint64) []byte {
	// Magic, then a frame header descriptor with an 8-byte content size
	// and the single-segment flag (no window descriptor).
	return binary.LittleEndian.AppendUint64([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}, contentSize)
}

// TestHostileSections: damaged or hostile sections in the new codecs fail
// with ErrCorrupt, and one that claims a large size is refused before that
// much is allocated.
func TestHostileSections(t *testing.T) {
	plain := build(t, 0, BatchOptions{}, sampleRecords())
	body := plain[HeaderSize:]
	snappyBlock := s2.EncodeSnappy(nil, body)
	zstdSection, err := compress(ZSTD, nil, body)
	require.NoError(t, err)
	framed := xerialFrame(body, 1<<10)
	// A snappy block that declares 200 MiB (a varint) and holds 1 literal.
	snappyClaim := append(binary.AppendUvarint(nil, 200<<20), 0, 'x')
	// A zstd frame that declares 200 MiB, then one run-length block of 1 byte.
	zstdClaim := append(zstdFrameHeader(200<<20), 0x03, 0, 0, 'x')
	// A zstd frame that declares 8 MiB: under MaxDecompressedSize, but far
	// more than 17 bytes of zstd can hold.
	zstdRatio := append(zstdFrameHeader(8<<20), 0x03, 0, 0, 'x')
	// Two frames: a valid one, then one that declares 200 MiB.
	zstdSecond := append(bytes.Clone(zstdSection), zstdClaim...)
	// Xerial chunks that each declare 100 MiB: together past the bound.
	var xerialClaim []byte
	xerialClaim = append(xerialClaim, framed[:16]...)
	for range 3 {
		xerialClaim = binary.BigEndian.AppendUint32(xerialClaim, uint32(len(snappyClaim)))
		xerialClaim = append(xerialClaim, snappyClaim...)
	}
	flip := func(p []byte, at int) []byte {
		q := bytes.Clone(p)
		q[at] ^= 0xff
		return q
	}
	cases := []struct {
		name    string
		c       Compression
		section []byte
	}{
		{"snappy empty", Snappy, nil},
		{"snappy truncated", Snappy, snappyBlock[:len(snappyBlock)-3]},
		{"snappy bad varint", Snappy, bytes.Repeat([]byte{0xff}, 12)},
		{"snappy declares a byte more", Snappy, append(binary.AppendUvarint(nil, uint64(len(body)+1)), snappyBlock[len(binary.AppendUvarint(nil, uint64(len(body)))):]...)},
		{"snappy claims 200 MiB", Snappy, snappyClaim},
		{"xerial header only, cut", Snappy, framed[:12]},
		{"xerial chunk length past end", Snappy, framed[:len(framed)-1]},
		{"xerial chunk length cut", Snappy, append(bytes.Clone(framed), 0, 0)},
		{"xerial bad chunk", Snappy, flip(framed, 21)},
		{"xerial chunks claim 300 MiB", Snappy, xerialClaim},
		{"zstd empty", ZSTD, nil},
		{"zstd truncated", ZSTD, zstdSection[:len(zstdSection)-2]},
		{"zstd bad magic", ZSTD, flip(zstdSection, 0)},
		{"zstd garbage after the frame", ZSTD, append(bytes.Clone(zstdSection), 1, 2, 3, 4, 5)},
		{"zstd claims 200 MiB", ZSTD, zstdClaim},
		{"zstd claims 8 MiB in 17 bytes", ZSTD, zstdRatio},
		{"zstd second frame claims 200 MiB", ZSTD, zstdSecond},
		{"zstd reserved block type", ZSTD, append(zstdFrameHeader(1), 0x07, 0, 0, 'x')},
		{"zstd skippable frame cut", ZSTD, []byte{0x50, 0x2a, 0x4d, 0x18, 9, 0, 0, 0, 1, 2}},
		{"zstd skippable frame only", ZSTD, []byte{0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := decompress(tc.c, nil, tc.section)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, ErrCorrupt)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "a claim is refused before it is allocated")

			_, _, err = Decode(withSection(plain, tc.c, tc.section))
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

// TestUnknownCodec: the codec numbers Kafka does not define are refused,
// on both sides.
func TestUnknownCodec(t *testing.T) {
	for c := Compression(5); c <= 7; c++ {
		_, err := compress(c, nil, []byte("x"))
		require.ErrorIs(t, err, ErrUnsupportedCompression)
		_, err = decompress(c, nil, []byte("x"))
		require.ErrorIs(t, err, ErrUnsupportedCompression)
	}
}

// TestCodecConcurrency: compressing and decompressing on many goroutines
// at once (the shared zstd encoder, the pooled decoders) gives every
// goroutine its own data back. Run with -race.
func TestCodecConcurrency(t *testing.T) {
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			errs <- func() error {
				for i := range 20 {
					src := bytes.Repeat(fmt.Appendf(nil, "goroutine %d, round %d;", g, i), 200+i)
					for _, c := range []Compression{Snappy, ZSTD} {
						z, err := compress(c, nil, src)
						if err != nil {
							return err
						}
						out, err := decompress(c, nil, z)
						if err != nil {
							return err
						}
						if !bytes.Equal(out, src) {
							return fmt.Errorf("%v: goroutine %d round %d read back other data", c, g, i)
						}
					}
				}
				return nil
			}()
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

// FuzzDecompress feeds arbitrary bytes to every codec's decompressor (no
// CRC in the way, unlike FuzzDecodeBatch): it must never panic, must fail
// with ErrCorrupt (ErrUnsupportedCompression for codecs 5-7), must stay
// within the section's expansion bound, and what it accepts must
// round-trip through the codec's compressor.
// Run it with: go test ./record -run '^$' -fuzz FuzzDecompress
func FuzzDecompress(f *testing.F) {
	body := build(f, 0, BatchOptions{}, sampleRecords())[HeaderSize:]
	for _, c := range allCodecs[1:] {
		z, err := compress(c, nil, body)
		require.NoError(f, err)
		f.Add(uint8(c), z)
		z, err = compress(c, nil, body[:40])
		require.NoError(f, err)
		f.Add(uint8(c), z)
	}
	f.Add(uint8(Snappy), xerialFrame(body, 1<<10))
	f.Add(uint8(Snappy), append(binary.AppendUvarint(nil, 200<<20), 0, 'x'))
	f.Add(uint8(ZSTD), append(zstdFrameHeader(1<<20), 0x03, 0, 0, 'x'))
	f.Add(uint8(ZSTD), append(zstdFrameHeader(40), 0x03, 0x05, 0, 'x'))
	f.Add(uint8(ZSTD), []byte{0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 1, 2, 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x03, 0, 0, 'x'})
	f.Add(uint8(5), []byte("x"))
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		c := Compression(codec % 8)
		if c == None {
			return
		}
		out, err := decompress(c, nil, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedCompression) {
				t.Fatalf("%v: error is neither ErrCorrupt nor ErrUnsupportedCompression: %v", c, err)
			}
			return
		}
		if int64(len(out)) > expansionLimit(c, len(data)) {
			t.Fatalf("%v: %d bytes decompressed to %d, past the bound", c, len(data), len(out))
		}
		z, err := compress(c, nil, out)
		if err != nil {
			t.Fatalf("%v: recompressing: %v", c, err)
		}
		again, err := decompress(c, nil, z)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%v: recompressed data does not read back: %v", c, err)
		}
	})
}

// TestZstdLargeWindow: a frame that declares no content size and a large
// window, as zstd-jni (Kafka's Java codec) writes when it streams, is read
// however small it is, and the window is not allocated.
func TestZstdLargeWindow(t *testing.T) {
	plain := build(t, 0, BatchOptions{}, sampleRecords()[:1])
	body := plain[HeaderSize:]
	// Magic; descriptor 0: no content size, not single-segment, no
	// checksum; window descriptor: exponent 17, 2^27 = 128 MiB (zstd-jni
	// at level 22); then the records as one last raw block.
	section := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3}
	bh := uint32(len(body))<<3 | 1
	section = append(section, byte(bh), byte(bh>>8), byte(bh>>16))
	section = append(section, body...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, got, err := Decode(withSection(plain, ZSTD, section))
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	_, want, err := Decode(plain)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "the window is not allocated")
}
