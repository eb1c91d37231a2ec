package commitlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// topicSpec names a topic and its partition count.
type topicSpec struct {
	name  string
	parts int32
}

// fixture creates the given topics with a few records in every partition,
// closes the broker and returns what it wrote.
func fixture(t *testing.T, dir string, topics ...topicSpec) map[string][][]rec {
	t.Helper()
	b, err := Open(dir, WithoutExpvar())
	require.NoError(t, err)
	data := map[string][][]rec{}
	for _, tp := range topics {
		_, err := b.CreateTopic(tp.name, smallIndexes(TopicConfig{Partitions: tp.parts}))
		require.NoError(t, err)
		for id := int32(0); id < tp.parts; id++ {
			data[tp.name] = append(data[tp.name], appendBatch(t, mustPartition(t, b, tp.name, id), fmt.Sprintf("%s-%d", tp.name, id), 3))
		}
	}
	require.NoError(t, b.Close())
	return data
}

// logSizes maps every *.log file under dir (relative path) to its size:
// what must survive an Open that fails.
func logSizes(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = info.Size()
		return nil
	}))
	return out
}

func editMeta(t *testing.T, dir string, edit func([]byte) []byte) {
	t.Helper()
	path := filepath.Join(dir, metaFile)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, edit(data), 0o644))
}

// requireRefused checks that Open fails with ErrCorrupt, that the message
// says each of want, and that no segment file changed.
func requireRefused(t *testing.T, dir string, want ...string) {
	t.Helper()
	before := logSizes(t, dir)
	dirsBefore := subdirs(t, dir)
	_, err := Open(dir, WithoutExpvar())
	require.ErrorIs(t, err, ErrCorrupt)
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
	require.Equal(t, before, logSizes(t, dir), "a refused Open changed segment files")
	require.ElementsMatch(t, dirsBefore, subdirs(t, dir), "a refused Open changed the directories")
}

// TestOpenMissingMetaKeepsData: with meta.json gone, Open started an empty
// broker and removed every partition directory, records and committed
// offsets included.
func TestOpenMissingMetaKeepsData(t *testing.T) {
	dir := t.TempDir()
	fixture(t, dir, topicSpec{"orders", 2})
	require.NoError(t, os.Rename(filepath.Join(dir, metaFile), filepath.Join(dir, metaFile+".tmp")))
	requireRefused(t, dir, metaFile, "orders-0", "WithRecoverMetadata")
	require.FileExists(t, filepath.Join(dir, metaFile+".tmp"), "a refused Open changes nothing")
}

// TestCreateTopicKeepsUnknownData: CreateTopic and AddPartitions removed
// any directory in the way of a new partition, "left by an earlier failed
// attempt"; now only one that is provably garbage.
func TestCreateTopicKeepsUnknownData(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir, WithoutExpvar())
	_, err := b.CreateTopic("t", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	for _, name := range []string{"fresh-1", "t-2"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, name), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name, "00000000000000000000.log"), []byte("data"), 0o644))
	}
	// An empty leftover is in the way of neither.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "fresh-0"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "t-1"), 0o755))

	_, err = b.CreateTopic("fresh", smallIndexes(TopicConfig{Partitions: 2}))
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "fresh-1")
	require.ErrorIs(t, b.AddPartitions("t", 3), ErrCorrupt)
	require.Equal(t, []string{"t"}, b.Topics())
	require.Equal(t, int32(1), mustTopic(t, b, "t").NumPartitions())
	for _, name := range []string{"fresh-1", "t-2"} {
		data, err := os.ReadFile(filepath.Join(dir, name, "00000000000000000000.log"))
		require.NoError(t, err)
		require.Equal(t, "data", string(data))
	}
	require.ElementsMatch(t, []string{"t-0", "fresh-1", "t-2"}, subdirs(t, dir), "the failed changes cleaned up after themselves")

	// A deleted topic's directories, recorded in the metadata, are
	// garbage even when they hold data.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "fresh-1")))
	_, err = b.CreateTopic("gone", smallIndexes(TopicConfig{Partitions: 2}))
	require.NoError(t, err)
	require.NoError(t, b.DeleteTopic("gone"))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "gone-1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gone-1", "00000000000000000000.log"), []byte("old"), 0o644))
	_, err = b.CreateTopic("gone", smallIndexes(TopicConfig{Partitions: 2}))
	require.NoError(t, err)
	require.Empty(t, readAll(t, mustPartition(t, b, "gone", 1)))
}

