package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeBatch feeds arbitrary bytes to the batch decoder. It must never
// panic, must report damage as ErrCorrupt (or ErrUnsupportedCompression),
// and whatever it accepts must re-encode to a batch that decodes the same.
// Run it with: go test ./record -run '^$' -fuzz FuzzDecodeBatch
func FuzzDecodeBatch(f *testing.F) {
	f.Add(build(f, 0, BatchOptions{}, sampleRecords()))
	f.Add(build(f, 7, BatchOptions{Compression: LZ4}, sampleRecords()))
	f.Add(build(f, 1, BatchOptions{Compression: GZIP}, sampleRecords()[:2]))
	f.Add(build(f, 3, BatchOptions{}, nil))
	f.Add(build(f, 9, BatchOptions{ProducerID: 5, ProducerEpoch: 1, BaseSequence: 2}, sampleRecords()[4:5]))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, recs, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedCompression) {
				t.Fatalf("error is neither ErrCorrupt nor ErrUnsupportedCompression: %v", err)
			}
			return
		}
		if int(h.NumRecords) != len(recs) {
			t.Fatalf("header says %d records, decoded %d", h.NumRecords, len(recs))
		}
		b := NewBuilder(h.BaseOffset, BatchOptions{})
		b.SetTimestamps(h.FirstTimestamp, h.MaxTimestamp)
		for _, r := range recs {
			b.AddWithDelta(int32(r.Offset-h.BaseOffset), r.Timestamp, r.Key, r.Value, r.Headers)
		}
		out, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		_, again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if len(again) != len(recs) {
			t.Fatalf("re-encoded %d records, got back %d", len(recs), len(again))
		}
		for i := range recs {
			if string(again[i].Key) != string(recs[i].Key) || string(again[i].Value) != string(recs[i].Value) ||
				(again[i].Value == nil) != (recs[i].Value == nil) || again[i].Offset != recs[i].Offset {
				t.Fatalf("record %d changed on re-encode", i)
			}
			if h.TimestampType() == CreateTime && again[i].Timestamp != recs[i].Timestamp {
				t.Fatalf("record %d timestamp changed on re-encode", i)
			}
		}
	})
}

// FuzzRecordsMatchReference decodes arbitrary records sections (no CRC in
// the way) with Iterator and with refDecode, a plain reading of the format
// with binary.Varint: both must agree on every record and on where the
// data goes bad.
func FuzzRecordsMatchReference(f *testing.F) {
	for _, raw := range [][]byte{
		build(f, 0, BatchOptions{}, sampleRecords()),
		build(f, 9, BatchOptions{}, sampleRecords()[4:5]),
	} {
		f.Add(raw[HeaderSize:], int32(len(sampleRecords())))
	}
	f.Fuzz(func(t *testing.T, section []byte, n int32) {
		n = max(n%64, 0)
		h := BatchHeader{BaseOffset: 10, LastOffsetDelta: 200, NumRecords: n, FirstTimestamp: 1000, MaxTimestamp: 2000}
		batch := append(make([]byte, HeaderSize), section...)
		h.BatchLength = int32(len(batch) - LogOverhead)
		var it Iterator
		if err := it.ResetChecked(&h, batch); err != nil {
			t.Fatal(err)
		}
		want, wantOK := refDecode(&h, section)
		var got []Record
		for it.Next() {
			r := *it.Record()
			r.Headers = slices.Clone(r.Headers)
			got = append(got, r)
		}
		if gotOK := it.Err() == nil; gotOK != wantOK || !reflect.DeepEqual(got, want) {
			t.Fatalf("iterator: %d records, err %v; reference: %d records, ok %v", len(got), it.Err(), len(want), wantOK)
		}
	})
}

// refDecode decodes the records of a batch with header h from its records
// section, field by field; ok is false if the section is not exactly
// h.NumRecords valid records.
func refDecode(h *BatchHeader, p []byte) (recs []Record, ok bool) {
	bytesField := func(p []byte) ([]byte, []byte, bool) {
		l, n := binary.Varint(p)
		if n <= 0 || l < -1 || l > int64(len(p)-n) {
			return nil, nil, false
		}
		if l == -1 {
			return nil, p[n:], true
		}
		return p[n : n+int(l) : n+int(l)], p[n+int(l):], true
	}
	for range h.NumRecords {
		length, n := binary.Varint(p)
		if n <= 0 || length < 1 || length > int64(len(p)-n) {
			return recs, false
		}
		body := p[n : n+int(length)]
		p = p[n+int(length):]
		r := Record{Attributes: int8(body[0])}
		body = body[1:]
		ts, n := binary.Varint(body)
		if n <= 0 {
			return recs, false
		}
		body = body[n:]
		od, n := binary.Varint(body)
		if n <= 0 || od < 0 || od > int64(h.LastOffsetDelta) {
			return recs, false
		}
		body = body[n:]
		r.Offset, r.Timestamp = h.BaseOffset+od, h.FirstTimestamp+ts
		var ok bool
		if r.Key, body, ok = bytesField(body); !ok {
			return recs, false
		}
		if r.Value, body, ok = bytesField(body); !ok {
			return recs, false
		}
		count, n := binary.Varint(body)
		if n <= 0 || count < 0 || count > int64(len(body)-n) {
			return recs, false
		}
		body = body[n:]
		for range count {
			var k, v []byte
			if k, body, ok = bytesField(body); !ok || k == nil {
				return recs, false
			}
			if v, body, ok = bytesField(body); !ok {
				return recs, false
			}
			r.Headers = append(r.Headers, Header{Key: string(k), Value: v})
		}
		if len(body) != 0 {
			return recs, false
		}
		recs = append(recs, r)
	}
	return recs, len(p) == 0
}

