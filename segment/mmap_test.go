package segment

import (
	"math"
	"testing"

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
