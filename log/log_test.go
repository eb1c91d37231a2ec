package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

func TestAppendReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, testConfig())
	require.NoError(t, err)
	var want []string
	for i := 0; i < 200; i++ {
		n := 1 + i%5
		info, err := l.Append(batchOf(t, fmt.Sprint(i), n, 1000+int64(i), 40))
		require.NoError(t, err)
		require.Equal(t, int64(len(want)), info.BaseOffset)
		require.Equal(t, int64(len(want)+n-1), info.LastOffset)
		for j := 0; j < n; j++ {
			want = append(want, fmt.Sprintf("%d/%d/", i, j))
		}
	}
	require.Greater(t, l.NumSegments(), 5, "4 KiB segments must have rolled")
	require.Equal(t, int64(len(want)), l.EndOffset())
	check := func(l *Log) {
		got := readAll(t, l, 0)
		require.Len(t, got, len(want))
		for i, r := range got {
			require.Equal(t, want[i], r.Value[:len(want[i])])
		}
		// Every single offset can be read from directly.
		for off := int64(0); off < l.EndOffset(); off += 7 {
			got := readAll(t, l, off)
			require.Equal(t, off, got[0].Offset)
			require.Equal(t, want[off], got[0].Value[:len(want[off])])
		}
	}
	check(l)
	// Reading at the end returns nothing; past it is out of range.
	data, err := l.Read(l.EndOffset(), 1024)
	require.NoError(t, err)
	require.Empty(t, data)
	_, err = l.Read(l.EndOffset()+1, 1024)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)

	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err = l.Append(batchOf(t, "x", 1, 1, 1))
	require.ErrorIs(t, err, ErrClosed)
	require.FileExists(t, filepath.Join(dir, CleanShutdownFile))

	l2, info, err := OpenWithInfo(dir, testConfig())
	require.NoError(t, err)
	defer l2.Close()
	require.True(t, info.CleanShutdown)
	require.Zero(t, info.TruncatedBytes)
	require.NoFileExists(t, filepath.Join(dir, CleanShutdownFile), "Open removes the marker")
	require.Equal(t, int64(len(want)), l2.EndOffset())
	check(l2)
	info2, err := l2.Append(batchOf(t, "after", 2, 5000, 10))
	require.NoError(t, err)
	require.Equal(t, int64(len(want)), info2.BaseOffset)
}

func TestSegmentFileNames(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, testConfig())
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		_, err := l.Append(batchOf(t, "n", 10, 1, 30))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	logs := segmentFiles(t, dir, segment.LogSuffix)
	require.Equal(t, "00000000000000000000.log", filepath.Base(logs[0]))
	for _, p := range logs {
		base := filepath.Base(p)[:20]
		require.FileExists(t, filepath.Join(dir, base+segment.IndexSuffix))
		require.FileExists(t, filepath.Join(dir, base+segment.TimeIndexSuffix))
	}
}

func TestMaxMessageBytesAndBadBatches(t *testing.T) {
	l, err := Open(t.TempDir(), Config{MaxMessageBytes: new(1000)})
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(batchOf(t, "big", 1, 1, 2000))
	require.ErrorIs(t, err, ErrRecordTooLarge)
	bad := batchOf(t, "ok", 2, 1, 10)
	bad[len(bad)-1] ^= 0xff
	_, err = l.Append(bad)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = l.Append([]byte{1, 2, 3})
	require.ErrorIs(t, err, ErrCorrupt)
	require.Equal(t, int64(0), l.EndOffset(), "rejected batches take no offsets")
}

// TestAppendRefusesBatchesThatSkipOffsets: a batch must hold one record
// per offset it spans, as Kafka's broker demands of a client's batch
// ("Inconsistent batch offset range", "Invalid reported count"). An empty
// batch, or one whose last offset delta runs past its records, would take
// offsets that hold no record: offsets would no longer be dense.
func TestAppendRefusesBatchesThatSkipOffsets(t *testing.T) {
	l, err := Open(t.TempDir(), testConfig())
	require.NoError(t, err)
	defer l.Close()

	empty, err := record.NewBuilder(0, record.BatchOptions{}).Build()
	require.NoError(t, err)
	_, err = l.Append(bytes.Clone(empty))
	require.ErrorIs(t, err, ErrInvalidRecord)

	b := record.NewBuilder(0, record.BatchOptions{})
	b.Add(1, []byte("k"), []byte("v0"), nil)
	b.Add(1, []byte("k"), []byte("v1"), nil)
	b.SetLastOffsetDelta(1_000_000)
	sparse, err := b.Build()
	require.NoError(t, err)
	_, err = l.Append(bytes.Clone(sparse))
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.Equal(t, int64(0), l.EndOffset(), "rejected batches take no offsets")

	info, err := l.Append(batchOf(t, "ok", 2, 1, 10))
	require.NoError(t, err)
	require.Equal(t, int64(0), info.BaseOffset)
	require.Equal(t, int64(2), l.EndOffset())
}

