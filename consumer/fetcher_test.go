package consumer

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// TestPollReturnsRecordsInOrder: Poll returns an assigned partition's
// records in offset order, at most max.poll.records at a time; at the end
// it waits fetch.max.wait.ms and returns nothing, and a record appended
// while it waits wakes it at once (long poll).
func TestPollReturnsRecordsInOrder(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	produce(t, b, "t", "v", 100)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, MaxPollRecords: 30, FetchMaxWait: new(20 * time.Millisecond)})
	require.NoError(t, err)
	defer c.Close(context.Background())
	tp0 := TopicPartition{Topic: "t", Partition: 0}
	require.NoError(t, c.Assign([]TopicPartition{tp0}))
	var got []Record
	for len(got) < 50 {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		require.LessOrEqual(t, len(recs), 30, "max.poll.records")
		got = append(got, recs...)
	}
	require.Len(t, got, 50)
	for i, r := range got {
		require.Equal(t, int64(i), r.Offset)
		require.Equal(t, fmt.Sprintf("v-%d", 2*i), string(r.Value))
	}
	pos, err := c.Position(tp0)
	require.NoError(t, err)
	require.Equal(t, int64(50), pos)
	// At the end Poll waits fetch.max.wait.ms and returns nothing.
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs)
	require.GreaterOrEqual(t, time.Since(start), 15*time.Millisecond)

	// Long poll: a record appended while Poll waits wakes it.
	c.set.FetchMaxWait = 5 * time.Second
	go func() {
		time.Sleep(50 * time.Millisecond)
		produce(t, b, "t", "late", 1)
	}()
	start = time.Now()
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "late-0", string(recs[0].Value))
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestPollReturnsFetchedRecordsAtOnce: records an earlier fetch buffered
// (beyond max.poll.records) are returned by the next Poll at once, as
// Kafka's consumer returns records it already holds; that Poll waited the
// whole fetch.max.wait.ms when no new data came.
func TestPollReturnsFetchedRecordsAtOnce(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 700)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(5 * time.Second)})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 500)
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 200)
	require.Less(t, time.Since(start), 2*time.Second, "the second Poll waited for fetch.max.wait.ms")
}

// TestFetchMinBytesCountsTheWholePoll: fetch.min.bytes is met by what
// a Poll has fetched in all, not by one fetch round alone: data arriving
// in small appends made Poll wait the whole fetch.max.wait.ms.
func TestFetchMinBytesCountsTheWholePoll(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(5 * time.Second), FetchMinBytes: new(2000)})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // about 70 bytes every 2 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				produce(t, b, "t", "w", 1)
			}
		}
	}()
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	// 2000 bytes arrive in about 60 ms; max.poll.records (500) in 1.2 s.
	require.Less(t, time.Since(start), 500*time.Millisecond, "Poll waited with fetch.min.bytes met long before")
}

// TestDeletedTopicDoesNotStopOtherPartitions: a deleted topic's partition
// is skipped (with a warning) as Kafka's consumer does, so the other
// assigned partitions keep being consumed. Its read error failed every
// Poll instead, and the other partitions' records were never delivered.
func TestDeletedTopicDoesNotStopOtherPartitions(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	for _, n := range []string{"t", "u"} {
		_, err := b.CreateTopic(n, commitlog.TopicConfig{Partitions: 1})
		require.NoError(t, err)
	}
	produce(t, b, "u", "u", 5)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(20 * time.Millisecond)})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}, {Topic: "u"}}))
	require.NoError(t, b.DeleteTopic("u"))
	produce(t, b, "t", "t", 5)
	var got []Record
	for i := 0; i < 3 && len(got) < 5; i++ {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		got = append(got, recs...)
	}
	require.Len(t, got, 5)
	require.Equal(t, "t", got[0].Topic)
}

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
				buffered, takeErr := cons.fetch.take(nil, true)
				require.NoError(t, takeErr)
				ok := c.okDense
				if compacted {
					ok = c.okCompac
				}
				if !ok {
					require.ErrorIs(t, err, commitlog.ErrCorrupt)
					require.Contains(t, err.Error(), fmt.Sprintf("%s-0", topic), "the error names the partition")
					for _, r := range buffered {
						require.GreaterOrEqual(t, r.Offset, c.pos)
					}
					return
				}
				require.NoError(t, err)
				var got []int64
				for _, r := range buffered {
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
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(20 * time.Millisecond)})
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

