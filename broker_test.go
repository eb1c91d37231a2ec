package commitlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// withHook installs the failure-injection hook: the broker calls it at
// each step of a metadata change and aborts the change when it errors.
func withHook(h func(step string) error) Option {
	return func(o *options) { o.hook = h }
}

// smallIndexes keeps index preallocation small so that tests (and the
// directory snapshots of the crash tests) stay cheap.
func smallIndexes(c TopicConfig) TopicConfig {
	c.SegmentIndexBytes = 4 << 10
	c.IndexIntervalBytes = new(256)
	return c
}

// newBatch encodes n records with timestamp ts whose values name the batch
// and the position. It returns a copy: Append rewrites the base offset in
// place.
func newBatch(t testing.TB, tag string, n int, ts int64) []byte {
	t.Helper()
	out, err := encodeBatch(tag, n, ts)
	require.NoError(t, err)
	return out
}

// encodeBatch is newBatch for goroutines other than the test's.
func encodeBatch(tag string, n int, ts int64) ([]byte, error) {
	b := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i++ {
		b.Add(ts, []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("%s/%d", tag, i)), nil)
	}
	out, err := b.Build()
	return append([]byte(nil), out...), err
}

func openBroker(t testing.TB, dir string, opts ...Option) *Broker {
	t.Helper()
	b, err := Open(dir, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

type rec struct {
	Offset int64
	Value  string
	TS     int64
}

// readAll reads every record of p from its log start offset to its high
// watermark, checking that offsets are dense.
func readAll(t testing.TB, p *Partition) []rec {
	t.Helper()
	var out []rec
	next := p.LogStartOffset()
	for hw := p.HighWatermark(); next < hw; {
		data, err := p.Read(nil, next, 64<<10)
		require.NoError(t, err)
		require.NotEmpty(t, data, "read at %d below high watermark %d returned nothing", next, hw)
		err = record.Batches(data, func(h *record.BatchHeader, b []byte) error {
			_, recs, err := record.Decode(b)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Offset < next {
					continue
				}
				if r.Offset != next {
					return fmt.Errorf("offset %d, want %d", r.Offset, next)
				}
				out = append(out, rec{r.Offset, string(r.Value), r.Timestamp})
				next++
			}
			next = max(next, h.NextOffset())
			return nil
		})
		require.NoError(t, err)
	}
	return out
}

func appendBatch(t testing.TB, p *Partition, tag string, n int) []rec {
	t.Helper()
	info, err := p.Append(newBatch(t, tag, n, 1000), false)
	require.NoError(t, err)
	out := make([]rec, n)
	for i := range out {
		out[i] = rec{info.BaseOffset + int64(i), fmt.Sprintf("%s/%d", tag, i), 1000}
	}
	return out
}

func mustTopic(t testing.TB, b *Broker, name string) *Topic {
	t.Helper()
	tp, err := b.Topic(name)
	require.NoError(t, err)
	return tp
}

func mustPartition(t testing.TB, b *Broker, name string, id int32) *Partition {
	t.Helper()
	p, err := mustTopic(t, b, name).Partition(id)
	require.NoError(t, err)
	return p
}

func TestOpenClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by Open
	b, err := Open(dir)
	require.NoError(t, err)
	require.Equal(t, dir, b.Dir())
	require.NotNil(t, b.Logger())
	require.Empty(t, b.Topics())

	_, err = Open(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.Contains(t, err.Error(), strconv.Itoa(os.Getpid()))

	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close is idempotent")

	_, err = b.CreateTopic("x", TopicConfig{})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, b.AddPartitions("x", 2), ErrClosed)
	require.ErrorIs(t, b.DeleteTopic("x"), ErrClosed)
	_, err = b.Topic("x")
	require.ErrorIs(t, err, ErrClosed)

	b2, err := Open(dir)
	require.NoError(t, err, "the lock is released by Close")
	_, err = Open(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, b2.Close())
}

func TestOpenCorruptMetadata(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, metaFile), []byte("{not json"), 0o644))
	_, err := Open(dir)
	require.ErrorIs(t, err, ErrCorrupt)
	// A failed Open releases the lock.
	require.NoError(t, os.Remove(filepath.Join(dir, metaFile)))
	b := openBroker(t, dir)
	require.NoError(t, b.Close())
}

