package segment

import (
	"math"
	"os"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// TestNoMapWithoutFileDescriptor: a file system whose files give no file
// descriptor (here the in-memory one) is read with ReadAt, and reads work
// the same.
func TestNoMapWithoutFileDescriptor(t *testing.T) {
	fsys := vfs.NewMem()
	require.NoError(t, fsys.MkdirAll("/d", 0o755))
	s := openSeg(t, "/d", 0, Config{FS: fsys})
	ws := fill(t, s, 30, 1)
	checkEveryOffset(t, s, ws)
	require.Nil(t, s.fmap.Load())
}

// TestReadTruncatedFile: without a map, a file cut under the segment is a
// clear error wrapping ErrCorrupt too.
func TestReadTruncatedFile(t *testing.T) {
	fsys := vfs.NewMem()
	require.NoError(t, fsys.MkdirAll("/d", 0o755))
	s := openSeg(t, "/d", 0, Config{FS: fsys, IndexIntervalBytes: new(256)})
	var ws []written
	for s.Size() < 16<<10 {
		ws = append(ws, fill(t, s, 8, 1)...)
	}
	f, err := fsys.OpenFile(segPath("/d", 0, LogSuffix), os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1000))
	require.NoError(t, f.Close())
	_, err = s.Read(nil, ws[len(ws)-1].h.BaseOffset, math.MaxInt64, 1)
	require.ErrorIs(t, err, record.ErrCorrupt)
	require.ErrorContains(t, err, "the file ends before")
}

// TestReadAgain: a range is read again once every window it touches was
// read before; the first read of any of them marks them all.
func TestReadAgain(t *testing.T) {
	m := newFileMap(make([]byte, 200*mapWindow+5))
	require.Len(t, m.seen, 4)
	steps := []struct {
		pos  int64
		n    int
		want bool
	}{
		{0, 1, false},
		{0, 1, true},
		{mapWindow - 1, 1, true},
		{mapWindow - 1, 2, false}, // into window 1
		{mapWindow, mapWindow, true},
		{63 * mapWindow, 2 * mapWindow, false}, // windows 63 and 64: across a word
		{64*mapWindow + 10, 1, true},
		{63*mapWindow + 5, 100, true},
		{199 * mapWindow, mapWindow + 5, false}, // the last, partial window
		{200 * mapWindow, 5, true},
	}
	for i, st := range steps {
		require.Equal(t, st.want, m.readAgain(st.pos, st.n), "step %d", i)
	}
}

// TestUnmapIsFinal: Close removes the map, and none is made afterwards.
func TestUnmapIsFinal(t *testing.T) {
	s, err := Open(t.TempDir(), 0, Config{})
	require.NoError(t, err)
	fill(t, s, 3, 1)
	_, err = s.Read(nil, 0, math.MaxInt64, 1)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.Nil(t, s.fmap.Load())
	require.Nil(t, s.mapped())
}

// TestCopyFromMap: the aligned, chunked copy copies every byte, whatever
// the source's alignment and the length (around the alignment head and
// the chunk size).
func TestCopyFromMap(t *testing.T) {
	src := make([]byte, 2*copyChunk+4096)
	for i := range src {
		src[i] = byte(i*7 + i>>9)
	}
	for _, start := range []int{0, 1, 31, 63, 64, 100} {
		for _, n := range []int{0, 1, 63, 1023, 1024, 1025, 12345, copyChunk - 1, copyChunk, copyChunk + 70, 2*copyChunk + 1} {
			dst := make([]byte, n)
			require.True(t, copyFromMap(dst, src[start:start+n]))
			require.Equal(t, src[start:start+n], dst, "start %d, %d bytes", start, n)
		}
	}
}

// TestCopyFromMapRepanics: only a memory fault is caught; any other panic
// (a bug) goes on.
func TestCopyFromMapRepanics(t *testing.T) {
	src := make([]byte, 4096)
	require.Panics(t, func() { copyFromMap(nil, src[1:]) })
}
