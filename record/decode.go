package record

import (
	"encoding/binary"
	"fmt"
)

// Record is one decoded record. Key, Value and header values alias the
// batch (or the iterator's decompression buffer) and are valid until the
// iterator moves on; copy them to keep them. A nil Key or Value is a null.
type Record struct {
	Offset     int64
	Timestamp  int64
	Key        []byte
	Value      []byte
	Headers    []Header
	Attributes int8
}

// Iterator walks the records of one batch without allocating: it decodes in
// place, reuses its header slice and decompression buffer across batches,
// and interns header keys. The zero Iterator is ready for Reset.
type Iterator struct {
	hdr     BatchHeader
	data    []byte // remaining records section
	left    int32  // records still to decode
	rec     Record
	err     error
	zbuf    []byte
	hdrs    []Header
	keys    map[string]string
	logTime bool
}

// NewIterator checks batch (CRC included) and returns an iterator over its
// records.
func NewIterator(batch []byte) (*Iterator, error) {
	it := &Iterator{}
	if err := it.Reset(batch); err != nil {
		return nil, err
	}
	return it, nil
}

// Reset checks batch (header, length and CRC), decompresses its records
// section if needed and positions the iterator before its first record.
func (it *Iterator) Reset(batch []byte) error {
	h, err := Check(batch)
	if err != nil {
		it.fail(err)
		return err
	}
	return it.ResetChecked(&h, batch)
}

// ResetChecked is Reset for a batch whose header the caller has already
// parsed and whose CRC it has already verified (as Batches does).
func (it *Iterator) ResetChecked(h *BatchHeader, batch []byte) error {
	it.hdr = *h
	it.err = nil
	it.left = h.NumRecords
	it.logTime = h.TimestampType() == LogAppendTime
	data := batch[HeaderSize:h.Size()]
	if c := h.Compression(); c != None && h.NumRecords > 0 {
		z, err := decompress(c, it.zbuf[:0], data)
		if err != nil {
			err = fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
			it.fail(err)
			return err
		}
		it.zbuf = z
		data = z
	}
	it.data = data
	return nil
}

func (it *Iterator) fail(err error) {
	it.err = err
	it.left = 0
	it.data = nil
}

// Header is the header of the current batch.
func (it *Iterator) Header() *BatchHeader { return &it.hdr }

// Next decodes the next record; it returns false at the end of the batch or
// on corrupt data (see Err).
func (it *Iterator) Next() bool {
	if it.left <= 0 {
		if it.err == nil && it.left == 0 && len(it.data) != 0 {
			it.fail(it.corrupt("%d bytes after the last record", len(it.data)))
			it.data = nil
		}
		return false
	}
	if err := it.decode(); err != nil {
		it.fail(err)
		return false
	}
	it.left--
	return true
}

// NextFrom is Next for the first record whose offset is at or after
// offset: it skips the records below it and decodes that one. A record it
// skips is read only as far as its offset (its length, attributes,
// timestamp delta and offset delta are checked; its key, value and
// headers are not decoded), so that reading one record in the middle of a
// batch costs little more than decoding that record. It returns false at
// the end of the batch or on corrupt data (see Err), like Next.
func (it *Iterator) NextFrom(offset int64) bool {
	if d := offset - it.hdr.BaseOffset; d > 0 && it.err == nil {
		if err := it.skipBelow(d); err != nil {
			it.fail(err)
			return false
		}
	}
	return it.Next()
}