// TestPollRecordsOutliveLaterPolls: the records Poll returns keep their
// keys, values and headers while later Poll and PollInto calls read on
// (PollInto reuses the buffers it returned records from), for plain and
// compressed batches, with polls that stop inside batches; and the records
// PollInto returns are right when it returns them.
func TestPollRecordsOutliveLaterPolls(t *testing.T) {
	for _, comp := range []record.Compression{record.None, record.LZ4} {
		t.Run(comp.String(), func(t *testing.T) {
			b := openBroker(t, t.TempDir())
			defer b.Close()
			top, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
			require.NoError(t, err)
			const batches, per = 40, 25
			for i := 0; i < batches; i++ {
				bl := record.NewBuilder(0, record.BatchOptions{Compression: comp})
				for j := i * per; j < (i+1)*per; j++ {
					bl.Add(1_700_000_000_000, fmt.Appendf(nil, "k%d", j), fmt.Appendf(nil, "v%d", j),
						[]record.Header{{Key: "h", Value: fmt.Appendf(nil, "h%d", j)}})
				}
				raw, err := bl.Build()
				require.NoError(t, err)
				_, err = top.Partitions()[0].Append(raw, false)
				require.NoError(t, err)
			}
			c, err := New(b, Config{AutoOffsetReset: ResetEarliest, MaxPollRecords: 30, FetchMaxWait: new(time.Duration(0))})
			require.NoError(t, err)
			defer c.Close(context.Background())
			require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
			check := func(r Record) {
				t.Helper()
				require.Equal(t, fmt.Sprintf("k%d", r.Offset), string(r.Key))
				require.Equal(t, fmt.Sprintf("v%d", r.Offset), string(r.Value))
				require.Len(t, r.Headers, 1)
				require.Equal(t, "h", r.Headers[0].Key)
				require.Equal(t, fmt.Sprintf("h%d", r.Offset), string(r.Headers[0].Value))
			}
			var kept, dst []Record
			next := int64(0)
			for i := 0; next < batches*per; i++ {
				var recs []Record
				if i%3 == 0 {
					recs, err = c.Poll(context.Background())
					kept = append(kept, recs...)
				} else {
					dst, err = c.PollInto(context.Background(), dst)
					recs = dst
				}
				require.NoError(t, err)
				require.NotEmpty(t, recs)
				for _, r := range recs {
					require.Equal(t, next, r.Offset)
					check(r)
					next++
				}
			}
			require.NotEmpty(t, kept)
			for _, r := range kept {
				check(r)
			}
		})
	}
}

// TestPollIntoAppendsToDst: PollInto empties dst and appends to it,
// reusing its array when it is large enough.
func TestPollIntoAppendsToDst(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, MaxPollRecords: 4, FetchMaxWait: new(time.Duration(0))})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	dst := make([]Record, 3, 8)
	recs, err := c.PollInto(context.Background(), dst)
	require.NoError(t, err)
	require.Len(t, recs, 4)
	require.Same(t, &dst[0], &recs[0], "dst's array is reused")
	for i, r := range recs {
		require.Equal(t, int64(i), r.Offset)
		require.Equal(t, fmt.Sprintf("v-%d", i), string(r.Value))
	}
	recs, err = c.PollInto(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, recs, 4)
	require.Equal(t, int64(4), recs[0].Offset)
}

