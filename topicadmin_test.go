package commitlog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
)

// segmentedTopic creates topic "t" with one partition whose segments hold
// about one 10-record batch each, and appends batches with the given
// timestamps (10 records each, offsets 10*i to 10*i+9).
func segmentedTopic(t *testing.T, b *Broker, cfg TopicConfig, ts ...int64) *Partition {
	t.Helper()
	cfg.SegmentBytes = 200
	if cfg.Retention == nil {
		cfg.Retention = new(time.Duration(-1)) // the timestamps are from 1970
	}
	_, err := b.CreateTopic("t", smallIndexes(cfg))
	require.NoError(t, err)
	p := mustPartition(t, b, "t", 0)
	for i, at := range ts {
		info, err := p.Append(newBatch(t, "b", 10, at), false)
		require.NoError(t, err)
		require.Equal(t, int64(10*i), info.BaseOffset)
	}
	return p
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir, WithMaintenanceInterval(0))
	p := segmentedTopic(t, b, TopicConfig{}, 1000, 1000, 1000, 1000)
	require.Greater(t, p.NumSegments(), 3)
	segs := p.NumSegments()

	for _, tc := range []struct {
		name      string
		offset    int64
		wantStart int64
		wantErr   error
	}{
		{"above the high watermark", 41, 0, ErrOffsetOutOfRange},
		{"below -1", -2, 0, ErrOffsetOutOfRange},
		{"inside a segment", 15, 15, nil},
		{"below the start: nothing changes", 3, 15, nil},
		{"on a segment boundary", 20, 20, nil},
		{"inside the next segment", 25, 25, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, err := p.DeleteRecordsBefore(tc.offset)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantStart, start)
			require.Equal(t, tc.wantStart, p.LogStartOffset())
		})
	}
	require.Less(t, p.NumSegments(), segs, "segments wholly below the start are removed")
	_, err := p.Read(nil, 24, 1<<20)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	recs := readAll(t, p)
	require.Equal(t, int64(25), recs[0].Offset)
	require.Len(t, recs, 15)
	off, _, found, err := p.OffsetForTimestamp(0)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, int64(25), off, "by time, nothing below the log start")

	// Durable: the start survives a clean restart and a crash-like one
	// (the checkpoint is written by DeleteRecordsBefore itself).
	require.NoError(t, b.Close())
	b = openBroker(t, dir, WithMaintenanceInterval(0))
	p = mustPartition(t, b, "t", 0)
	require.Equal(t, int64(25), p.LogStartOffset())
	require.Equal(t, int64(40), p.HighWatermark())
	_, err = p.Read(nil, 24, 1<<20)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	require.Equal(t, int64(25), readAll(t, p)[0].Offset)

	// -1 is the high watermark: everything goes, new records follow on.
	start, err := p.DeleteRecordsBefore(-1)
	require.NoError(t, err)
	require.Equal(t, int64(40), start)
	info, err := p.Append(newBatch(t, "c", 2, 1000), false)
	require.NoError(t, err)
	require.Equal(t, int64(40), info.BaseOffset)
	require.NoError(t, b.Close())
	b = openBroker(t, dir, WithMaintenanceInterval(0))
	p = mustPartition(t, b, "t", 0)
	require.Equal(t, int64(40), p.LogStartOffset())
	require.Len(t, readAll(t, p), 2)
}

func TestOffsetOfMaxTimestamp(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ts         []int64
		deleteTo   int64
		wantOffset int64
		wantTS     int64
		wantFound  bool
	}{
		{"empty", nil, 0, 0, 0, false},
		{"one batch: its first record on ties", []int64{7}, 0, 0, 7, true},
		{"the largest, in a middle segment", []int64{5, 9, 3, 7}, 0, 10, 9, true},
		{"ties across segments: the first", []int64{5, 9, 3, 9}, 0, 10, 9, true},
		{"records below the log start do not count", []int64{5, 9, 3, 7}, 20, 30, 7, true},
		{"log start inside the best batch", []int64{5, 9, 3, 7}, 14, 14, 9, true},
		{"everything deleted", []int64{5, 9}, 20, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openBroker(t, t.TempDir(), WithMaintenanceInterval(0))
			p := segmentedTopic(t, b, TopicConfig{}, tc.ts...)
			if tc.deleteTo > 0 {
				_, err := p.DeleteRecordsBefore(tc.deleteTo)
				require.NoError(t, err)
			}
			off, ts, found, err := p.OffsetOfMaxTimestamp()
			require.NoError(t, err)
			require.Equal(t, tc.wantFound, found)
			if found {
				require.Equal(t, tc.wantOffset, off)
				require.Equal(t, tc.wantTS, ts)
			}
		})
	}
}

