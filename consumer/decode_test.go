package consumer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// fetched encodes batches back to back as a fetch returns them: each
// batch is {base offset, number of records}, its values naming their
// offsets.
func fetched(t *testing.T, batches ...[2]int64) []byte {
	t.Helper()
	var out []byte
	for _, b := range batches {
		bl := record.NewBuilder(b[0], record.BatchOptions{})
		for i := int64(0); i < b[1]; i++ {
			bl.Add(1_700_000_000_000, fmt.Appendf(nil, "k%d", b[0]+i), fmt.Appendf(nil, "v%d", b[0]+i), nil)
		}
		raw, err := bl.Build()
		require.NoError(t, err)
		out = append(out, raw...)
	}
	return out
}

// TestDecodeNeverSkipsOrJumps hands decode fetched data as a damaged log
// could return it: the consumer must never drop records below its
// position, nor jump over offsets, without an error. A fetch at P returns
// whole batches from the one holding P (compacted: or the first after it),
// each following the one before.
func TestDecodeNeverSkipsOrJumps(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	for _, compacted := range []bool{false, true} {
		topic := fmt.Sprintf("compacted-%v", compacted)
		cfg := commitlog.TopicConfig{Partitions: 1}
		if compacted {
			cfg.CleanupPolicy = commitlog.CleanupCompact
		}
		_, err := b.CreateTopic(topic, cfg)
		require.NoError(t, err)
		tp := TopicPartition{Topic: topic}
		for _, c := range []struct {
			name     string
			pos      int64
			data     [][2]int64
			okDense  bool
			okCompac bool
			want     []int64 // offsets buffered when it is accepted
		}{
			{"first batch holds the position", 12, [][2]int64{{10, 5}, {15, 2}}, true, true, []int64{12, 13, 14, 15, 16}},
			{"first batch starts at the position", 10, [][2]int64{{10, 2}}, true, true, []int64{10, 11}},
			{"first batch ends below the position", 20, [][2]int64{{10, 5}, {15, 2}}, false, false, nil},
			{"first batch ends just below the position", 15, [][2]int64{{10, 5}}, false, false, nil},
			{"first batch starts after the position", 8, [][2]int64{{10, 2}}, false, true, []int64{10, 11}},
			{"gap between batches", 10, [][2]int64{{10, 2}, {20, 2}}, false, true, []int64{10, 11, 20, 21}},
			{"batches overlap", 10, [][2]int64{{10, 3}, {12, 2}}, false, false, nil},
			{"a batch repeats", 10, [][2]int64{{10, 2}, {12, 2}, {12, 2}}, false, false, nil},
			{"a batch goes back", 10, [][2]int64{{10, 2}, {12, 2}, {5, 2}}, false, false, nil},
		} {
			t.Run(fmt.Sprintf("%s/%s", topic, c.name), func(t *testing.T) {
				cons, err := New(b, Config{AutoOffsetReset: ResetEarliest})
				require.NoError(t, err)
				defer cons.Close(context.Background())
				require.NoError(t, cons.Assign([]TopicPartition{tp}))
				ps := cons.fetch.parts[tp]
				ps.fetchPos, ps.pos = c.pos, c.pos
				err = cons.fetch.decode(ps, fetched(t, c.data...))
				ok := c.okDense
				if compacted {
					ok = c.okCompac
				}
				if !ok {
					require.ErrorIs(t, err, commitlog.ErrCorrupt)
					require.Contains(t, err.Error(), fmt.Sprintf("%s-0", topic), "the error names the partition")
					for _, r := range cons.fetch.buffered {
						require.GreaterOrEqual(t, r.Offset, c.pos)
					}
					return
				}
				require.NoError(t, err)
				var got []int64
				for _, r := range cons.fetch.buffered {
					got = append(got, r.Offset)
					require.Equal(t, fmt.Sprintf("v%d", r.Offset), string(r.Value))
				}
				require.Equal(t, c.want, got)
				require.Equal(t, c.want[len(c.want)-1]+1, ps.fetchPos)
			})
		}
	}
}

// TestCompressedBatchesKeepTheirValues: records from several compressed
// batches returned by one fetch keep their own keys, values and header
// values. They pointed into the iterator's decompression buffer, which the
// next compressed batch of the same fetch overwrote: the consumer handed
// out records holding another record's bytes.
func TestCompressedBatchesKeepTheirValues(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	top, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	for _, comp := range []record.Compression{record.LZ4, record.GZIP} {
		for batch := 0; batch < 4; batch++ {
			bl := record.NewBuilder(0, record.BatchOptions{Compression: comp})
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("%v-%d-%d", comp, batch, i)
				bl.Add(time.Now().UnixMilli(), []byte("k"+id), []byte("v"+id), []record.Header{{Key: "h", Value: []byte("h" + id)}})
			}
			raw, err := bl.Build()
			require.NoError(t, err)
			_, err = top.Partitions()[0].Append(raw, false)
			require.NoError(t, err)
		}
	}
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 80, "one fetch")
	for _, r := range recs {
		id := string(r.Value[1:])
		require.Equal(t, "k"+id, string(r.Key), "offset %d", r.Offset)
		require.Len(t, r.Headers, 1)
		require.Equal(t, "h"+id, string(r.Headers[0].Value), "offset %d", r.Offset)
	}
	require.Equal(t, "v"+fmt.Sprintf("%v-0-0", record.LZ4), string(recs[0].Value))
	require.Equal(t, "v"+fmt.Sprintf("%v-3-9", record.GZIP), string(recs[79].Value))
}