// corruptRecord returns an encoded batch of n records with values "v<i>"
// whose record bad has a value length past its end, with a CRC that
// matches: damage the CRC cannot see.
func corruptRecord(t *testing.T, n, bad int) []byte {
	t.Helper()
	bl := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i++ {
		bl.Add(1_700_000_000_000, nil, fmt.Appendf(nil, "v%d", i), nil)
	}
	raw, err := bl.Build()
	require.NoError(t, err)
	at := bytes.Index(raw, fmt.Appendf(nil, "v%d", bad))
	require.Positive(t, at)
	require.Equal(t, byte(4), raw[at-1], "the value length: 2, zigzag")
	raw[at-1] = 0x7e // 63
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// TestCorruptRecordStopsThePartitionThere: a record that does not decode,
// in a batch whose CRC holds, fails the Poll that reaches it once the
// records before it are returned, and every Poll after it, which finds it
// again, until a Seek past it. No record is skipped or returned twice; the
// other partitions go on.
func TestCorruptRecordStopsThePartitionThere(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	top, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	p := top.Partitions()[0]
	for _, raw := range [][]byte{fetched(t, [2]int64{0, 5}), corruptRecord(t, 5, 3), fetched(t, [2]int64{0, 5})} {
		_, err := p.Append(raw, false)
		require.NoError(t, err)
	}
	for _, into := range []bool{false, true} {
		t.Run(fmt.Sprintf("into=%v", into), func(t *testing.T) {
			c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(time.Duration(0))})
			require.NoError(t, err)
			defer c.Close(context.Background())
			tp := TopicPartition{Topic: "t"}
			require.NoError(t, c.Assign([]TopicPartition{tp}))
			poll := func() ([]Record, error) {
				if into {
					return c.PollInto(context.Background(), nil)
				}
				return c.Poll(context.Background())
			}
			recs, err := poll()
			require.NoError(t, err)
			var got []int64
			for _, r := range recs {
				got = append(got, r.Offset)
			}
			require.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6, 7}, got, "the records before the damage")
			for range 2 {
				_, err = poll()
				require.ErrorIs(t, err, commitlog.ErrCorrupt)
				require.Contains(t, err.Error(), "t-0 at offset 8")
				pos, err := c.Position(tp)
				require.NoError(t, err)
				require.Equal(t, int64(8), pos)
			}
			require.NoError(t, c.Seek(tp, 10))
			recs, err = poll()
			require.NoError(t, err)
			require.Len(t, recs, 5)
			require.Equal(t, int64(10), recs[0].Offset)
		})
	}
}

// TestSeekAndPollReadWhatTheyReturn: a Seek and a Poll of one record
// (max.poll.records=1) read the batch holding it, not
// max.partition.fetch.bytes (1 MiB) of the partition; a Poll of
// max.poll.records reads about that many records, then the next Poll goes
// on where it stopped.
func TestSeekAndPollReadWhatTheyReturn(t *testing.T) {
	fsys := &readCounter{FS: vfs.OS}
	b, err := commitlog.Open(t.TempDir(), commitlog.WithFS(fsys), commitlog.WithMaintenanceInterval(time.Hour))
	require.NoError(t, err)
	defer b.Close()
	top, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	p := top.Partitions()[0]
	value := make([]byte, 1000)
	for i := 0; i < 100; i++ { // 100 batches of 10 records of 1 kB: 1 MB
		bl := record.NewBuilder(0, record.BatchOptions{})
		for j := 0; j < 10; j++ {
			bl.Add(1_700_000_000_000, nil, value, nil)
		}
		raw, err := bl.Build()
		require.NoError(t, err)
		_, err = p.Append(raw, false)
		require.NoError(t, err)
	}
	batch := p.Size() / 100
	for _, mpr := range []int{1, 25} {
		c, err := New(b, Config{AutoOffsetReset: ResetNone, MaxPollRecords: mpr, FetchMaxWait: new(time.Duration(0))})
		require.NoError(t, err)
		tp := TopicPartition{Topic: "t"}
		require.NoError(t, c.Assign([]TopicPartition{tp}))
		for _, off := range []int64{555, 123, 987, 0, 500} {
			require.NoError(t, c.Seek(tp, off))
			before := fsys.n.Load()
			recs, err := c.Poll(context.Background())
			require.NoError(t, err)
			require.Len(t, recs, min(mpr, 1000-int(off)))
			require.Equal(t, off, recs[0].Offset)
			// The batches holding the records and one more, and what the
			// log reads to find the first (an index interval's scan, a
			// few times over): not a megabyte.
			batches := (off+int64(mpr)-1)/10 - off/10 + 1
			require.LessOrEqual(t, fsys.n.Load()-before, (batches+1)*batch+64<<10, "max.poll.records=%d, seek to %d", mpr, off)
		}
		require.NoError(t, c.Close(context.Background()))
	}
}

// readCounter is a vfs.FS that counts the bytes read from segment files.
type readCounter struct {
	vfs.FS
	n atomic.Int64
}

type countedFile struct {
	vfs.File
	n *atomic.Int64
}

