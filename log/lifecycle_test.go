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
