package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

type testRec struct {
	ts         int64
	key, value []byte
	headers    []Header
}

func sampleRecords() []testRec {
	return []testRec{
		{ts: 1_700_000_000_000, key: []byte("k1"), value: []byte("hello")},
		{ts: 1_700_000_000_005, key: nil, value: []byte("null key")},
		{ts: 1_699_999_999_990, key: []byte("k3"), value: []byte{}}, // empty value, earlier timestamp (negative delta)
		{ts: 1_700_000_000_100, key: []byte{}, value: nil},          // empty key, null value (a tombstone)
		{ts: 1_700_000_000_100, key: []byte("h"), value: []byte("v"), headers: []Header{{Key: "trace", Value: []byte("abc")}, {Key: "n", Value: nil}, {Key: "", Value: []byte{}}}},
		{ts: 1_700_000_000_200, key: bytes.Repeat([]byte("K"), 300), value: bytes.Repeat([]byte("V"), 5000)},
	}
}

func build(t testing.TB, base int64, opts BatchOptions, recs []testRec) []byte {
	b := NewBuilder(base, opts)
	for _, r := range recs {
		b.Add(r.ts, r.key, r.value, r.headers)
	}
	out, err := b.Build()
	require.NoError(t, err)
	return append([]byte(nil), out...)
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		opts BatchOptions
		recs []testRec
	}{
		{"plain", BatchOptions{}, sampleRecords()},
		{"lz4", BatchOptions{Compression: LZ4}, sampleRecords()},
		{"gzip", BatchOptions{Compression: GZIP}, sampleRecords()},
		{"single", BatchOptions{}, sampleRecords()[:1]},
		{"empty", BatchOptions{}, nil},
		{"producer fields", BatchOptions{ProducerID: 42, ProducerEpoch: 3, BaseSequence: 7, PartitionLeaderEpoch: 9, Transactional: true}, sampleRecords()[:2]},
		{"control", BatchOptions{Control: true}, sampleRecords()[:1]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := build(t, 1000, tc.opts, tc.recs)
			h, recs, err := Decode(raw)
			require.NoError(t, err)
			require.Equal(t, int64(1000), h.BaseOffset)
			require.Equal(t, len(raw), h.Size())
			require.Equal(t, int8(Magic), h.Magic)
			require.Equal(t, tc.opts.Compression, h.Compression())
			require.Equal(t, int32(len(tc.recs)), h.NumRecords)
			require.Equal(t, tc.opts.Transactional, h.IsTransactional())
			require.Equal(t, tc.opts.Control, h.IsControl())
			if tc.opts.ProducerID != 0 {
				require.Equal(t, tc.opts.ProducerID, h.ProducerID)
				require.Equal(t, tc.opts.ProducerEpoch, h.ProducerEpoch)
				require.Equal(t, tc.opts.BaseSequence, h.BaseSequence)
				require.Equal(t, tc.opts.PartitionLeaderEpoch, h.PartitionLeaderEpoch)
			} else {
				require.Equal(t, int64(-1), h.ProducerID)
				require.Equal(t, int16(-1), h.ProducerEpoch)
				require.Equal(t, int32(-1), h.BaseSequence)
			}
			require.Len(t, recs, len(tc.recs))
			var maxTS int64 = -1
			for i, want := range tc.recs {
				got := recs[i]
				require.Equal(t, int64(1000+i), got.Offset)
				require.Equal(t, want.ts, got.Timestamp)
				require.Equal(t, want.key, got.Key, "key %d", i)
				require.Equal(t, want.key == nil, got.Key == nil, "null key %d", i)
				require.Equal(t, want.value, got.Value, "value %d", i)
				require.Equal(t, want.value == nil, got.Value == nil, "null value %d", i)
				require.Equal(t, want.headers, got.Headers)
				maxTS = max(maxTS, want.ts)
			}
			require.Equal(t, maxTS, h.MaxTimestamp)
			if len(tc.recs) > 0 {
				require.Equal(t, tc.recs[0].ts, h.FirstTimestamp)
				require.Equal(t, int64(1000+len(tc.recs)-1), h.LastOffset())
			}
		})
	}
}