func TestTopicAdmin(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)

	orders, err := b.CreateTopic("orders", smallIndexes(TopicConfig{Partitions: 3}))
	require.NoError(t, err)
	require.Equal(t, "orders", orders.Name())
	require.Equal(t, int32(3), orders.NumPartitions())
	require.Equal(t, int32(3), orders.Config().Partitions)
	require.False(t, orders.Deleted())
	got, err := b.Topic("orders")
	require.NoError(t, err)
	require.Same(t, orders, got)

	single, err := b.CreateTopic("single", TopicConfig{})
	require.NoError(t, err)
	require.Equal(t, int32(1), single.NumPartitions(), "default partition count")
	require.Equal(t, CleanupDelete, single.Config().CleanupPolicy)
	require.Equal(t, 1, single.Config().MinInsyncReplicas)
	require.Equal(t, []string{"orders", "single"}, b.Topics())

	_, err = b.CreateTopic("orders", TopicConfig{})
	require.ErrorIs(t, err, ErrTopicExists)
	_, err = b.CreateTopic("bad-config", TopicConfig{Partitions: -1})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = b.CreateTopic("bad-isr", TopicConfig{MinInsyncReplicas: 2})
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.Equal(t, []string{"orders", "single"}, b.Topics())

	for _, name := range []string{"nope", ""} {
		_, err = b.Topic(name)
		require.ErrorIs(t, err, ErrUnknownTopic)
		require.ErrorIs(t, b.AddPartitions(name, 4), ErrUnknownTopic)
		require.ErrorIs(t, b.DeleteTopic(name), ErrUnknownTopic)
	}

	for id := int32(0); id < 3; id++ {
		p, err := orders.Partition(id)
		require.NoError(t, err)
		require.Equal(t, id, p.ID())
		require.Equal(t, "orders", p.Topic())
		require.DirExists(t, filepath.Join(dir, fmt.Sprintf("orders-%d", id)))
	}
	for _, id := range []int32{-1, 3} {
		_, err := orders.Partition(id)
		require.ErrorIs(t, err, ErrUnknownPartition)
	}

	// AddPartitions takes the new total and only grows.
	p0 := mustPartition(t, b, "orders", 0)
	want0 := appendBatch(t, p0, "p0", 4)
	for _, total := range []int32{3, 2, 0, -1} {
		require.ErrorIs(t, b.AddPartitions("orders", total), ErrInvalidConfig, "total %d", total)
	}
	require.Equal(t, int32(3), orders.NumPartitions())
	require.NoError(t, b.AddPartitions("orders", 5))
	require.Equal(t, int32(5), orders.NumPartitions())
	require.Equal(t, int32(5), orders.Config().Partitions)
	require.Len(t, orders.Partitions(), 5)
	p4, err := orders.Partition(4)
	require.NoError(t, err)
	require.Zero(t, p4.LogEndOffset())
	require.Equal(t, want0, readAll(t, p0), "existing partitions keep their data")
	require.Same(t, p0, mustPartition(t, b, "orders", 0))
	require.DirExists(t, filepath.Join(dir, "orders-4"))
	_, err = orders.Partition(5)
	require.ErrorIs(t, err, ErrUnknownPartition)

	// DeleteTopic.
	require.NoError(t, b.DeleteTopic("orders"))
	require.True(t, orders.Deleted())
	require.Equal(t, []string{"single"}, b.Topics())
	_, err = b.Topic("orders")
	require.ErrorIs(t, err, ErrUnknownTopic)
	for id := 0; id < 5; id++ {
		require.NoDirExists(t, filepath.Join(dir, fmt.Sprintf("orders-%d", id)))
	}
	require.ErrorIs(t, b.DeleteTopic("orders"), ErrUnknownTopic)

	// The name is free again, for a fresh empty topic.
	again, err := b.CreateTopic("orders", smallIndexes(TopicConfig{Partitions: 2}))
	require.NoError(t, err)
	require.NotSame(t, orders, again)
	p0 = mustPartition(t, b, "orders", 0)
	require.Zero(t, p0.LogEndOffset())
	require.Equal(t, []rec{{0, "fresh/0", 1000}}, appendBatch(t, p0, "fresh", 1))
}

