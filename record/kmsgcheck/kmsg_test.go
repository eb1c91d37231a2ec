package kmsgcheck

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/pierrec/lz4/v4"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests cross-check the codec against franz-go's kmsg, an independent
// implementation of Kafka's wire format (a test-only dependency).

// kmsgBatch builds a batch the way a franz-go client would: records encoded
// by kmsg.Record.AppendTo, the header by kmsg.RecordBatch.AppendTo, the CRC
// computed over kmsg's own bytes.
type testRec struct {
	ts         int64
	key, value []byte
	headers    []record.Header
}

func sampleRecords() []testRec {
	return []testRec{
		{ts: 1_700_000_000_000, key: []byte("k1"), value: []byte("hello")},
		{ts: 1_700_000_000_005, key: nil, value: []byte("null key")},
		{ts: 1_699_999_999_990, key: []byte("k3"), value: []byte{}},
		{ts: 1_700_000_000_100, key: []byte{}, value: nil},
		{ts: 1_700_000_000_100, key: []byte("h"), value: []byte("v"), headers: []record.Header{{Key: "trace", Value: []byte("abc")}, {Key: "n", Value: nil}, {Key: "", Value: []byte{}}}},
		{ts: 1_700_000_000_200, key: bytes.Repeat([]byte("K"), 300), value: bytes.Repeat([]byte("V"), 5000)},
	}
}

func build(t *testing.T, base int64, opts record.BatchOptions, recs []testRec) []byte {
	b := record.NewBuilder(base, opts)
	for _, r := range recs {
		b.Add(r.ts, r.key, r.value, r.headers)
	}
	out, err := b.Build()
	require.NoError(t, err)
	return append([]byte(nil), out...)
}