func TestLogAppendTimeAndBaseOffsetRewrite(t *testing.T) {
	raw := build(t, 0, BatchOptions{}, sampleRecords())
	SetBaseOffset(raw, 77)
	SetPartitionLeaderEpoch(raw, 5)
	SetLogAppendTime(raw, 1_800_000_000_000)
	h, recs, err := Decode(raw)
	require.NoError(t, err, "CRC must still be valid after the rewrites")
	require.Equal(t, LogAppendTime, h.TimestampType())
	require.Equal(t, int64(77), h.BaseOffset)
	require.Equal(t, int32(5), h.PartitionLeaderEpoch)
	for i, r := range recs {
		require.Equal(t, int64(77+i), r.Offset)
		require.Equal(t, int64(1_800_000_000_000), r.Timestamp)
	}
}

// TestHeaderFollowsRewrites: the BatchHeader methods rewrite the batch
// exactly as the package functions do and leave the header equal to what
// parsing the rewritten batch gives, CRC included.
func TestHeaderFollowsRewrites(t *testing.T) {
	for _, opts := range []BatchOptions{{}, {Compression: LZ4}} {
		raw := build(t, 0, opts, sampleRecords())
		want := bytes.Clone(raw)
		h, err := Check(raw)
		require.NoError(t, err)
		h.SetBaseOffset(raw, 1234)
		SetBaseOffset(want, 1234)
		require.Equal(t, want, raw)
		got, err := Check(raw)
		require.NoError(t, err)
		require.Equal(t, got, h)

		h.SetLogAppendTime(raw, 1_800_000_000_000)
		SetLogAppendTime(want, 1_800_000_000_000)
		require.Equal(t, want, raw)
		got, err = Check(raw)
		require.NoError(t, err, "the CRC is valid after the stamp")
		require.Equal(t, got, h)
		require.Equal(t, LogAppendTime, h.TimestampType())
	}
}

func TestBuilderReuseAndSize(t *testing.T) {
	b := NewBuilder(0, BatchOptions{})
	for round := 0; round < 3; round++ {
		b.Reset(int64(round*10), BatchOptions{})
		for i := 0; i < 10; i++ {
			key := []byte(fmt.Sprintf("key-%d", i))
			want := b.Size() + RecordSize(int32(i), 0, key, key, nil)
			b.Add(5, key, key, nil)
			require.Equal(t, want, b.Size())
		}
		out, err := b.Build()
		require.NoError(t, err)
		require.Equal(t, b.Size(), len(out))
		_, recs, err := Decode(out)
		require.NoError(t, err)
		require.Len(t, recs, 10)
		require.Equal(t, int64(round*10+9), recs[9].Offset)
	}
}

// TestBuilderGrow: records that fit in what Grow made room for are added
// without reallocating the builder's buffer.
func TestBuilderGrow(t *testing.T) {
	b := NewBuilder(0, BatchOptions{})
	v := make([]byte, 100)
	b.Grow(10 * RecordSize(9, 0, nil, v, nil))
	buf := &b.buf[:1][0]
	for range 10 {
		b.Add(5, nil, v, nil)
	}
	require.Same(t, buf, &b.buf[0], "no reallocation")
	out, err := b.Build()
	require.NoError(t, err)
	require.Same(t, buf, &out[0], "an uncompressed batch is built in place")
	_, recs, err := Decode(out)
	require.NoError(t, err)
	require.Len(t, recs, 10)
}