func TestTopicNames(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"a", true},
		{"a.b_c-D9", true},
		{strings.Repeat("x", 249), true},
		{"__consumer_offsets_not", true}, // only the internal names themselves are refused (internal_test.go)
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("x", 250), false},
		{"a/b", false},
		{"a b", false},
		{"ü", false},
		{"a\x00b", false},
		{"../escape", false},
	}
	b := openBroker(t, t.TempDir())
	for _, tt := range tests {
		label := tt.name
		if len(label) > 20 {
			label = fmt.Sprintf("len%d", len(label))
		}
		t.Run(label, func(t *testing.T) {
			err := ValidateTopicName(tt.name)
			_, cerr := b.CreateTopic(tt.name, smallIndexes(TopicConfig{}))
			if tt.valid {
				require.NoError(t, err)
				require.NoError(t, cerr)
				require.DirExists(t, filepath.Join(b.Dir(), tt.name+"-0"))
				p := mustPartition(t, b, tt.name, 0)
				appendBatch(t, p, "v", 1)
				require.NoError(t, b.DeleteTopic(tt.name))
				return
			}
			require.ErrorIs(t, err, ErrInvalidTopic)
			require.ErrorIs(t, cerr, ErrInvalidTopic)
			_, err = b.Topic(tt.name)
			require.ErrorIs(t, err, ErrUnknownTopic)
		})
	}
	require.Empty(t, b.Topics())
}

func TestTopicNameCollision(t *testing.T) {
	b := openBroker(t, t.TempDir())
	tests := []struct{ first, second string }{
		{"a.b", "a_b"},
		{"x_y", "x.y"},
		{"m.n_o", "m_n.o"},
	}
	for _, tt := range tests {
		_, err := b.CreateTopic(tt.first, smallIndexes(TopicConfig{}))
		require.NoError(t, err)
		_, err = b.CreateTopic(tt.second, smallIndexes(TopicConfig{}))
		require.ErrorIs(t, err, ErrInvalidTopic, "%s after %s", tt.second, tt.first)
		_, err = b.Topic(tt.second)
		require.ErrorIs(t, err, ErrUnknownTopic)
	}
	// Once the first is gone, the other spelling is free.
	require.NoError(t, b.DeleteTopic("a.b"))
	_, err := b.CreateTopic("a_b", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	require.Equal(t, []string{"a_b", "m.n_o", "x_y"}, b.Topics())
}

func TestDataAndConfigSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(dir)
	require.NoError(t, err)

	configs := map[string]TopicConfig{
		"plain": smallIndexes(TopicConfig{Partitions: 3}),
		"tuned": {
			Partitions:           2,
			SegmentBytes:         1024,
			SegmentAge:           time.Hour,
			Retention:            new(48 * time.Hour),
			RetentionBytes:       new(int64(1 << 30)),
			MessageTimestampType: record.LogAppendTime,
			MaxMessageBytes:      new(100_000),
			FlushMessages:        1000,
			FlushInterval:        new(time.Minute),
			IndexIntervalBytes:   new(128),
			SegmentIndexBytes:    8 << 10,
		},
		"forever": smallIndexes(TopicConfig{Retention: new(time.Duration(-1)), RetentionBytes: new(int64(-1)), CleanupPolicy: CleanupCompactDelete}),
	}
	for name, cfg := range configs {
		_, err := b.CreateTopic(name, cfg)
		require.NoError(t, err)
	}
	require.NoError(t, b.AddPartitions("plain", 4))

	want := map[string][][]rec{}
	wantCfg := map[string]TopicConfig{}
	for _, name := range b.Topics() {
		tp := mustTopic(t, b, name)
		wantCfg[name] = tp.Config()
		for _, p := range tp.Partitions() {
			var recs []rec
			for i := 0; i < 10+int(p.ID()); i++ {
				info, err := p.Append(newBatch(t, fmt.Sprintf("%s-%d-%d", name, p.ID(), i), 3, 1), false)
				require.NoError(t, err)
				ts := int64(1)
				if name == "tuned" {
					require.Greater(t, info.LogAppendTime, int64(1), "LogAppendTime stamped")
					ts = info.LogAppendTime
				}
				for j := 0; j < 3; j++ {
					recs = append(recs, rec{info.BaseOffset + int64(j), fmt.Sprintf("%s-%d-%d/%d", name, p.ID(), i, j), ts})
				}
			}
			require.Equal(t, recs, readAll(t, p))
			want[name] = append(want[name], recs)
		}
	}
	require.Greater(t, mustPartition(t, b, "tuned", 0).log.NumSegments(), 1, "segment.bytes rolls")
	require.Equal(t, int32(4), wantCfg["plain"].Partitions)
	require.NoError(t, b.Close())

	b = openBroker(t, dir)
	require.Equal(t, []string{"forever", "plain", "tuned"}, b.Topics())
	for name, parts := range want {
		tp := mustTopic(t, b, name)
		require.Equal(t, wantCfg[name], tp.Config(), name)
		require.Equal(t, int32(len(parts)), tp.NumPartitions())
		for id, recs := range parts {
			p := mustPartition(t, b, name, int32(id))
			end := int64(len(recs))
			require.Equal(t, end, p.HighWatermark(), "%s-%d", name, id)
			require.Equal(t, end, p.LogEndOffset(), "%s-%d", name, id)
			require.Equal(t, recs, readAll(t, p), "%s-%d", name, id)
			// Offsets continue where they stopped.
			info, err := p.Append(newBatch(t, "after", 1, 1), false)
			require.NoError(t, err)
			require.Equal(t, end, info.BaseOffset)
		}
	}
	lc := mustPartition(t, b, "tuned", 1).log.Config()
	require.Equal(t, int64(1024), lc.SegmentBytes)
	require.Equal(t, record.LogAppendTime, lc.TimestampType)
	require.Equal(t, 48*time.Hour, *lc.Retention)
	require.True(t, mustTopic(t, b, "forever").Config().Compacted())
}

