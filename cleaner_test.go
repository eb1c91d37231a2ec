package commitlog

import (
	"fmt"
	"github.com/commitlog-go/commitlog/log"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// keyedBatch encodes records k<i>=<tag> for keys [from, to), with the
// tombstone of key del (if del >= 0) last.
func keyedBatch(t testing.TB, tag string, from, to, del int) []byte {
	t.Helper()
	b := record.NewBuilder(0, record.BatchOptions{})
	ts := time.Now().Add(-time.Minute).UnixMilli()
	for k := from; k < to; k++ {
		b.Add(ts, fmt.Appendf(nil, "k%d", k), []byte(tag), nil)
	}
	if del >= 0 {
		b.Add(ts, fmt.Appendf(nil, "k%d", del), nil, nil)
	}
	out, err := b.Build()
	require.NoError(t, err)
	return append([]byte(nil), out...)
}

// latest reads p and returns each key's latest value (deleted keys
// absent) and the number of records read.
func latest(t testing.TB, p *Partition) (map[string]string, int) {
	t.Helper()
	m := map[string]string{}
	n := 0
	for next := p.LogStartOffset(); next < p.HighWatermark(); {
		data, err := p.Read(nil, next, 1<<20)
		require.NoError(t, err)
		require.NoError(t, record.Batches(data, func(h *record.BatchHeader, b []byte) error {
			_, recs, err := record.Decode(b)
			for _, r := range recs {
				if r.Offset < next {
					continue
				}
				n++
				if r.Value == nil {
					delete(m, string(r.Key))
				} else {
					m[string(r.Key)] = string(r.Value)
				}
			}
			next = h.NextOffset()
			return err
		}))
	}
	return m, n
}

func TestCleanerCompactsInBackground(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithCleanerInterval(20*time.Millisecond))
	compacted, err := b.CreateTopic("compacted", smallIndexes(TopicConfig{SegmentBytes: 2048, CleanupPolicy: CleanupCompact}))
	require.NoError(t, err)
	both, err := b.CreateTopic("both", smallIndexes(TopicConfig{SegmentBytes: 2048, CleanupPolicy: CleanupCompactDelete, Retention: new(time.Hour)}))
	require.NoError(t, err)
	plain, err := b.CreateTopic("plain", smallIndexes(TopicConfig{SegmentBytes: 2048}))
	require.NoError(t, err)
	want := map[string]string{}
	for round := 0; round < 30; round++ {
		tag := fmt.Sprintf("r%d", round)
		for _, tp := range []*Topic{compacted, both, plain} {
			p, err := tp.Partition(0)
			require.NoError(t, err)
			_, err = p.Append(keyedBatch(t, tag, 0, 10, round%10), false)
			require.NoError(t, err)
		}
		for k := 0; k < 10; k++ {
			want[fmt.Sprintf("k%d", k)] = tag
		}
		delete(want, fmt.Sprintf("k%d", round%10))
	}
	total := 30 * 11
	for _, tp := range []*Topic{compacted, both} {
		p, _ := tp.Partition(0)
		require.True(t, p.log.Config().Compact)
		require.Eventually(t, func() bool {
			_, n := latest(t, p)
			return n < total/2
		}, 10*time.Second, 10*time.Millisecond, "the cleaner compacts %s", tp.Name())
		got, _ := latest(t, p)
		require.Equal(t, want, got, tp.Name())
		require.Equal(t, int64(total), p.HighWatermark(), "offsets stay")
	}
	p, _ := plain.Partition(0)
	require.False(t, p.log.Config().Compact)
	_, n := latest(t, p)
	require.Equal(t, total, n, "a delete-policy topic is never compacted")
}

// The cleaner goroutine starts with the broker, stops with Close (even
// in the middle of a slow, throttled pass), and can be turned off.
func TestCleanerLifeCycle(t *testing.T) {
	running := func() bool {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		return strings.Contains(string(buf[:n]), ".(*Broker).runCleaner(")
	}
	dir := t.TempDir()
	b, err := Open(dir, WithCleanerInterval(time.Millisecond), WithCleanerIOMaxBytesPerSecond(1024))
	require.NoError(t, err)
	tp, err := b.CreateTopic("c", smallIndexes(TopicConfig{SegmentBytes: 1024, CleanupPolicy: CleanupCompact}))
	require.NoError(t, err)
	p, _ := tp.Partition(0)
	for i := 0; i < 100; i++ {
		_, err := p.Append(keyedBatch(t, fmt.Sprint(i), 0, 5, -1), false)
		require.NoError(t, err)
	}
	require.True(t, running())
	time.Sleep(100 * time.Millisecond) // a pass at 1 KiB/s is under way
	start := time.Now()
	require.NoError(t, b.Close())
	require.Less(t, time.Since(start), 3*time.Second, "Close stops a throttled pass")
	require.Eventually(t, func() bool { return !running() }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, b.Close(), "idempotent")

	b = openBroker(t, dir, WithCleanerInterval(-1))
	require.False(t, running(), "a negative interval turns the cleaner off")
	p = mustPartition(t, b, "c", 0)
	got, n := latest(t, p)
	require.Len(t, got, 5)
	require.Equal(t, "99", got["k0"])
	require.LessOrEqual(t, n, 500)
	// By hand, then.
	_, err = p.log.Compact()
	require.NoError(t, err)
	got2, n2 := latest(t, p)
	require.Equal(t, got, got2)
	require.Less(t, n2, 500)
}