// TestOpenFlippedTopicNameKeepsData: one flipped byte in a topic name in
// meta.json made Open create the misspelt topic empty and remove the
// directories of the real one.
func TestOpenFlippedTopicNameKeepsData(t *testing.T) {
	dir := t.TempDir()
	fixture(t, dir, topicSpec{"orders", 2}, topicSpec{"other", 1})
	editMeta(t, dir, func(b []byte) []byte { return bytes.Replace(b, []byte(`"orders"`), []byte(`"ordfrs"`), 1) })
	requireRefused(t, dir, "orders-0", "orders-1", "WithRecoverMetadata")
	require.NoDirExists(t, filepath.Join(dir, "ordfrs-0"))
}

// TestOpenDamagedMetaKeepsData: meta.json cut short or overwritten.
func TestOpenDamagedMetaKeepsData(t *testing.T) {
	for name, edit := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"empty":     func([]byte) []byte { return nil },
		"zeros":     func(b []byte) []byte { return make([]byte, len(b)) },
		"null":      func([]byte) []byte { return []byte("null") },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fixture(t, dir, topicSpec{"orders", 1})
			editMeta(t, dir, edit)
			requireRefused(t, dir, metaFile, "WithRecoverMetadata")
		})
	}
}

// TestOpenMissingPartitionDir: a partition that meta.json names but whose
// directory is gone is damage (partition directories are made durable
// before the metadata names them); Open recreated it empty.
func TestOpenMissingPartitionDir(t *testing.T) {
	dir := t.TempDir()
	fixture(t, dir, topicSpec{"orders", 3})
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "orders-1")))
	requireRefused(t, dir, "orders-1", "WithRecoverMetadata")
}

// TestMetaPrevKept: every metadata change keeps the metadata it replaces
// as meta.json.prev; when meta.json is damaged Open says the older copy
// exists but does not use it.
func TestMetaPrevKept(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir, WithoutExpvar())
	_, err := b.CreateTopic("first", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	one, err := os.ReadFile(filepath.Join(dir, metaFile))
	require.NoError(t, err)
	_, err = b.CreateTopic("second", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	prev, err := os.ReadFile(filepath.Join(dir, metaFile+".prev"))
	require.NoError(t, err)
	require.Equal(t, one, prev)
	appendBatch(t, mustPartition(t, b, "second", 0), "s", 2)
	require.NoError(t, b.Close())

	editMeta(t, dir, func(b []byte) []byte { return b[:len(b)-3] })
	requireRefused(t, dir, metaFile+".prev", "WithRecoverMetadata")
	require.NoError(t, os.Remove(filepath.Join(dir, metaFile)))
	requireRefused(t, dir, metaFile+".prev", "WithRecoverMetadata")
}

// TestOpenLeftovers: what Open may remove (the empty partition directories
// of a change that never committed, directories renamed aside by a
// deletion, and partitions the metadata records as deleted) and what it
// must leave (anything else).
func TestOpenLeftovers(t *testing.T) {
	dir := t.TempDir()
	data := fixture(t, dir, topicSpec{"keep", 1})

	// The empty partitions of a CreateTopic that crashed before commit.
	fresh := filepath.Join(dir, "fresh-0")
	require.NoError(t, os.MkdirAll(fresh, 0o755))
	for _, f := range []string{"00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex"} {
		require.NoError(t, os.WriteFile(filepath.Join(fresh, f), nil, 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "fresh-1"), 0o755)) // crash right after mkdir
	aside := filepath.Join(dir, fmt.Sprintf("gone-0.%d%s", time.Now().UnixNano(), "-delete"))
	require.NoError(t, os.MkdirAll(aside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(aside, "00000000000000000000.log"), []byte("old data"), 0o644))
	// Not ours: a user's directory that happens to look like a partition
	// or a deleted one.
	notes := filepath.Join(dir, "notes-1")
	require.NoError(t, os.MkdirAll(notes, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(notes, "readme.txt"), []byte("mine"), 0o644))
	mine := filepath.Join(dir, "my-delete")
	require.NoError(t, os.MkdirAll(mine, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mine, "00000000000000000000.log"), []byte("mine"), 0o644))

	b := openBroker(t, dir, WithoutExpvar())
	require.Equal(t, []string{"keep"}, b.Topics())
	require.Equal(t, data["keep"][0], readAll(t, mustPartition(t, b, "keep", 0)))
	require.NoDirExists(t, fresh)
	require.NoDirExists(t, filepath.Join(dir, "fresh-1"))
	require.NoDirExists(t, aside)
	require.FileExists(t, filepath.Join(notes, "readme.txt"))
	require.FileExists(t, filepath.Join(mine, "00000000000000000000.log"))
	require.NoError(t, b.Close())

	// An unnamed partition directory whose only segment is empty but
	// starts past offset 0 had records once (retention removed them): its
	// offsets must not start over.
	past := filepath.Join(dir, "past-0")
	require.NoError(t, os.MkdirAll(past, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(past, "00000000000000000500.log"), nil, 0o644))
	requireRefused(t, dir, "past-0")
}