func TestParseTopicConfig(t *testing.T) {
	valid := []struct {
		name     string
		settings map[string]string
		want     TopicConfig
		same     bool // Settings() gives the input back
	}{
		{"defaults", nil, TopicConfig{Partitions: 1}, true},
		{"everything", map[string]string{
			"segment.bytes":          "1048576",
			"segment.ms":             "3600000",
			"retention.bytes":        "1000000",
			"retention.ms":           "86400000",
			"cleanup.policy":         "compact",
			"max.message.bytes":      "2000000",
			"message.timestamp.type": "LogAppendTime",
			"flush.messages":         "10",
			"flush.ms":               "1000",
			"index.interval.bytes":   "1024",
			"segment.index.bytes":    "65536",
		}, TopicConfig{
			Partitions:           1,
			SegmentBytes:         1 << 20,
			SegmentAge:           time.Hour,
			RetentionBytes:       new(int64(1_000_000)),
			Retention:            new(24 * time.Hour),
			CleanupPolicy:        CleanupCompact,
			MaxMessageBytes:      new(2_000_000),
			MessageTimestampType: record.LogAppendTime,
			FlushMessages:        10,
			FlushInterval:        new(time.Second),
			IndexIntervalBytes:   new(1024),
			SegmentIndexBytes:    64 << 10,
		}, true},
		{"unlimited", map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "compact,delete"},
			TopicConfig{Partitions: 1, Retention: new(-time.Millisecond), RetentionBytes: new(int64(-1)), CleanupPolicy: CleanupCompactDelete}, false},
		{"explicit defaults", map[string]string{"min.insync.replicas": "1", "message.timestamp.type": "CreateTime", "cleanup.policy": "delete"},
			TopicConfig{Partitions: 1, CleanupPolicy: CleanupDelete, MinInsyncReplicas: 1}, false},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseTopicConfig(1, tt.settings)
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
			s := cfg.Settings()
			if tt.same {
				if tt.settings == nil {
					require.Empty(t, s)
				} else {
					require.Equal(t, tt.settings, s)
				}
			}
			back, err := ParseTopicConfig(cfg.Partitions, s)
			require.NoError(t, err)
			require.Equal(t, cfg.withDefaults(), back.withDefaults())
		})
	}
	t.Run("partitions", func(t *testing.T) {
		cfg, err := ParseTopicConfig(7, map[string]string{"retention.ms": "1000"})
		require.NoError(t, err)
		require.Equal(t, int32(7), cfg.Partitions)
		require.NotContains(t, cfg.Settings(), "partitions")
		_, err = ParseTopicConfig(-1, nil)
		require.ErrorIs(t, err, ErrInvalidConfig)
	})

	invalid := map[string]map[string]string{
		"unknown setting":       {"retention.hours": "1"},
		"unknown prefix":        {"log.retention.ms": "1"},
		"not a number":          {"retention.ms": "a week"},
		"float":                 {"segment.bytes": "1.5"},
		"segment too small":     {"segment.bytes": "13"},
		"segment too large":     {"segment.bytes": "4294967296"},
		"negative segment":      {"segment.bytes": "-1"},
		"bad timestamp type":    {"message.timestamp.type": "Now"},
		"bad cleanup policy":    {"cleanup.policy": "archive"},
		"negative message size": {"max.message.bytes": "-5"},
		"two insync replicas":   {"min.insync.replicas": "2"},
		"empty value":           {"flush.ms": ""},
	}
	for name, settings := range invalid {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTopicConfig(1, settings)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

var errInjected = errors.New("injected failure")

// snapshot copies dir to dst as a crash at this instant would leave it:
// the files' contents as the OS has them, without anything Close writes.
func snapshot(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// checkState opens dir without a hook and checks that it holds exactly the
// topics and partition counts of want, no leftover temporary metadata, no
// partition directory the metadata does not name, the data of the
// partitions that existed before, and usable partitions.
func checkState(t *testing.T, dir string, want map[string]int32, data map[string][][]rec) {
	t.Helper()
	b, err := Open(dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	got := map[string]int32{}
	for _, name := range b.Topics() {
		got[name] = mustTopic(t, b, name).NumPartitions()
	}
	require.Equal(t, want, got)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var dirs, files []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		} else {
			files = append(files, e.Name())
		}
	}
	var wantDirs []string
	for name, n := range want {
		for i := int32(0); i < n; i++ {
			wantDirs = append(wantDirs, fmt.Sprintf("%s-%d", name, i))
		}
	}
	require.ElementsMatch(t, wantDirs, dirs, "partition directories")
	require.NotContains(t, files, metaFile+".tmp")

	for name, n := range want {
		for id := int32(0); id < n; id++ {
			p := mustPartition(t, b, name, id)
			var before []rec
			if parts := data[name]; int(id) < len(parts) {
				before = parts[id]
			}
			require.Equal(t, before, readAll(t, p), "%s-%d", name, id)
			more := appendBatch(t, p, "after", 2)
			require.Equal(t, append(slices.Clone(before), more...), readAll(t, p), "%s-%d usable", name, id)
		}
	}
}

func TestMetadataCrashSafety(t *testing.T) {
	old := map[string]int32{"keep": 2, "victim": 2}
	ops := []struct {
		name  string
		steps []string
		do    func(b *Broker) error
		next  map[string]int32
	}{
		{
			name:  "create",
			steps: []string{"partitions-created", "meta-temp-written", "meta-prev-written", "meta-renamed"},
			do: func(b *Broker) error {
				_, err := b.CreateTopic("fresh", smallIndexes(TopicConfig{Partitions: 3}))
				return err
			},
			next: map[string]int32{"keep": 2, "victim": 2, "fresh": 3},
		},
		{
			name:  "add-partitions",
			steps: []string{"partitions-created", "meta-temp-written", "meta-prev-written", "meta-renamed"},
			do:    func(b *Broker) error { return b.AddPartitions("victim", 4) },
			next:  map[string]int32{"keep": 2, "victim": 4},
		},
		{
			name:  "delete",
			steps: []string{"meta-temp-written", "meta-prev-written", "meta-renamed", "meta-committed"},
			do:    func(b *Broker) error { return b.DeleteTopic("victim") },
			next:  map[string]int32{"keep": 2},
		},
	}
	for _, op := range ops {
		for _, step := range op.steps {
			t.Run(op.name+"/"+step, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "live")
				crash := filepath.Join(t.TempDir(), "crash")
				var armed atomic.Bool
				var seen []string
				var fired int
				hook := func(s string) error {
					if !armed.Load() {
						return nil
					}
					seen = append(seen, s)
					if s != step {
						return nil
					}
					fired++
					if err := snapshot(dir, crash); err != nil {
						return fmt.Errorf("snapshot: %w", err)
					}
					return errInjected
				}
				b, err := Open(dir, withHook(hook))
				require.NoError(t, err)
				data := map[string][][]rec{}
				for _, name := range []string{"keep", "victim"} {
					_, err := b.CreateTopic(name, smallIndexes(TopicConfig{Partitions: old[name]}))
					require.NoError(t, err)
					for id := int32(0); id < old[name]; id++ {
						p := mustPartition(t, b, name, id)
						var recs []rec
						for i := 0; i < 3; i++ {
							recs = append(recs, appendBatch(t, p, fmt.Sprintf("%s-%d-%d", name, id, i), 2)...)
						}
						data[name] = append(data[name], recs)
					}
				}

				armed.Store(true)
				err = op.do(b)
				armed.Store(false)
				require.ErrorIs(t, err, errInjected)
				require.Equal(t, 1, fired, "hook fired at %q; steps seen: %v", step, seen)

				wantState := old
				if step == "meta-renamed" || step == "meta-committed" {
					wantState = op.next
				}
				if !maps.Equal(wantState, op.next) {
					// The change failed before it committed: the running
					// broker still shows the old state.
					got := map[string]int32{}
					for _, name := range b.Topics() {
						got[name] = mustTopic(t, b, name).NumPartitions()
					}
					require.Equal(t, old, got)
				}
				if op.name == "delete" && step == "meta-committed" {
					// Deleted from the metadata; the files wait for the
					// next Open to clean them up.
					require.Equal(t, []string{"keep"}, b.Topics())
				}

				require.NoError(t, b.Close())
				want := maps.Clone(data)
				if _, ok := wantState["victim"]; !ok {
					delete(want, "victim")
				}
				t.Run("after-close", func(t *testing.T) { checkState(t, dir, wantState, want) })
				t.Run("after-crash", func(t *testing.T) { checkState(t, crash, wantState, want) })
			})
		}
	}
}

