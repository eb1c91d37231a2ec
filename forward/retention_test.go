package forward

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// appendAt appends n records with timestamp ts to p in one batch.
func appendAt(t *testing.T, p *commitlog.Partition, ts int64, n int) {
	t.Helper()
	bl := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i++ {
		bl.Add(ts, []byte("k"), []byte("some value of a record"), nil)
	}
	batch, err := bl.Build()
	require.NoError(t, err)
	_, err = p.Append(append([]byte(nil), batch...), false)
	require.NoError(t, err)
}

// While the cluster is away, the backlog nears retention.ms (a warning and
// AtRisk), then retention deletes unforwarded records (an error and
// LostRecords); once the cluster is back the rest is forwarded from the log
// start.
func TestForwardRetentionWarningAndLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rf := newRestartableFake(t)
	rf.stop()
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(10*time.Millisecond))
	require.NoError(t, err)
	defer b.Close()
	tp, err := b.CreateTopic("t", commitlog.TopicConfig{Retention: new(time.Hour)})
	require.NoError(t, err)
	p, err := tp.Partition(0)
	require.NoError(t, err)
	f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: clientOpts(rf.seeds()), CheckInterval: 10 * time.Millisecond})
	require.NoError(t, err)

	// Two hours old, in the active segment (which retention never
	// deletes): at risk.
	appendAt(t, p, time.Now().Add(-2*time.Hour).UnixMilli(), 20)
	require.Eventually(t, func() bool {
		s := b.Stats().Forwarders[0].Partitions[0]
		return s.AtRisk && s.OldestAge > time.Hour && s.LagRecords == 20
	}, 30*time.Second, 5*time.Millisecond)
	var buf bytes.Buffer
	require.NoError(t, b.WritePrometheus(&buf))
	require.Contains(t, buf.String(), `commitlog_forward_retention_at_risk{forwarder="commitlog-forwarder",direction="out",topic="t",partition="0"} 1`)

	// Closed, the segment expires: deleted before it was forwarded.
	require.NoError(t, p.Roll())
	require.Eventually(t, func() bool { return p.LogStartOffset() == 20 }, 30*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return b.Stats().Forwarders[0].Partitions[0].LostRecords == 20 }, 30*time.Second, 5*time.Millisecond)
	buf.Reset()
	require.NoError(t, b.WritePrometheus(&buf))
	require.Contains(t, buf.String(), `commitlog_forward_lost_records_total{forwarder="commitlog-forwarder",direction="out",topic="t",partition="0"} 20`)

	// 55 minutes old: over 80% of retention.ms, not expired.
	appendAt(t, p, time.Now().Add(-55*time.Minute).UnixMilli(), 30)
	appendAt(t, p, time.Now().UnixMilli(), 10)
	require.Eventually(t, func() bool {
		s := b.Stats().Forwarders[0].Partitions[0]
		return s.AtRisk && s.OldestAge > 50*time.Minute && s.OldestAge < time.Hour && s.LagRecords == 40
	}, 30*time.Second, 5*time.Millisecond)

	rf.start(t)
	require.NoError(t, f.Flush(ctx))
	s := b.Stats().Forwarders[0].Partitions[0]
	require.Equal(t, int64(20), s.LostRecords, "counted once")
	require.Equal(t, int64(0), s.LagRecords)
	require.NoError(t, f.Close(ctx))
	require.Equal(t, 40, requireForwarded(t, b, rf.seeds(), "t"))
}

// Records the cluster's retention deleted before the mirror copied them are
// counted in LostRecords, and the mirror goes on from the log start.
func TestMirrorRemoteLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fc := newFake(t, kfakeSeed(1, "t"))
	seeds := fc.ListenAddrs()
	produceRemote(t, seeds, "t", 1, 0, 100)
	b := openBroker(t, t.TempDir())
	defer b.Close()
	cfg := MirrorConfig{Topics: []string{"t"}, ClientOptions: clientOpts(seeds)}
	m, err := NewMirror(b, cfg)
	require.NoError(t, err)
	require.NoError(t, m.Flush(ctx))
	require.NoError(t, m.Close(ctx))

	produceRemote(t, seeds, "t", 1, 100, 100)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "t", Partition: 0, At: 150, LeaderEpoch: -1})
	rs, err := kadm.NewClient(cl).DeleteRecords(ctx, os)
	require.NoError(t, err)
	require.NoError(t, rs.Error())

	m, err = NewMirror(b, cfg)
	require.NoError(t, err)
	require.NoError(t, m.Flush(ctx))
	s := b.Stats().Forwarders[0].Partitions[0]
	require.Equal(t, int64(50), s.LostRecords)
	require.Equal(t, int64(0), s.LagRecords)
	require.NoError(t, m.Close(ctx))
	local, _ := localRecords(t, b, "t", 0)
	local = splitSource(t, local)
	require.Len(t, local, 150)
	for i, r := range local {
		want := int64(i)
		if i >= 100 {
			want = int64(i + 50)
		}
		require.Equal(t, want, r.Source)
	}
}

// A backlog over 80% of retention.bytes is at risk too.
func TestForwardRetentionBytesWarning(t *testing.T) {
	rf := newRestartableFake(t)
	rf.stop()
	b := openBroker(t, t.TempDir())
	defer b.Close()
	tp, err := b.CreateTopic("t", commitlog.TopicConfig{RetentionBytes: new(int64(4000))})
	require.NoError(t, err)
	p, err := tp.Partition(0)
	require.NoError(t, err)
	f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: clientOpts(rf.seeds()), CheckInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	defer f.Close(context.Background())
	appendAt(t, p, time.Now().UnixMilli(), 20) // about 1 KB
	require.Eventually(t, func() bool {
		s := b.Stats().Forwarders[0].Partitions[0]
		return s.LagRecords == 20 && s.LagBytes > 0
	}, 30*time.Second, 5*time.Millisecond)
	time.Sleep(30 * time.Millisecond) // a few checks
	require.False(t, b.Stats().Forwarders[0].Partitions[0].AtRisk, "%d bytes of backlog", b.Stats().Forwarders[0].Partitions[0].LagBytes)
	appendAt(t, p, time.Now().UnixMilli(), 100) // about 5 KB: over 3200
	require.Eventually(t, func() bool {
		s := b.Stats().Forwarders[0].Partitions[0]
		return s.AtRisk && s.LagBytes > 3200
	}, 30*time.Second, 5*time.Millisecond)
}
