package consumer

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/testenv"
	"github.com/stretchr/testify/require"
)

// consumerSamples are, for every consumer setting, Kafka values other
// than the default, in canonical form.
var consumerSamples = map[string][]string{
	"group.id":                  {"g"},
	"auto.offset.reset":         {"earliest", "none"},
	"enable.auto.commit":        {"false"},
	"auto.commit.interval.ms":   {"0", "1000"},
	"max.poll.records":          {"1", "10"},
	"fetch.max.bytes":           {"0", "1024"},
	"max.partition.fetch.bytes": {"0", "1024"},
	"fetch.min.bytes":           {"0", "1000"},
	"fetch.max.wait.ms":         {"0", "100"},
	"session.timeout.ms":        {"10000"},
	"heartbeat.interval.ms":     {"1000"},
	"max.poll.interval.ms":      {"1", "60000"},
	"client.id":                 {"orders-reader"},
}

func TestConsumerSettingsRoundTrip(t *testing.T) {
	require.ElementsMatch(t, consumerSettings.Names(), slices.Collect(maps.Keys(consumerSamples)), "every setting has samples")
	for name, values := range consumerSamples {
		for _, v := range values {
			in := map[string]string{name: v}
			cfg, err := ParseConfig(in)
			require.NoError(t, err, "%s=%s", name, v)
			require.Equal(t, in, cfg.Settings(), "%s=%s", name, v)
			back, err := ParseConfig(cfg.Settings())
			require.NoError(t, err)
			require.Equal(t, cfg, back)
		}
	}
	cfg, err := ParseConfig(map[string]string{"enable.auto.commit": "true", "fetch.max.wait.ms": "500", "auto.offset.reset": "latest"})
	require.NoError(t, err)
	require.Equal(t, Config{EnableAutoCommit: new(true), FetchMaxWait: new(500 * time.Millisecond), AutoOffsetReset: ResetLatest}, cfg, "a setting named is set, even to its default")
	require.Empty(t, cfg.Settings(), "the defaults")
	cfg, err = ParseConfig(map[string]string{"enable.auto.commit": "false", "fetch.max.wait.ms": "0"})
	require.NoError(t, err)
	require.Equal(t, Config{EnableAutoCommit: new(false), FetchMaxWait: new(time.Duration(0))}, cfg)
	r, err := cfg.resolve()
	require.NoError(t, err)
	require.Zero(t, r.FetchMaxWait)
	require.Equal(t, DefaultFetchMinBytes, r.FetchMinBytes)
	require.Len(t, r.Assignors, 2)
}

func TestConsumerConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"auto.offset.reset": "smallest"}, `auto.offset.reset="smallest": want latest, earliest, none`},
		{map[string]string{"enable.auto.commit": "yes"}, `enable.auto.commit="yes": want true or false`},
		{map[string]string{"max.poll.records": "0"}, `max.poll.records="0": want 1 to 2147483647`},
		{map[string]string{"fetch.max.wait.ms": "-1"}, "fetch.max.wait.ms (FetchMaxWait) -1ms"},
		{map[string]string{"heartbeat.interval.ms": "60000"}, "heartbeat.interval.ms 1m0s must be below session.timeout.ms 45s"},
		{map[string]string{"partition.assignment.strategy": "range"}, "set the Go field Assignors"},
		{map[string]string{"key.deserializer": "x"}, `unknown consumer setting "key.deserializer"`},
	} {
		_, err := ParseConfig(tt.settings)
		require.ErrorIs(t, err, commitlog.ErrInvalidConfig, "%v", tt.settings)
		require.ErrorContains(t, err, tt.want)
	}
	for _, c := range []Config{{AutoOffsetReset: "smallest"}, {MaxPollRecords: -1}, {FetchMaxBytes: new(-1)},
		{SessionTimeout: -time.Second}, {HeartbeatInterval: time.Hour}, {AutoCommitInterval: new(time.Nanosecond)}} {
		_, err := New(nil, c)
		require.ErrorIs(t, err, commitlog.ErrInvalidConfig, "%+v", c)
	}
}

// TestKafkaZeroFetchSettings: fetch.max.bytes=0 and
// max.partition.fetch.bytes=0 still return the first batch, as in Kafka,
// and fetch.max.wait.ms=0 returns at once when there is nothing.
func TestKafkaZeroFetchSettings(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxBytes: new(0), MaxPartitionFetchBytes: new(0),
		FetchMaxWait: new(time.Duration(0))})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}))
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs, "nothing there, and no wait")
	produce(t, b, "t", "v", 6) // one record a batch, 3 a partition
	seen := 0
	for range 6 {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 1, "one batch a poll")
		seen += len(recs)
	}
	require.Equal(t, 6, seen)
}

func TestREADMEConsumerSettings(t *testing.T) {
	testenv.README(t, "../README.md", "consumer", consumerSettings.Markdown())
}

// TestEveryConsumerFieldIsDeclared: no Config field escapes its one
// declaration (a field added or renamed without it fails here).
func TestEveryConsumerFieldIsDeclared(t *testing.T) {
	require.NoError(t, consumerSettings.CheckFields())
}

// TestParseConfigReportsEveryBadSetting: an unknown name does not hide an
// out-of-range value next to it.
func TestParseConfigReportsEveryBadSetting(t *testing.T) {
	_, err := ParseConfig(map[string]string{"no.such.setting": "x", "fetch.max.wait.ms": "-5"})
	require.ErrorIs(t, err, commitlog.ErrInvalidConfig)
	require.ErrorContains(t, err, "no.such.setting")
	require.ErrorContains(t, err, "fetch.max.wait.ms")
}
