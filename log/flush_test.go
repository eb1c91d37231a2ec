package log

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/internal/testenv"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// blockSyncFS makes the first fsync of a .log file after arm block until
// release: it sends on entered, then waits. Other fsyncs go through.
type blockSyncFS struct {
	vfs.FS
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newBlockSyncFS(inner vfs.FS) *blockSyncFS {
	return &blockSyncFS{FS: inner, entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (f *blockSyncFS) arm() { f.armed.Store(true) }

func (f *blockSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &blockSyncFile{File: file, fs: f, log: strings.HasSuffix(name, segment.LogSuffix)}, nil
}

type blockSyncFile struct {
	vfs.File
	fs  *blockSyncFS
	log bool
}

func (f *blockSyncFile) Sync() error {
	if f.log && f.fs.armed.CompareAndSwap(true, false) {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	return f.File.Sync()
}

// startBlockedSync arms bfs and runs l.Sync in a goroutine until its fsync
// blocks; the returned channel yields Sync's result once released.
func startBlockedSync(t *testing.T, l *Log, bfs *blockSyncFS) <-chan error {
	t.Helper()
	bfs.arm()
	res := make(chan error, 1)
	go func() { res <- l.Sync() }()
	<-bfs.entered
	return res
}

// TestAppendsProceedDuringFsync: while an fsync of the log runs, appends
// to the same log complete (the fsync holds no append lock), and the
// flushed offset rises, when it ends, to what the fsync covered only.
func TestAppendsProceedDuringFsync(t *testing.T) {
	bfs := newBlockSyncFS(vfs.OS)
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.FS = bfs
	l, err := Open(t.TempDir(), cfg)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(batchOf(t, "a", 3, 1000, 10))
	require.NoError(t, err)

	res := startBlockedSync(t, l, bfs)
	// The fsync is in flight: these appends must not wait for it (if they
	// did, the test would hang here).
	for i := range 5 {
		_, err := l.Append(batchOf(t, fmt.Sprint("b", i), 2, 1000, 10))
		require.NoError(t, err)
	}
	require.Equal(t, int64(13), l.EndOffset())
	require.Equal(t, int64(0), l.FlushedOffset(), "nothing is flushed before the fsync ends")
	close(bfs.release)
	require.NoError(t, <-res)
	require.Equal(t, int64(3), l.FlushedOffset(), "the fsync covered the records appended before it began, no more")
	require.NoError(t, l.Sync())
	require.Equal(t, int64(13), l.FlushedOffset())
	require.Equal(t, int64(2), l.Fsyncs())
}

// TestSyncToGroupCommit: callers of SyncTo that arrive while an fsync runs
// wait for it and then share one more fsync, which covers all of them.
func TestSyncToGroupCommit(t *testing.T) {
	bfs := newBlockSyncFS(vfs.OS)
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.FS = bfs
	l, err := Open(t.TempDir(), cfg)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append(batchOf(t, "first", 1, 1000, 10))
	require.NoError(t, err)
	res := startBlockedSync(t, l, bfs)

	const callers = 16
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			info, err := l.Append(batchOf(t, fmt.Sprint("c", i), 1, 1000, 10))
			if err == nil {
				err = l.SyncTo(info.LastOffset + 1)
			}
			if err == nil && l.FlushedOffset() <= info.LastOffset {
				err = fmt.Errorf("SyncTo(%d) returned at flushed offset %d", info.LastOffset+1, l.FlushedOffset())
			}
			errs <- err
		})
	}
	for l.EndOffset() < 1+callers {
		// Every caller appends while the first fsync is blocked (not a
		// timing assumption: the fsync stays blocked until released).
		runtime.Gosched()
	}
	close(bfs.release)
	require.NoError(t, <-res)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1+callers), l.FlushedOffset())
	require.Equal(t, int64(2), l.Fsyncs(), "the callers that waited share one fsync")
}

// TestRollDuringFsync: a segment rolled while a flush of it is in flight
// is sealed (fsynced) by the roll itself, which raises the flushed
// offset; the late flush neither lowers it nor fails, and a power cut
// then keeps everything below it. Retention removing the segment while
// the flush holds it does no harm either.
func TestRollDuringFsync(t *testing.T) {
	for _, retain := range []bool{false, true} {
		t.Run(fmt.Sprintf("retention=%v", retain), func(t *testing.T) {
			m := vfs.NewMem()
			require.NoError(t, vfs.MkdirAllSync(m, "/data"))
			bfs := newBlockSyncFS(m)
			cfg := testConfig()
			cfg.SegmentBytes = 1 << 20
			cfg.FS = bfs
			if retain {
				cfg.RetentionBytes = new(int64(1))
			}
			l, err := Open("/data/t-0", cfg)
			require.NoError(t, err)
			_, err = l.Append(batchOf(t, "a", 3, 1000, 10))
			require.NoError(t, err)
			res := startBlockedSync(t, l, bfs)
			_, err = l.Append(batchOf(t, "b", 2, 1000, 10))
			require.NoError(t, err)
			require.NoError(t, l.Roll())
			require.Equal(t, int64(5), l.FlushedOffset(), "the roll sealed the old segment")
			_, err = l.Append(batchOf(t, "c", 2, 1000, 10))
			require.NoError(t, err)
			want := int64(5)
			if retain {
				// Rolls again: retention takes out (and reap deletes) the
				// segment the flush still holds.
				require.NoError(t, l.Roll())
				require.Equal(t, int64(5), l.StartOffset())
				want = 7
			}
			close(bfs.release)
			require.NoError(t, <-res)
			require.Equal(t, want, l.FlushedOffset(), "the flushed offset never goes back")

			l2, err := Open("/data/t-0", Config{FS: m.Crash(nil), Retention: new(time.Duration(-1))})
			require.NoError(t, err)
			defer l2.Close()
			require.GreaterOrEqual(t, l2.EndOffset(), want)
			if !retain {
				require.Len(t, readAll(t, l2, 0), 5)
			}
			require.NoError(t, l.Close())
		})
	}
}

