package commitlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"expvar"
	"strings"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/stretchr/testify/require"
)

func TestStatsExpvarAndPrometheus(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := commitlog.Open(dir)
	require.NoError(t, err)
	defer b.Close()
	_, err = b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	p, err := producer.New(b, producer.Config{})
	require.NoError(t, err)
	for i := 0; i < 1000; i++ {
		p.Send(ctx, &producer.Record{Topic: "t", Key: []byte{byte(i)}, Value: []byte("v")})
	}
	require.NoError(t, p.Close(ctx))

	c, err := consumer.New(b, consumer.Config{GroupID: "g", AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(20 * time.Millisecond), MaxPollRecords: 300})
	require.NoError(t, err)
	require.NoError(t, c.Assign([]consumer.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}))
	recs, err := c.Poll(ctx)
	require.NoError(t, err)
	require.Len(t, recs, 300)
	require.NoError(t, c.CommitSync(ctx, nil))

	s := b.Stats()
	var ts commitlog.TopicStats
	for _, x := range s.Topics {
		if x.Name == "t" {
			ts = x
		}
	}
	require.Equal(t, int64(1000), ts.Throughput.Messages)
	require.Greater(t, ts.Throughput.AvgRecordsPerBatch, 1.0, "the producer batches")
	require.Len(t, ts.Partitions, 2)
	var leo int64
	for _, ps := range ts.Partitions {
		leo += ps.LogEndOffset
		require.Greater(t, ps.AppendLatency.Count, int64(0))
		require.Greater(t, ps.AppendLatency.P50, time.Duration(0))
	}
	require.Equal(t, int64(1000), leo)
	require.Len(t, s.Groups, 1)
	require.Equal(t, "g", s.Groups[0].Group)
	require.Equal(t, int64(700), s.Groups[0].TotalLag)

	// expvar publishes every open broker's stats under "commitlog".
	v := expvar.Get("commitlog")
	require.NotNil(t, v)
	var all map[string]commitlog.Stats
	require.NoError(t, json.Unmarshal([]byte(v.String()), &all))
	require.Contains(t, all, dir)

	var buf bytes.Buffer
	require.NoError(t, b.WritePrometheus(&buf))
	out := buf.String()
	require.Contains(t, out, `commitlog_log_end_offset{topic="t",partition="0"}`)
	require.Contains(t, out, `commitlog_consumer_group_lag{group="g",topic="t",partition="0"}`)
	require.Contains(t, out, "# TYPE commitlog_log_append_duration_seconds histogram")
	require.Contains(t, out, `commitlog_log_append_duration_seconds_count{topic="t",partition="0"} `)
	require.Contains(t, out, `commitlog_log_append_duration_seconds_bucket{topic="t",partition="0",le="+Inf"} `)
	// Each family's samples are contiguous, under their TYPE line, as the
	// text format requires; no family appears twice.
	seen := map[string]bool{}
	family := ""
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			family = strings.Fields(f)[0]
			require.False(t, seen[family], "family %s twice", family)
			seen[family] = true
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		require.True(t, name == family || strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count") == family,
			"sample %s outside its family (under %s)", name, family)
	}
	require.NoError(t, c.Close(ctx))
}
