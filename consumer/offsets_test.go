package consumer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// offsetsSegment is the first segment file of the offsets topic's
// partition that group's commits go to, and that partition's id.
func offsetsSegment(t *testing.T, b *commitlog.Broker, group string) (string, int32) {
	t.Helper()
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	p, err := coord.offsets.partitionFor(group)
	require.NoError(t, err)
	return filepath.Join(b.Dir(), fmt.Sprintf("%s-%d", OffsetsTopic, p.ID()), "00000000000000000000.log"), p.ID()
}

// batchPositions lists the file positions of the batches of a segment file.
func batchPositions(t *testing.T, data []byte) []int {
	t.Helper()
	var out []int
	for pos := 0; pos < len(data); {
		h, err := record.ParseHeader(data[pos:])
		require.NoError(t, err)
		out = append(out, pos)
		pos += h.Size()
	}
	return out
}

// TestDamagedOffsetsTopicDoesNotHang: a damaged commit batch in
// __consumer_offsets makes the coordinator's load fail with ErrCorrupt (or
// load what is intact), never loop forever. Before the fix a batch whose
// base offset field (not covered by the CRC) was damaged so that a read
// made no progress, or returned nothing below the high watermark, hung
// consumer.New for good.
func TestDamagedOffsetsTopicDoesNotHang(t *testing.T) {
	const commits = 5
	setBase := func(base int64) func(data []byte, pos []int, i int) []byte {
		return func(data []byte, pos []int, i int) []byte {
			binary.BigEndian.PutUint64(data[pos[i]:], uint64(base))
			return data
		}
	}
	cases := []struct {
		name    string
		batch   int // which batch is damaged
		damage  func(data []byte, pos []int, i int) []byte
		corrupt bool // the load must fail with ErrCorrupt
	}{
		{name: "last batch's base offset moved back by one", batch: commits - 1, damage: setBase(commits - 2), corrupt: true},
		{name: "middle batch's base offset moved back", batch: 2, damage: setBase(0), corrupt: true},
		{name: "middle batch's base offset moved past the end", batch: 1, damage: setBase(1000), corrupt: true},
		{name: "first batch's base offset moved past the end", batch: 0, damage: setBase(1000), corrupt: true},
		{name: "middle batch zeroed", batch: 2, damage: func(data []byte, pos []int, i int) []byte {
			clear(data[pos[i] : pos[i]+40])
			return data
		}},
		{name: "truncated in the middle of a batch", batch: 3, damage: func(data []byte, pos []int, i int) []byte {
			return data[:pos[i]+20]
		}},
		{name: "truncated to nothing", batch: 0, damage: func(data []byte, pos []int, i int) []byte {
			return data[:0]
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openBroker(t, dir)
			_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
			require.NoError(t, err)
			tp := TopicPartition{Topic: "t"}
			file, home := offsetsSegment(t, b, "g")
			// One timestamp for all: whether the log's open trusts the
			// segment (a clean shutdown) or scans and truncates it then
			// does not depend on the milliseconds the commits took.
			ts := time.Now().UnixMilli()
			for i := int64(1); i <= commits; i++ {
				appendCommit(t, b, home, "g", tp, &i, ts)
			}
			require.NoError(t, b.Close())

			data, err := os.ReadFile(file)
			require.NoError(t, err)
			pos := batchPositions(t, data)
			require.Len(t, pos, commits)
			require.NoError(t, os.WriteFile(file, tc.damage(data, pos, tc.batch), 0o644))

			within(t, "commitlog.Open", func() { b, err = commitlog.Open(dir, commitlog.WithMaintenanceInterval(time.Hour)) })
			if err != nil {
				// The log itself now finds most of this damage: a clear
				// error at Open is as good as one from the load.
				require.ErrorIs(t, err, commitlog.ErrCorrupt)
				require.ErrorContains(t, err, OffsetsTopic)
				return
			}
			var c *Consumer
			within(t, "consumer.New", func() { c, err = New(b, Config{GroupID: "g"}) })
			if tc.corrupt {
				require.ErrorIs(t, err, commitlog.ErrCorrupt)
				require.ErrorContains(t, err, OffsetsTopic)
			}
			if err == nil {
				got, err := c.Committed(context.Background(), []TopicPartition{tp})
				require.NoError(t, err)
				if om, ok := got[tp]; ok {
					require.GreaterOrEqual(t, om.Offset, int64(1), "a committed offset that was never committed")
					require.LessOrEqual(t, om.Offset, int64(commits), "a committed offset that was never committed")
				}
				require.NoError(t, c.Close(context.Background()))
			}
			within(t, "Broker.Close", func() { _ = b.Close() })
		})
	}
}

