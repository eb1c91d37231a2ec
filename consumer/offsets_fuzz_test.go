package consumer

import (
	"encoding/binary"
	"testing"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeOffsetRecord feeds the committed-offset decoders a key, a
// value (or a tombstone) and the bytes of a read of the offsets topic:
// they never panic, a key or value they accept encodes back to the same
// bytes, and anything the batch decoder refuses is ErrCorrupt. The key and
// value are also loaded as a record of a real batch, behind a valid commit.
func FuzzDecodeOffsetRecord(f *testing.F) {
	tp := TopicPartition{Topic: "orders", Partition: 3}
	key := encodeOffsetKey("group", tp)
	value := encodeOffsetValue(OffsetAndMetadata{Offset: 42, Metadata: "meta"}, 1_700_000_000_000)
	batch := func(t testing.TB, base int64, keys, values [][]byte) []byte {
		b := record.NewBuilder(base, record.BatchOptions{})
		for i := range keys {
			b.Add(1_700_000_000_000, keys[i], values[i], nil)
		}
		raw, err := b.Build()
		require.NoError(t, err)
		return append([]byte(nil), raw...)
	}
	good := batch(f, 0, [][]byte{key, key}, [][]byte{value, nil})
	zb := record.NewBuilder(0, record.BatchOptions{Compression: record.LZ4})
	zb.Add(1, key, value, nil)
	compressed, err := zb.Build()
	require.NoError(f, err)
	twoBatches := append(append([]byte(nil), good...), batch(f, 2, [][]byte{key}, [][]byte{value})...)
	backwards := append(append([]byte(nil), good...), batch(f, 0, [][]byte{key}, [][]byte{value})...)
	v0key := append([]byte{0, 0}, key[2:]...)
	groupMeta := append([]byte{0, 2}, key[2:]...)
	negLen := append([]byte(nil), key...)
	binary.BigEndian.PutUint16(negLen[2:], 0xffff)
	longMD := encodeOffsetValue(OffsetAndMetadata{Offset: 1, Metadata: string(make([]byte, 300))}, 5)
	seeds := []struct {
		key, value []byte
		tombstone  bool
		batch      []byte
	}{
		{key, value, false, good},
		{key, nil, true, twoBatches},
		{v0key, value, false, backwards},
		{groupMeta, []byte("anything"), false, good[:len(good)-1]},
		{key[:len(key)-1], value[:len(value)-1], false, good[:record.HeaderSize]},
		{append(key, 0), append(value, 0), false, nil},
		{negLen, longMD, false, []byte{0xff}},
		{nil, nil, false, make([]byte, record.HeaderSize)},
		{[]byte{0x80, 0}, []byte{0, 2}, false, nil},
		{[]byte{0, 1}, []byte{0, 3, 1, 2}, false, compressed},
	}
	for _, s := range seeds {
		f.Add(s.key, s.value, s.tombstone, s.batch)
	}
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool, data []byte) {
		k, ours, kerr := decodeOffsetKey(key)
		if kerr == nil && ours {
			require.Equal(t, key, k.encode(), "an accepted key encodes back the same")
		}
		if kerr != nil {
			require.ErrorIs(t, kerr, errOffsetRecord)
		}
		v, verr := decodeOffsetValue(value)
		if verr == nil {
			require.Equal(t, value, v.encode(), "an accepted value encodes back the same")
		} else {
			require.ErrorIs(t, verr, errOffsetRecord)
		}

		// The key and value as the second record of a batch.
		if tombstone {
			value = nil
		} else if value == nil {
			value = []byte{} // an empty value, not a tombstone
		}
		type loaded struct {
			k    offsetKey
			v    offsetValue
			tomb bool
		}
		var got []loaded
		collect := func(k offsetKey, v offsetValue, tomb bool) { got = append(got, loaded{k, v, tomb}) }
		first := encodeOffsetKey("g", TopicPartition{Topic: "t"})
		raw := batch(t, 0, [][]byte{first, key}, [][]byte{encodeOffsetValue(OffsetAndMetadata{Offset: 1}, 7), value})
		var it record.Iterator
		next, err := decodeOffsetBatches(0, raw, 0, &it, collect)
		if kerr != nil || (ours && !tombstone && verr != nil) {
			require.ErrorIs(t, err, commitlog.ErrCorrupt)
			require.ErrorContains(t, err, OffsetsTopic+"-0 at offset 1")
		} else {
			require.NoError(t, err)
			require.Equal(t, int64(2), next)
			if !ours {
				require.Len(t, got, 1, "a record of another kind is skipped")
			} else {
				require.Len(t, got, 2)
				require.Equal(t, k, got[1].k)
				require.Equal(t, tombstone, got[1].tomb)
				if !tombstone {
					require.Equal(t, v, got[1].v)
				}
			}
		}

		// Whatever a read returned.
		got = got[:0]
		it = record.Iterator{}
		next, err = decodeOffsetBatches(0, data, 0, &it, collect)
		if err != nil {
			require.ErrorIs(t, err, commitlog.ErrCorrupt)
			return
		}
		if len(data) > 0 {
			require.Positive(t, next, "a read that decodes moves the position on")
		}
		for _, l := range got {
			k, ours, err := decodeOffsetKey(l.k.encode())
			require.NoError(t, err)
			require.True(t, ours)
			require.Equal(t, l.k, k)
			if !l.tomb {
				v, err := decodeOffsetValue(l.v.encode())
				require.NoError(t, err)
				require.Equal(t, l.v, v)
			}
		}
	})
}
