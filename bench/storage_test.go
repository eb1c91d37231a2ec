package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	cons "github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/internal/testenv"
	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/record"
)

// Whole-stack storage benchmarks: the producer's side encodes every batch
// with record.Builder inside the timed loop and the consumer's side decodes
// every record it reads with record.Iterator, around package log. The
// storage layer alone (pre-encoded batches, headers only) is measured by
// the benchmarks of package log; the difference between the two is the
// codec's share. Run them with
//
//	go test ./bench -run '^$' -bench . -count 5 -benchtime 2s
//
// BenchmarkRandomLookup writes logs of 1e5 and 1e6 records (11 and 110
// MB), and a broker partition of each for its consumer mode, once per
// process, in a temporary directory under os.TempDir() removed at its
// end; COMMITLOG_BENCH_LOOKUP_1E7=1 adds one of 1e7 records (1.1 GB).

// storageConfig is Kafka's defaults (1 GiB segments, 4 KiB index
// interval, fsync left to the OS) without time-based retention.
func storageConfig() log.Config {
	return log.Config{SegmentBytes: 1 << 30, Retention: new(time.Duration(-1))}
}

func storageOpenLog(b *testing.B, dir string) *log.Log {
	b.Helper()
	l, err := log.Open(dir, storageConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	return l
}

func storageSizeName(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

// storageProducer encodes batches of records with values of size bytes
// and 8-byte keys, as a client would, reusing one Builder.
type storageProducer struct {
	bl    *record.Builder
	keys  [][]byte
	value []byte
}

func newStorageProducer(records, size int) *storageProducer {
	p := &storageProducer{bl: record.NewBuilder(0, record.BatchOptions{})}
	for i := range records {
		p.keys = append(p.keys, fmt.Appendf(nil, "key%05d", i))
	}
	p.value = bytes.Repeat([]byte("commitlog-"), size/10+1)[:size]
	return p
}

// next encodes the next batch; its bytes are valid until the next call.
func (p *storageProducer) next(tb testing.TB) []byte {
	p.bl.Reset(0, record.BatchOptions{})
	ts := time.Now().UnixMilli()
	for _, k := range p.keys {
		p.bl.Add(ts, k, p.value, nil)
	}
	raw, err := p.bl.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func storageAppend(b *testing.B, records, size int, fsync bool) {
	l := storageOpenLog(b, b.TempDir())
	p := newStorageProducer(records, size)
	b.SetBytes(int64(records * size))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := l.Append(p.next(b)); err != nil {
			b.Fatal(err)
		}
		if fsync {
			if err := l.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	b.ReportMetric(float64(n*records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppend encodes and appends one batch per op, without fsync.
// SetBytes counts record values, so MB/s is payload.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, records := range []int{1, 100} {
			b.Run(fmt.Sprintf("record=%s/batch=%d", storageSizeName(size), records), func(b *testing.B) {
				storageAppend(b, records, size, false)
			})
		}
	}
}

// BenchmarkAppendFsync is BenchmarkAppend/record=1KiB/batch=100 with
// log.Sync (fsync of the active segment) after every append: the cost
// of acks that wait for the disk, per batch.
func BenchmarkAppendFsync(b *testing.B) {
	storageAppend(b, 100, 1024, true)
}

// storageConsumer decodes every record of the batches it is given.
type storageConsumer struct {
	it      record.Iterator
	next    int64
	records int64
	sum     int
}

func (c *storageConsumer) consume(data []byte) error {
	return record.Batches(data, func(h *record.BatchHeader, batch []byte) error {
		if err := c.it.ResetChecked(h, batch); err != nil {
			return err
		}
		for c.it.Next() {
			r := c.it.Record()
			if r.Offset < c.next {
				continue
			}
			c.sum += len(r.Key) + len(r.Value)
			c.records++
		}
		c.next = h.NextOffset()
		return c.it.Err()
	})
}

// BenchmarkReadSequential reads a 64 MiB log of 1 KiB records (batches of
// 100) from start to end, 1 MiB per Read, and decodes every record.
func BenchmarkReadSequential(b *testing.B) {
	l := storageOpenLog(b, b.TempDir())
	p := newStorageProducer(100, 1024)
	for l.Size() < 64<<20 {
		if _, err := l.Append(p.next(b)); err != nil {
			b.Fatal(err)
		}
	}
	start, end, size := l.StartOffset(), l.EndOffset(), l.Size()
	b.SetBytes(size)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c := storageConsumer{next: start}
		for c.next < end {
			data, err := l.Read(c.next, 1<<20)
			if err != nil || len(data) == 0 {
				b.Fatalf("read at %d: %d bytes, %v", c.next, len(data), err)
			}
			if err := c.consume(data); err != nil {
				b.Fatal(err)
			}
		}
		if c.records != end-start {
			b.Fatalf("decoded %d records, want %d", c.records, end-start)
		}
		n++
	}
	b.ReportMetric(float64(n)*float64(end-start)/b.Elapsed().Seconds(), "records/s")
}

// storageLookupLogs are the logs of BenchmarkRandomLookup, built on first
// use in a directory of the parent benchmark, whose function runs once per
// process (the sub-benchmarks run -count times inside it): each log is
// built once and removed when the parent ends.
type storageLookupLogs struct {
	dir     string
	logs    map[int64]*log.Log
	brokers map[int64]*commitlog.Broker
}

func newStorageLookupLogs(b *testing.B) *storageLookupLogs {
	ll := &storageLookupLogs{dir: b.TempDir(), logs: map[int64]*log.Log{}, brokers: map[int64]*commitlog.Broker{}}
	b.Cleanup(func() { // runs before the TempDir removal, registered earlier
		for _, l := range ll.logs {
			_ = l.Close()
		}
		for _, br := range ll.brokers {
			_ = br.Close()
		}
	})
	return ll
}

// get returns the log of records 100-byte records in batches of 100.
func (ll *storageLookupLogs) get(b *testing.B, records int64) *log.Log {
	if l := ll.logs[records]; l != nil {
		return l
	}
	t0 := time.Now()
	l, err := log.Open(filepath.Join(ll.dir, fmt.Sprint(records)), storageConfig())
	if err != nil {
		b.Fatal(err)
	}
	ll.logs[records] = l
	p := newStorageProducer(100, 100)
	for l.EndOffset() < records {
		if _, err := l.Append(p.next(b)); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built a log of %d records: %d segments, %.0f MB in %v", l.EndOffset(),
		l.NumSegments(), float64(l.Size())/1e6, time.Since(t0).Round(time.Millisecond))
	return l
}

// partition returns a broker's partition holding the same records as get's
// log, appended as the same batches.
func (ll *storageLookupLogs) partition(b *testing.B, records int64) *commitlog.Broker {
	if br := ll.brokers[records]; br != nil {
		return br
	}
	br, err := commitlog.Open(filepath.Join(ll.dir, fmt.Sprintf("broker-%d", records)),
		commitlog.WithLogger(slog.New(slog.DiscardHandler)), commitlog.WithoutExpvar())
	if err != nil {
		b.Fatal(err)
	}
	ll.brokers[records] = br
	t, err := br.CreateTopic("lookup", commitlog.TopicConfig{Partitions: 1, Retention: new(time.Duration(-1))})
	if err != nil {
		b.Fatal(err)
	}
	part, err := t.Partition(0)
	if err != nil {
		b.Fatal(err)
	}
	p := newStorageProducer(100, 100)
	for part.HighWatermark() < records {
		if _, err := part.Append(p.next(b), false); err != nil {
			b.Fatal(err)
		}
	}
	return br
}

// BenchmarkRandomLookup fetches the record at one random offset per op, on
// logs of 1e5 and 1e6 records of 100 bytes in batches of 100 (and of 1e7
// with COMMITLOG_BENCH_LOOKUP_1E7=1), as workload 4 of bench/peers does.
// "alloc" is Read(off, 1), which allocates the batch it returns, and
// "reuse" ReadUpTo into one buffer, as a consumer reads; both check the
// batch's CRC and decode it up to that record with record.Iterator.
// "consumer" is a consumer (max.poll.records=1, max.partition.fetch.bytes=1)
// doing Seek + PollInto on a broker's partition of the same batches.
//
// Targets: half of raft-wal's random read on the same machine or less,
// and flat in the size of the log, 1e7 within 1.2x of 1e5: the lookup is
// O(log segments) plus an interpolating search of one offset index and a
// copy of the batch out of the segment's memory map (see package segment).
func BenchmarkRandomLookup(b *testing.B) {
	logs := newStorageLookupLogs(b)
	sizes := []int64{1e5, 1e6}
	if testenv.Int(b, "COMMITLOG_BENCH_LOOKUP_1E7", 0) != 0 {
		sizes = append(sizes, 1e7)
	}
	for _, records := range sizes {
		for _, mode := range []string{"alloc", "reuse", "consumer"} {
			name := strings.ReplaceAll(fmt.Sprintf("%.0e/%s", float64(records), mode), "e+0", "e")
			b.Run(name, func(b *testing.B) {
				if mode == "consumer" {
					lookupConsumer(b, logs.partition(b, records), records)
					return
				}
				l := logs.get(b, records)
				end := l.EndOffset()
				rng := rand.New(rand.NewPCG(uint64(end), 7))
				var it record.Iterator
				var buf []byte
				b.ReportAllocs()
				for b.Loop() {
					off := rng.Int64N(end)
					var data []byte
					var err error
					if mode == "reuse" {
						buf, err = l.ReadUpTo(buf, off, end, 1)
						data = buf
					} else {
						data, err = l.Read(off, 1)
					}
					if err != nil {
						b.Fatal(err)
					}
					if err := it.Reset(data); err != nil {
						b.Fatal(err)
					}
					found := false
					for it.Next() {
						if r := it.Record(); r.Offset == off {
							found = len(r.Value) == 100
							break
						}
					}
					if !found {
						b.Fatalf("offset %d not in the batch read (%v)", off, it.Err())
					}
				}
			})
		}
	}
}

// lookupConsumer is BenchmarkRandomLookup's consumer mode: Seek to a
// random offset, PollInto one record.
func lookupConsumer(b *testing.B, br *commitlog.Broker, records int64) {
	ctx := context.Background()
	c, err := cons.New(br, cons.Config{AutoOffsetReset: cons.ResetNone, MaxPollRecords: 1,
		MaxPartitionFetchBytes: new(1), FetchMaxWait: new(100 * time.Millisecond)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	tp := cons.TopicPartition{Topic: "lookup", Partition: 0}
	if err := c.Assign([]cons.TopicPartition{tp}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(records), 7))
	var recs []cons.Record
	b.ReportAllocs()
	for b.Loop() {
		off := rng.Int64N(records)
		if err := c.Seek(tp, off); err != nil {
			b.Fatal(err)
		}
		if recs, err = c.PollInto(ctx, recs); err != nil {
			b.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Offset != off || len(recs[0].Value) != 100 {
			b.Fatalf("seek to %d: polled %d records", off, len(recs))
		}
	}
}