// appendCommit writes one committed-offset record (a tombstone when offset
// is nil) with commit timestamp ts straight into partition part of the
// offsets topic, as commits made under another partition layout, or by a
// clock that went back, left them.
func appendCommit(t *testing.T, b *commitlog.Broker, part int32, group string, tp TopicPartition, offset *int64, ts int64) {
	t.Helper()
	topic, err := b.Topic(OffsetsTopic)
	require.NoError(t, err)
	p, err := topic.Partition(part)
	require.NoError(t, err)
	bl := record.NewBuilder(0, record.BatchOptions{})
	var value []byte
	if offset != nil {
		value = encodeOffsetValue(OffsetAndMetadata{Offset: *offset}, ts)
	}
	bl.Add(ts, encodeOffsetKey(group, tp), value, nil)
	raw, err := bl.Build()
	require.NoError(t, err)
	_, err = p.Append(raw, true)
	require.NoError(t, err)
}

// TestNewestCommitWinsAcrossOffsetsPartitions: whichever partitions of
// __consumer_offsets hold a group's commits, loading them back gives the
// newest commit, never an older one. Before the fix the partition loaded
// last won, so an old commit left in the group's former partition rolled
// back the newer ones.
func TestNewestCommitWinsAcrossOffsetsPartitions(t *testing.T) {
	off := func(v int64) *int64 { return &v }
	type write struct {
		home   bool   // the group's partition, or another one
		offset *int64 // nil: a tombstone
		ts     int64
	}
	cases := []struct {
		name   string
		writes []write
		want   *int64 // nil: no committed offset
	}{
		{"other partition older", []write{{true, off(10), 2000}, {false, off(5), 1000}}, off(10)},
		{"other partition older, written first", []write{{false, off(5), 1000}, {true, off(10), 2000}}, off(10)},
		{"other partition newer", []write{{true, off(10), 2000}, {false, off(20), 3000}}, off(20)},
		{"tie goes to the group's partition", []write{{true, off(10), 2000}, {false, off(20), 2000}}, off(10)},
		{"tie goes to the group's partition, written last", []write{{false, off(20), 2000}, {true, off(10), 2000}}, off(10)},
		{"clock went back: log order decides in one partition", []write{{true, off(10), 2000}, {true, off(11), 1000}, {false, off(5), 1500}}, off(11)},
		{"newer tombstone in the other partition", []write{{true, off(10), 2000}, {false, nil, 3000}}, nil},
		{"older tombstone in the other partition", []write{{true, off(10), 2000}, {false, nil, 1000}}, off(10)},
		{"tombstone then newer commit elsewhere", []write{{true, nil, 2000}, {false, off(7), 3000}}, off(7)},
		{"a negative offset is no commit", []write{{true, off(10), 1000}, {true, off(-1), 2000}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The other partition is loaded after the group's in one
			// round, before it in the other.
			for _, after := range []bool{true, false} {
				dir := t.TempDir()
				b := openBroker(t, dir)
				_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
				require.NoError(t, err)
				fillTopic(t, b, "t", 100)
				_, home := offsetsSegment(t, b, "g")
				other := (home + 1) % DefaultOffsetsTopicPartitions
				if !after {
					other = (home + DefaultOffsetsTopicPartitions - 1) % DefaultOffsetsTopicPartitions
				}
				tp := TopicPartition{Topic: "t"}
				for _, w := range tc.writes {
					part := home
					if !w.home {
						part = other
					}
					appendCommit(t, b, part, "g", tp, w.offset, w.ts)
				}
				require.NoError(t, b.Close())
				b = openBroker(t, dir)
				coord, err := CoordinatorFor(b)
				require.NoError(t, err)
				got := coord.FetchOffsets("g", []TopicPartition{tp})
				if tc.want == nil {
					require.NotContains(t, got, tp, "other partition %d", other)
				} else {
					require.Equal(t, map[TopicPartition]OffsetAndMetadata{tp: {Offset: *tc.want}}, got, "other partition %d", other)
				}
				require.NoError(t, b.Close())
			}
		})
	}
}

