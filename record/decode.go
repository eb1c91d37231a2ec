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

// varint is binary.Varint with the one- and two-byte encodings, which
// nearly every field of a record uses, decoded without the general loop.
// decode inlines its one-byte case by hand (the compiler will not: the
// function is over the inlining budget).
func varint(p []byte) (int64, int) {
	if len(p) != 0 && p[0] < 0x80 {
		x := int64(p[0])
		return x>>1 ^ -(x & 1), 1
	}
	if len(p) > 1 && p[1] < 0x80 {
		u := uint64(p[0]&0x7f) | uint64(p[1])<<7
		return int64(u>>1) ^ -int64(u&1), 2
	}
	return binary.Varint(p)
}

// decode decodes the record at the start of it.data into it.rec. It walks
// the record with an index into it rather than reslicing it, and decodes
// one-byte varints inline: it is the consumer's inner loop.
func (it *Iterator) decode() error {
	p := it.data
	var length int64
	var n int
	if len(p) != 0 && p[0] < 0x80 {
		length, n = int64(p[0]>>1)^-int64(p[0]&1), 1
	} else {
		length, n = varint(p)
	}
	if n <= 0 || length < 0 || length > int64(len(p)-n) {
		return it.corrupt("record length")
	}
	body := p[n : n+int(length)]
	it.data = p[n+int(length):]
	if len(body) < 1 {
		return it.corrupt("empty record")
	}
	r := &it.rec
	r.Attributes = int8(body[0])
	i := 1
	var tsDelta, offDelta int64
	if i < len(body) && body[i] < 0x80 {
		tsDelta, i = int64(body[i]>>1)^-int64(body[i]&1), i+1
	} else {
		if tsDelta, n = varint(body[i:]); n <= 0 {
			return it.corrupt("timestamp delta")
		}
		i += n
	}
	if i < len(body) && body[i] < 0x80 {
		offDelta, i = int64(body[i]>>1)^-int64(body[i]&1), i+1
	} else {
		if offDelta, n = varint(body[i:]); n <= 0 {
			return it.corrupt("offset delta")
		}
		i += n
	}
	if offDelta < 0 || offDelta > int64(it.hdr.LastOffsetDelta) {
		return it.corrupt("offset delta")
	}
	r.Offset = it.hdr.BaseOffset + offDelta
	if it.logTime {
		r.Timestamp = it.hdr.MaxTimestamp
	} else {
		r.Timestamp = it.hdr.FirstTimestamp + tsDelta
	}
	var ok bool
	if r.Key, i, ok = bytesAt(body, i); !ok {
		return it.corrupt("key")
	}
	if r.Value, i, ok = bytesAt(body, i); !ok {
		return it.corrupt("value")
	}
	var count int64
	if i < len(body) && body[i] < 0x80 {
		count, i = int64(body[i]>>1)^-int64(body[i]&1), i+1
	} else {
		if count, n = varint(body[i:]); n <= 0 {
			return it.corrupt("header count")
		}
		i += n
	}
	if count < 0 || count > int64(len(body)-i) {
		return it.corrupt("header count")
	}
	if count == 0 {
		r.Headers = nil
	} else {
		hs := it.hdrs[:0]
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
	var l int64
	var n int
	if i < len(p) && p[i] < 0x80 {
		l, n = int64(p[i]>>1)^-int64(p[i]&1), 1
	} else {
		l, n = varint(p[i:])
	}
	if n <= 0 || l < -1 || l > int64(len(p)-i-n) {
		return nil, i, false
	}
	i += n
	if l == -1 {
		return nil, i, true
	}
	return p[i : i+int(l) : i+int(l)], i + int(l), true
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