// lz4Compress and lz4Decompress use pierrec/lz4 directly, not the codec.
func lz4Compress(t *testing.T, p []byte) []byte {
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	_, err := w.Write(p)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func lz4Decompress(t *testing.T, p []byte) []byte {
	out, err := io.ReadAll(lz4.NewReader(bytes.NewReader(p)))
	require.NoError(t, err)
	return out
}

func kmsgBatch(t *testing.T, base int64, recs []testRec, compression record.Compression) []byte {
	t.Helper()
	var body []byte
	var maxTS int64 = -1
	for i, r := range recs {
		kr := kmsg.Record{
			TimestampDelta64: r.ts - recs[0].ts,
			OffsetDelta:      int32(i),
			Key:              r.key,
			Value:            r.value,
		}
		for _, h := range r.headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// Length counts what follows the length varint; with Length 0 that
		// varint is one byte.
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		body = kr.AppendTo(body)
		maxTS = max(maxTS, r.ts)
	}
	if compression == record.LZ4 {
		body = lz4Compress(t, body)
	}
	kb := kmsg.RecordBatch{
		FirstOffset:          base,
		Length:               int32(49 + len(body)),
		PartitionLeaderEpoch: 0,
		Magic:                2,
		Attributes:           int16(compression),
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       recs[0].ts,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              body,
	}
	raw := kb.AppendTo(nil)
	// CRC-32C from attributes (byte 21) to the end, computed here with the
	// standard library, independently of the codec under test.
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(raw[17:], crc)
	return raw
}

func TestKmsgEncodesWhatWeDecode(t *testing.T) {
	for _, c := range []record.Compression{record.None, record.LZ4} {
		recs := sampleRecords()
		theirs := kmsgBatch(t, 4242, recs, c)
		h, got, err := record.Decode(theirs)
		require.NoError(t, err, "our decoder must accept kmsg's batch and CRC")
		require.Equal(t, int64(4242), h.BaseOffset)
		require.Len(t, got, len(recs))
		for i, r := range recs {
			require.Equal(t, r.key, got[i].Key)
			require.Equal(t, r.value, got[i].Value)
			require.Equal(t, r.value == nil, got[i].Value == nil)
			require.Equal(t, r.ts, got[i].Timestamp)
			require.Equal(t, r.headers, got[i].Headers)
		}
		if c == record.None {
			// Byte for byte: our builder produces exactly kmsg's batch.
			ours := build(t, 4242, record.BatchOptions{}, recs)
			require.Equal(t, theirs, ours)
		}
	}
}

func TestKmsgDecodesWhatWeEncode(t *testing.T) {
	recs := sampleRecords()
	for _, c := range []record.Compression{record.None, record.LZ4} {
		ours := build(t, 99, record.BatchOptions{Compression: c}, recs)
		var kb kmsg.RecordBatch
		require.NoError(t, kb.ReadFrom(ours))
		require.Equal(t, int64(99), kb.FirstOffset)
		require.Equal(t, int8(2), kb.Magic)
		require.Equal(t, int32(len(recs)), kb.NumRecords)
		require.Equal(t, int32(len(ours)-12), kb.Length)
		require.Equal(t, int16(c), kb.Attributes&7)
		// kmsg re-encodes our batch to identical bytes, and the CRC we stored
		// is the CRC-32C of those bytes.
		again := kb.AppendTo(nil)
		require.Equal(t, ours, again)
		want := crc32.Checksum(again[21:], crc32.MakeTable(crc32.Castagnoli))
		require.Equal(t, want, uint32(kb.CRC))

		body := kb.Records
		if c == record.LZ4 {
			body = lz4Decompress(t, body)
		}
		for i, want := range recs {
			l, n := binary.Varint(body)
			require.Greater(t, n, 0)
			var kr kmsg.Record
			require.NoError(t, kr.ReadFrom(body[:n+int(l)]))
			body = body[n+int(l):]
			require.Equal(t, int32(i), kr.OffsetDelta)
			require.Equal(t, want.ts-recs[0].ts, kr.TimestampDelta64)
			require.Equal(t, want.key, kr.Key)
			require.Equal(t, want.value, kr.Value)
			require.Equal(t, want.value == nil, kr.Value == nil)
			require.Len(t, kr.Headers, len(want.headers))
			for j, h := range want.headers {
				require.Equal(t, h.Key, kr.Headers[j].Key)
				require.Equal(t, h.Value, kr.Headers[j].Value)
			}
		}
		require.Empty(t, body)
	}
}

// A batch the log cleaner stamped with a delete horizon (KIP-534): kmsg
// sees attribute bit 6, the horizon as FirstTimestamp and timestamp deltas
// relative to it.
func TestKmsgDeleteHorizon(t *testing.T) {
	const horizon = 1_700_086_400_000
	b := record.NewBuilder(7, record.BatchOptions{DeleteHorizon: horizon})
	b.SetTimestamps(1_700_000_000_000, 1_700_000_000_500)
	b.AddWithDelta(0, 1_700_000_000_000, []byte("k"), nil, nil)
	b.AddWithDelta(3, 1_700_000_000_500, []byte("j"), []byte("v"), nil)
	ours, err := b.Build()
	require.NoError(t, err)
	var kb kmsg.RecordBatch
	require.NoError(t, kb.ReadFrom(ours))
	require.Equal(t, int16(0x40), kb.Attributes&0x40)
	require.Equal(t, int64(horizon), kb.FirstTimestamp)
	require.Equal(t, int64(1_700_000_000_500), kb.MaxTimestamp)
	require.Equal(t, int32(3), kb.LastOffsetDelta)
	require.Equal(t, ours, kb.AppendTo(nil))
	want := crc32.Checksum(ours[21:], crc32.MakeTable(crc32.Castagnoli))
	require.Equal(t, want, uint32(kb.CRC))
	body := kb.Records
	for _, w := range []struct {
		delta int32
		ts    int64
	}{{0, 1_700_000_000_000}, {3, 1_700_000_000_500}} {
		l, n := binary.Varint(body)
		require.Greater(t, n, 0)
		var kr kmsg.Record
		require.NoError(t, kr.ReadFrom(body[:n+int(l)]))
		body = body[n+int(l):]
		require.Equal(t, w.delta, kr.OffsetDelta)
		require.Equal(t, w.ts, kb.FirstTimestamp+kr.TimestampDelta64)
	}
	require.Empty(t, body)
}