// skipBelow moves it.data past the records whose offset delta is below
// delta, stopping at the first record at or after it.
func (it *Iterator) skipBelow(delta int64) error {
	p := it.data
	for it.left > 0 {
		length, i := zz(p, 0)
		if i < 0 {
			length, i = vint(p, 0)
		}
		if i < 0 || length < 0 || length > int64(len(p)-i) {
			return it.corrupt("record length")
		}
		if length == 0 {
			return it.corrupt("empty record")
		}
		end := i + int(length)
		body := p[:end:end]
		_, j := zz(body, i+1) // the timestamp delta, after the attributes
		if j < 0 {
			if _, j = vint(body, i+1); j < 0 {
				return it.corrupt("timestamp delta")
			}
		}
		off, k := zz(body, j)
		if k < 0 {
			off, k = vint(body, j)
		}
		if k < 0 || off < 0 || off > int64(it.hdr.LastOffsetDelta) {
			return it.corrupt("offset delta")
		}
		if off >= delta {
			break
		}
		p = p[end:]
		it.left--
	}
	it.data = p
	return nil
}

// Record is the record Next decoded; valid until the next call to Next or Reset.
func (it *Iterator) Record() *Record { return &it.rec }

// Err is the error that stopped the iteration, wrapping ErrCorrupt, or nil.
func (it *Iterator) Err() error { return it.err }

// Remaining is the number of records not yet returned.
func (it *Iterator) Remaining() int { return int(it.left) }

func (it *Iterator) corrupt(format string, args ...any) error {
	return fmt.Errorf("batch at offset %d, record %d: %s: %w", it.hdr.BaseOffset,
		it.hdr.NumRecords-it.left, fmt.Sprintf(format, args...), ErrCorrupt)
}

// zz decodes the one- or two-byte zigzag varint at p[i:] when p holds at
// least two bytes from i, and returns it and the index after it; next < 0
// means anything else (a longer varint, or fewer than two bytes left),
// which the caller hands to vint. It is small enough to be inlined: every
// field of a record up to 8 KiB but its last one (the header count, which
// decode reads inline itself) is decoded without a call.
func zz(p []byte, i int) (x int64, next int) {
	if i+1 < len(p) {
		b := p[i]
		if b < 0x80 {
			return int64(b>>1) ^ -int64(b&1), i + 1
		}
		if c := p[i+1]; c < 0x80 {
			u := uint64(b&0x7f) | uint64(c)<<7
			return int64(u>>1) ^ -int64(u&1), i + 2
		}
	}
	return 0, -1
}

// vint decodes the zigzag varint at p[i:] and returns it and the index
// after it, or next < 0 when p[i:] does not start with one (cut short, or
// longer than 64 bits), as binary.Varint would reject it.
func vint(p []byte, i int) (x int64, next int) {
	if i < 0 || i >= len(p) {
		return 0, -1
	}
	x, n := binary.Varint(p[i:])
	if n <= 0 {
		return 0, -1
	}
	return x, i + n
}

