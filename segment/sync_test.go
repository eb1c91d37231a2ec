package segment

import (
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// eventFS records, in order, when a .log file's fsync starts and ends
// and when the file is closed. The first fsync blocks until release.
type eventFS struct {
	vfs.FS
	mu      sync.Mutex // guards events and blocked
	events  []string
	blocked bool
	entered chan struct{}
	release chan struct{}
}

func (f *eventFS) event(e string) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
}

func (f *eventFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, LogSuffix) {
		return file, err
	}
	return &eventFile{File: file, fs: f}, nil
}

type eventFile struct {
	vfs.File
	fs *eventFS
}

func (f *eventFile) Sync() error {
	f.fs.mu.Lock()
	block := !f.fs.blocked
	f.fs.blocked = true
	f.fs.mu.Unlock()
	if block {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	err := f.File.Sync()
	f.fs.event("synced")
	return err
}

func (f *eventFile) Close() error {
	f.fs.event("closed")
	return f.File.Close()
}

// TestCloseWaitsForSync: Sync holds the segment open while it fsyncs, so
// Close, which may run meanwhile, closes the file only after the fsync;
// once Close has begun, Sync fails with ErrClosed.
func TestCloseWaitsForSync(t *testing.T) {
	efs := &eventFS{FS: vfs.NewMem(), entered: make(chan struct{}), release: make(chan struct{})}
	require.NoError(t, efs.MkdirAll("/d", 0o755))
	s, err := Open("/d", 0, Config{FS: efs})
	require.NoError(t, err)
	appendBatch(t, s, batchN(t, 0, 3, 10, 1000))

	synced := make(chan error, 1)
	go func() { synced <- s.Sync() }()
	<-efs.entered
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for s.Acquire() { // until Close has begun
		s.Release()
		runtime.Gosched()
	}
	for range 100 {
		runtime.Gosched() // give a Close that would not wait every chance to close the file
	}
	close(efs.release)
	require.NoError(t, <-synced)
	require.NoError(t, <-closed)
	efs.mu.Lock()
	require.Equal(t, []string{"synced", "closed"}, efs.events)
	efs.mu.Unlock()
	require.ErrorIs(t, s.Sync(), ErrClosed)
}

// TestAppendCheckedRefusesAnotherHeader: AppendChecked trusts the header
// it is given for what it indexes, so a header that is not the batch's
// (another size or base offset) is refused and nothing is written.
func TestAppendCheckedRefusesAnotherHeader(t *testing.T) {
	s, err := Open(t.TempDir(), 0, Config{})
	require.NoError(t, err)
	defer s.Close()
	raw := batchN(t, 0, 3, 10, 1000)
	h, err := record.ParseHeader(raw)
	require.NoError(t, err)
	other := h
	other.BaseOffset = 1
	require.Error(t, s.AppendChecked(raw, &other))
	other = h
	other.BatchLength++
	require.Error(t, s.AppendChecked(raw, &other))
	require.Zero(t, s.Size())
	require.NoError(t, s.AppendChecked(raw, &h))
	require.Equal(t, int64(3), s.NextOffset())
	require.Equal(t, int64(len(raw)), s.Size())
}
