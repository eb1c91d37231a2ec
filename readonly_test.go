package commitlog_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

// roAppend appends n one-record batches to p whose values are "<prefix><offset>".
func roAppend(t testing.TB, p *commitlog.Partition, key string, n int, prefix string) {
	t.Helper()
	for range n {
		b := record.NewBuilder(0, record.BatchOptions{})
		b.Add(time.Now().UnixMilli(), []byte(key), []byte(prefix+strconv.FormatInt(p.LogEndOffset(), 10)), nil)
		raw, err := b.Build()
		require.NoError(t, err)
		_, err = p.Append(append([]byte(nil), raw...), false)
		require.NoError(t, err)
	}
}

// snapshotDir is every file of dir with its content hash, size and mtime.
func snapshotDir(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out[rel+"/"] = info.ModTime().String()
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%x %d %s", sha256.Sum256(data), info.Size(), info.ModTime())
		return nil
	}))
	return out
}

// readValues reads every record of p from its log start to its high
// watermark, checking each batch's CRC, and returns offset -> value.
func readValues(t testing.TB, p *commitlog.Partition) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	var buf []byte
	next := p.LogStartOffset()
	for next < p.HighWatermark() {
		var err error
		buf, err = p.Read(buf, next, 1<<20)
		require.NoError(t, err)
		require.NotEmpty(t, buf)
		for data := buf; len(data) > 0; {
			h, err := record.Check(data[:min(len(data), int(binaryLen(data)))])
			require.NoError(t, err)
			it, err := record.NewIterator(data[:h.Size()])
			require.NoError(t, err)
			for it.Next() {
				if r := it.Record(); r.Offset >= next {
					out[r.Offset] = string(r.Value)
				}
			}
			require.NoError(t, it.Err())
			next = max(next, h.NextOffset())
			data = data[h.Size():]
		}
	}
	return out
}

// binaryLen is the size of the batch at the start of data, from its header.
func binaryLen(data []byte) int64 {
	h, err := record.ParseHeader(data)
	if err != nil {
		return int64(len(data))
	}
	return int64(h.Size())
}

// ownerDir makes a data directory with a plain topic that rolled and
// lost segments to retention, a compacted topic that was cleaned, and a
// group with a committed offset, then closes its broker.
func ownerDir(t *testing.T) string {
	dir := t.TempDir()
	b, err := commitlog.Open(dir, commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(-1))
	require.NoError(t, err)
	ev, err := b.CreateTopic("events", commitlog.TopicConfig{SegmentBytes: 2048, RetentionBytes: new(int64(8 << 10))})
	require.NoError(t, err)
	kt, err := b.CreateTopic("keyed", commitlog.TopicConfig{SegmentBytes: 2048, CleanupPolicy: commitlog.CleanupCompact})
	require.NoError(t, err)
	roAppend(t, ev.Partitions()[0], "", 400, "e-")
	kp := kt.Partitions()[0]
	for i := range 200 {
		roAppend(t, kp, "k-"+strconv.Itoa(i%7), 1, "")
	}
	require.NoError(t, kp.Roll())
	_, err = kp.Compact()
	require.NoError(t, err)
	c, err := consumer.CoordinatorFor(b)
	require.NoError(t, err)
	require.NoError(t, c.ResetOffsets("g", map[consumer.TopicPartition]consumer.OffsetAndMetadata{{Topic: "events", Partition: 0}: {Offset: 300}}))
	_, err = b.AlterTopicConfig("events", map[string]*string{"retention.ms": new("86400000")})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	return dir
}