func TestOffsetOfMaxTimestampWithinABatch(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithMaintenanceInterval(0))
	_, err := b.CreateTopic("t", TopicConfig{})
	require.NoError(t, err)
	p := mustPartition(t, b, "t", 0)
	bl := record.NewBuilder(0, record.BatchOptions{})
	for _, ts := range []int64{10, 30, 20, 30, 5} {
		bl.Add(ts, []byte("k"), []byte("v"), nil)
	}
	raw, err := bl.Build()
	require.NoError(t, err)
	_, err = p.Append(append([]byte(nil), raw...), false)
	require.NoError(t, err)
	off, ts, found, err := p.OffsetOfMaxTimestamp()
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, int64(1), off, "the first record with the largest timestamp, not the batch's last")
	require.Equal(t, int64(30), ts)
}

func TestAlterTopicConfig(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir, WithMaintenanceInterval(5*time.Millisecond))
	now := time.Now().UnixMilli()
	p := segmentedTopic(t, b, TopicConfig{Retention: new(time.Hour)}, now, now, now, now, now)
	segs := p.NumSegments()
	require.Greater(t, segs, 4)

	entry := func(name string) ConfigEntry {
		for _, e := range mustTopic(t, b, "t").ConfigEntries() {
			if e.Name == name {
				return e
			}
		}
		t.Fatalf("no entry %s", name)
		return ConfigEntry{}
	}
	require.Equal(t, ConfigEntry{Name: "retention.bytes", Value: "-1", Source: ConfigDefault}, entry("retention.bytes"))
	require.Equal(t, ConfigSet, entry("segment.bytes").Source)

	// Retention applied without a reopen: the maintenance ticks remove
	// the oldest segments down to the limit.
	cfg, err := b.AlterTopicConfig("t", map[string]*string{"retention.bytes": new("1")})
	require.NoError(t, err)
	require.Equal(t, int64(1), *cfg.RetentionBytes)
	require.Equal(t, ConfigEntry{Name: "retention.bytes", Value: "1", Source: ConfigSet}, entry("retention.bytes"))
	require.Eventually(t, func() bool { return p.LogStartOffset() == 40 }, 10*time.Second, time.Millisecond)
	require.Equal(t, 1, p.NumSegments())

	// max.message.bytes applies to the next append.
	_, err = b.AlterTopicConfig("t", map[string]*string{"max.message.bytes": new("100")})
	require.NoError(t, err)
	_, err = p.Append(newBatch(t, "big", 10, 1000), false)
	require.ErrorIs(t, err, ErrRecordTooLarge)
	require.Equal(t, 100, mustTopic(t, b, "t").MaxMessageBytes())

	for _, tc := range []struct {
		name    string
		changes map[string]*string
		want    error
	}{
		{"unknown setting", map[string]*string{"no.such": new("1")}, ErrInvalidConfig},
		{"unknown setting reset", map[string]*string{"no.such": nil}, ErrInvalidConfig},
		{"out of range", map[string]*string{"segment.bytes": new("1")}, ErrInvalidConfig},
		{"malformed", map[string]*string{"retention.ms": new("soon")}, ErrInvalidConfig},
		{"partitions", map[string]*string{"partitions": new("3")}, ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.AlterTopicConfig("t", tc.changes)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, "1", entry("retention.bytes").Value, "nothing changed")
		})
	}
	_, err = b.AlterTopicConfig("nope", nil)
	require.ErrorIs(t, err, ErrUnknownTopic)
	_, err = b.AlterTopicConfig("__consumer_offsets", nil)
	require.ErrorIs(t, err, ErrInvalidTopic)

	// nil returns a setting to its default; the config survives a reopen.
	_, err = b.AlterTopicConfig("t", map[string]*string{"max.message.bytes": nil, "cleanup.policy": new("compact,delete")})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	b = openBroker(t, dir, WithMaintenanceInterval(0))
	got := mustTopic(t, b, "t").Config()
	require.Equal(t, int64(1), *got.RetentionBytes)
	require.Equal(t, CleanupCompactDelete, got.CleanupPolicy)
	require.Equal(t, ConfigDefault, entry("max.message.bytes").Source)

	// A compacted topic keeps compacting.
	_, err = b.AlterTopicConfig("t", map[string]*string{"cleanup.policy": new("delete")})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestDeleteRecordsSurvivesPowerCut: once DeleteRecordsBefore returns, a
// power cut (no Close, unsynced pages lost) keeps the new log start, and
// the records up to it (fsynced first) are there.
func TestDeleteRecordsSurvivesPowerCut(t *testing.T) {
	m := vfs.NewMem()
	b, err := Open("/data", WithFS(m), WithoutExpvar(), WithMaintenanceInterval(0))
	require.NoError(t, err)
	p := segmentedTopic(t, b, TopicConfig{}, 1000, 1000, 1000)
	start, err := p.DeleteRecordsBefore(-1)
	require.NoError(t, err)
	require.Equal(t, int64(30), start)
	after := m.Crash(nil)
	_ = b.Close()

	b2, err := Open("/data", WithFS(after), WithoutExpvar(), WithMaintenanceInterval(0))
	require.NoError(t, err)
	defer b2.Close()
	p = mustPartition(t, b2, "t", 0)
	require.Equal(t, int64(30), p.LogStartOffset())
	require.Equal(t, int64(30), p.HighWatermark())
}
