package log

import (
	"path/filepath"
	"testing"

	"github.com/commitlog-go/commitlog/vfs"
)

// FuzzReadCleanerCheckpoint reads arbitrary bytes as the cleaner's
// checkpoint file: never a panic, and what it accepts is in range and
// writes back to a file that reads the same.
func FuzzReadCleanerCheckpoint(f *testing.F) {
	f.Add([]byte("0\n100 -1\n"))
	f.Add([]byte("0\n-1 1700000000000\n"))
	f.Add([]byte("1\n5 5\n"))
	f.Add([]byte("0\n-2 0\n"))
	f.Add([]byte("0\n9223372036854775807 9223372036854775807"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := vfs.NewMem()
		if err := vfs.WriteFile(m, filepath.Join("/d", CleanerCheckpointFile), data, false); err != nil {
			if err := m.MkdirAll("/d", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := vfs.WriteFile(m, filepath.Join("/d", CleanerCheckpointFile), data, false); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := readCheckpoint(m, "/d")
		if err != nil {
			return
		}
		if cp.firstDirty < -1 || cp.deleteHorizon < -1 {
			t.Fatalf("accepted out-of-range checkpoint %+v", cp)
		}
		if err := writeCheckpoint(m, "/d", cp); err != nil {
			t.Fatal(err)
		}
		again, err := readCheckpoint(m, "/d")
		if err != nil || again != cp {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, cp)
		}
	})
}