func TestLogAppendTime(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(1_800_000_000_000)}
	l, err := Open(t.TempDir(), Config{TimestampType: record.LogAppendTime, Now: clock.now})
	require.NoError(t, err)
	defer l.Close()
	info, err := l.Append(batchOf(t, "a", 3, 5, 10))
	require.NoError(t, err)
	require.Equal(t, int64(1_800_000_000_000), info.LogAppendTime)
	for _, r := range readAll(t, l, 0) {
		require.Equal(t, int64(1_800_000_000_000), r.TS)
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	l, err := Open(t.TempDir(), testConfig())
	require.NoError(t, err)
	defer l.Close()
	// Batch i has records at timestamps 1000+10i .. 1000+10i+4.
	for i := 0; i < 100; i++ {
		b := record.NewBuilder(0, record.BatchOptions{})
		for j := 0; j < 5; j++ {
			b.Add(1000+int64(10*i+j), nil, []byte("v"), nil)
		}
		raw, err := b.Build()
		require.NoError(t, err)
		_, err = l.Append(append([]byte(nil), raw...))
		require.NoError(t, err)
	}
	cases := []struct {
		ts, wantOff, wantTS int64
		found               bool
	}{
		{0, 0, 1000, true},
		{1000, 0, 1000, true},
		{1003, 3, 1003, true},
		{1005, 5, 1010, true}, // gap between batches: next record
		{1500, 250, 1500, true},
		{1994, 499, 1994, true},
		{1995, 0, 0, false},
	}
	for _, c := range cases {
		off, ts, found, err := l.OffsetForTimestamp(c.ts)
		require.NoError(t, err)
		require.Equal(t, c.found, found, "ts %d", c.ts)
		if c.found {
			require.Equal(t, c.wantOff, off, "ts %d", c.ts)
			require.Equal(t, c.wantTS, ts, "ts %d", c.ts)
		}
	}
}

func TestRetention(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		cfg := testConfig()
		cfg.RetentionBytes = new(int64(10 << 10))
		l, err := Open(t.TempDir(), cfg)
		require.NoError(t, err)
		defer l.Close()
		for i := 0; i < 300; i++ {
			_, err := l.Append(batchOf(t, "r", 2, time.Now().UnixMilli(), 50))
			require.NoError(t, err)
		}
		// The rolls found the segments to go; the start moves, and they
		// go, at the next Maintain, once the new start is durable.
		require.Zero(t, l.StartOffset())
		require.Greater(t, l.PendingStartOffset(), int64(0))
		pending := l.PendingStartOffset()
		n, err := l.Maintain()
		require.NoError(t, err)
		require.Positive(t, n)
		require.LessOrEqual(t, l.Size(), int64(10<<10)+cfg.SegmentBytes)
		start := l.StartOffset()
		require.GreaterOrEqual(t, start, pending)
		require.Greater(t, start, int64(0))
		segs := l.segments()
		require.Equal(t, start, segs[0].BaseOffset(), "log start offset is a segment boundary: whole segments go")
		_, err = l.Read(start-1, 1024)
		require.ErrorIs(t, err, ErrOffsetOutOfRange)
		got := readAll(t, l, start)
		require.Equal(t, start, got[0].Offset)
		require.Equal(t, l.EndOffset()-start, int64(len(got)))
	})
	t.Run("time", func(t *testing.T) {
		clock := &fakeClock{t: time.UnixMilli(10_000_000)}
		cfg := testConfig()
		cfg.Retention = new(time.Hour)
		cfg.Now = clock.now
		dir := t.TempDir()
		l, err := Open(dir, cfg)
		require.NoError(t, err)
		defer l.Close()
		// Old records (2h ago), then fresh ones.
		for i := 0; i < 100; i++ {
			_, err := l.Append(batchOf(t, "old", 2, clock.t.Add(-2*time.Hour).UnixMilli(), 50))
			require.NoError(t, err)
		}
		require.NoError(t, l.Roll())
		firstNew := l.EndOffset()
		for i := 0; i < 100; i++ {
			_, err := l.Append(batchOf(t, "new", 2, clock.t.UnixMilli(), 50))
			require.NoError(t, err)
		}
		require.Equal(t, firstNew, l.StartOffset(), "rolls applied retention: every old segment is gone")
		require.Len(t, segmentFiles(t, dir, segment.LogSuffix), l.NumSegments())
		// Nothing new expires until an hour later; then all but the active one.
		n, err := l.Maintain()
		require.NoError(t, err)
		require.Zero(t, n)
		clock.t = clock.t.Add(61 * time.Minute)
		n, err = l.Maintain()
		require.NoError(t, err)
		require.Greater(t, n, 0)
		require.Equal(t, 1, l.NumSegments(), "the active segment is never deleted")
		readAll(t, l, l.StartOffset())
	})
}