func TestCompactedTopicRefusesKeylessRecords(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithCleanerInterval(-1))
	_, err := b.CreateTopic("c", TopicConfig{CleanupPolicy: CleanupCompact})
	require.NoError(t, err)
	p := mustPartition(t, b, "c", 0)
	_, err = p.Append(newBatch(t, "x", 1, 1), false) // keyed
	require.NoError(t, err)
	bb := record.NewBuilder(0, record.BatchOptions{})
	bb.Add(1, nil, []byte("no key"), nil)
	raw, err := bb.Build()
	require.NoError(t, err)
	_, err = p.Append(raw, false)
	require.ErrorIs(t, err, ErrInvalidRecord)
}

func TestCompactionTopicConfig(t *testing.T) {
	settings := map[string]string{
		"cleanup.policy":            "compact,delete",
		"delete.retention.ms":       "3600000",
		"min.cleanable.dirty.ratio": "0.25",
		"min.compaction.lag.ms":     "60000",
	}
	cfg, err := ParseTopicConfig(2, settings)
	require.NoError(t, err)
	require.Equal(t, TopicConfig{Partitions: 2, CleanupPolicy: CleanupCompactDelete,
		DeleteRetention: new(time.Hour), MinCleanableDirtyRatio: new(0.25), MinCompactionLag: time.Minute}, cfg)
	require.Equal(t, settings, cfg.Settings())
	lc := cfg.logConfig()
	require.True(t, lc.Compact)
	require.Equal(t, time.Hour, *lc.DeleteRetention)
	require.Equal(t, 0.25, *lc.MinCleanableDirtyRatio)
	require.Equal(t, time.Minute, lc.MinCompactionLag)
	require.Equal(t, log.DefaultRetention, *lc.Retention, "compact,delete keeps retention (the default)")

	// Kafka's zeros, which are not the defaults, round-trip.
	zeros := map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0", "min.cleanable.dirty.ratio": "0"}
	cfg, err = ParseTopicConfig(1, zeros)
	require.NoError(t, err)
	require.Equal(t, new(time.Duration(0)), cfg.DeleteRetention)
	require.Equal(t, new(0.0), cfg.MinCleanableDirtyRatio)
	require.Equal(t, zeros, cfg.Settings())
	lc = cfg.logConfig()
	require.Zero(t, *lc.DeleteRetention)
	require.Zero(t, *lc.MinCleanableDirtyRatio)
	require.Negative(t, *lc.Retention, "compact only: no retention")
	require.Negative(t, *lc.RetentionBytes, "compact only: no retention")

	// Defaults are left out.
	cfg, err = ParseTopicConfig(1, map[string]string{"cleanup.policy": "compact"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cleanup.policy": "compact"}, cfg.Settings())

	for _, bad := range []map[string]string{
		{"min.cleanable.dirty.ratio": "1.5"},
		{"min.cleanable.dirty.ratio": "-0.1"},
		{"min.cleanable.dirty.ratio": "x"},
		{"delete.retention.ms": "-5"},
		{"min.compaction.lag.ms": "-1"},
	} {
		_, err := ParseTopicConfig(1, bad)
		require.ErrorIs(t, err, ErrInvalidConfig, "%v", bad)
	}

	// The settings survive a reopen.
	dir := t.TempDir()
	b := openBroker(t, dir, WithCleanerInterval(-1))
	cfg, err = ParseTopicConfig(1, settings)
	require.NoError(t, err)
	_, err = b.CreateTopic("t", cfg)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	b = openBroker(t, dir, WithCleanerInterval(-1))
	require.Equal(t, cfg.withDefaults(), mustTopic(t, b, "t").Config(), "Config fills in the defaults")
	lc = mustPartition(t, b, "t", 0).log.Config()
	require.True(t, lc.Compact)
	require.Equal(t, 0.25, *lc.MinCleanableDirtyRatio)
}