// TestOpenFirstCreateCrash: a crash during the very first CreateTopic of a
// new directory leaves empty partition directories and no meta.json: that
// is still an empty broker.
func TestOpenFirstCreateCrash(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir, WithoutExpvar())
	_, err := b.CreateTopic("t", smallIndexes(TopicConfig{Partitions: 2}))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, metaFile)))
	require.NoError(t, os.Remove(filepath.Join(dir, "t-0", ".kafka_cleanshutdown")))

	b = openBroker(t, dir, WithoutExpvar())
	require.Empty(t, b.Topics())
	require.Empty(t, subdirs(t, dir))
}

// TestDeletionRecordedInMeta: DeleteTopic commits the metadata before it
// moves the directories; the metadata records the deletion, so that after
// a crash in between Open removes exactly those directories, and forgets
// the record once they are gone.
func TestDeletionRecordedInMeta(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "live")
	crash := filepath.Join(t.TempDir(), "crash")
	b := openBroker(t, dir, WithoutExpvar(), withHook(func(step string) error {
		if step == "meta-committed" {
			if err := snapshot(dir, crash); err != nil {
				return err
			}
		}
		return nil
	}))
	_, err := b.CreateTopic("victim", smallIndexes(TopicConfig{Partitions: 2}))
	require.NoError(t, err)
	_, err = b.CreateTopic("keep", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	appendBatch(t, mustPartition(t, b, "victim", 1), "v", 2)
	require.NoError(t, b.DeleteTopic("victim"))
	require.NoError(t, b.Close())

	raw, err := os.ReadFile(filepath.Join(crash, metaFile))
	require.NoError(t, err)
	m, err := decodeMeta(raw)
	require.NoError(t, err)
	require.Equal(t, []deletedTopic{{Name: "victim", Partitions: 2}}, m.Deleted)
	require.DirExists(t, filepath.Join(crash, "victim-1"))

	b = openBroker(t, crash, WithoutExpvar())
	require.Equal(t, []string{"keep"}, b.Topics())
	require.ElementsMatch(t, []string{"keep-0"}, subdirs(t, crash))
	require.NoError(t, b.Close())
	raw, err = os.ReadFile(filepath.Join(crash, metaFile))
	require.NoError(t, err)
	m, err = decodeMeta(raw)
	require.NoError(t, err)
	require.Empty(t, m.Deleted, "the record outlived the directories")

	// A topic re-created under a deleted name keeps its directories.
	b = openBroker(t, crash, WithoutExpvar())
	_, err = b.CreateTopic("victim", smallIndexes(TopicConfig{Partitions: 1}))
	require.NoError(t, err)
	want := appendBatch(t, mustPartition(t, b, "victim", 0), "again", 2)
	require.NoError(t, b.Close())
	b = openBroker(t, crash, WithoutExpvar())
	require.Equal(t, want, readAll(t, mustPartition(t, b, "victim", 0)))
}

