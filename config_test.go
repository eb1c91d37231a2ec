package commitlog

import (
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// TestParseTopicConfigHugeDurations: a duration setting (in ms) too large
// for time.Duration means "as long as can be", as Kafka reads a huge
// retention.ms. ParseTopicConfig multiplied without checking: the product
// wrapped, here to 0.45 ms, and the next maintenance deleted every record
// of a topic configured to keep them for centuries.
func TestParseTopicConfigHugeDurations(t *testing.T) {
	settings := map[string]string{"retention.ms": "18446744073710", "segment.ms": "18446744073710", "cleanup.policy": "delete"}
	cfg, err := ParseTopicConfig(1, settings)
	require.NoError(t, err)
	require.Greater(t, *cfg.Retention, 100*365*24*time.Hour)
	require.Greater(t, cfg.SegmentAge, 100*365*24*time.Hour)
	require.Equal(t, map[string]string{"retention.ms": "9223372036854775807", "segment.ms": "9223372036854775807"}, cfg.Settings(),
		"the longest Duration is written as Kafka's Long.MAX_VALUE")

	b, err := Open(t.TempDir(), WithoutExpvar(), WithMaintenanceInterval(10*time.Millisecond))
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
	require.NoError(t, p.Roll())
	time.Sleep(50 * time.Millisecond) // a few maintenance passes
	require.NoError(t, p.maintain())
	require.Equal(t, int64(0), p.LogStartOffset(), "retention deleted the record")
}