// TestCloseDuringFsync: Close and Delete wait for a flush in flight
// rather than close the file under it; the flush then succeeds, and the
// flushed offset is never beyond what is on disk.
func TestCloseDuringFsync(t *testing.T) {
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%v", del), func(t *testing.T) {
			m := vfs.NewMem()
			require.NoError(t, vfs.MkdirAllSync(m, "/data"))
			bfs := newBlockSyncFS(m)
			cfg := testConfig()
			cfg.FS = bfs
			l, err := Open("/data/t-0", cfg)
			require.NoError(t, err)
			_, err = l.Append(batchOf(t, "a", 3, 1000, 10))
			require.NoError(t, err)
			res := startBlockedSync(t, l, bfs)
			closed := make(chan error, 1)
			go func() {
				if del {
					closed <- l.Delete()
				} else {
					closed <- l.Close()
				}
			}()
			close(bfs.release)
			// Had Close or Delete closed the file under the fsync, the
			// fsync would fail with a closed file.
			require.NoError(t, <-res)
			require.NoError(t, <-closed)
			require.ErrorIs(t, l.Sync(), ErrClosed)
			if del {
				return
			}
			require.Equal(t, int64(3), l.FlushedOffset())
			l2, info, err := OpenWithInfo("/data/t-0", Config{FS: m.Crash(nil), Retention: new(time.Duration(-1))})
			require.NoError(t, err)
			defer l2.Close()
			require.True(t, info.CleanShutdown)
			require.Len(t, readAll(t, l2, 0), 3)
		})
	}
}

// TestPowerCutConcurrentSync runs appenders that each wait for their
// records to be durable (SyncTo), a goroutine that rolls and runs
// retention, and cuts the power while they run: every record a SyncTo
// acknowledged before the cut, and every offset below a FlushedOffset
// read before it, survives.
func TestPowerCutConcurrentSync(t *testing.T) {
	n := max(testenv.Int(t, "COMMITLOG_POWERCUT_TRIALS", 300)/10, 1)
	for trial := range n {
		r := rand.New(rand.NewPCG(13, uint64(trial)))
		m := vfs.NewMem()
		require.NoError(t, vfs.MkdirAllSync(m, "/data"))
		cfg := testConfig()
		cfg.FS = m
		cfg.SegmentBytes = int64(2<<10 + r.IntN(4<<10))
		if trial%3 == 0 {
			cfg.FlushMessages = int64(1 + r.IntN(4))
		}
		l, err := Open("/data/t-0", cfg)
		require.NoError(t, err)

		var acked atomic.Int64 // highest offset+1 a SyncTo acknowledged
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					info, err := l.Append(batchOf(t, fmt.Sprintf("w%d-%d", w, i), 1+i%3, 1000, 50))
					if err != nil {
						return // the power went: the log may fail now
					}
					if err := l.SyncTo(info.LastOffset + 1); err != nil {
						return
					}
					for {
						cur := acked.Load()
						if info.LastOffset+1 <= cur || acked.CompareAndSwap(cur, info.LastOffset+1) {
							break
						}
					}
				}
			})
		}
		wg.Go(func() {
			for !stop.Load() {
				if l.Roll() != nil {
					return
				}
				if _, err := l.Maintain(); err != nil {
					return
				}
				runtime.Gosched()
			}
		})
		for l.EndOffset() < int64(20+r.IntN(200)) {
			runtime.Gosched()
		}
		durable := max(acked.Load(), l.FlushedOffset())
		after := m.Crash(r)
		stop.Store(true)
		wg.Wait()
		_ = l.Close()

		l2, err := Open("/data/t-0", Config{FS: after, Retention: new(time.Duration(-1)), SegmentBytes: cfg.SegmentBytes})
		require.NoError(t, err, "trial %d", trial)
		require.GreaterOrEqual(t, l2.EndOffset(), durable, "trial %d: fsynced records lost", trial)
		require.Len(t, readAll(t, l2, 0), int(l2.EndOffset()), "trial %d", trial)
		require.NoError(t, l2.Close())
	}
}
