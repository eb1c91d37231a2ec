package log

// Tests of the log's lifecycle: roll, retention and Delete, and how
// they meet compaction and failures.

import (
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// TestDeleteWaitsForRetention: a log deleted while retention removes its
// segments' files, then created again at the same path, keeps every
// record of the new log: the removal never reaches the new log's files.
func TestDeleteWaitsForRetention(t *testing.T) {
	m := vfs.NewMem()
	require.NoError(t, vfs.MkdirAllSync(m, "/data"))
	cfg := testConfig()
	cfg.FS = m
	l, err := Open("/data/t-0", cfg)
	require.NoError(t, err)
	for i := 0; l.NumSegments() < 4; i++ {
		_, err := l.Append(batchOf(t, fmt.Sprintf("b%d", i), 5, time.Now().UnixMilli(), 100))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	cfg.RetentionBytes = new(int64(1 << 10))
	entered, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	cfg.OnStartOffset = func(int64) error {
		if once.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
		return nil
	}
	l, err = Open("/data/t-0", cfg)
	require.NoError(t, err)
	maintained := make(chan error, 1)
	go func() { _, err := l.Maintain(); maintained <- err }()
	<-entered // retention is between the checkpoint and the removal

	deleted := make(chan error, 1)
	go func() { deleted <- l.Delete() }()
	select {
	case err := <-deleted:
		t.Fatalf("Delete returned (%v) while retention was removing files", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-maintained)
	require.NoError(t, <-deleted)

	cfg.OnStartOffset = nil
	cfg.RetentionBytes = new(int64(-1))
	l2, err := Open("/data/t-0", cfg)
	require.NoError(t, err)
	_, err = l2.Append(batchOf(t, "new", 3, time.Now().UnixMilli(), 10))
	require.NoError(t, err)
	require.NoError(t, l2.Close())
	l2, err = Open("/data/t-0", cfg)
	require.NoError(t, err)
	defer l2.Close()
	require.Len(t, readAll(t, l2, 0), 3)
}

// failingFS fails the next SyncDir after arm.
type failingFS struct {
	vfs.FS
	fail atomic.Bool
}

func (f *failingFS) SyncDir(dir string) error {
	if f.fail.CompareAndSwap(true, false) {
		return &fs.PathError{Op: "sync", Path: dir, Err: errors.New("injected I/O error")}
	}
	return f.FS.SyncDir(dir)
}

// TestFailedRollLeavesNoSegment: a roll that fails after creating the new
// segment's files removes them, so the log still opens after more appends
// and a clean close.
func TestFailedRollLeavesNoSegment(t *testing.T) {
	ffs := &failingFS{FS: vfs.OS}
	cfg := testConfig()
	cfg.FS = ffs
	dir := t.TempDir()
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	_, err = l.Append(batchOf(t, "a", 3, 1000, 10))
	require.NoError(t, err)
	ffs.fail.Store(true)
	require.Error(t, l.Roll())
	for i := range 3 {
		_, err = l.Append(batchOf(t, fmt.Sprintf("b%d", i), 1, 1000, 10))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	l, err = Open(dir, cfg)
	require.NoError(t, err, "the failed roll left a segment inside the old one")
	defer l.Close()
	require.Len(t, readAll(t, l, 0), 6)
}

// TestNoRetentionWhileSwapPending: while a failed compaction swap waits
// for the next Open to finish it, retention removes no segment (Open
// would finish the swap over segments that are gone).
func TestNoRetentionWhileSwapPending(t *testing.T) {
	cfg := testConfig()
	cfg.RetentionBytes = new(int64(1 << 10))
	l, err := Open(t.TempDir(), cfg)
	require.NoError(t, err)
	defer l.Close()
	l.uncleanable.Store(true)
	for i := 0; l.NumSegments() < 4; i++ {
		_, err := l.Append(batchOf(t, fmt.Sprintf("b%d", i), 5, time.Now().UnixMilli(), 100))
		require.NoError(t, err)
	}
	n, err := l.Maintain()
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, int64(0), l.StartOffset())
}

// TestStartMovesOnceRecorded: retention and DeleteRecordsBefore move the
// log start offset only after OnStartOffset has recorded it, so that no
// reader is reset past records a power cut would bring back. While the
// hook runs, and after it fails, the old start stays readable; the next
// call records the start again and moves it.
func TestStartMovesOnceRecorded(t *testing.T) {
	cfg := testConfig()
	cfg.RetentionBytes = new(int64(1 << 10))
	var calls []int64
	failNext := true
	var l *Log
	cfg.OnStartOffset = func(start int64) error {
		calls = append(calls, start)
		require.Zero(t, l.StartOffset(), "the start moves after the hook, not before")
		_, err := l.Read(0, 1<<10)
		require.NoError(t, err, "records below the new start stay readable until it is recorded")
		if failNext {
			failNext = false
			return errors.New("injected checkpoint failure")
		}
		return nil
	}
	var err error
	l, err = Open(t.TempDir(), cfg)
	require.NoError(t, err)
	defer l.Close()
	for i := 0; l.NumSegments() < 4; i++ {
		_, err := l.Append(batchOf(t, fmt.Sprintf("b%d", i), 5, time.Now().UnixMilli(), 100))
		require.NoError(t, err)
	}
	pending := l.PendingStartOffset()
	require.Positive(t, pending, "the rolls found segments to go")
	require.Zero(t, l.StartOffset())

	segs := l.NumSegments()
	_, err = l.Maintain()
	require.Error(t, err, "the failed hook is reported")
	require.Zero(t, l.StartOffset(), "nothing moves when the new start is not recorded")
	require.Equal(t, segs, l.NumSegments())

	n, err := l.Maintain()
	require.NoError(t, err)
	require.Positive(t, n)
	require.Equal(t, calls[len(calls)-1], l.StartOffset(), "the start moves to what the hook recorded")
	require.GreaterOrEqual(t, l.StartOffset(), pending)

	// DeleteRecordsBefore: the same order, and its error says so.
	start := l.StartOffset()
	failNext = true
	cfg.OnStartOffset = nil
	l.cfg.OnStartOffset = func(off int64) error {
		calls = append(calls, off)
		require.Equal(t, start, l.StartOffset())
		if failNext {
			failNext = false
			return errors.New("injected checkpoint failure")
		}
		return nil
	}
	_, err = l.DeleteRecordsBefore(start+1, l.EndOffset())
	require.Error(t, err)
	require.Equal(t, start, l.StartOffset())
	got, err := l.DeleteRecordsBefore(start+1, l.EndOffset())
	require.NoError(t, err)
	require.Equal(t, start+1, got)
	require.Equal(t, start+1, l.StartOffset())
	require.Equal(t, start+1, calls[len(calls)-1])
}
