//go:build linux

package commitlog

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// mountTmpfs mounts a tmpfs of the given size (e.g. "20m") on a new
// directory: a real, small file system that runs out of space. Mounting
// needs root; CI runs as root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot test a full disk: mounting a %s tmpfs at %s was refused (%v); this test needs root (CI runs as root)", size, dir, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// TestFullDiskTmpfs fills a 20 MiB tmpfs with durable appends: the append
// that meets the full disk fails with ENOSPC (it used to kill the process
// with SIGBUS through the memory-mapped index), nothing acknowledged is
// lost, and the broker takes appends again once space is freed.
func TestFullDiskTmpfs(t *testing.T) {
	dir := mountTmpfs(t, "20m")
	data := filepath.Join(dir, "data")
	filler := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 4<<20), 0o644))

	b := openBroker(t, data)
	const parts = 8
	_, err := b.CreateTopic("t", TopicConfig{Partitions: parts, SegmentBytes: 1 << 20, Retention: new(time.Duration(-1)), IndexIntervalBytes: new(128)})
	require.NoError(t, err)
	var acked [parts][]rec
	var full error
	// Round-robin over the partitions until every one of them has failed
	// several times in a row: appends that meet the full disk in the log
	// file, in an index, and in a roll.
	// Once full, single records keep trying: one that still fits in the
	// last page of its log file may need a new page of index.
	for i, fails := 0, 0; fails < 2000 && i < 1000000; i++ {
		p := mustPartition(t, b, "t", int32(i%parts))
		n := 1 + i%37
		if full != nil {
			n = 1
		}
		info, err := p.Append(newBatch(t, fmt.Sprintf("b%d", i), n, 1000), i%3 == 0)
		if err != nil {
			full, fails = err, fails+1
			require.True(t, vfs.IsNoSpace(err), "want ENOSPC, got %v", err)
			continue
		}
		fails = 0
		for j := range n {
			acked[i%parts] = append(acked[i%parts], rec{info.BaseOffset + int64(j), fmt.Sprintf("b%d/%d", i, j), 1000})
		}
	}
	require.Error(t, full, "the disk never filled")

	// Roll every partition on the full disk: a roll seals the old segment
	// (its final time index entry) and creates new files.
	for i := range parts {
		_ = mustPartition(t, b, "t", int32(i)).log.Roll()
	}
	// Close on the full disk may fail (the indexes cannot be written), but
	// loses nothing: the next Open recovers.
	_ = b.Close()
	require.NoError(t, os.Remove(filler))
	b = openBroker(t, data)
	for i := range parts {
		p := mustPartition(t, b, "t", int32(i))
		require.Equal(t, acked[i], readAll(t, p), "partition %d after a close on a full disk", i)
		info, err := p.Append(newBatch(t, "after", 100, 1000), true)
		require.NoError(t, err, "partition %d: appends work again once space is freed", i)
		for j := range 100 {
			acked[i] = append(acked[i], rec{info.BaseOffset + int64(j), fmt.Sprintf("after/%d", j), 1000})
		}
	}
	require.NoError(t, b.Close())
	b = openBroker(t, data)
	for i := range parts {
		require.Equal(t, acked[i], readAll(t, mustPartition(t, b, "t", int32(i))))
	}
}

// TestCrashReopenTmpfs writes to a broker on a small tmpfs from a child
// process that exits without closing it (the files are as kill -9 leaves
// them), then reopens the directory. Reopening once mapped and scanned the
// full preallocated size of every index, which a small tmpfs cannot hold.
func TestCrashReopenTmpfs(t *testing.T) {
	if dir := os.Getenv("COMMITLOG_TMPFS_CHILD"); dir != "" {
		tmpfsChild(t, dir)
		return
	}
	dir := mountTmpfs(t, "20m")
	data := filepath.Join(dir, "data")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashReopenTmpfs$", "-test.count=1")
	cmd.Env = append(os.Environ(), "COMMITLOG_TMPFS_CHILD="+data)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]))
	require.NoError(t, err, "child printed %q", out)
	require.Equal(t, 20000, n)

	b := openBroker(t, data)
	total := 0
	for i := range 8 {
		total += len(readAll(t, mustPartition(t, b, "t", int32(i))))
	}
	require.Equal(t, n, total, "every record the child appended is there")
}

// tmpfsChild appends to 8 partitions, prints the record count and exits
// without closing the broker.
func tmpfsChild(t *testing.T, dir string) {
	b, err := Open(dir)
	require.NoError(t, err)
	_, err = b.CreateTopic("t", TopicConfig{Partitions: 8, SegmentBytes: 256 << 10, Retention: new(time.Duration(-1))})
	require.NoError(t, err)
	n := 0
	for i := range 400 {
		p := mustPartition(t, b, "t", int32(i%8))
		_, err := p.Append(newBatch(t, fmt.Sprintf("b%d", i), 50, 1000), i%10 == 0)
		require.NoError(t, err)
		n += 50
	}
	fmt.Println(n)
	os.Exit(0) // no Close: the files stay as a crash leaves them
}