func TestOpenReadOnlyWritesNothing(t *testing.T) {
	dir := ownerDir(t)
	owner, err := commitlog.Open(dir, commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(-1))
	require.NoError(t, err)
	want := readValues(t, mustTopicPartition(t, owner, "events"))
	wantKeyed := readValues(t, mustTopicPartition(t, owner, "keyed"))
	require.NoError(t, owner.Close())
	before := snapshotDir(t, dir)

	ro, err := commitlog.OpenReadOnly(dir, commitlog.WithRefreshInterval(5*time.Millisecond))
	require.NoError(t, err)
	require.True(t, ro.ReadOnly())
	require.Equal(t, []string{commitlog.OffsetsTopic, "events", "keyed"}, ro.Topics())
	ev := mustTopicPartition(t, ro, "events")
	require.Greater(t, ev.LogStartOffset(), int64(0), "retention ran in the owner")
	require.Equal(t, want, readValues(t, ev))
	require.Equal(t, wantKeyed, readValues(t, mustTopicPartition(t, ro, "keyed")))
	for off, v := range want {
		require.Equal(t, "e-"+strconv.FormatInt(off, 10), v)
	}

	_, err = ev.Read(nil, 0, 1<<20)
	require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange)

	raw := func() []byte {
		b := record.NewBuilder(0, record.BatchOptions{})
		b.Add(0, []byte("k"), []byte("v"), nil)
		r, err := b.Build()
		require.NoError(t, err)
		return r
	}
	writes := map[string]func() error{
		"CreateTopic":   func() error { _, err := ro.CreateTopic("new", commitlog.TopicConfig{}); return err },
		"AddPartitions": func() error { return ro.AddPartitions("events", 3) },
		"DeleteTopic":   func() error { return ro.DeleteTopic("events") },
		"AlterTopicConfig": func() error {
			_, err := ro.AlterTopicConfig("events", map[string]*string{"retention.ms": new("1")})
			return err
		},
		"DeleteRecordsBefore": func() error { _, err := ev.DeleteRecordsBefore(ev.HighWatermark()); return err },
		"Append":              func() error { _, err := ev.Append(raw(), true); return err },
		"Roll":                func() error { return ev.Roll() },
		"Compact":             func() error { _, err := mustTopicPartition(t, ro, "keyed").Compact(); return err },
	}
	ctx := context.Background()
	for name, write := range writes {
		require.ErrorIs(t, write(), commitlog.ErrReadOnly, name)
	}
	prod, err := producer.New(ro, producer.Config{})
	require.NoError(t, err)
	_, err = prod.SendSync(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
	require.ErrorIs(t, err, commitlog.ErrReadOnly)
	require.NoError(t, prod.Close(ctx))

	// The groups are the owner's: described and read, not joined.
	adm, err := admin.New(ro)
	require.NoError(t, err)
	groups, err := adm.ListGroups(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"g"}, groups)
	committed, err := adm.CommittedOffsets(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, int64(300), committed[consumer.TopicPartition{Topic: "events", Partition: 0}].Offset)
	d, err := adm.DescribeGroup(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, consumer.GroupEmpty, d.State)
	require.ErrorIs(t, adm.DeleteGroup(ctx, "g"), commitlog.ErrReadOnly)
	cons, err := consumer.New(ro, consumer.Config{GroupID: "g", AutoOffsetReset: "earliest"})
	require.NoError(t, err)
	require.ErrorIs(t, cons.Subscribe([]string{"events"}, nil), commitlog.ErrReadOnly)
	require.NoError(t, cons.Close(ctx))
	cons, err = consumer.New(ro, consumer.Config{GroupID: "g", EnableAutoCommit: new(false)})
	require.NoError(t, err)
	require.NoError(t, cons.Assign([]consumer.TopicPartition{{Topic: "events", Partition: 0}}))
	recs, err := cons.Poll(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	require.Equal(t, int64(300), recs[0].Offset, "starts at the owner's committed offset")
	require.ErrorIs(t, cons.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{{Topic: "events", Partition: 0}: {Offset: 301}}), commitlog.ErrReadOnly)
	require.NoError(t, cons.Close(ctx))

	require.NoError(t, ro.Refresh())
	require.NoError(t, ro.Close())
	require.NoError(t, ro.Close())
	require.ErrorIs(t, ro.Refresh(), commitlog.ErrClosed)
	require.Equal(t, before, snapshotDir(t, dir), "the read-only broker changed the directory")

	// Bad directories: a clear error, nothing created.
	_, err = commitlog.OpenReadOnly(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NoDirExists(t, filepath.Join(dir, "missing"))
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "meta.json"), []byte("{not json"), 0o644))
	_, err = commitlog.OpenReadOnly(bad)
	require.ErrorIs(t, err, commitlog.ErrCorrupt)
	empty, err := commitlog.OpenReadOnly(t.TempDir())
	require.NoError(t, err)
	require.Empty(t, empty.Topics())
	require.NoError(t, empty.Close())
}

