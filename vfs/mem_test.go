package vfs

import (
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func write(t *testing.T, fsys FS, name, data string, sync bool) {
	t.Helper()
	require.NoError(t, WriteFile(fsys, name, []byte(data), sync))
}

func TestMemCrashKeepsOnlyWhatWasSynced(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, m *MemFS)
		want  map[string]string // file -> contents after the crash; "" absent
	}{
		{"unsynced file and dir entry are lost", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "x", false)
		}, map[string]string{"/d/a": ""}},
		{"synced file in an unsynced dir is lost", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "x", true)
		}, map[string]string{"/d/a": ""}},
		{"synced file and dir survive", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "x", true)
			require.NoError(t, m.SyncDir("/d"))
		}, map[string]string{"/d/a": "x"}},
		{"entry synced, data not: empty file", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "x", false)
			require.NoError(t, m.SyncDir("/d"))
		}, map[string]string{"/d/a": "\x00"}},
		{"writes after the sync are lost", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "x", true)
			require.NoError(t, m.SyncDir("/d"))
			f, err := m.OpenFile("/d/a", os.O_RDWR, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("yz"), 1)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, map[string]string{"/d/a": "x"}},
		{"unsynced rename is undone", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "x", true)
			require.NoError(t, m.SyncDir("/d"))
			require.NoError(t, m.Rename("/d/a", "/d/b"))
		}, map[string]string{"/d/a": "x", "/d/b": ""}},
		{"atomic write replaces", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "old", true)
			require.NoError(t, m.SyncDir("/d"))
			require.NoError(t, WriteAtomic(m, "/d/a", []byte("new")))
		}, map[string]string{"/d/a": "new", "/d/a.tmp": ""}},
		{"unsynced remove is undone", func(t *testing.T, m *MemFS) {
			write(t, m, "/d/a", "x", true)
			require.NoError(t, m.SyncDir("/d"))
			require.NoError(t, m.RemoveAll("/d/a"))
		}, map[string]string{"/d/a": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMem()
			require.NoError(t, m.MkdirAll("/d", 0o755))
			require.NoError(t, m.SyncDir("/"))
			tt.setup(t, m)
			c := m.Crash(nil)
			for name, want := range tt.want {
				got, err := c.ReadFile(name)
				if want == "" {
					require.ErrorIs(t, err, os.ErrNotExist, name)
					continue
				}
				require.NoError(t, err, name)
				if want == "\x00" {
					want = ""
				}
				require.Equal(t, want, string(got), name)
			}
		})
	}
}

func TestMemCrashWithRandomKeepsSyncedPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		m := NewMem()
		require.NoError(t, m.MkdirAll("/d", 0o755))
		require.NoError(t, m.SyncDir("/"))
		f, err := m.OpenFile("/d/a", os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err)
		synced := make([]byte, 10000)
		for i := range synced {
			synced[i] = 'a'
		}
		_, err = f.WriteAt(synced, 0)
		require.NoError(t, err)
		require.NoError(t, f.Sync())
		require.NoError(t, m.SyncDir("/d"))
		more := make([]byte, 20000)
		for i := range more {
			more[i] = 'b'
		}
		_, err = f.WriteAt(more, 10000)
		require.NoError(t, err)
		got, err := m.Crash(r).ReadFile("/d/a")
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(got), len(synced))
		require.Equal(t, synced, got[:len(synced)])
		for _, c := range got[len(synced):] {
			require.Contains(t, []byte{0, 'b'}, c)
		}
	}
}

func TestMemNoSpace(t *testing.T) {
	m := NewMem()
	m.SetCapacity(100)
	f, err := m.OpenFile("/a", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	n, err := f.WriteAt(make([]byte, 150), 0)
	require.True(t, IsNoSpace(err), "err %v", err)
	require.Equal(t, 100, n)
	require.NoError(t, f.Truncate(20))
	_, err = f.WriteAt(make([]byte, 50), 20)
	require.NoError(t, err)
	require.NoError(t, m.Remove("/a"))
	require.Equal(t, int64(70), m.Used(), "an open file holds its space after it is removed, as on a disk")
	require.NoError(t, f.Truncate(0))
	require.Zero(t, m.Used())
	_, err = f.WriteAt(make([]byte, 30), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Zero(t, m.Used(), "closing the last handle frees it")
	_, err = m.OpenFile("/b", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	g, err := m.OpenFile("/b", os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = g.WriteAt(make([]byte, 150), 0)
	require.True(t, IsNoSpace(err), "the capacity still holds: %v", err)
}

func TestMemLock(t *testing.T) {
	m := NewMem()
	l, err := m.Lock("/.lock")
	require.NoError(t, err)
	_, err = m.Lock("/.lock")
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
	l, err = m.Lock("/.lock")
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestOSLock(t *testing.T) {
	path := t.TempDir() + "/.lock"
	l, err := OS.Lock(path)
	require.NoError(t, err)
	_, err = OS.Lock(path)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
}

func TestMemReadAt(t *testing.T) {
	m := NewMem()
	write(t, m, "/a", "hello", false)
	f, err := m.OpenFile("/a", os.O_RDONLY, 0)
	require.NoError(t, err)
	buf := make([]byte, 10)
	n, err := f.ReadAt(buf, 2)
	require.Equal(t, 3, n)
	require.ErrorIs(t, err, io.EOF)
	_, err = f.WriteAt([]byte("x"), 0)
	require.Error(t, err)
	entries, err := m.ReadDir("/")
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "a", entries[0].Name())
}
