package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/record"
)

// BenchmarkCompaction measures one compaction pass (log.Cleaner.Clean with
// Kafka's defaults: a 128 MiB offset map, no throttling) over a 1 GiB log
// of 10^5 distinct keys: 256-byte values in batches of 64 records,
// uniformly random keys, one record in twenty a tombstone, 128 MiB
// segments, all closed. Every key is written about 40 times, so the pass
// keeps about 1/40 of the log. MB/s is the size of the log before the
// pass divided by the pass's time; peak-MB is the largest growth of the
// Go heap in use during the pass (sampled every millisecond), alloc-MB
// what the pass allocated in all. Run it with
//
//	go test ./bench -run '^$' -bench Compaction -benchtime 1x
//
// The log is written once per process (about 5 s) into a directory of
// the parent benchmark, whose function runs once (the sub-benchmark runs
// -count times inside it), and removed when it ends; each iteration
// compacts a copy of it (hard links for the .log files, which compaction
// never modifies, copies of the rest). -short uses a 64 MiB log.
func BenchmarkCompaction(b *testing.B) {
	size, name := int64(1<<30), "1GiB"
	if testing.Short() {
		size, name = 64<<20, "64MiB"
	}
	src := compactionLog(b, size, 100_000)
	b.Run(name+"-1e5keys", func(b *testing.B) { benchCompaction(b, src) })
}

func benchCompaction(b *testing.B, src string) {
	for b.Loop() {
		b.StopTimer()
		dir := linkCopy(b, src)
		l, err := log.Open(dir, compactionConfig())
		if err != nil {
			b.Fatal(err)
		}
		before := l.Size()
		c := log.NewCleaner(log.CleanerConfig{})
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base, allocs := ms.HeapInuse, ms.TotalAlloc
		peak := base
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m runtime.MemStats
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}()
		b.StartTimer()
		res, err := c.Clean(context.Background(), l)
		b.StopTimer()
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		b.SetBytes(before)
		b.ReportMetric(float64(peak-base)/(1<<20), "peak-MB")
		b.ReportMetric(float64(ms.TotalAlloc-allocs)/(1<<20), "alloc-MB")
		b.ReportMetric(float64(res.MapBytes)/(1<<20), "map-MB")
		b.ReportMetric(float64(res.KeysMapped), "keys")
		b.ReportMetric(float64(l.Size())/float64(before)*100, "%kept")
		if res.MapFull || res.KeysMapped < 90_000 {
			b.Fatalf("unexpected pass: %+v", res)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func compactionConfig() log.Config {
	return log.Config{SegmentBytes: 128 << 20, Retention: new(time.Duration(-1)), RetentionBytes: new(int64(-1)), Compact: true}
}

// compactionLog writes the benchmark's log, closed cleanly with every
// segment closed, and returns its directory.
func compactionLog(b *testing.B, size int64, keys int) string {
	b.Helper()
	t0 := time.Now()
	dir := filepath.Join(b.TempDir(), "src")
	l, err := log.Open(dir, compactionConfig())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	value := []byte(strings.Repeat("commitlog-", 26)[:256])
	bl := record.NewBuilder(0, record.BatchOptions{})
	ts := time.Now().Add(-time.Hour).UnixMilli()
	key := make([]byte, 0, 16)
	for l.Size() < size {
		bl.Reset(0, record.BatchOptions{})
		for range 64 {
			key = fmt.Appendf(key[:0], "key-%06d", rng.IntN(keys))
			v := value
			if rng.IntN(20) == 0 {
				v = nil // a tombstone
			}
			bl.Add(ts, key, v, nil)
		}
		raw, err := bl.Build()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Append(raw); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Roll(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a log of %.0f MB, %d records, %d segments in %v", float64(l.Size())/1e6, l.EndOffset(),
		l.NumSegments(), time.Since(t0).Round(time.Millisecond))
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// linkCopy copies dir next to itself: .log files as hard links
// (compaction writes new segments and only renames and removes old ones),
// everything else (indexes, which opening may trim, and markers) as
// copies.
func linkCopy(b *testing.B, src string) string {
	b.Helper()
	dst, err := os.MkdirTemp(filepath.Dir(src), "run-")
	if err != nil {
		b.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if strings.HasSuffix(e.Name(), ".log") {
			if err := os.Link(from, to); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if err := copyFile(from, to); err != nil {
			b.Fatal(err)
		}
	}
	return dst
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