func TestSegmentAgeRolls(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(1_000_000)}
	l, err := Open(t.TempDir(), Config{SegmentAge: time.Minute, Now: clock.now})
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(batchOf(t, "a", 1, clock.t.UnixMilli(), 10))
	require.NoError(t, err)
	clock.t = clock.t.Add(30 * time.Second)
	_, err = l.Append(batchOf(t, "b", 1, clock.t.UnixMilli(), 10))
	require.NoError(t, err)
	require.Equal(t, 1, l.NumSegments())
	clock.t = clock.t.Add(31 * time.Second)
	_, err = l.Append(batchOf(t, "c", 1, clock.t.UnixMilli(), 10))
	require.NoError(t, err)
	require.Equal(t, 2, l.NumSegments())
}

func TestFlushPolicy(t *testing.T) {
	clock := &fakeClock{t: time.UnixMilli(1_000_000)}
	l, err := Open(t.TempDir(), Config{FlushMessages: 10, FlushInterval: new(time.Second), Now: clock.now})
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(batchOf(t, "a", 4, 1, 10))
	require.NoError(t, err)
	require.Equal(t, int64(0), l.FlushedOffset())
	_, err = l.Append(batchOf(t, "a", 6, 1, 10))
	require.NoError(t, err)
	require.Equal(t, int64(10), l.FlushedOffset(), "flush.messages reached")
	_, err = l.Append(batchOf(t, "a", 1, 1, 10))
	require.NoError(t, err)
	require.Equal(t, int64(10), l.FlushedOffset())
	clock.t = clock.t.Add(2 * time.Second)
	_, err = l.Maintain()
	require.NoError(t, err)
	require.Equal(t, int64(11), l.FlushedOffset(), "flush.ms reached")
	_, err = l.Append(batchOf(t, "a", 1, 1, 10))
	require.NoError(t, err)
	require.NoError(t, l.Sync())
	require.Equal(t, int64(12), l.FlushedOffset())
}

// TestConcurrentReaders runs one writer and several readers under -race:
// every read returns whole batches with valid CRCs, dense offsets, values
// that match their offsets, and never anything at or past the end offset
// the reader saw.
func TestConcurrentReaders(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 32 << 10
	cfg.RetentionBytes = new(int64(96 << 10)) // retention deletes segments under the readers too
	l, err := Open(t.TempDir(), cfg)
	require.NoError(t, err)
	const batches = 3000
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var it record.Iterator
			next := int64(0)
			for {
				select {
				case <-done:
					return
				default:
				}
				end := l.EndOffset()
				if next >= end {
					time.Sleep(20 * time.Microsecond)
					continue
				}
				data, err := l.Read(next, 8<<10)
				if errors.Is(err, ErrOffsetOutOfRange) && next < l.StartOffset() {
					next = l.StartOffset()
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				err = record.Batches(data, func(h *record.BatchHeader, b []byte) error {
					if err := it.ResetChecked(h, b); err != nil {
						return err
					}
					for it.Next() {
						rec := it.Record()
						want := fmt.Sprintf("v%d", rec.Offset)
						if string(rec.Value) != want {
							return fmt.Errorf("offset %d has value %q", rec.Offset, rec.Value)
						}
					}
					if h.NextOffset() > l.EndOffset() {
						return fmt.Errorf("read batch ending at %d past end offset", h.NextOffset())
					}
					next = h.NextOffset()
					return it.Err()
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	b := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < batches; i++ {
		b.Reset(0, record.BatchOptions{})
		base := l.EndOffset()
		for j := 0; j < 1+i%4; j++ {
			b.Add(1, nil, []byte(fmt.Sprintf("v%d", base+int64(j))), nil)
		}
		raw, err := b.Build()
		require.NoError(t, err)
		_, err = l.Append(raw)
		require.NoError(t, err)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
}

func TestLeftoverFilesAreIgnored(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, testConfig())
	require.NoError(t, err)
	_, err = l.Append(batchOf(t, "a", 1, 1, 1))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	orphan := filepath.Join(dir, segment.FileName(999, segment.IndexSuffix))
	require.NoError(t, os.WriteFile(orphan, make([]byte, 16), 0o644))
	l, err = Open(dir, testConfig())
	require.NoError(t, err)
	defer l.Close()
	require.NoFileExists(t, orphan)
	require.Equal(t, int64(1), l.EndOffset())
}
