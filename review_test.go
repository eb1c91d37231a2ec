package commitlog_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

type groupStats []commitlog.GroupStats

func (g groupStats) ContributeStats(s *commitlog.Stats) { s.Groups = append(s.Groups, g...) }

// TestPrometheusLabelEscaping: label values are escaped as the Prometheus
// text format says (backslash, double quote and line feed; every other
// character as is). They were written with Go's %q, whose \t, \u00a0 or
// \x01 escapes Prometheus rejects, failing the whole scrape for one odd
// consumer group id.
func TestPrometheusLabelEscaping(t *testing.T) {
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	_, err = b.Extension("test-groups", func() (any, error) {
		return groupStats{{Group: "a\"b\\c\nd\te\u00a0f\x01é", Members: 1,
			Lag: []commitlog.PartitionLag{{Topic: "t", Partition: 0, Lag: 3}}}, {Group: "bad\xff", Members: 2}}, nil
	})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, b.WritePrometheus(&out))
	want := `group="a\"b\\c\nd` + "\te\u00a0f\x01é" + `"`
	require.Contains(t, out.String(), `commitlog_consumer_group_members{`+want+`} 1`)
	require.Contains(t, out.String(), `commitlog_consumer_group_lag{`+want+`,topic="t",partition="0"} 3`)
	require.Contains(t, out.String(), "commitlog_consumer_group_members{group=\"bad\uFFFD\"} 2", "valid UTF-8")
}

// TestParseTopicConfigHugeDurations: a duration setting (in ms) too large
// for time.Duration means "as long as can be", as Kafka reads a huge
// retention.ms. ParseTopicConfig multiplied without checking: the product
// wrapped, here to 0.45 ms, and the next maintenance deleted every record
// of a topic configured to keep them for centuries.
func TestParseTopicConfigHugeDurations(t *testing.T) {
	settings := map[string]string{"retention.ms": "18446744073710", "segment.ms": "18446744073710", "cleanup.policy": "delete"}
	cfg, err := commitlog.ParseTopicConfig(1, settings)
	require.NoError(t, err)
	require.Greater(t, cfg.RetentionMs, 100*365*24*time.Hour)
	require.Greater(t, cfg.SegmentMs, 100*365*24*time.Hour)

	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(10*time.Millisecond))
	require.NoError(t, err)
	defer b.Close()
	top, err := b.CreateTopic("t", cfg)
	require.NoError(t, err)
	p := top.Partitions()[0]
	bl := record.NewBuilder(0, record.BatchOptions{})
	bl.Add(time.Now().UnixMilli(), nil, []byte("v"), nil)
	raw, err := bl.Build()
	require.NoError(t, err)
	_, err = p.Append(raw, false)
	require.NoError(t, err)
	require.NoError(t, p.Log().Roll())
	time.Sleep(50 * time.Millisecond) // a few maintenance passes
	require.NoError(t, p.Maintain())
	require.Equal(t, int64(0), p.LogStartOffset(), "retention deleted the record")
}