func TestCompactedShapes(t *testing.T) {
	// A compacted batch keeps offsets with gaps and the original timestamps.
	b := NewBuilder(50, BatchOptions{})
	b.SetTimestamps(100, 900)
	b.AddWithDelta(2, 300, []byte("a"), []byte("1"), nil)
	b.AddWithDelta(7, 200, []byte("b"), nil, nil)
	b.SetLastOffsetDelta(9)
	raw, err := b.Build()
	require.NoError(t, err)
	h, recs, err := Decode(raw)
	require.NoError(t, err)
	require.Equal(t, int64(100), h.FirstTimestamp)
	require.Equal(t, int64(900), h.MaxTimestamp)
	require.Equal(t, int64(59), h.LastOffset())
	require.Equal(t, []int64{52, 57}, []int64{recs[0].Offset, recs[1].Offset})
	require.Equal(t, []int64{300, 200}, []int64{recs[0].Timestamp, recs[1].Timestamp})
}

func TestDeleteHorizon(t *testing.T) {
	const horizon = 1_700_086_400_000
	for _, c := range []Compression{None, LZ4, GZIP} {
		t.Run(c.String(), func(t *testing.T) {
			// A cleaned batch: gaps in offsets, the original max timestamp,
			// the horizon in the base timestamp field, tombstones kept.
			opts := BatchOptions{Compression: c, DeleteHorizon: horizon, ProducerID: 7, ProducerEpoch: 1, BaseSequence: 3}
			b := NewBuilder(500, opts)
			b.SetTimestamps(1_700_000_000_000, 1_700_000_000_900)
			b.AddWithDelta(1, 1_700_000_000_100, []byte("a"), []byte("1"), nil)
			b.AddWithDelta(4, 1_700_000_000_050, []byte("b"), nil, nil) // a tombstone, earlier timestamp
			b.AddWithDelta(5, 1_700_000_000_900, []byte("c"), []byte("3"), []Header{{Key: "h", Value: []byte("v")}})
			b.SetLastOffsetDelta(8)
			raw, err := b.Build()
			require.NoError(t, err)
			h, recs, err := Decode(raw)
			require.NoError(t, err)
			require.True(t, h.HasDeleteHorizon())
			got, ok := h.DeleteHorizon()
			require.True(t, ok)
			require.Equal(t, int64(horizon), got)
			require.Equal(t, int64(horizon), h.FirstTimestamp)
			require.Equal(t, int64(1_700_000_000_900), h.MaxTimestamp)
			require.Equal(t, int64(508), h.LastOffset())
			require.Equal(t, c, h.Compression())
			require.Equal(t, []int64{501, 504, 505}, []int64{recs[0].Offset, recs[1].Offset, recs[2].Offset})
			require.Equal(t, []int64{1_700_000_000_100, 1_700_000_000_050, 1_700_000_000_900},
				[]int64{recs[0].Timestamp, recs[1].Timestamp, recs[2].Timestamp}, "record timestamps read back unchanged")
			require.Nil(t, recs[1].Value)
			// Options reproduces the batch-level fields.
			require.Equal(t, opts, h.Options())

			// Rebuilding from Options gives the same bytes.
			b2 := NewBuilder(h.BaseOffset, h.Options())
			b2.SetTimestamps(h.FirstTimestamp, h.MaxTimestamp)
			for _, r := range recs {
				b2.AddWithDelta(int32(r.Offset-h.BaseOffset), r.Timestamp, r.Key, r.Value, r.Headers)
			}
			b2.SetLastOffsetDelta(h.LastOffsetDelta)
			again, err := b2.Build()
			require.NoError(t, err)
			require.Equal(t, raw, again)
		})
	}
	t.Run("none", func(t *testing.T) {
		raw := build(t, 0, BatchOptions{}, sampleRecords())
		h, err := Check(raw)
		require.NoError(t, err)
		require.False(t, h.HasDeleteHorizon())
		ms, ok := h.DeleteHorizon()
		require.False(t, ok)
		require.Equal(t, int64(-1), ms)
		require.Zero(t, h.Options().DeleteHorizon)
	})
	t.Run("empty batch", func(t *testing.T) {
		b := NewBuilder(10, BatchOptions{DeleteHorizon: horizon})
		b.SetTimestamps(5, 9)
		b.SetLastOffsetDelta(3)
		raw, err := b.Build()
		require.NoError(t, err)
		h, recs, err := Decode(raw)
		require.NoError(t, err)
		require.Empty(t, recs)
		require.Equal(t, int64(13), h.LastOffset())
		require.Equal(t, int64(9), h.MaxTimestamp)
		ms, ok := h.DeleteHorizon()
		require.True(t, ok)
		require.Equal(t, int64(horizon), ms)
	})
}