// TestIteratorMatchesReference is FuzzRecordsMatchReference over random
// damage (bytes overwritten, the section cut short, record counts off) to
// encoded records sections, for go test without -fuzz.
func TestIteratorMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seeds := [][]byte{build(t, 0, BatchOptions{}, sampleRecords())[HeaderSize:]}
	for range 20000 {
		b := slices.Clone(seeds[r.IntN(len(seeds))])
		for k := r.IntN(4); k >= 0; k-- {
			if len(b) > 0 {
				b[r.IntN(len(b))] = byte(r.Uint32())
			}
		}
		b = b[:len(b)-r.IntN(len(b)/4+1)]
		n := int32(len(sampleRecords()) - 1 + r.IntN(3))
		h := BatchHeader{BaseOffset: 10, LastOffsetDelta: 200, NumRecords: n, FirstTimestamp: 1000, MaxTimestamp: 2000}
		batch := append(make([]byte, HeaderSize), b...)
		h.BatchLength = int32(len(batch) - LogOverhead)
		var it Iterator
		require.NoError(t, it.ResetChecked(&h, batch))
		want, wantOK := refDecode(&h, b)
		var got []Record
		for it.Next() {
			rec := *it.Record()
			rec.Headers = slices.Clone(rec.Headers)
			got = append(got, rec)
		}
		require.Equal(t, wantOK, it.Err() == nil, "section % x: %v", b, it.Err())
		require.Equal(t, want, got, "section % x", b)
	}
}

// nextFromRef is what NextFrom must do: Next until a record at or after
// offset.
func nextFromRef(it *Iterator, offset int64) bool {
	for it.Next() {
		if it.Record().Offset >= offset {
			return true
		}
	}
	return false
}

// collectFrom reads a batch from offset on, with NextFrom or with
// nextFromRef, then Next to its end.
func collectFrom(t testing.TB, h *BatchHeader, batch []byte, offset int64, ref bool) ([]Record, error) {
	var it Iterator
	require.NoError(t, it.ResetChecked(h, batch))
	var got []Record
	more := false
	if ref {
		more = nextFromRef(&it, offset)
	} else {
		more = it.NextFrom(offset)
	}
	for ; more; more = it.Next() {
		r := *it.Record()
		r.Headers = slices.Clone(r.Headers)
		got = append(got, r)
	}
	return got, it.Err()
}

// TestNextFrom: on valid batches (plain and compressed, dense and with
// offset gaps, records with one-, two- and three-byte lengths), NextFrom
// from every offset around the batch returns what Next does from there.
func TestNextFrom(t *testing.T) {
	gaps := NewBuilder(100, BatchOptions{})
	for i, r := range sampleRecords() {
		gaps.AddWithDelta(int32(3*i+1), r.ts, r.key, r.value, r.headers)
	}
	gapped, err := gaps.Build()
	require.NoError(t, err)
	many := make([]testRec, 150) // offset deltas of two bytes from 64 on
	for i := range many {
		many[i] = testRec{ts: int64(1000 + i), value: bytes.Repeat([]byte("v"), i)}
	}
	for name, raw := range map[string][]byte{
		"plain":  build(t, 10, BatchOptions{}, sampleRecords()),
		"lz4":    build(t, 10, BatchOptions{Compression: LZ4}, sampleRecords()),
		"gaps":   slices.Clone(gapped),
		"many":   build(t, 0, BatchOptions{}, many),
		"empty":  build(t, 5, BatchOptions{}, nil),
		"single": build(t, 7, BatchOptions{}, sampleRecords()[5:]),
	} {
		t.Run(name, func(t *testing.T) {
			h, err := Check(raw)
			require.NoError(t, err)
			for off := h.BaseOffset - 2; off <= h.LastOffset()+2; off++ {
				want, wantErr := collectFrom(t, &h, raw, off, true)
				require.NoError(t, wantErr)
				got, err := collectFrom(t, &h, raw, off, false)
				require.NoError(t, err, "from %d", off)
				require.Equal(t, want, got, "from %d", off)
			}
		})
	}
}

// TestNextFromDamaged: on damaged records sections NextFrom never panics,
// reports damage as ErrCorrupt, and whatever the plain Next loop reads
// from the same offset without an error, NextFrom reads too (it checks the
// records it skips less deeply, so it may read past a record whose key or
// value is damaged, never return a different record).
func TestNextFromDamaged(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	seed := build(t, 0, BatchOptions{}, sampleRecords())[HeaderSize:]
	for range 20000 {
		b := slices.Clone(seed)
		for k := r.IntN(4); k >= 0; k-- {
			b[r.IntN(len(b))] = byte(r.Uint32())
		}
		b = b[:len(b)-r.IntN(len(b)/4+1)]
		n := int32(len(sampleRecords()) - 1 + r.IntN(3))
		h := BatchHeader{BaseOffset: 10, LastOffsetDelta: 200, NumRecords: n, FirstTimestamp: 1000, MaxTimestamp: 2000}
		batch := append(make([]byte, HeaderSize), b...)
		h.BatchLength = int32(len(batch) - LogOverhead)
		off := h.BaseOffset + int64(r.IntN(8)) - 1
		want, wantErr := collectFrom(t, &h, batch, off, true)
		got, err := collectFrom(t, &h, batch, off, false)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
		}
		if wantErr == nil {
			require.NoError(t, err, "section % x from %d", b, off)
			require.Equal(t, want, got, "section % x from %d", b, off)
		} else if len(got) > 0 {
			require.GreaterOrEqual(t, got[0].Offset, off)
		}
	}
}
