//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly || android || ios

package segment

import (
	"math"
	"os"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// TestMapSeesAppends: the map, made by the first read, shows the batches
// appended after it (each batch is read once per offset: all but the
// first read of a window go through the map), and batches past the end of
// the map (a segment grown past segment.bytes) are read with ReadAt, also
// those that straddle it.
func TestMapSeesAppends(t *testing.T) {
	s := openSeg(t, t.TempDir(), 0, Config{SegmentBytes: 8 << 10, IndexIntervalBytes: new(512)})
	ws := fill(t, s, 5, 1)
	checkEveryOffset(t, s, ws)
	m := s.fmap.Load()
	require.NotNil(t, m, "the first read maps the file")
	require.Len(t, m.data, 8<<10)
	for s.Size() < 24<<10 {
		ws = append(ws, fill(t, s, 7, 2)...)
		checkEveryOffset(t, s, ws)
	}
	require.Same(t, m, s.fmap.Load(), "one map for the segment's life")
	require.False(t, m.broken.Load())
}

// TestMapCoversLargerFile: a segment larger than segment.bytes (which was
// lowered since) is mapped whole.
func TestMapCoversLargerFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0, Config{})
	require.NoError(t, err)
	var ws []written
	for s.Size() < 20<<10 {
		ws = append(ws, fill(t, s, 8, 1)...)
	}
	require.NoError(t, s.Close())
	s = openSeg(t, dir, 0, Config{SegmentBytes: 4 << 10})
	checkEveryOffset(t, s, ws)
	require.Len(t, s.fmap.Load().data, int(s.Size()))
}

// TestMapTruncatedFile: a file cut under the segment (by another process)
// makes reads of the batches that are gone fail with ErrCorrupt, not
// crash the process (SIGBUS on the map): the faulted read is read again
// with ReadAt, which finds the short file, and the segment goes on with
// ReadAt; what is left still reads.
func TestMapTruncatedFile(t *testing.T) {
	dir := t.TempDir()
	s := openSeg(t, dir, 0, Config{IndexIntervalBytes: new(256)})
	var ws []written
	for s.Size() < 64<<10 {
		ws = append(ws, fill(t, s, 8, 1)...)
	}
	checkEveryOffset(t, s, ws)
	require.NotNil(t, s.fmap.Load())

	require.NoError(t, os.Truncate(segPath(dir, 0, LogSuffix), 4096))
	last := ws[len(ws)-1]
	_, err := s.Read(nil, last.h.BaseOffset, math.MaxInt64, 1)
	require.ErrorIs(t, err, record.ErrCorrupt)
	require.ErrorContains(t, err, "the file ends before")
	require.True(t, s.fmap.Load().broken.Load(), "the read from the map faulted")
	_, err = s.Read(nil, last.h.BaseOffset, math.MaxInt64, 1)
	require.ErrorIs(t, err, record.ErrCorrupt)
	got, err := s.Read(nil, ws[0].h.BaseOffset, math.MaxInt64, 1)
	require.NoError(t, err)
	require.Equal(t, ws[0].bytes, got)
}

// TestMapOutlivesDelete: a reader holding a reference keeps reading
// through the map after Delete (retention, compaction); the map goes with
// the last Release.
func TestMapOutlivesDelete(t *testing.T) {
	s, err := Open(t.TempDir(), 0, Config{})
	require.NoError(t, err)
	ws := fill(t, s, 20, 1)
	_, err = s.Read(nil, 0, math.MaxInt64, 1)
	require.NoError(t, err)
	require.NotNil(t, s.fmap.Load())
	require.True(t, s.Acquire())
	require.NoError(t, s.Delete())
	got := make([]byte, len(concat(ws)))
	for range 2 { // the second read is through the map (see readAgain)
		clear(got)
		require.NoError(t, s.readAt(got, 0))
		require.Equal(t, concat(ws), got)
	}
	require.False(t, s.fmap.Load().broken.Load(), "the map stayed")
	s.Release()
	require.Nil(t, s.fmap.Load())
}
