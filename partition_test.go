package commitlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// batch encodes n records with timestamp ts whose values name the batch
// and the record's position in it. It returns a copy: Append rewrites the
// base offset in place. It reports errors with t.Error, so other goroutines
// may call it.
func partBatch(t testing.TB, tag string, n int, ts int64) []byte {
	t.Helper()
	b := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i++ {
		b.Add(ts, []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("%s/%d", tag, i)), nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Error(err)
	}
	return append([]byte(nil), out...)
}

func partTestConfig() log.Config {
	return log.Config{SegmentBytes: 4 << 10, IndexIntervalBytes: new(256), SegmentIndexBytes: 4 << 10, Retention: new(time.Duration(-1))}
}

func openTestPartition(t testing.TB, dir string) *Partition {
	t.Helper()
	p, err := openPartition(dir, "t", 3, partTestConfig())
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.close() })
	return p
}

type partRec struct {
	Offset int64
	Value  string
	TS     int64
}

// decode returns the records of the whole batches in data, and checks
// that every batch ends at or below limit.
func partDecode(t testing.TB, data []byte, limit int64) []partRec {
	t.Helper()
	var out []partRec
	err := record.Batches(data, func(h *record.BatchHeader, b []byte) error {
		if h.NextOffset() > limit {
			return fmt.Errorf("batch %d..%d reaches past %d", h.BaseOffset, h.LastOffset(), limit)
		}
		_, recs, err := record.Decode(b)
		if err != nil {
			return err
		}
		for _, r := range recs {
			out = append(out, partRec{r.Offset, string(r.Value), r.Timestamp})
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestAppendAdvancesOffsets(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	require.Equal(t, "t", p.Topic())
	require.Equal(t, int32(3), p.ID())
	require.Zero(t, p.HighWatermark())
	require.Zero(t, p.LogEndOffset())
	require.Zero(t, p.LogStartOffset())

	next := int64(0)
	for i, n := range []int{1, 5, 3, 10, 1} {
		info, err := p.Append(partBatch(t, fmt.Sprint(i), n, 1000), false)
		require.NoError(t, err)
		require.Equal(t, next, info.BaseOffset)
		require.Equal(t, next+int64(n)-1, info.LastOffset)
		require.Equal(t, int32(n), info.NumRecords)
		next += int64(n)
		require.Equal(t, next, p.HighWatermark())
		require.Equal(t, next, p.LogEndOffset())
	}

	data, err := p.Read(nil, 0, 1<<20)
	require.NoError(t, err)
	recs := partDecode(t, data, p.HighWatermark())
	require.Len(t, recs, int(next))
	for i, r := range recs {
		require.Equal(t, int64(i), r.Offset)
	}

	// Offsets survive a reopen.
	dir := p.log.Dir()
	require.NoError(t, p.close())
	p2 := openTestPartition(t, dir)
	require.Equal(t, next, p2.HighWatermark())
	require.Equal(t, next, p2.LogEndOffset())
	info, err := p2.Append(partBatch(t, "after", 2, 1000), false)
	require.NoError(t, err)
	require.Equal(t, next, info.BaseOffset)
}

func TestAppendRejectsGarbage(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	_, err := p.Append([]byte("not a batch at all, not even close to one"), false)
	require.ErrorIs(t, err, log.ErrCorrupt)
	require.Zero(t, p.HighWatermark())
	require.Zero(t, p.LogEndOffset())
}

func TestReadNeverPastHighWatermark(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	for i := 0; i < 3; i++ { // offsets 0-4, 5-9, 10-14
		_, err := p.Append(partBatch(t, fmt.Sprint(i), 5, int64(1000*(i+1))), false)
		require.NoError(t, err)
	}
	require.Equal(t, int64(15), p.LogEndOffset())

	// A lagging replica keeps the high watermark below the log end offset;
	// set it by hand as replication would.
	p.hw.Store(10)

	tests := []struct {
		name   string
		offset int64
		want   []int64 // first offsets of the records returned
		err    error
	}{
		{"from start", 0, []int64{0, 9}, nil},
		{"mid batch", 7, []int64{5, 9}, nil},
		{"at high watermark", 10, nil, nil},
		{"between hw and leo", 12, nil, log.ErrOffsetOutOfRange},
		{"at leo", 15, nil, log.ErrOffsetOutOfRange},
		{"past leo", 16, nil, log.ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := p.Read(nil, tt.offset, 1<<20)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			recs := partDecode(t, data, 10)
			if tt.want == nil {
				require.Empty(t, recs)
				return
			}
			require.Equal(t, tt.want[0], recs[0].Offset)
			require.Equal(t, tt.want[1], recs[len(recs)-1].Offset)
		})
	}

	// Records above the high watermark are not found by timestamp either.
	_, _, found, err := p.OffsetForTimestamp(3000)
	require.NoError(t, err)
	require.False(t, found)
	off, ts, found, err := p.OffsetForTimestamp(2000)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, int64(5), off)
	require.Equal(t, int64(2000), ts)

	// Wait does not return for data above the high watermark.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Wait(ctx, 10), context.DeadlineExceeded)

	// The next append makes everything visible.
	_, err = p.Append(partBatch(t, "3", 1, 4000), false)
	require.NoError(t, err)
	require.Equal(t, int64(16), p.HighWatermark())
	data, err := p.Read(nil, 12, 1<<20)
	require.NoError(t, err)
	require.NotEmpty(t, partDecode(t, data, 16))
}

func TestReadConcurrentWithAppends(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	const batches = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 0; i < batches; i++ {
			if _, err := p.Append(partBatch(t, fmt.Sprint(i), 3, 1000), false); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := int64(0)
			for {
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				data, err := p.Read(nil, next, 512)
				if err != nil {
					t.Error(err)
					return
				}
				hw := p.HighWatermark() // loaded after the read: never lower
				err = record.Batches(data, func(h *record.BatchHeader, _ []byte) error {
					if h.NextOffset() > hw {
						return fmt.Errorf("read batch ending at %d past high watermark %d", h.NextOffset(), hw)
					}
					if h.BaseOffset > next {
						return fmt.Errorf("gap: wanted %d, got batch at %d", next, h.BaseOffset)
					}
					next = h.NextOffset()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if finished && next == p.HighWatermark() {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(3*batches), p.HighWatermark())
}

func TestWait(t *testing.T) {
	t.Run("returns when data arrives", func(t *testing.T) {
		p := openTestPartition(t, t.TempDir())
		_, err := p.Append(partBatch(t, "a", 2, 1000), false)
		require.NoError(t, err)
		// Already there: no blocking.
		require.NoError(t, p.Wait(context.Background(), 1))

		go func() {
			time.Sleep(50 * time.Millisecond)
			if _, err := p.Append(partBatch(t, "b", 1, 1000), false); err != nil {
				t.Error(err)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		require.NoError(t, p.Wait(ctx, 2))
		require.Greater(t, p.HighWatermark(), int64(2))
		require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
	})
	t.Run("context timeout", func(t *testing.T) {
		p := openTestPartition(t, t.TempDir())
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := p.Wait(ctx, 0)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("context canceled", func(t *testing.T) {
		p := openTestPartition(t, t.TempDir())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, p.Wait(ctx, 0), context.Canceled)
	})
	t.Run("close wakes waiters", func(t *testing.T) {
		p := openTestPartition(t, t.TempDir())
		errc := make(chan error, 3)
		for i := 0; i < 3; i++ {
			go func() { errc <- p.Wait(context.Background(), 0) }()
		}
		time.Sleep(30 * time.Millisecond)
		require.NoError(t, p.close())
		for i := 0; i < 3; i++ {
			select {
			case err := <-errc:
				require.ErrorIs(t, err, log.ErrClosed)
			case <-time.After(5 * time.Second):
				t.Fatal("Wait did not return after Close")
			}
		}
		// After Close, at once.
		require.ErrorIs(t, p.Wait(context.Background(), 0), log.ErrClosed)
	})
	t.Run("delete wakes waiters", func(t *testing.T) {
		p := openTestPartition(t, t.TempDir())
		errc := make(chan error, 1)
		go func() { errc <- p.Wait(context.Background(), 0) }()
		time.Sleep(30 * time.Millisecond)
		require.NoError(t, p.delete())
		select {
		case err := <-errc:
			require.ErrorIs(t, err, ErrUnknownTopic)
		case <-time.After(5 * time.Second):
			t.Fatal("Wait did not return after Delete")
		}
	})
}

// TestWaitNeverMissesAnAppend: appends leave the waker alone while no
// reader took it, so a reader racing an append must still be woken. Each
// round the appender appends one record and waits until the reader has
// seen it; a lost wake-up would leave the reader waiting for good.
func TestWaitNeverMissesAnAppend(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	const rounds = 2000
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		for off := range int64(rounds) {
			if err := p.Wait(ctx, off); err != nil {
				errs <- fmt.Errorf("waiting for offset %d: %w", off, err)
				return
			}
			seen <- struct{}{}
		}
		errs <- nil
	}()
	raw := partBatch(t, "r", 1, 1000)
	buf := make([]byte, len(raw))
	for i := range rounds {
		copy(buf, raw)
		_, err := p.Append(buf, false)
		require.NoError(t, err)
		select {
		case <-seen:
		case err := <-errs:
			t.Fatalf("round %d: %v", i, err)
		}
	}
	require.NoError(t, <-errs)
}

func TestChanged(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	isClosed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := p.Changed()
	require.False(t, isClosed(ch))
	_, err := p.Append(partBatch(t, "a", 1, 1000), false)
	require.NoError(t, err)
	require.True(t, isClosed(ch))

	// A fresh channel for the next change.
	ch2 := p.Changed()
	require.False(t, isClosed(ch2))
	// A failed append does not signal.
	_, err = p.Append([]byte("garbage garbage garbage garbage garbage garbage garbage garbage"), false)
	require.Error(t, err)
	require.False(t, isClosed(ch2))

	// Close signals too.
	require.NoError(t, p.close())
	require.True(t, isClosed(ch2))
}

func TestDurableAppendsConcurrent(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	const writers, perWriter = 8, 25
	type span struct{ base, last int64 }
	var mu sync.Mutex
	var spans []span
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				info, err := p.Append(partBatch(t, fmt.Sprintf("%d-%d", w, i), 2, 1000), true)
				if err != nil {
					t.Error(err)
					return
				}
				if f := p.log.FlushedOffset(); f <= info.LastOffset {
					t.Errorf("durable append of %d..%d returned with flushed offset %d", info.BaseOffset, info.LastOffset, f)
				}
				mu.Lock()
				spans = append(spans, span{info.BaseOffset, info.LastOffset})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, spans, writers*perWriter)
	sort.Slice(spans, func(i, j int) bool { return spans[i].base < spans[j].base })
	next := int64(0)
	for _, s := range spans {
		require.Equal(t, next, s.base, "offsets dense and never shared")
		require.Equal(t, s.base+1, s.last)
		next = s.last + 1
	}
	require.Equal(t, next, p.LogEndOffset())
	require.Equal(t, next, p.HighWatermark())
	require.GreaterOrEqual(t, p.log.FlushedOffset(), next)
	require.NoError(t, p.SyncTo(next)) // already flushed: no-op
}

func TestCloseIdempotent(t *testing.T) {
	dir := t.TempDir()
	p, err := openPartition(dir, "t", 0, partTestConfig())
	require.NoError(t, err)
	_, err = p.Append(partBatch(t, "a", 3, 1000), false)
	require.NoError(t, err)
	require.NoError(t, p.close())
	require.NoError(t, p.close())

	_, err = p.Append(partBatch(t, "b", 1, 1000), false)
	require.ErrorIs(t, err, log.ErrClosed)
	_, err = p.Read(nil, 0, 1<<20)
	require.ErrorIs(t, err, log.ErrClosed)
	require.NoError(t, p.maintain())

	// Concurrent Close calls are fine too.
	p2, err := openPartition(dir, "t", 0, partTestConfig())
	require.NoError(t, err)
	require.Equal(t, int64(3), p2.HighWatermark())
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _ = p2.close() }()
	}
	wg.Wait()
	_, err = os.Stat(filepath.Join(dir, log.CleanShutdownFile))
	require.NoError(t, err, "clean shutdown marker")
}

func TestDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	p, err := openPartition(dir, "t", 0, partTestConfig())
	require.NoError(t, err)
	_, err = p.Append(partBatch(t, "a", 3, 1000), false)
	require.NoError(t, err)
	require.NoError(t, p.delete())
	_, err = os.Stat(dir)
	require.True(t, errors.Is(err, os.ErrNotExist), "directory removed: %v", err)
	_, err = p.Append(partBatch(t, "b", 1, 1000), false)
	require.ErrorIs(t, err, ErrUnknownTopic)
	_, err = p.Read(nil, 0, 1<<20)
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.NoError(t, p.close())
}

func TestOffsetForTimestamp(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	_, _, found, err := p.OffsetForTimestamp(0)
	require.NoError(t, err)
	require.False(t, found, "empty log")

	// Offsets 0-2 at 1000, 3-5 at 2000, 6-8 at 3000, across several segments.
	for _, ts := range []int64{1000, 2000, 3000} {
		_, err := p.Append(partBatch(t, fmt.Sprint(ts), 3, ts), false)
		require.NoError(t, err)
		require.NoError(t, p.log.Roll())
	}
	tests := []struct {
		ts     int64
		found  bool
		offset int64
		stamp  int64
	}{
		{0, true, 0, 1000},
		{1000, true, 0, 1000},
		{1001, true, 3, 2000},
		{2000, true, 3, 2000},
		{2500, true, 6, 3000},
		{3000, true, 6, 3000},
		{3001, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ts), func(t *testing.T) {
			off, ts, found, err := p.OffsetForTimestamp(tt.ts)
			require.NoError(t, err)
			require.Equal(t, tt.found, found)
			if tt.found {
				require.Equal(t, tt.offset, off)
				require.Equal(t, tt.stamp, ts)
			}
		})
	}
}

// BenchmarkPartitionAppend appends batches of 10 records of 100 bytes to
// one partition from GOMAXPROCS goroutines (they share the log's lock)
// and, in "partitions", each goroutine to its own partition (they share
// nothing). No fsync: what is measured is the append path's locking.
func BenchmarkPartitionAppend(b *testing.B) {
	build := func() []byte {
		bl := record.NewBuilder(0, record.BatchOptions{})
		for i := 0; i < 10; i++ {
			bl.Add(1, []byte("key"), bytes.Repeat([]byte("v"), 100), nil)
		}
		raw, err := bl.Build()
		require.NoError(b, err)
		return raw
	}
	cfg := log.Config{Retention: new(time.Duration(-1))}
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "one", false: "partitions"}[shared]
		b.Run(name, func(b *testing.B) {
			var parts []*Partition
			var next atomic.Int32
			for i := 0; i < runtime.GOMAXPROCS(0); i++ {
				p, err := openPartition(b.TempDir(), "t", int32(i), cfg)
				require.NoError(b, err)
				b.Cleanup(func() { _ = p.close() })
				parts = append(parts, p)
			}
			b.SetBytes(1000)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p := parts[0]
				if !shared {
					p = parts[next.Add(1)-1]
				}
				raw := build()
				for pb.Next() {
					if _, err := p.Append(raw, false); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// syncCountFS counts the fsyncs of the files opened through it.
type syncCountFS struct {
	vfs.FS
	syncs atomic.Int64
}

func (f *syncCountFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &syncCountFile{File: file, syncs: &f.syncs}, nil
}

type syncCountFile struct {
	vfs.File
	syncs *atomic.Int64
}

func (f *syncCountFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

// blockSyncFS blocks the first fsync of a .log file after arm until
// release, sending on entered when it starts.
type blockSyncFS struct {
	vfs.FS
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (f *blockSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return file, err
	}
	return &blockSyncFile{File: file, fs: f}, nil
}

type blockSyncFile struct {
	vfs.File
	fs *blockSyncFS
}

func (f *blockSyncFile) Sync() error {
	if f.fs.armed.CompareAndSwap(true, false) {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	return f.File.Sync()
}

// TestDurableAppendsShareFsyncs: durable appends that arrive while an
// fsync of their partition runs all wait for the next one, and that one
// fsync covers them all (group commit); Stats and the Prometheus output
// report the fsyncs and the records per fsync.
func TestDurableAppendsShareFsyncs(t *testing.T) {
	fsys := &blockSyncFS{FS: vfs.NewMem(), entered: make(chan struct{}), release: make(chan struct{})}
	b, err := Open("/data", WithFS(fsys), WithoutExpvar(), WithMaintenanceInterval(0))
	require.NoError(t, err)
	defer b.Close()
	_, err = b.CreateTopic("t", TopicConfig{})
	require.NoError(t, err)
	p := mustPartition(t, b, "t", 0)

	fsys.armed.Store(true)
	first := make(chan error, 1)
	go func() {
		_, err := p.Append(partBatch(t, "first", 1, 1000), true)
		first <- err
	}()
	<-fsys.entered // the first append's fsync is in flight, and blocked

	const callers = 16
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			info, err := p.Append(partBatch(t, fmt.Sprint("c", i), 1, 1000), true)
			if err == nil && p.log.FlushedOffset() <= info.LastOffset {
				err = fmt.Errorf("a durable append of offset %d returned at flushed offset %d", info.LastOffset, p.log.FlushedOffset())
			}
			errs <- err
		})
	}
	for p.LogEndOffset() < 1+callers {
		runtime.Gosched() // the appends go on while the fsync is blocked
	}
	close(fsys.release)
	require.NoError(t, <-first)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var ps PartitionStats
	for _, ts := range b.Stats().Topics {
		if ts.Name == "t" {
			ps = ts.Partitions[0]
		}
	}
	require.Equal(t, int64(1+callers), ps.Throughput.Messages)
	require.Equal(t, int64(2), ps.Throughput.Fsyncs, "the appends that waited shared one fsync")
	require.Equal(t, float64(1+callers)/2, ps.Throughput.RecordsPerFsync)
	var out bytes.Buffer
	require.NoError(t, b.WritePrometheus(&out))
	require.Contains(t, out.String(), `commitlog_log_fsyncs_total{topic="t",partition="0"} 2`+"\n")
	// Records per fsync is the ratio of two counters in Prometheus.
	require.Contains(t, out.String(), fmt.Sprintf(`commitlog_log_records_appended_total{topic="t",partition="0"} %d`+"\n", 1+callers))
}

// BenchmarkPartitionAppendDurable has senders goroutines each appending
// batches of one 100-byte record to one partition with durable set, in a
// closed loop (b.N records in all): every append waits for an fsync, and
// group commit decides how many of them one fsync serves. records/fsync
// counts the fsyncs of the partition's files (through a counting file
// system). A sender has one record in flight at a time, so one fsync can
// serve at most senders records.
func BenchmarkPartitionAppendDurable(b *testing.B) {
	bl := record.NewBuilder(0, record.BatchOptions{})
	bl.Add(1, []byte("key"), bytes.Repeat([]byte("v"), 100), nil)
	raw, err := bl.Build()
	require.NoError(b, err)
	raw = bytes.Clone(raw)
	for _, senders := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			fsys := &syncCountFS{FS: vfs.OS}
			p, err := openPartition(b.TempDir(), "t", 0, log.Config{Retention: new(time.Duration(-1)), FS: fsys})
			require.NoError(b, err)
			b.Cleanup(func() { _ = p.close() })
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			fsys.syncs.Store(0)
			for range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, len(raw))
					for next.Add(1) <= int64(b.N) {
						copy(buf, raw)
						if _, err := p.Append(buf, true); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N)/float64(max(fsys.syncs.Load(), 1)), "records/fsync")
		})
	}
}
