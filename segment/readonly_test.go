package segment

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A read-only segment serves only the complete batches that pass their
// CRC, catches up as the owner appends, never writes, and reports a file
// cut under it as an error, not a crash (the memory map's fault fallback).
func TestReadOnlyCatchUp(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: new(0), SegmentBytes: 1 << 20}
	owner := openSeg(t, dir, 100, cfg)
	ws := fill(t, owner, 20, 1000)
	require.NoError(t, owner.Sync())
	idx, err := os.ReadFile(segPath(dir, 100, IndexSuffix))
	require.NoError(t, err)

	ro, err := OpenReadOnly(dir, 100, cfg)
	require.NoError(t, err)
	defer ro.Close()
	require.True(t, ro.ReadOnly())
	require.Equal(t, owner.NextOffset(), ro.NextOffset())
	require.Equal(t, owner.Size(), ro.Size())
	checkEveryOffset(t, ro, ws)

	// A torn append: half a batch, then one with a bad CRC, then whole.
	next := batchN(t, owner.NextOffset(), 3, 50, 2000)
	f, err := os.OpenFile(segPath(dir, 100, LogSuffix), os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(next[:len(next)/2], owner.Size())
	require.NoError(t, err)
	added, err := ro.CatchUp()
	require.NoError(t, err)
	require.Zero(t, added)
	bad := append([]byte(nil), next...)
	bad[len(bad)-1] ^= 0xff
	_, err = f.WriteAt(bad, owner.Size())
	require.NoError(t, err)
	added, err = ro.CatchUp()
	require.NoError(t, err)
	require.Zero(t, added, "a batch failing its CRC is not served")
	_, err = f.WriteAt(next, owner.Size())
	require.NoError(t, err)
	added, err = ro.CatchUp()
	require.NoError(t, err)
	require.Equal(t, int64(len(next)), added)
	got, err := ro.Read(nil, owner.NextOffset(), 1<<30, 1<<20)
	require.NoError(t, err)
	require.Equal(t, next, got)
	require.False(t, ro.Replaced())

	// Nothing written by the reader: the owner's index file is as it was.
	idx2, err := os.ReadFile(segPath(dir, 100, IndexSuffix))
	require.NoError(t, err)
	require.Equal(t, idx, idx2)

	// Cut under the reader (as an owner's recovery would): an error.
	for range 2 { // once through pread, once through the map
		_, err = ro.Read(nil, 100, 1<<30, 1<<20)
		require.NoError(t, err)
	}
	require.NoError(t, f.Truncate(0))
	require.True(t, ro.Replaced())
	for range 2 {
		_, err = ro.Read(nil, 100, 1<<30, 1<<20)
		require.Error(t, err)
	}

	// Replaced by another file (a compaction swap): seen.
	require.NoError(t, os.Remove(segPath(dir, 100, LogSuffix)))
	require.True(t, ro.Replaced())
	_, err = OpenReadOnly(dir, 100, cfg)
	require.ErrorIs(t, err, os.ErrNotExist)

	// Delete of a read-only segment closes it and removes nothing.
	w := openSeg(t, t.TempDir(), 0, cfg)
	fill(t, w, 3, time.Now().UnixMilli())
	ro2, err := OpenReadOnly(w.dir, 0, cfg)
	require.NoError(t, err)
	require.NoError(t, ro2.Delete())
	require.FileExists(t, segPath(w.dir, 0, LogSuffix))
	_, err = ro2.CatchUp()
	require.ErrorIs(t, err, ErrClosed)
	_, err = w.CatchUp()
	require.Error(t, err, "CatchUp is for read-only segments")
}
