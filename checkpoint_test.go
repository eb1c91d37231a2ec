package commitlog

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"

	"github.com/stretchr/testify/require"
)

func TestCheckpointFormat(t *testing.T) {
	m := map[topicPartition]int64{{"b", 1}: 7, {"a", 10}: 0, {"a", 2}: 123456789012}
	data := encodeCheckpoint(m)
	require.Equal(t, "0\n3\na 2 123456789012\na 10 0\nb 1 7\n", string(data), "Kafka's format, sorted")
	got, err := decodeCheckpoint("x", data)
	require.NoError(t, err)
	require.Equal(t, m, got)

	got, err = decodeCheckpoint("x", []byte("0\n0\n"))
	require.NoError(t, err)
	require.Empty(t, got)

	for _, bad := range []string{
		"", "0\n", "1\n0\n", "0\n1\n", "0\n1\na 0 1", "0\n2\na 0 1\n", "0\n1\na 0 -1\n",
		"0\n1\na -1 1\n", "0\n1\n../x 0 1\n", "0\n1\na 0 1 2\n", "0\n2\na 0 1\na 0 2\n",
		"0\n1\na  0 1\n", "0\n-1\n", "0\n1\na 99999999999 1\n",
	} {
		_, err := decodeCheckpoint("x", []byte(bad))
		require.ErrorIs(t, err, ErrCorrupt, "%q", bad)
	}
}

// FuzzDecodeCheckpoint: never a panic, and whatever decodes re-encodes to
// the same entries.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\norders 0 100\n__consumer_offsets 3 5\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\n.. 0 1\n"))
	f.Add([]byte("0\n1\na 0 9223372036854775807\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeCheckpoint("fuzz", data)
		if err != nil {
			return
		}
		again, err := decodeCheckpoint("fuzz", encodeCheckpoint(m))
		if err != nil {
			t.Fatalf("re-encoded checkpoint does not decode: %v", err)
		}
		require.Equal(t, m, again)
		for k, off := range m {
			if ValidateTopicName(k.topic) != nil || k.partition < 0 || off < 0 {
				t.Fatalf("accepted %v %d", k, off)
			}
		}
	})
}

// checkpointFixture makes a broker with topic "t" (one partition, small
// segments, so several sealed ones) holding n batches of 10 records, and
// returns the records. The broker is left open.
func checkpointFixture(t *testing.T, dir string, n int) (*Broker, []rec) {
	t.Helper()
	b := openBroker(t, dir, WithoutExpvar(), WithMaintenanceInterval(0))
	_, err := b.CreateTopic("t", TopicConfig{SegmentBytes: 2 << 10, IndexIntervalBytes: new(256), Retention: new(time.Duration(-1))})
	require.NoError(t, err)
	p := mustPartition(t, b, "t", 0)
	var all []rec
	for i := range n {
		all = append(all, appendBatch(t, p, fmt.Sprintf("b%d", i), 10)...)
	}
	require.Greater(t, p.log.NumSegments(), 3)
	return b, all
}

func segmentLogs(t *testing.T, dir string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "t-0", "*.log"))
	require.NoError(t, err)
	sort.Strings(logs)
	return logs
}

func TestCheckpointFilesWritten(t *testing.T) {
	dir := t.TempDir()
	b, all := checkpointFixture(t, dir, 80)
	require.NoError(t, b.Close())
	for _, name := range []string{RecoveryPointCheckpointFile, LogStartOffsetCheckpointFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		m, err := decodeCheckpoint(name, data)
		require.NoError(t, err)
		want := int64(len(all)) // the recovery point after a clean close is the end
		if name == LogStartOffsetCheckpointFile {
			want = 0
		}
		require.Equal(t, map[topicPartition]int64{{"t", 0}: want}, m, name)
	}
}

