package log

import (
	"errors"
	"fmt"
	"github.com/commitlog-go/commitlog/internal/testenv"
	"math/rand/v2"
	"testing"

	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// TestPowerCutLog appends and syncs at random and cuts the power at a
// random point (vfs.MemFS.Crash): the reopened log must hold every record
// that a Sync covered, and every record it holds must be the one written
// at that offset. Half the cuts keep nothing unsynced, half keep a random
// part of the unsynced pages, as a disk may.
func TestPowerCutLog(t *testing.T) {
	n := testenv.Int(t, "COMMITLOG_POWERCUT_TRIALS", 300)
	for trial := range n {
		r := rand.New(rand.NewPCG(7, uint64(trial)))
		m := vfs.NewMem()
		require.NoError(t, vfs.MkdirAllSync(m, "/data"))
		cfg := testConfig()
		cfg.FS = m
		cfg.SegmentBytes = int64(1<<10 + r.IntN(4<<10))
		l, err := Open("/data/t-0", cfg)
		require.NoError(t, err)

		written := map[int64]string{}
		durable := int64(0)
		ops := r.IntN(120)
		for op := range ops {
			switch r.IntN(10) {
			case 0, 1:
				require.NoError(t, l.Sync())
				durable = l.EndOffset()
			case 2:
				_, err := l.Maintain()
				require.NoError(t, err)
			default:
				tag := fmt.Sprintf("t%d-op%d", trial, op)
				count := 1 + r.IntN(5)
				info, err := l.Append(batchOf(t, tag, count, 1000, r.IntN(300)))
				require.NoError(t, err)
				for i := range count {
					written[info.BaseOffset+int64(i)] = fmt.Sprintf("%s/%d/", tag, i)
				}
			}
		}
		var crashRand *rand.Rand
		if trial%2 == 1 {
			crashRand = r
		}
		after := m.Crash(crashRand)
		cfg.FS = after
		l2, err := Open("/data/t-0", cfg)
		require.NoError(t, err, "trial %d: Open after a power cut", trial)
		require.GreaterOrEqual(t, l2.EndOffset(), durable, "trial %d: synced records lost", trial)
		for _, rec := range readAll(t, l2, l2.StartOffset()) {
			want, ok := written[rec.Offset]
			require.True(t, ok, "trial %d: offset %d was never written", trial, rec.Offset)
			require.Equal(t, want, rec.Value[:len(want)], "trial %d: offset %d", trial, rec.Offset)
		}
		require.NoError(t, l2.Close())
		_ = l.Close() // the process that "lost power"; its file system is gone
	}
}

// TestFullDiskLog fills a small file system: appends fail with a clear
// error (never a crash), nothing acknowledged is lost, and the log works
// again once space is freed.
func TestFullDiskLog(t *testing.T) {
	m := vfs.NewMem()
	cfg := testConfig()
	cfg.FS = m
	cfg.SegmentBytes = 8 << 10
	l, err := Open("/data/t-0", cfg)
	require.NoError(t, err)
	require.NoError(t, vfs.WriteFile(m, "/data/filler", make([]byte, 1000), true))
	m.SetCapacity(m.Used() + 40<<10)

	var acked []int64
	var full error
	for i := 0; full == nil && i < 10000; i++ {
		info, err := l.Append(batchOf(t, fmt.Sprintf("b%d", i), 3, 1000, 200))
		if err != nil {
			full = err
			break
		}
		acked = append(acked, info.BaseOffset)
		if err := l.Sync(); err != nil {
			full = err
		}
	}
	require.Error(t, full, "the disk never filled")
	require.True(t, vfs.IsNoSpace(full), "a full disk is reported as such: %v", full)
	end := l.EndOffset()
	_, err = l.Append(batchOf(t, "again", 3, 1000, 200))
	require.True(t, vfs.IsNoSpace(err), "still full: %v", err)
	require.Equal(t, end, l.EndOffset(), "a failed append assigns no offsets")

	// Free space: appends work again, and every acknowledged record reads back.
	m.SetCapacity(0)
	info, err := l.Append(batchOf(t, "after", 3, 1000, 200))
	require.NoError(t, err)
	require.Equal(t, end, info.BaseOffset)
	require.NoError(t, l.Close())
	l, err = Open("/data/t-0", cfg)
	require.NoError(t, err)
	defer l.Close()
	recs := readAll(t, l, 0)
	require.Len(t, recs, int(end)+3)
	for _, base := range acked {
		require.Equal(t, base, recs[base].Offset)
	}
	require.False(t, errors.Is(full, ErrCorrupt))
}
