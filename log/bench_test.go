package log

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/internal/testenv"
	"github.com/commitlog-go/commitlog/record"
)

// The benchmarks of this file measure the storage layer alone: batches are
// encoded once, outside the timed loops, so that the figures are those of
// Log.Append and Log.Read (validation, CRC, pwrite/pread, indexes), not of
// the record codec. Run them with
//
//	go test ./log -run '^$' -bench . -count 5 -benchtime 2s
//
// BenchmarkRandomLookup writes logs of 1e5 and 1e6 records once per
// process (in a temporary directory under os.TempDir(), removed at its
// end); COMMITLOG_BENCH_LOOKUP_1E7=1 adds one of 1e7 records (1.1 GB).

// benchBatch encodes a batch of n records with recordSize-byte values and
// no keys.
func benchBatch(tb testing.TB, n, recordSize int) []byte {
	tb.Helper()
	bl := record.NewBuilder(0, record.BatchOptions{})
	v := bytes.Repeat([]byte("commitlog-"), recordSize/10+1)[:recordSize]
	ts := time.Now().UnixMilli()
	for range n {
		bl.Add(ts, nil, v, nil)
	}
	raw, err := bl.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Clone(raw)
}

// benchConfig is the configuration of the benchmark logs: Kafka's
// defaults (1 GiB segments, 4 KiB index interval, no forced fsync) and no
// time-based retention, so that nothing but the benchmark touches the log.
func benchConfig() Config {
	return Config{SegmentBytes: 1 << 30, Retention: new(time.Duration(-1))}
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkAppend appends pre-encoded batches without fsync (the default
// flush settings leave flushing to the OS; a 1 GiB segment roll fsyncs the
// old segment). SetBytes counts record payload, so MB/s is payload written.
func BenchmarkAppend(b *testing.B) {
	for _, recordSize := range []int{100, 1024} {
		for _, records := range []int{1, 100} {
			b.Run(fmt.Sprintf("record=%s/batch=%d", sizeName(recordSize), records), func(b *testing.B) {
				l, err := Open(b.TempDir(), benchConfig())
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				raw := benchBatch(b, records, recordSize)
				// Append rewrites the base offset in place: each iteration
				// hands it a fresh copy in a reused buffer.
				buf := make([]byte, len(raw))
				b.SetBytes(int64(records * recordSize))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					copy(buf, raw)
					if _, err := l.Append(buf); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64(n*records)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// fillLog appends copies of raw to l until it holds at least size bytes.
func fillLog(tb testing.TB, l *Log, raw []byte, size int64) {
	tb.Helper()
	buf := make([]byte, len(raw))
	for l.Size() < size {
		copy(buf, raw)
		if _, err := l.Append(buf); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkReadSequential reads a 64 MiB log of 1 KiB records (batches of
// 100) from start to end, 1 MiB per Read, walking the batch headers (and
// CRCs) of what comes back with record.Batches as a consumer would.
// "alloc" is Log.Read, which allocates each result; "reuse" is ReadUpTo
// into one buffer.
func BenchmarkReadSequential(b *testing.B) {
	l, err := Open(b.TempDir(), benchConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const recordsPerBatch = 100
	fillLog(b, l, benchBatch(b, recordsPerBatch, 1024), 64<<20)
	start, end, size := l.StartOffset(), l.EndOffset(), l.Size()
	for _, mode := range []string{"alloc", "reuse"} {
		b.Run(mode, func(b *testing.B) {
			var dst []byte
			b.SetBytes(size) // every batch is read exactly once per iteration
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				var read int64
				for next := start; next < end; {
					var data []byte
					var err error
					if mode == "alloc" {
						data, err = l.Read(next, 1<<20)
					} else {
						data, err = l.ReadUpTo(dst, next, end, 1<<20)
						dst = data
					}
					if err != nil || len(data) == 0 {
						b.Fatalf("read at %d: %d bytes, %v", next, len(data), err)
					}
					read += int64(len(data))
					err = record.Batches(data, func(h *record.BatchHeader, _ []byte) error {
						next = h.NextOffset()
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				if read != size {
					b.Fatalf("read %d bytes of a %d-byte log", read, size)
				}
				n++
			}
			b.ReportMetric(float64(n)*float64(end-start)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// lookupLogs are the logs of BenchmarkRandomLookup, built on first use
// in a directory of the parent benchmark: its function runs once per
// process (the sub-benchmarks run -count times inside it), so each log is
// built once and removed when the parent ends.
type lookupLogs struct {
	dir  string
	logs map[int64]*Log
}

func newLookupLogs(b *testing.B) *lookupLogs {
	ll := &lookupLogs{dir: b.TempDir(), logs: map[int64]*Log{}}
	b.Cleanup(func() { // runs before the TempDir removal, registered earlier
		for _, l := range ll.logs {
			_ = l.Close()
		}
	})
	return ll
}

// get returns the log of records 100-byte records in batches of 100.
func (ll *lookupLogs) get(b *testing.B, records int64) *Log {
	if l := ll.logs[records]; l != nil {
		return l
	}
	t0 := time.Now()
	l, err := Open(filepath.Join(ll.dir, fmt.Sprint(records)), benchConfig())
	if err != nil {
		b.Fatal(err)
	}
	ll.logs[records] = l
	raw := benchBatch(b, 100, 100)
	buf := make([]byte, len(raw))
	for l.EndOffset() < records {
		copy(buf, raw)
		if _, err := l.Append(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built a log of %d records: %d segments, %.0f MB in %v",
		l.EndOffset(), l.NumSegments(), float64(l.Size())/1e6, time.Since(t0).Round(time.Millisecond))
	return l
}

// BenchmarkRandomLookup reads one random offset per op, Read(off, 1): the
// first batch returned must hold off. Logs of 1e5 and 1e6 records of 100
// bytes (batches of 100; about 11 and 110 MB on disk) and, with
// COMMITLOG_BENCH_LOOKUP_1E7=1, 1e7 (1.1 GB, over two 1 GiB segments).
//
// Target: the ns/op of 1e7 is within 1.2x that of 1e5. A lookup costs a
// binary search over the segments, an interpolating search of one offset
// index (a few entries read) and a forward scan of batch headers bounded
// by index.interval.bytes (plus one batch), then a copy of the batch out of
// the segment's memory map: nearly flat in the size of the log. What grows
// is the cache and TLB misses over a larger working set (the batch comes
// from memory rather than the CPU's cache), and, the first time a page of
// the map is read, its page fault.
func BenchmarkRandomLookup(b *testing.B) {
	logs := newLookupLogs(b)
	sizes := []struct {
		name    string
		records int64
	}{{"1e5", 1e5}, {"1e6", 1e6}}
	if testenv.Int(b, "COMMITLOG_BENCH_LOOKUP_1E7", 0) != 0 {
		sizes = append(sizes, struct {
			name    string
			records int64
		}{"1e7", 1e7})
	}
	for _, c := range sizes {
		b.Run(c.name, func(b *testing.B) {
			l := logs.get(b, c.records)
			end := l.EndOffset()
			rng := rand.New(rand.NewPCG(uint64(end), 42))
			b.ReportAllocs()
			for b.Loop() {
				off := rng.Int64N(end)
				data, err := l.Read(off, 1)
				if err != nil {
					b.Fatal(err)
				}
				h, err := record.ParseHeader(data)
				if err != nil {
					b.Fatal(err)
				}
				if off < h.BaseOffset || off > h.LastOffset() {
					b.Fatalf("offset %d: got batch %d-%d", off, h.BaseOffset, h.LastOffset())
				}
			}
		})
	}
}
