package index

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// offsetEntries is a test shorthand: {absolute offset, position} pairs.
type offsetEntries [][2]int64

// timeEntries is a test shorthand: {timestamp, absolute offset} pairs.
type timeEntries [][2]int64

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// copyFile copies src to a new file in the same directory, simulating what a
// crash leaves on disk.
func copyFile(t testing.TB, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	dst := filepath.Join(filepath.Dir(src), "copy-"+filepath.Base(src))
	require.NoError(t, os.WriteFile(dst, b, 0o644))
	return dst
}

// rawOffsetFile writes an offset index file by hand, followed by extra bytes.
func rawOffsetFile(t testing.TB, path string, base int64, es offsetEntries, extra []byte) {
	t.Helper()
	var b []byte
	for _, e := range es {
		b = binary.BigEndian.AppendUint32(b, uint32(e[0]-base))
		b = binary.BigEndian.AppendUint32(b, uint32(e[1]))
	}
	b = append(b, extra...)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// rawTimeFile writes a time index file by hand, followed by extra bytes.
func rawTimeFile(t testing.TB, path string, base int64, es timeEntries, extra []byte) {
	t.Helper()
	var b []byte
	for _, e := range es {
		b = binary.BigEndian.AppendUint64(b, uint64(e[0]))
		b = binary.BigEndian.AppendUint32(b, uint32(e[1]-base))
	}
	b = append(b, extra...)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func newOffsetIndex(t testing.TB, base int64, maxBytes int, es offsetEntries) *OffsetIndex {
	t.Helper()
	ix, err := OpenOffsetIndex(nil, filepath.Join(t.TempDir(), "00000000000000000000.index"), base, maxBytes)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ix.Close() })
	for _, e := range es {
		require.NoError(t, ix.Append(e[0], uint32(e[1])))
	}
	return ix
}

func newTimeIndex(t testing.TB, base int64, maxBytes int, es timeEntries) *TimeIndex {
	t.Helper()
	ti, err := OpenTimeIndex(nil, filepath.Join(t.TempDir(), "00000000000000000000.timeindex"), base, maxBytes)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ti.Close() })
	for _, e := range es {
		require.NoError(t, ti.Append(e[0], e[1]))
	}
	return ti
}

func offsetContents(ix *OffsetIndex) offsetEntries {
	b, n := ix.m.view()
	out := offsetEntries{}
	for i := range n {
		rel, pos := offsetEntry(b, i)
		out = append(out, [2]int64{ix.m.base + int64(rel), int64(pos)})
	}
	return out
}

func timeContents(ti *TimeIndex) timeEntries {
	b, n := ti.m.view()
	out := timeEntries{}
	for i := range n {
		ts, rel := timeEntry(b, i)
		out = append(out, [2]int64{ts, ti.m.base + int64(rel)})
	}
	return out
}