func TestMetadataHookSteps(t *testing.T) {
	// The crash test relies on these step names; make sure the broker
	// still calls them, in this order.
	var mu sync.Mutex
	var seen []string
	b := openBroker(t, t.TempDir(), withHook(func(s string) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
		return nil
	}))
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}
	_, err := b.CreateTopic("t", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	require.Equal(t, []string{"partitions-created", "meta-temp-written", "meta-prev-written", "meta-renamed"}, take())
	require.NoError(t, b.AddPartitions("t", 2))
	require.Equal(t, []string{"partitions-created", "meta-temp-written", "meta-prev-written", "meta-renamed"}, take())
	require.NoError(t, b.DeleteTopic("t"))
	require.Equal(t, []string{"meta-temp-written", "meta-prev-written", "meta-renamed", "meta-committed"}, take())
}

func TestDeleteTopicInUse(t *testing.T) {
	b := openBroker(t, t.TempDir())
	tp, err := b.CreateTopic("doomed", smallIndexes(TopicConfig{Partitions: 2}))
	require.NoError(t, err)
	p := mustPartition(t, b, "doomed", 1)
	appendBatch(t, p, "a", 3)
	dir := p.log.Dir()
	require.DirExists(t, dir)

	waitErr := make(chan error, 1)
	go func() { waitErr <- p.Wait(context.Background(), p.HighWatermark()) }()

	require.NoError(t, b.DeleteTopic("doomed"))

	_, err = p.Read(nil, 0, 1<<20)
	require.ErrorIs(t, err, ErrUnknownTopic)
	_, err = p.Append(newBatch(t, "b", 1, 1000), false)
	require.ErrorIs(t, err, ErrUnknownTopic)
	_, err = p.Append(newBatch(t, "c", 1, 1000), true)
	require.ErrorIs(t, err, ErrUnknownTopic)
	_, err = tp.Partition(0)
	require.ErrorIs(t, err, ErrUnknownTopic)
	_, err = b.Topic("doomed")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.True(t, tp.Deleted())
	require.NoDirExists(t, dir)
	select {
	case err := <-waitErr:
		require.ErrorIs(t, err, ErrUnknownTopic)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait not woken by DeleteTopic")
	}
}