func TestCorruptInputs(t *testing.T) {
	good := build(t, 0, BatchOptions{}, sampleRecords())
	lz := build(t, 0, BatchOptions{Compression: LZ4}, sampleRecords())
	mutate := func(src []byte, f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), src...))
	}
	withCRC := func(b []byte) []byte { updateCRC(b); return b }
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short header", good[:HeaderSize-1]},
		{"truncated body", good[:len(good)-1]},
		{"flipped crc", mutate(good, func(b []byte) []byte { b[offCRC] ^= 1; return b })},
		{"flipped record byte", mutate(good, func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b })},
		{"bad magic", mutate(good, func(b []byte) []byte { b[offMagic] = 1; return b })},
		{"negative length", mutate(good, func(b []byte) []byte { binary.BigEndian.PutUint32(b[offBatchLength:], 0xffffff00); return b })},
		{"too many records", mutate(good, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offRecordCount:], 7)
			return withCRC(b)
		})},
		{"too few records", mutate(good, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offRecordCount:], 5)
			return withCRC(b)
		})},
		{"huge record length", mutate(good, func(b []byte) []byte {
			b[HeaderSize] = 0xfe // varint length far past the batch
			return withCRC(b)
		})},
		{"lz4 garbage", mutate(lz, func(b []byte) []byte {
			for i := HeaderSize + 8; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			return withCRC(b)
		})},
		{"codec 5", mutate(good, func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[offAttributes:], 5) // no Kafka codec is numbered 5
			return withCRC(b)
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(tc.data)
			require.Error(t, err)
			if tc.name == "codec 5" {
				require.True(t, errors.Is(err, ErrUnsupportedCompression), "%v", err)
				return
			}
			require.True(t, errors.Is(err, ErrCorrupt), "%v", err)
		})
	}
}

