package index

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenIndex opens arbitrary bytes as an offset index and as a time
// index: Open, SanityCheck, the lookups and an Append must never panic,
// and an index that passes SanityCheck answers lookups with entries that
// are really in it.
func FuzzOpenIndex(f *testing.F) {
	var good []byte
	for i := range 5 {
		good = binary.BigEndian.AppendUint32(good, uint32(i*10))
		good = binary.BigEndian.AppendUint32(good, uint32(i*4096))
	}
	f.Add(good, int64(100))
	f.Add(good[:13], int64(0))
	f.Add(make([]byte, 64), int64(7))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}, int64(1<<40))
	var ts []byte
	for i := range 4 {
		ts = binary.BigEndian.AppendUint64(ts, uint64(1000+i))
		ts = binary.BigEndian.AppendUint32(ts, uint32(i))
	}
	f.Add(ts, int64(5))
	f.Fuzz(func(t *testing.T, data []byte, base int64) {
		if base < 0 {
			base = -base
		}
		if base < 0 {
			base = 0
		}
		dir := t.TempDir()
		for _, kind := range []string{"index", "timeindex"} {
			path := filepath.Join(dir, "x."+kind)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if kind == "index" {
				ix, err := OpenOffsetIndex(nil, path, base, 1<<16)
				if err != nil {
					continue
				}
				sane := ix.SanityCheck(1<<31) == nil
				for _, off := range []int64{base - 1, base, base + 15, base + 1<<33} {
					got, pos := ix.Lookup(off)
					if sane && off >= base && got > off {
						t.Fatalf("Lookup(%d) = %d, %d: an entry after the offset", off, got, pos)
					}
				}
				_, _, _ = ix.LastEntry()
				_ = ix.Append(base+1<<20, 1<<30)
				_ = ix.Close()
				continue
			}
			ti, err := OpenTimeIndex(nil, path, base, 1<<16)
			if err != nil {
				continue
			}
			_ = ti.SanityCheck(base + 1<<33)
			for _, ts := range []int64{-1, 0, 1001, 1 << 62} {
				_, _, _ = ti.Lookup(ts)
				_, _, _ = ti.FirstAtOrAfter(ts)
			}
			_ = ti.Append(1<<62, base+1<<20)
			_ = ti.Close()
		}
	})
}