func TestMaintenanceRetention(t *testing.T) {
	baseline := runtime.NumGoroutine()
	b, err := Open(t.TempDir(), WithMaintenanceInterval(50*time.Millisecond))
	require.NoError(t, err)
	_, err = b.CreateTopic("short", smallIndexes(TopicConfig{SegmentBytes: 1024, Retention: new(200 * time.Millisecond)}))
	require.NoError(t, err)
	p := mustPartition(t, b, "short", 0)
	value := strings.Repeat("v", 200)
	for i := 0; i < 20; i++ {
		bb := record.NewBuilder(0, record.BatchOptions{})
		bb.Add(time.Now().UnixMilli(), nil, []byte(value), nil)
		raw, err := bb.Build()
		require.NoError(t, err)
		_, err = p.Append(append([]byte(nil), raw...), false)
		require.NoError(t, err)
	}
	require.Greater(t, p.log.NumSegments(), 2)
	require.Zero(t, p.LogStartOffset())
	hw := p.HighWatermark()

	// No further appends: only the maintenance goroutine can delete them.
	require.Eventually(t, func() bool { return p.log.NumSegments() == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Greater(t, p.LogStartOffset(), int64(0))
	require.Equal(t, hw, p.HighWatermark())
	require.Equal(t, hw, p.LogEndOffset())
	_, err = p.Read(nil, 0, 1<<20)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	require.NotEmpty(t, readAll(t, p), "the active segment stays")

	require.True(t, maintainerRunning(), "the maintenance goroutine runs")
	require.NoError(t, b.Close())
	// Close waits for the goroutine's deferred wg.Done; its last return
	// may still be under way.
	require.Eventually(t, func() bool { return !maintainerRunning() }, 5*time.Second, 5*time.Millisecond,
		"the maintenance goroutine outlives Close")
	// Eventually runs the condition in a goroutine of its own: count it.
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= baseline+1 }, 5*time.Second, 10*time.Millisecond,
		"the maintenance goroutine outlives Close")
}