// TestMissingSegmentsAreCorrupt: segments that vanish from a log are
// ErrCorrupt at Open, never a silently shorter log: the first ones (the
// log-start checkpoint says where the log began), the last ones (the
// recovery point says how far it was fsynced).
func TestMissingSegmentsAreCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(logs []string) []string
		want   string
	}{
		{"first segment", func(l []string) []string { return l[:1] }, "are missing"},
		{"two first segments", func(l []string) []string { return l[:2] }, "are missing"},
		{"last segment", func(l []string) []string { return l[len(l)-1:] }, "below its recovery point"},
		{"two last segments", func(l []string) []string { return l[len(l)-2:] }, "below its recovery point"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, _ := checkpointFixture(t, dir, 80)
			require.NoError(t, b.Close())
			for _, f := range tc.remove(segmentLogs(t, dir)) {
				require.NoError(t, os.Remove(f))
			}
			_, err := Open(dir, WithoutExpvar())
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestDamageBelowRecoveryPointIsCorrupt: after a crash, damage in the
// active segment below the recovery point (records that were fsynced) is
// ErrCorrupt and the file is left as it is; damage above it is a torn
// tail, cut and logged.
func TestDamageBelowRecoveryPointIsCorrupt(t *testing.T) {
	for _, below := range []bool{true, false} {
		t.Run(fmt.Sprintf("below=%v", below), func(t *testing.T) {
			dir := t.TempDir()
			b := openBroker(t, dir, WithoutExpvar(), WithMaintenanceInterval(0))
			_, err := b.CreateTopic("t", TopicConfig{Retention: new(time.Duration(-1))})
			require.NoError(t, err)
			p := mustPartition(t, b, "t", 0)
			var all []rec
			for i := range 10 {
				all = append(all, appendBatch(t, p, fmt.Sprintf("b%d", i), 10)...)
				if i == 6 {
					require.NoError(t, p.SyncTo(p.LogEndOffset()))
					require.NoError(t, b.writeCheckpoints()) // recovery point 70
				}
			}
			crashed := t.TempDir()
			require.NoError(t, snapshot(dir, crashed)) // what a crash leaves: no marker
			require.NoError(t, b.Close())

			file := segmentLogs(t, crashed)[0]
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			pos := batchStarts(data)
			victim := pos[8] // offsets 80..89: above the recovery point
			if below {
				victim = pos[3] // offsets 30..39: fsynced
			}
			data[victim+record.HeaderSize+3] ^= 0xff // a record byte: the CRC fails
			require.NoError(t, os.WriteFile(file, data, 0o644))

			b2, err := Open(crashed, WithoutExpvar())
			if below {
				require.ErrorIs(t, err, ErrCorrupt)
				require.ErrorContains(t, err, "recovery point")
				after, rerr := os.ReadFile(file)
				require.NoError(t, rerr)
				require.Equal(t, data, after, "the file is left as it was")
				return
			}
			require.NoError(t, err)
			defer b2.Close()
			require.Equal(t, all[:80], readAll(t, mustPartition(t, b2, "t", 0)), "the torn tail above the recovery point is cut")
		})
	}
}

// TestRetentionCutShortByCrash: retention records the new log start
// offset before it removes segment files; a crash in between leaves files
// below the log start, which the next Open removes as garbage (and only
// those).
func TestRetentionCutShortByCrash(t *testing.T) {
	dir := t.TempDir()
	b, all := checkpointFixture(t, dir, 80)
	require.NoError(t, b.Close())
	logs := segmentLogs(t, dir)
	start, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(logs[3]), ".log"), 10, 64)
	require.NoError(t, err)
	// What retention of the first three segments writes before it removes them.
	require.NoError(t, os.WriteFile(filepath.Join(dir, LogStartOffsetCheckpointFile),
		encodeCheckpoint(map[topicPartition]int64{{"t", 0}: start}), 0o644))

	b = openBroker(t, dir, WithoutExpvar())
	p := mustPartition(t, b, "t", 0)
	require.Equal(t, start, p.LogStartOffset())
	require.Equal(t, all[start:], readAll(t, p))
	require.Equal(t, logs[3:], segmentLogs(t, dir), "the segments below the log start are gone, the rest stay")
}

func TestDamagedCheckpointFileIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	b, _ := checkpointFixture(t, dir, 80)
	require.NoError(t, b.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, RecoveryPointCheckpointFile), []byte("0\n1\nt 0 x\n"), 0o644))
	_, err := Open(dir, WithoutExpvar())
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, RecoveryPointCheckpointFile)
}

// TestDamagedLogStartRemovesNothing: a log start offset that is no
// segment's base offset removes no segment (retention only ever moves the
// start to a segment boundary; DeleteRecordsBefore, which may put it
// inside one, removes the segments below it itself): Open only hides the
// records below it. One past the log end is damage: Open refuses it.
func TestDamagedLogStartRemovesNothing(t *testing.T) {
	dir := t.TempDir()
	b, _ := checkpointFixture(t, dir, 80)
	require.NoError(t, b.Close())
	logs := segmentLogs(t, dir)
	start, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(logs[3]), ".log"), 10, 64)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, LogStartOffsetCheckpointFile),
		encodeCheckpoint(map[topicPartition]int64{{"t", 0}: start + 1}), 0o644))
	b, err = Open(dir, WithoutExpvar())
	require.NoError(t, err)
	require.Equal(t, start+1, mustPartition(t, b, "t", 0).LogStartOffset())
	require.NoError(t, b.Close())
	require.Equal(t, logs, segmentLogs(t, dir), "no segment removed")

	require.NoError(t, os.WriteFile(filepath.Join(dir, LogStartOffsetCheckpointFile),
		encodeCheckpoint(map[topicPartition]int64{{"t", 0}: 1 << 40}), 0o644))
	_, err = Open(dir, WithoutExpvar())
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "past the log end offset")
	require.Equal(t, logs, segmentLogs(t, dir), "no segment removed")
}

// renameFailFS fails the next rename onto a file with the given name.
type renameFailFS struct {
	vfs.FS
	name string
	arm  atomic.Bool
}

func (f *renameFailFS) Rename(from, to string) error {
	if filepath.Base(to) == f.name && f.arm.CompareAndSwap(true, false) {
		return fmt.Errorf("injected failure renaming %s", to)
	}
	return f.FS.Rename(from, to)
}

// TestStaleCheckpointAfterFailedDelete: when DeleteTopic cannot rewrite
// the checkpoint files, a topic created again under the name must still
// not be checked against the old topic's offsets after a power cut.
func TestStaleCheckpointAfterFailedDelete(t *testing.T) {
	m := vfs.NewMem()
	fsys := &renameFailFS{FS: m, name: RecoveryPointCheckpointFile}
	b, err := Open("/data", WithFS(fsys), WithoutExpvar(), WithMaintenanceInterval(0))
	require.NoError(t, err)
	_, err = b.CreateTopic("t", TopicConfig{})
	require.NoError(t, err)
	p := mustPartition(t, b, "t", 0)
	for i := range 5 {
		appendBatch(t, p, fmt.Sprintf("old%d", i), 10)
	}
	require.NoError(t, p.SyncTo(p.LogEndOffset()))
	require.NoError(t, b.writeCheckpoints()) // t-0 recovery point 50

	fsys.arm.Store(true)
	require.Error(t, b.DeleteTopic("t"), "the checkpoint rewrite fails")
	_, err = b.CreateTopic("t", TopicConfig{})
	require.NoError(t, err)
	p = mustPartition(t, b, "t", 0)
	want := appendBatch(t, p, "new", 5)
	require.NoError(t, p.SyncTo(p.LogEndOffset()))

	after := m.Crash(nil)
	b2, err := Open("/data", WithFS(after), WithoutExpvar())
	require.NoError(t, err, "the new topic is checked against the old one's recovery point")
	defer b2.Close()
	require.Equal(t, want, readAll(t, mustPartition(t, b2, "t", 0)))
	_ = b.Close()
}