// lockedBuffer collects a logger's output from any goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestRecoverMetadata: WithRecoverMetadata rebuilds the topic list from
// the partition directories, with the settings of meta.json where it is
// readable, else of meta.json.prev where it names the topic, else the
// defaults, and the records stay readable.
func TestRecoverMetadata(t *testing.T) {
	for _, damage := range []string{"missing", "truncated", "flipped"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			b := openBroker(t, dir, WithoutExpvar())
			tuned := smallIndexes(TopicConfig{Partitions: 2, Retention: new(time.Duration(-1)), SegmentBytes: 4096, MessageTimestampType: 1})
			_, err := b.CreateTopic("tuned", tuned)
			require.NoError(t, err)
			_, err = b.OffsetsTopic(2)
			require.NoError(t, err)
			_, err = b.CreateTopic("grown", smallIndexes(TopicConfig{Partitions: 1, Retention: new(time.Hour)}))
			require.NoError(t, err)
			require.NoError(t, b.AddPartitions("grown", 3)) // meta.json.prev has 1 partition
			_, err = b.CreateTopic("newest", smallIndexes(TopicConfig{Partitions: 2, Retention: new(time.Minute)}))
			require.NoError(t, err) // not in meta.json.prev
			want := map[string][][]rec{}
			wantCfg := map[string]TopicConfig{}
			for _, name := range b.Topics() {
				wantCfg[name] = mustTopic(t, b, name).Config()
				for _, p := range mustTopic(t, b, name).Partitions() {
					for i := 0; i < 3; i++ {
						appendBatch(t, p, fmt.Sprintf("%s-%d-%d", name, p.ID(), i), 2)
					}
					want[name] = append(want[name], readAll(t, p))
				}
			}
			require.NoError(t, b.Close())

			switch damage {
			case "missing":
				require.NoError(t, os.Remove(filepath.Join(dir, metaFile)))
			case "truncated":
				editMeta(t, dir, func(b []byte) []byte { return b[:len(b)/3] })
			case "flipped":
				editMeta(t, dir, func(b []byte) []byte { return bytes.Replace(b, []byte(`"newest"`), []byte(`"nevest"`), 1) })
			}
			requireRefused(t, dir)

			var logs lockedBuffer
			b = openBroker(t, dir, WithoutExpvar(), WithRecoverMetadata(),
				WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
			names := []string{OffsetsTopic, "grown", "newest", "tuned"}
			require.Equal(t, names, b.Topics())
			for name, parts := range want {
				tp := mustTopic(t, b, name)
				require.Equal(t, int32(len(parts)), tp.NumPartitions(), name)
				for id, recs := range parts {
					require.Equal(t, recs, readAll(t, mustPartition(t, b, name, int32(id))), "%s-%d", name, id)
				}
			}
			for _, name := range []string{"tuned", "grown", OffsetsTopic} {
				require.Equal(t, wantCfg[name], mustTopic(t, b, name).Config(), "%s: settings from meta.json or meta.json.prev", name)
			}
			newest := mustTopic(t, b, "newest").Config()
			require.Equal(t, TopicConfig{}.withDefaults().Retention, newest.Retention, "in neither file under its name: defaults")
			require.NoDirExists(t, filepath.Join(dir, "nevest-0"))
			out := logs.String()
			require.Contains(t, out, "level=WARN")
			require.Contains(t, out, "topic=newest")
			if damage != "flipped" {
				require.Contains(t, out, "topic=tuned")
				require.Contains(t, out, "topic=grown")
			} else {
				require.Contains(t, out, "topic=nevest", "the dropped entry is reported")
			}
			appendBatch(t, mustPartition(t, b, "grown", 2), "after", 1)
			require.NoError(t, b.Close())

			// A fresh meta.json: the next Open needs no option.
			b = openBroker(t, dir, WithoutExpvar())
			require.Equal(t, names, b.Topics())
			require.Len(t, readAll(t, mustPartition(t, b, "grown", 2)), len(want["grown"][2])+1)
			if damage == "truncated" {
				require.FileExists(t, filepath.Join(dir, metaDamagedFile), "the damaged file is kept")
			}
		})
	}
}

// TestRecoverMetadataGaps: a missing partition directory in the middle is
// recreated empty, and an empty directory opens as an empty broker.
func TestRecoverMetadataGaps(t *testing.T) {
	dir := t.TempDir()
	data := fixture(t, dir, topicSpec{"t", 3})
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "t-1")))
	requireRefused(t, dir, "t-1")
	b := openBroker(t, dir, WithoutExpvar(), WithRecoverMetadata())
	require.Equal(t, int32(3), mustTopic(t, b, "t").NumPartitions())
	require.Equal(t, data["t"][0], readAll(t, mustPartition(t, b, "t", 0)))
	require.Empty(t, readAll(t, mustPartition(t, b, "t", 1)))
	require.Equal(t, data["t"][2], readAll(t, mustPartition(t, b, "t", 2)))

	empty := openBroker(t, t.TempDir(), WithoutExpvar(), WithRecoverMetadata())
	require.Empty(t, empty.Topics())
}
