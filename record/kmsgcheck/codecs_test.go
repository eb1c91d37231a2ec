package kmsgcheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests cross-check every codec against franz-go's own compression
// (kgo's default compressor and decompressor, and its producer), both
// ways: franz-go reads what commitlog writes, commitlog reads what
// franz-go writes.

var codecs = []struct {
	c   record.Compression
	kgo kgo.CompressionCodec
}{
	{record.GZIP, kgo.GzipCompression()},
	{record.Snappy, kgo.SnappyCompression()},
	{record.LZ4, kgo.Lz4Compression()},
	{record.ZSTD, kgo.ZstdCompression()},
}

// recordSets are small and large (over a MiB, partly random) record sets.
func recordSets() map[string][]testRec {
	rng := rand.New(rand.NewPCG(3, 4))
	var big []testRec
	for i := range 300 {
		v := make([]byte, 1024, 4096)
		for j := range v {
			v[j] = byte(rng.UintN(256))
		}
		for len(v) < 4096 {
			v = fmt.Appendf(v, "value %d of the big set; ", i)
		}
		big = append(big, testRec{ts: 1_700_000_000_000 + int64(i), key: fmt.Appendf(nil, "k%d", i), value: v})
	}
	return map[string][]testRec{"sample": sampleRecords(), "big": big}
}

func crc32c(p []byte) uint32 { return crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)) }

// TestKgoDecompressesWhatWeCompress: kgo's decompressor turns the records
// section of every batch commitlog compresses back into exactly the
// records section of the same batch uncompressed.
func TestKgoDecompressesWhatWeCompress(t *testing.T) {
	dec := kgo.DefaultDecompressor()
	for name, recs := range recordSets() {
		plain := build(t, 0, record.BatchOptions{}, recs)
		for _, cc := range codecs {
			t.Run(fmt.Sprintf("%v/%s", cc.c, name), func(t *testing.T) {
				ours := build(t, 0, record.BatchOptions{Compression: cc.c}, recs)
				var kb kmsg.RecordBatch
				require.NoError(t, kb.ReadFrom(ours))
				require.Equal(t, int16(cc.c), kb.Attributes&7)
				require.Equal(t, crc32c(ours[21:]), uint32(kb.CRC))
				body, err := dec.Decompress(kb.Records, kgo.CompressionCodecType(cc.c))
				require.NoError(t, err)
				require.Equal(t, plain[record.HeaderSize:], body)
			})
		}
	}
}

// ourBatch is the uncompressed batch plain with its records section
// replaced by section, compressed with c: attributes, length and CRC are
// set here, independently of the codec under test.
func ourBatch(plain []byte, c record.Compression, section []byte) []byte {
	out := append(append([]byte(nil), plain[:record.HeaderSize]...), section...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint16(out[21:], binary.BigEndian.Uint16(out[21:])&^7|uint16(c))
	binary.BigEndian.PutUint32(out[17:], crc32c(out[21:]))
	return out
}

// TestWeDecompressWhatKgoCompresses: records sections compressed by kgo's
// compressor, at its default and at other levels, read back as the
// uncompressed batch's records.
func TestWeDecompressWhatKgoCompresses(t *testing.T) {
	for name, recs := range recordSets() {
		plain := build(t, 0, record.BatchOptions{}, recs)
		_, want, err := record.Decode(plain)
		require.NoError(t, err)
		for _, cc := range codecs {
			for _, level := range []int{0, 1, 9} { // 0: the codec's default
				t.Run(fmt.Sprintf("%v/%s/level%d", cc.c, name, level), func(t *testing.T) {
					comp, err := kgo.DefaultCompressor(cc.kgo.WithLevel(level))
					require.NoError(t, err)
					var buf bytes.Buffer
					section, used := comp.Compress(&buf, plain[record.HeaderSize:])
					require.Equal(t, kgo.CompressionCodecType(cc.c), used)
					h, got, err := record.Decode(ourBatch(plain, cc.c, section))
					require.NoError(t, err)
					require.Equal(t, cc.c, h.Compression())
					require.Equal(t, want, got)
				})
			}
		}
	}
}

// capture is a kgo Decompressor that keeps every compressed records
// section a consumer fetches, then decompresses it with kgo's own.
type capture struct {
	inner kgo.Decompressor
	mu    sync.Mutex // guards got
	got   []captured
}

type captured struct {
	codec   kgo.CompressionCodecType
	section []byte
	body    []byte
}

func (c *capture) Decompress(src []byte, codec kgo.CompressionCodecType) ([]byte, error) {
	body, err := c.inner.Decompress(src, codec)
	if err == nil && codec != kgo.CodecNone {
		c.mu.Lock()
		c.got = append(c.got, captured{codec, bytes.Clone(src), bytes.Clone(body)})
		c.mu.Unlock()
	}
	return body, err
}

// TestKgoProducerBatches: a franz-go producer writes batches with each
// codec to a kfake cluster (kgo's producer path, not only its
// compressor); a franz-go consumer fetches them, and
// every compressed records section it sees reads back with commitlog's
// decoder as the records kgo read.
func TestKgoProducerBatches(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	require.NoError(t, err)
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const perCodec = 200
	for _, cc := range codecs {
		pcl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
			kgo.ProducerBatchCompression(cc.kgo), kgo.ProducerLinger(50*time.Millisecond))
		require.NoError(t, err)
		var rs []*kgo.Record
		for i := range perCodec {
			rs = append(rs, &kgo.Record{Key: fmt.Appendf(nil, "%v-%d", cc.c, i),
				Value: bytes.Repeat(fmt.Appendf(nil, "%v value %d; ", cc.c, i), 40)})
		}
		require.NoError(t, pcl.ProduceSync(ctx, rs...).FirstErr())
		pcl.Close()
	}

	capt := &capture{inner: kgo.DefaultDecompressor()}
	ccl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithDecompressor(capt))
	require.NoError(t, err)
	defer ccl.Close()
	for n := 0; n < perCodec*len(codecs); {
		fs := ccl.PollFetches(ctx)
		require.NoError(t, fs.Err())
		n += fs.NumRecords()
	}

	capt.mu.Lock()
	defer capt.mu.Unlock()
	seen := map[kgo.CompressionCodecType]int{}
	for _, c := range capt.got {
		seen[c.codec]++
		// Count the records of kgo's decompressed section, and parse
		// them with kmsg, to build the batch around the section.
		var want []kmsg.Record
		for body := c.body; len(body) > 0; {
			l, n := binary.Varint(body)
			require.Positive(t, n)
			var kr kmsg.Record
			require.NoError(t, kr.ReadFrom(body[:n+int(l)]))
			want = append(want, kr)
			body = body[n+int(l):]
		}
		plain := build(t, 0, record.BatchOptions{}, []testRec{{ts: 1, key: []byte("k")}})
		binary.BigEndian.PutUint32(plain[23:], uint32(want[len(want)-1].OffsetDelta))
		binary.BigEndian.PutUint32(plain[57:], uint32(len(want)))
		_, got, err := record.Decode(ourBatch(plain, record.Compression(c.codec), c.section))
		require.NoError(t, err, "%v", c.codec)
		require.Len(t, got, len(want))
		for i, kr := range want {
			require.Equal(t, kr.Key, got[i].Key)
			require.Equal(t, kr.Value, got[i].Value)
			require.Equal(t, int64(kr.OffsetDelta), got[i].Offset)
		}
	}
	for _, cc := range codecs {
		require.Positive(t, seen[kgo.CompressionCodecType(cc.c)], "%v batches were fetched", cc.c)
	}
}
