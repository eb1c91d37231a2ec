package record

import (
	"errors"
	"testing"
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