func TestBatchesWalk(t *testing.T) {
	var log []byte
	for i := 0; i < 5; i++ {
		log = append(log, build(t, int64(i*6), BatchOptions{}, sampleRecords())...)
	}
	var bases []int64
	err := Batches(log, func(h *BatchHeader, b []byte) error {
		bases = append(bases, h.BaseOffset)
		require.Len(t, b, h.Size())
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []int64{0, 6, 12, 18, 24}, bases)
	bases = nil
	err = Batches(log[:len(log)-10], func(h *BatchHeader, b []byte) error {
		bases = append(bases, h.BaseOffset)
		return nil
	})
	require.ErrorIs(t, err, ErrCorrupt)
	require.Equal(t, []int64{0, 6, 12, 18}, bases)
}

func TestIteratorAllocs(t *testing.T) {
	recs := sampleRecords()
	for _, c := range []Compression{None, LZ4} {
		raw := build(t, 0, BatchOptions{Compression: c}, recs)
		var it Iterator
		run := func() {
			if err := it.Reset(raw); err != nil {
				t.Fatal(err)
			}
			n := 0
			for it.Next() {
				n++
			}
			if it.Err() != nil || n != len(recs) {
				t.Fatalf("n=%d err=%v", n, it.Err())
			}
		}
		run() // warm the buffers and the header key cache
		allocs := testing.AllocsPerRun(100, run)
		if c == None {
			require.Zero(t, allocs, "uncompressed iteration must not allocate")
		} else {
			require.LessOrEqual(t, allocs, 4.0, "lz4 iteration reuses its buffer (sync.Pool may drop a reader under -race)")
		}
	}
}

func TestParseCompression(t *testing.T) {
	for _, c := range []Compression{None, GZIP, Snappy, LZ4, ZSTD} {
		got, err := ParseCompression(c.String())
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	_, err := ParseCompression("brotli")
	require.Error(t, err)
}

// TestOptionsKeepProducerZero: producer id 0, epoch 0, base sequence 0 is
// a real idempotent producer's first batch (Kafka hands out producer ids
// from 0). Rebuilding a batch from its header's Options, as the log
// cleaner does, must keep those fields, not turn them into "no producer"
// (-1) as the zero BatchOptions means.
func TestOptionsKeepProducerZero(t *testing.T) {
	raw := build(t, 0, BatchOptions{ProducerID: 1}, sampleRecords()[:2])
	binary.BigEndian.PutUint64(raw[offProducerID:], 0)
	binary.BigEndian.PutUint16(raw[offProducerEpoch:], 0)
	binary.BigEndian.PutUint32(raw[offBaseSequence:], 0)
	updateCRC(raw)
	h, err := Check(raw)
	require.NoError(t, err)
	require.Equal(t, [3]int64{0, 0, 0}, [3]int64{h.ProducerID, int64(h.ProducerEpoch), int64(h.BaseSequence)})

	b := NewBuilder(h.BaseOffset, h.Options())
	b.Add(1, []byte("k"), []byte("v"), nil)
	out, err := b.Build()
	require.NoError(t, err)
	got, err := Check(out)
	require.NoError(t, err)
	require.Equal(t, [3]int64{0, 0, 0}, [3]int64{got.ProducerID, int64(got.ProducerEpoch), int64(got.BaseSequence)})

	// The zero BatchOptions still means no producer.
	got, err = Check(build(t, 0, BatchOptions{}, sampleRecords()[:1]))
	require.NoError(t, err)
	require.Equal(t, [3]int64{-1, -1, -1}, [3]int64{got.ProducerID, int64(got.ProducerEpoch), int64(got.BaseSequence)})
}

// TestVarintMatchesBinary: vint, and zz where it decodes, decode every
// one- and two-byte input (canonical or not, and cut short), at the start
// of a slice or inside it, as binary.Varint does, and report what
// binary.Varint rejects.
func TestVarintMatchesBinary(t *testing.T) {
	check := func(p []byte) {
		wantV, wantN := binary.Varint(p)
		for _, pad := range []int{0, 3} {
			q := append(make([]byte, pad, pad+len(p)), p...)
			v, next := vint(q, pad)
			if fv, fnext := zz(q, pad); fnext >= 0 {
				v, next = fv, fnext
			}
			switch {
			case wantN <= 0 && next >= 0:
				t.Fatalf("vint(% x, %d) = %d, %d; binary.Varint rejects it", q, pad, v, next)
			case wantN > 0 && (v != wantV || next != pad+wantN):
				t.Fatalf("vint(% x, %d) = %d, %d; binary.Varint says %d, %d", q, pad, v, next, wantV, wantN)
			}
		}
	}
	check(nil)
	for a := range 256 {
		check([]byte{byte(a)})
		for b := range 256 {
			check([]byte{byte(a), byte(b)})
			check([]byte{byte(a), byte(b), 0x01})
		}
	}
	for _, v := range []int64{0, -1, 1, 63, -64, 64, 8191, -8192, 8192, 1 << 40, -1 << 62} {
		check(binary.AppendVarint(nil, v))
	}
	check([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}) // overflows
}

// TestPutVarint: the builder's varint writer and length agree with
// encoding/binary at every length boundary.
func TestPutVarint(t *testing.T) {
	var vals []int64
	for s := range 64 {
		vals = append(vals, 1<<s-1, 1<<s, -(1 << s), -(1<<s)-1)
	}
	vals = append(vals, math.MaxInt64, math.MinInt64, 0)
	for _, v := range vals {
		want := binary.AppendVarint(nil, v)
		p := make([]byte, binary.MaxVarintLen64+1)
		n := putVarint(p, 1, v)
		require.Equal(t, want, p[1:n], "putVarint(%d)", v)
		require.Equal(t, len(want), varintLen(v), "varintLen(%d)", v)
	}
}