func (f countedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.n.Add(int64(n))
	return n, err
}

func (c *readCounter) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return countedFile{f, &c.n}, nil
}

// BenchmarkPoll: Poll through one partition of 20,000 records of 100 bytes
// already on the log (fetch, decode, hand out max.poll.records at a time).
func BenchmarkPoll(b *testing.B) {
	br := memBroker(b)
	defer br.Close()
	topic, err := br.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(b, err)
	p := topic.Partitions()[0]
	bl := record.NewBuilder(0, record.BatchOptions{})
	value := make([]byte, 100)
	for i := 0; i < 200; i++ {
		bl.Reset(0, record.BatchOptions{})
		for j := 0; j < 100; j++ {
			bl.Add(1_700_000_000_000, fmt.Appendf(nil, "k%d", j), value, nil)
		}
		raw, err := bl.Build()
		require.NoError(b, err)
		_, err = p.Append(raw, false)
		require.NoError(b, err)
	}
	end := p.HighWatermark()
	c, err := New(br, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(time.Millisecond)})
	require.NoError(b, err)
	defer c.Close(context.Background())
	tp := TopicPartition{Topic: "t"}
	require.NoError(b, c.Assign([]TopicPartition{tp}))
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if pos, err := c.Position(tp); err != nil || pos == end {
			require.NoError(b, c.SeekToBeginning())
		}
		recs, err := c.Poll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/float64(b.N), "records/op")
}

// benchLog opens a broker on disk (page cache) with one topic "t" of one
// partition holding n records of size-byte values in batches of 100, as
// the peer benchmark's workloads write them. Value i is its offset (8
// bytes, big endian) followed by filler bytes.
func benchLog(b *testing.B, n, size int) (*commitlog.Broker, []byte) {
	b.Helper()
	br, err := commitlog.Open(b.TempDir(), commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(time.Hour),
		commitlog.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(b, err)
	b.Cleanup(func() { _ = br.Close() })
	top, err := br.CreateTopic("t", commitlog.TopicConfig{Partitions: 1, Retention: new(time.Duration(-1))})
	require.NoError(b, err)
	p := top.Partitions()[0]
	filler := make([]byte, size)
	for i := range filler {
		filler[i] = byte(i*7 + 1)
	}
	value := slices.Clone(filler)
	bl := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i += 100 {
		bl.Reset(0, record.BatchOptions{})
		for j := i; j < min(i+100, n); j++ {
			binary.BigEndian.PutUint64(value, uint64(j))
			bl.Add(1_700_000_000_000, nil, value, nil)
		}
		raw, err := bl.Build()
		require.NoError(b, err)
		_, err = p.Append(raw, false)
		require.NoError(b, err)
	}
	require.Equal(b, int64(n), p.HighWatermark())
	return br, filler
}

// checkValue fails unless v is the value benchLog wrote at offset.
func checkValue(b *testing.B, filler, v []byte, offset int64) {
	if len(v) != len(filler) || binary.BigEndian.Uint64(v) != uint64(offset) || !bytes.Equal(v[8:], filler[8:]) {
		b.Fatalf("offset %d: wrong value", offset)
	}
}

// allocsSince is the number of heap allocations since m0 was read.
func allocsSince(m0 *runtime.MemStats) uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs - m0.Mallocs
}

// BenchmarkPollSequential reads a 16 MiB partition of 1 KiB records from
// the page cache with Poll, one op per pass from the beginning to the end,
// every value checked byte for byte (the peer benchmark's workload 3).
// MB/s counts the values; allocs/record is every heap allocation of the
// passes over the records they returned. BenchmarkPollIntoSequential is the
// same with PollInto.
func BenchmarkPollSequential(b *testing.B)     { benchSequential(b, false) }
func BenchmarkPollIntoSequential(b *testing.B) { benchSequential(b, true) }