// TestOffsetsPartitionCountRaisedKeepsNewestCommit raises the partition
// count of __consumer_offsets on disk while the broker is closed (what
// AddPartitions on it did), so that the group's commits move to another
// partition: the commits made after the change must win on the next load
// over the older ones left in the group's former partition.
func TestOffsetsPartitionCountRaisedKeepsNewestCommit(t *testing.T) {
	const before, after = DefaultOffsetsTopicPartitions, DefaultOffsetsTopicPartitions + 4
	// A group whose former partition is loaded after its new one.
	group := ""
	for i := 0; group == "" && i < 1000; i++ {
		g := fmt.Sprintf("g%d", i)
		if h := xxhash.Sum64String(g); h%before > h%after {
			group = g
		}
	}
	require.NotEmpty(t, group)
	dir := t.TempDir()
	b := openBroker(t, dir)
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	fillTopic(t, b, "t", 100)
	tp := TopicPartition{Topic: "t"}
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	require.NoError(t, coord.CommitOffsets(group, "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 5}}))
	require.NoError(t, b.Close())

	setPartitions(t, dir, OffsetsTopic, after)
	b = openBroker(t, dir)
	coord, err = CoordinatorFor(b)
	require.NoError(t, err)
	offsetsTopic, err := b.Topic(OffsetsTopic)
	require.NoError(t, err)
	require.Equal(t, int32(after), offsetsTopic.NumPartitions())
	require.Equal(t, int64(5), coord.FetchOffsets(group, nil)[tp].Offset)
	require.NoError(t, coord.CommitOffsets(group, "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 10}}))
	require.NoError(t, b.Close())

	b = openBroker(t, dir)
	defer b.Close()
	coord, err = CoordinatorFor(b)
	require.NoError(t, err)
	require.Equal(t, int64(10), coord.FetchOffsets(group, nil)[tp].Offset, "the older commit in the former partition won")
}

// setPartitions edits meta.json of a closed broker to give topic n
// partitions; the broker creates the new ones empty when it opens.
func setPartitions(t *testing.T, dir, topic string, n int) {
	t.Helper()
	path := filepath.Join(dir, "meta.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(data, &meta))
	topics, ok := meta["topics"].(map[string]any)
	require.True(t, ok, "meta.json has no topics: %s", data)
	tm, ok := topics[topic].(map[string]any)
	require.True(t, ok, "meta.json has no topic %s: %s", topic, data)
	require.Contains(t, tm, "partitions")
	old := int(tm["partitions"].(float64))
	tm["partitions"] = n
	// The new partitions' directories, as AddPartitions makes them before
	// it commits the metadata (Open refuses partitions without one).
	for i := old; i < n; i++ {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, fmt.Sprintf("%s-%d", topic, i)), 0o755))
	}
	data, err = json.Marshal(meta)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// TestCommitAfterClockWentBackStillWins: a commit made while the clock is
// behind the timestamp of the commit it replaces (which another partition
// holds, as after a change of the partition count) carries that
// timestamp, not an older one, so that it still wins on the next load.
func TestCommitAfterClockWentBackStillWins(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	fillTopic(t, b, "t", 100)
	_, home := offsetsSegment(t, b, "g")
	tp := TopicPartition{Topic: "t"}
	ahead := time.Now().Add(time.Hour).UnixMilli() // the clock then was an hour ahead
	five := int64(5)
	appendCommit(t, b, (home+1)%DefaultOffsetsTopicPartitions, "g", tp, &five, ahead)
	require.NoError(t, b.Close())

	b = openBroker(t, dir)
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	require.Equal(t, int64(5), coord.FetchOffsets("g", nil)[tp].Offset)
	require.NoError(t, coord.CommitOffsets("g", "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 9}}))
	require.NoError(t, b.Close())

	b = openBroker(t, dir)
	defer b.Close()
	coord, err = CoordinatorFor(b)
	require.NoError(t, err)
	require.Equal(t, int64(9), coord.FetchOffsets("g", nil)[tp].Offset)
}

// TestOversizedCommitRefused: Kafka strings in the offsets topic carry an
// int16 length. Metadata over offset.metadata.max.bytes (4096 in Kafka) or
// a group id too long for its key was written with a truncated length: the
// record did not decode, and after a restart the coordinator refused to
// load __consumer_offsets at all. Such commits are refused instead.
func TestOversizedCommitRefused(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	fillTopic(t, b, "t", 100)
	tp := TopicPartition{Topic: "t"}
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	big := string(make([]byte, 70000))
	require.NoError(t, coord.CommitOffsets("g", "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 3, Metadata: "ok"}}))
	require.ErrorIs(t, coord.CommitOffsets("g", "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 5, Metadata: big}}), commitlog.ErrRecordTooLarge)
	require.ErrorIs(t, coord.CommitOffsets(big, "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 5}}), commitlog.ErrInvalidConfig)
	require.NoError(t, b.Close())

	b = openBroker(t, dir)
	defer b.Close()
	coord, err = CoordinatorFor(b)
	require.NoError(t, err, "the offsets topic loads after a restart")
	require.Equal(t, OffsetAndMetadata{Offset: 3, Metadata: "ok"}, coord.FetchOffsets("g", []TopicPartition{tp})[tp])
}