// decode decodes the record at the start of it.data into it.rec. It is the
// consumer's inner loop: it walks the record with one index into it,
// without reslicing, decodes short varints inline (see zz) and checks
// every field against the record's length.
func (it *Iterator) decode() error {
	p := it.data
	length, i := zz(p, 0)
	if i < 0 {
		length, i = vint(p, 0)
	}
	if i < 0 || length < 0 || length > int64(len(p)-i) {
		return it.corrupt("record length")
	}
	if length == 0 {
		return it.corrupt("empty record")
	}
	end := i + int(length)
	body := p[:end:end] // the record: its fields start at body[i]
	it.data = p[end:]
	r := &it.rec
	r.Attributes = int8(body[i])
	tsDelta, j := zz(body, i+1)
	if j < 0 {
		if tsDelta, j = vint(body, i+1); j < 0 {
			return it.corrupt("timestamp delta")
		}
	}
	offDelta, i := zz(body, j)
	if i < 0 {
		offDelta, i = vint(body, j)
	}
	if i < 0 || offDelta < 0 || offDelta > int64(it.hdr.LastOffsetDelta) {
		return it.corrupt("offset delta")
	}
	r.Offset = it.hdr.BaseOffset + offDelta
	if it.logTime {
		r.Timestamp = it.hdr.MaxTimestamp
	} else {
		r.Timestamp = it.hdr.FirstTimestamp + tsDelta
	}
	// The key and the value: a length (-1: null), then the bytes.
	l, j := zz(body, i)
	if j < 0 {
		l, j = vint(body, i)
	}
	if j < 0 || l < -1 || l > int64(len(body)-j) {
		return it.corrupt("key")
	}
	r.Key, i = nil, j
	if l >= 0 {
		i = j + int(l)
		r.Key = body[j:i:i]
	}
	if l, j = zz(body, i); j < 0 {
		l, j = vint(body, i)
	}
	if j < 0 || l < -1 || l > int64(len(body)-j) {
		return it.corrupt("value")
	}
	r.Value, i = nil, j
	if l >= 0 {
		i = j + int(l)
		r.Value = body[j:i:i]
	}
	// The header count, most often the record's last byte.
	var count int64
	if i < len(body) && body[i] < 0x80 {
		count, i = int64(body[i]>>1)^-int64(body[i]&1), i+1
	} else if count, i = vint(body, i); i < 0 {
		return it.corrupt("header count")
	}
	if count < 0 || count > int64(len(body)-i) {
		return it.corrupt("header count")
	}
	if count == 0 {
		r.Headers = nil
	} else {
		hs := it.hdrs[:0]
		var ok bool
		for range count {
			var k, v []byte
			if k, i, ok = bytesAt(body, i); !ok || k == nil {
				return it.corrupt("header key")
			}
			if v, i, ok = bytesAt(body, i); !ok {
				return it.corrupt("header value")
			}
			hs = append(hs, Header{Key: it.intern(k), Value: v})
		}
		it.hdrs = hs
		r.Headers = hs
	}
	if i != len(body) {
		return it.corrupt("%d bytes past the record's fields", len(body)-i)
	}
	return nil
}

// bytesAt decodes the length-prefixed bytes (length -1: null) at p[i:]
// and returns them (capped, so that appending to them never overwrites
// what follows) and the index after them.
func bytesAt(p []byte, i int) (v []byte, next int, ok bool) {
	l, j := vint(p, i)
	if j < 0 || l < -1 || l > int64(len(p)-j) {
		return nil, i, false
	}
	if l == -1 {
		return nil, j, true
	}
	k := j + int(l)
	return p[j:k:k], k, true
}

// intern returns a string for a header key, allocating only the first time
// an iterator sees that key.
func (it *Iterator) intern(k []byte) string {
	if s, ok := it.keys[string(k)]; ok {
		return s
	}
	if it.keys == nil {
		it.keys = make(map[string]string)
	}
	if len(it.keys) >= 1024 { // bound the cache on adversarial input
		clear(it.keys)
	}
	s := string(k)
	it.keys[s] = s
	return s
}

// minRecordSize is the smallest encoded record: one byte each for length,
// attributes, timestamp delta, offset delta, key length, value length and
// header count.
const minRecordSize = 7

// Decode decodes every record of batch into fresh memory that does not
// alias batch. It is the convenient, allocating form of Iterator.
func Decode(batch []byte) (BatchHeader, []Record, error) {
	var it Iterator
	if err := it.Reset(batch); err != nil {
		return it.hdr, nil, err
	}
	// A record takes at least minRecordSize bytes: never trust the count
	// beyond what the data could hold.
	recs := make([]Record, 0, min(int(it.hdr.NumRecords), len(it.data)/minRecordSize))
	for it.Next() {
		r := *it.Record()
		r.Key = cloneBytes(r.Key)
		r.Value = cloneBytes(r.Value)
		if r.Headers != nil {
			hs := make([]Header, len(r.Headers))
			for i, h := range r.Headers {
				hs[i] = Header{Key: h.Key, Value: cloneBytes(h.Value)}
			}
			r.Headers = hs
		}
		recs = append(recs, r)
	}
	return it.hdr, recs, it.Err()
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