// BenchmarkPartitionReadSequential is the floor of the two above: the same
// pass and checks with no consumer, Partition.Read of 1 MiB into one buffer
// and a record.Iterator (CRC checked), as the peer benchmark reads log.Log.
func BenchmarkPartitionReadSequential(b *testing.B) {
	const n, size = 16 << 10, 1 << 10
	br, filler := benchLog(b, n, size)
	top, err := br.Topic("t")
	require.NoError(b, err)
	p := top.Partitions()[0]
	b.SetBytes(n * size)
	var buf []byte
	var it record.Iterator
	for b.Loop() {
		next := int64(0)
		for next < n {
			if buf, err = p.Read(buf, next, 1<<20); err != nil {
				b.Fatal(err)
			}
			for rest := buf; len(rest) > 0; {
				h, err := record.Check(rest)
				if err != nil {
					b.Fatal(err)
				}
				if err := it.ResetChecked(&h, rest); err != nil {
					b.Fatal(err)
				}
				for it.Next() {
					r := it.Record()
					if r.Offset != next {
						b.Fatalf("offset %d, want %d", r.Offset, next)
					}
					checkValue(b, filler, r.Value, next)
					next++
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
				rest = rest[h.Size():]
			}
		}
	}
}

func benchSequential(b *testing.B, into bool) {
	const n, size = 16 << 10, 1 << 10
	br, filler := benchLog(b, n, size)
	c, err := New(br, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(time.Duration(0))})
	require.NoError(b, err)
	defer c.Close(context.Background())
	tp := TopicPartition{Topic: "t"}
	require.NoError(b, c.Assign([]TopicPartition{tp}))
	ctx := context.Background()
	b.SetBytes(n * size)
	b.ReportAllocs()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	records := 0
	var recs []Record
	for b.Loop() {
		require.NoError(b, c.SeekToBeginning())
		next := int64(0)
		for next < n {
			if into {
				recs, err = c.PollInto(ctx, recs)
			} else {
				recs, err = c.Poll(ctx)
			}
			if err != nil {
				b.Fatal(err)
			}
			for i := range recs {
				if recs[i].Offset != next {
					b.Fatalf("offset %d, want %d", recs[i].Offset, next)
				}
				checkValue(b, filler, recs[i].Value, next)
				next++
			}
		}
		records += n
	}
	b.ReportMetric(float64(allocsSince(&m0))/float64(records), "allocs/record")
}

// BenchmarkSeekPoll is a random read by offset through the consumer: Seek
// to a uniformly random offset, Poll one record (max.poll.records=1) and
// check it, in partitions of 100 B records in batches of 100 of two sizes
// (the peer benchmark's workload 4). fetch=1 sets max.partition.fetch.bytes
// to 1 (one whole batch per fetch), fetch=default leaves it at 1 MiB.
// BenchmarkSeekPollInto is the same with PollInto.
func BenchmarkSeekPoll(b *testing.B)     { benchSeek(b, false) }
func BenchmarkSeekPollInto(b *testing.B) { benchSeek(b, true) }

func benchSeek(b *testing.B, into bool) {
	for _, n := range []int{100_000, 1_000_000} {
		for _, fetch := range []string{"1", "default"} {
			b.Run(fmt.Sprintf("records=%d/fetch=%s", n, fetch), func(b *testing.B) {
				br, filler := benchLog(b, n, 100)
				cfg := Config{AutoOffsetReset: ResetNone, MaxPollRecords: 1, FetchMaxWait: new(time.Duration(0))}
				if fetch == "1" {
					cfg.MaxPartitionFetchBytes = new(1)
				}
				c, err := New(br, cfg)
				require.NoError(b, err)
				defer c.Close(context.Background())
				tp := TopicPartition{Topic: "t"}
				require.NoError(b, c.Assign([]TopicPartition{tp}))
				ctx := context.Background()
				rng := rand.New(rand.NewPCG(1, 2))
				b.ReportAllocs()
				var m0 runtime.MemStats
				runtime.ReadMemStats(&m0)
				ops := 0
				var recs []Record
				for b.Loop() {
					off := rng.Int64N(int64(n))
					if err := c.Seek(tp, off); err != nil {
						b.Fatal(err)
					}
					if into {
						recs, err = c.PollInto(ctx, recs)
					} else {
						recs, err = c.Poll(ctx)
					}
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) != 1 || recs[0].Offset != off {
						b.Fatalf("seek to %d: polled %d records", off, len(recs))
					}
					checkValue(b, filler, recs[0].Value, off)
					ops++
				}
				b.ReportMetric(float64(allocsSince(&m0))/float64(ops), "allocs/record")
			})
		}
	}
}