func mustTopicPartition(t testing.TB, b *commitlog.Broker, topic string) *commitlog.Partition {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	p, err := tp.Partition(0)
	require.NoError(t, err)
	return p
}

// TestReadOnlyFollowsOwner has the owner and the reader in one process:
// the reader sees appends, rolls, retention, compaction swaps, topics
// created and deleted, and its long polls wake on the owner's appends.
func TestReadOnlyFollowsOwner(t *testing.T) {
	dir := t.TempDir()
	// Retention removes files at the owner's maintenance ticks, after it
	// records the new log start offset.
	owner, err := commitlog.Open(dir, commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(5*time.Millisecond), commitlog.WithCleanerInterval(-1))
	require.NoError(t, err)
	defer owner.Close()
	ev, err := owner.CreateTopic("events", commitlog.TopicConfig{SegmentBytes: 2048, RetentionBytes: new(int64(6 << 10))})
	require.NoError(t, err)
	kt, err := owner.CreateTopic("keyed", commitlog.TopicConfig{SegmentBytes: 2048, CleanupPolicy: commitlog.CleanupCompact})
	require.NoError(t, err)
	op, kp := ev.Partitions()[0], kt.Partitions()[0]
	roAppend(t, op, "", 10, "e-")

	ro, err := commitlog.OpenReadOnly(dir, commitlog.WithRefreshInterval(5*time.Millisecond))
	require.NoError(t, err)
	defer ro.Close()
	rp := mustTopicPartition(t, ro, "events")
	require.Equal(t, int64(10), rp.HighWatermark())

	// A long poll on the reader wakes on the owner's append.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cons, err := consumer.New(ro, consumer.Config{AutoOffsetReset: "latest", FetchMaxWait: new(time.Minute)})
	require.NoError(t, err)
	defer cons.Close(context.Background())
	require.NoError(t, cons.Assign([]consumer.TopicPartition{{Topic: "events", Partition: 0}}))
	go func() {
		time.Sleep(50 * time.Millisecond)
		roAppend(t, op, "", 1, "e-")
	}()
	var recs []consumer.Record
	for len(recs) == 0 {
		recs, err = cons.Poll(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, int64(10), recs[0].Offset)
	require.Equal(t, "e-10", string(recs[0].Value))

	// Rolls and retention.
	roAppend(t, op, "", 300, "e-")
	require.Greater(t, op.NumSegments(), 1)
	// The owner's start moves once it has recorded it: at its next
	// maintenance tick, or at a Roll, as here, so that it stays put.
	require.NoError(t, op.Roll())
	require.Greater(t, op.LogStartOffset(), int64(0))
	require.Eventually(t, func() bool {
		return rp.HighWatermark() == op.HighWatermark() && rp.LogStartOffset() == op.LogStartOffset()
	}, 30*time.Second, 5*time.Millisecond, "reader [%d, %d), owner [%d, %d)", rp.LogStartOffset(), rp.HighWatermark(), op.LogStartOffset(), op.HighWatermark())
	require.Equal(t, readValues(t, op), readValues(t, rp))
	_, err = rp.Read(nil, 0, 1<<20)
	require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange)

	// Compaction swaps.
	for i := range 300 {
		roAppend(t, kp, "k-"+strconv.Itoa(i%5), 1, "")
	}
	require.NoError(t, ro.Refresh())
	rk := mustTopicPartition(t, ro, "keyed")
	require.Equal(t, readValues(t, kp), readValues(t, rk))
	require.NoError(t, kp.Roll())
	res, err := kp.Compact()
	require.NoError(t, err)
	require.Less(t, res.RecordsAfter, res.RecordsBefore)
	require.NoError(t, ro.Refresh())
	require.Equal(t, readValues(t, kp), readValues(t, rk))
	require.Equal(t, kp.NumSegments(), rk.NumSegments())

	// Topics created and deleted.
	_, err = owner.CreateTopic("later", commitlog.TopicConfig{})
	require.NoError(t, err)
	require.NoError(t, owner.DeleteTopic("keyed"))
	require.NoError(t, ro.Refresh())
	require.Equal(t, []string{"events", "later"}, ro.Topics())
	_, err = rk.Read(nil, 0, 100)
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
	require.False(t, errors.Is(err, commitlog.ErrReadOnly))
}