// maintainerRunning reports whether any goroutine is in Broker.maintain.
func maintainerRunning() bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), ".(*Broker).maintain(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestConcurrentUse(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithMaintenanceInterval(5*time.Millisecond))
	const parts, batches, perBatch = 4, 200, 3
	tp, err := b.CreateTopic("busy", smallIndexes(TopicConfig{Partitions: parts, SegmentBytes: 4 << 10, Retention: new(time.Duration(-1))}))
	require.NoError(t, err)

	var writers, others sync.WaitGroup
	done := make(chan struct{})
	for id := int32(0); id < parts; id++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			p, err := tp.Partition(id)
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < batches; i++ {
				raw, err := encodeBatch(fmt.Sprintf("%d-%d", id, i), perBatch, 1000)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := p.Append(raw, i%20 == 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for r := 0; r < 2; r++ {
		others.Add(1)
		go func() {
			defer others.Done()
			pos := make([]int64, parts)
			for {
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				caughtUp := true
				for id := range pos {
					p, err := tp.Partition(int32(id))
					if err != nil {
						t.Error(err)
						return
					}
					data, err := p.Read(nil, pos[id], 2048)
					if err != nil {
						t.Error(err)
						return
					}
					err = record.Batches(data, func(h *record.BatchHeader, b []byte) error {
						if h.BaseOffset != pos[id] {
							return fmt.Errorf("partition %d: batch at %d, want %d", id, h.BaseOffset, pos[id])
						}
						_, recs, err := record.Decode(b)
						if err != nil {
							return err
						}
						n := h.BaseOffset / perBatch
						for j, r := range recs {
							if want := fmt.Sprintf("%d-%d/%d", id, n, j); string(r.Value) != want {
								return fmt.Errorf("offset %d: value %q, want %q", r.Offset, r.Value, want)
							}
						}
						pos[id] = h.NextOffset()
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
					if pos[id] < p.HighWatermark() {
						caughtUp = false
					}
				}
				if finished && caughtUp {
					for _, n := range pos {
						if n != batches*perBatch {
							t.Errorf("reader stopped at %v", pos)
						}
					}
					return
				}
			}
		}()
	}
	others.Add(1)
	go func() {
		defer others.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			name := fmt.Sprintf("other-%d", i)
			if _, err := b.CreateTopic(name, smallIndexes(TopicConfig{Partitions: 2})); err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				if err := b.AddPartitions(name, 3); err != nil {
					t.Error(err)
					return
				}
			}
			p, err := mustTopicNoFatal(b, name)
			if err != nil {
				t.Error(err)
				return
			}
			raw, err := encodeBatch(name, 1, 1000)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := p.Append(raw, false); err != nil {
				t.Error(err)
				return
			}
			_ = b.Topics()
			if err := b.DeleteTopic(name); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	writers.Wait()
	close(done)
	others.Wait()
	for _, p := range tp.Partitions() {
		require.Equal(t, int64(batches*perBatch), p.HighWatermark())
	}
	require.Equal(t, []string{"busy"}, b.Topics())
	entries, err := os.ReadDir(b.Dir())
	require.NoError(t, err)
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	require.ElementsMatch(t, []string{"busy-0", "busy-1", "busy-2", "busy-3"}, dirs)
}

func mustTopicNoFatal(b *Broker, name string) (*Partition, error) {
	tp, err := b.Topic(name)
	if err != nil {
		return nil, err
	}
	return tp.Partition(0)
}
