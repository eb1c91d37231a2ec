package commitlog

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/internal/testenv"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// topicSamples are, for every topic setting, Kafka values other than the
// default in their canonical string form: the bounds, and Kafka's zero
// where it is legal.
var topicSamples = map[string][]string{
	"segment.bytes":             {"14", "1048576", "2147483647"},
	"segment.ms":                {"1", "3600000", "9223372036854775807"},
	"retention.bytes":           {"0", "1", "1073741824"},
	"retention.ms":              {"-1", "0", "1", "3600000", "9223372036854775807"},
	"cleanup.policy":            {"compact", "compact,delete", "delete,compact"},
	"min.cleanable.dirty.ratio": {"0", "0.25", "1"},
	"delete.retention.ms":       {"0", "3600000"},
	"min.compaction.lag.ms":     {"1", "60000"},
	"max.message.bytes":         {"0", "1", "2000000", "2147483647"},
	"message.timestamp.type":    {"LogAppendTime"},
	"flush.messages":            {"1", "10"},
	"flush.ms":                  {"0", "1000"},
	"min.insync.replicas":       nil, // only 1, the default, is accepted
	"index.interval.bytes":      {"0", "1", "2147483647"},
	"segment.index.bytes":       {"4", "65536"},
}

// TestTopicSettingsRoundTrip: every declared setting is sampled, and each
// sample parses, is listed by Settings exactly as given, and parses back
// to the same config; the default, given explicitly, is left out.
func TestTopicSettingsRoundTrip(t *testing.T) {
	require.ElementsMatch(t, topicSettings.Names(), slices.Collect(maps.Keys(topicSamples)), "every setting has samples")
	defaults := TopicConfig{}.withDefaults()
	for name, values := range topicSamples {
		for _, v := range values {
			in := map[string]string{name: v}
			cfg, err := ParseTopicConfig(1, in)
			require.NoError(t, err, "%s=%s", name, v)
			require.Equal(t, in, cfg.Settings(), "%s=%s", name, v)
			back, err := ParseTopicConfig(1, cfg.Settings())
			require.NoError(t, err)
			require.Equal(t, cfg, back, "%s=%s", name, v)
			require.NotEqual(t, defaults, cfg.withDefaults(), "%s=%s is not the default", name, v)
		}
		// The default, written out, parses and is not listed.
		full := topicSettings.FormatAll(&defaults)
		cfg, err := ParseTopicConfig(1, map[string]string{name: full[name]})
		require.NoError(t, err, "%s=%s", name, full[name])
		require.Empty(t, cfg.Settings(), "%s=%s is the default", name, full[name])
	}
	require.Empty(t, defaults.Settings())
}

// TestKafkaZerosReachTheLog: Kafka's zero of each pointer setting gets to
// the log as zero, not as the default.
func TestKafkaZerosReachTheLog(t *testing.T) {
	cfg, err := ParseTopicConfig(1, map[string]string{"retention.ms": "0", "retention.bytes": "0", "delete.retention.ms": "0",
		"min.cleanable.dirty.ratio": "0", "flush.ms": "0", "index.interval.bytes": "0", "max.message.bytes": "0"})
	require.NoError(t, err)
	lc := cfg.logConfig()
	for name, v := range map[string]any{"Retention": *lc.Retention, "RetentionBytes": *lc.RetentionBytes, "DeleteRetention": *lc.DeleteRetention,
		"MinCleanableDirtyRatio": *lc.MinCleanableDirtyRatio, "FlushInterval": *lc.FlushInterval, "IndexIntervalBytes": *lc.IndexIntervalBytes,
		"MaxMessageBytes": *lc.MaxMessageBytes} {
		require.Zero(t, v, name)
	}
	// A struct literal says the same with new(0).
	lit := TopicConfig{Retention: new(time.Duration(0)), RetentionBytes: new(int64(0)), DeleteRetention: new(time.Duration(0)),
		MinCleanableDirtyRatio: new(0.0), FlushInterval: new(time.Duration(0)), IndexIntervalBytes: new(0), MaxMessageBytes: new(0)}
	require.Equal(t, cfg.withDefaults(), lit.withDefaults().clone())
	require.Equal(t, cfg.Settings(), lit.Settings())

	// Without them, the log gets the defaults.
	lc = TopicConfig{}.logConfig()
	require.Equal(t, 7*24*time.Hour, *lc.Retention)
	require.Equal(t, int64(-1), *lc.RetentionBytes)
	require.Equal(t, 1048588, *lc.MaxMessageBytes)
	require.Equal(t, 4096, *lc.IndexIntervalBytes)
	require.Equal(t, 10<<20, lc.SegmentIndexBytes)
	require.False(t, lc.Compact)
	// Compact only: no retention, whatever retention.ms says.
	lc = TopicConfig{CleanupPolicy: CleanupCompact, Retention: new(time.Hour)}.logConfig()
	require.True(t, lc.Compact)
	require.Negative(t, *lc.Retention)
	require.Negative(t, *lc.RetentionBytes)
}

// TestTopicSettingErrors: unknown, unsupported and malformed settings are
// errors wrapping ErrInvalidConfig that name the setting (and the value),
// never a bare strconv error; Kafka's defaults of the unsupported ones are
// accepted.
func TestTopicSettingErrors(t *testing.T) {
	for _, tt := range []struct {
		settings map[string]string
		want     []string
	}{
		{map[string]string{"compression.type": "lz4"}, []string{`compression.type="lz4" is not supported`, `"producer"`}},
		{map[string]string{"preallocate": "true"}, []string{"preallocate", "not supported"}},
		{map[string]string{"max.compaction.lag.ms": "60000"}, []string{"max.compaction.lag.ms", "not supported"}},
		{map[string]string{"remote.storage.enable": "true"}, []string{"remote.storage.enable", "tiered storage"}},
		{map[string]string{"retention.hours": "1"}, []string{`unknown topic setting "retention.hours"`}},
		{map[string]string{"log.retention.ms": "1"}, []string{`"log.retention.ms"`}},
		{map[string]string{"partitions": "3"}, []string{`"partitions"`, "first argument"}},
		{map[string]string{"retention.ms": "a week"}, []string{`retention.ms="a week"`, "not an integer"}},
		{map[string]string{"segment.bytes": "1.5"}, []string{`segment.bytes="1.5"`}},
		{map[string]string{"segment.bytes": "4294967296"}, []string{"segment.bytes (SegmentBytes) 4294967296", "14 to 2147483647"}},
		{map[string]string{"segment.bytes": "13"}, []string{"segment.bytes (SegmentBytes) 13", "14 to 2147483647"}},
		{map[string]string{"segment.ms": "0"}, []string{`segment.ms="0"`, "at least 1 ms"}},
		{map[string]string{"flush.messages": "0"}, []string{"flush.messages", "at least 1"}},
		{map[string]string{"flush.ms": "-1"}, []string{"flush.ms"}},
		{map[string]string{"delete.retention.ms": "-5"}, []string{"delete.retention.ms"}},
		{map[string]string{"min.cleanable.dirty.ratio": "1.5"}, []string{"min.cleanable.dirty.ratio", "0 to 1"}},
		{map[string]string{"message.timestamp.type": "Now"}, []string{`message.timestamp.type="Now"`, "CreateTime, LogAppendTime"}},
		{map[string]string{"cleanup.policy": "archive"}, []string{"cleanup.policy", "archive"}},
		{map[string]string{"cleanup.policy": "compact,compact"}, []string{"cleanup.policy"}},
		{map[string]string{"min.insync.replicas": "2"}, []string{"min.insync.replicas", "one replica"}},
		{map[string]string{"index.interval.bytes": "-1"}, []string{"index.interval.bytes"}},
		{map[string]string{"segment.index.bytes": "3"}, []string{"segment.index.bytes"}},
		{map[string]string{"retention.ms": "x", "segment.ms": "y"}, []string{"retention.ms", "segment.ms"}},
	} {
		_, err := ParseTopicConfig(1, tt.settings)
		require.ErrorIs(t, err, ErrInvalidConfig, "%v", tt.settings)
		for _, w := range tt.want {
			require.Contains(t, err.Error(), w, "%v", tt.settings)
		}
		require.NotContains(t, err.Error(), "strconv", "%v", tt.settings)
	}

	// A config copied from Kafka, its defaults spelled out, is accepted.
	kafka := map[string]string{}
	for name, accepted := range topicSettings.Unsupported() {
		require.NotEmpty(t, accepted, name)
		kafka[name] = accepted[0]
	}
	kafka["preallocate"] = "FALSE"
	kafka["retention.ms"] = "86400000"
	cfg, err := ParseTopicConfig(1, kafka)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"retention.ms": "86400000"}, cfg.Settings(), "the unsupported settings are not kept")
}

// TestTopicConfigStructChecks: a struct literal is checked as parsed
// values are, and durations must be whole milliseconds (what meta.json
// can keep).
func TestTopicConfigStructChecks(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithoutExpvar())
	for _, c := range []TopicConfig{
		{SegmentBytes: 13}, {SegmentBytes: 1 << 31}, {SegmentAge: -time.Hour}, {SegmentAge: time.Microsecond},
		{Retention: new(1500 * time.Microsecond)}, {RetentionBytes: nil, MaxMessageBytes: new(-1)},
		{FlushMessages: -1}, {FlushInterval: new(-time.Second)}, {MinInsyncReplicas: 3}, {IndexIntervalBytes: new(-1)},
		{SegmentIndexBytes: 2}, {DeleteRetention: new(-time.Millisecond)}, {MinCleanableDirtyRatio: new(-0.1)},
		{MinCompactionLag: -time.Millisecond}, {CleanupPolicy: "none"}, {MessageTimestampType: 7}, {Partitions: -1},
	} {
		_, err := b.CreateTopic("t", c)
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", c)
	}
	require.Empty(t, b.Topics())
}

// TestTopicConfigIsACopy: Topic.Config fills in every default, and
// neither the caller's config nor the returned one share a pointer with
// the topic.
func TestTopicConfigIsACopy(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithoutExpvar())
	retention := time.Hour
	top, err := b.CreateTopic("t", smallIndexes(TopicConfig{Retention: &retention, MessageTimestampType: record.LogAppendTime}))
	require.NoError(t, err)
	retention = 0
	cfg := top.Config()
	require.Equal(t, time.Hour, *cfg.Retention)
	for _, p := range []any{cfg.RetentionBytes, cfg.MaxMessageBytes, cfg.FlushInterval, cfg.IndexIntervalBytes, cfg.DeleteRetention, cfg.MinCleanableDirtyRatio} {
		require.NotNil(t, p)
	}
	require.NotZero(t, cfg.SegmentBytes)
	require.NotZero(t, cfg.SegmentAge)
	require.NotZero(t, cfg.FlushMessages)
	require.NotZero(t, cfg.SegmentIndexBytes)
	require.Equal(t, CleanupDelete, cfg.CleanupPolicy)
	*cfg.Retention = 0
	*cfg.MaxMessageBytes = 1
	require.Equal(t, time.Hour, *top.Config().Retention)
	require.Equal(t, 1048588, *top.Config().MaxMessageBytes)
	require.Equal(t, time.Hour, *top.Partitions()[0].log.Config().Retention)
	lc := top.Partitions()[0].log.Config()
	*lc.Retention = 0
	require.Equal(t, time.Hour, *top.Partitions()[0].log.Config().Retention)
	require.Equal(t, 1048588, top.MaxMessageBytes())
	require.False(t, top.Compacted())
	require.False(t, top.Partitions()[0].log.Compacted())

	// A reopened topic's config is filled in as well.
	dir := b.Dir()
	require.NoError(t, b.Close())
	b = openBroker(t, dir, WithoutExpvar())
	top, err = b.Topic("t")
	require.NoError(t, err)
	require.Equal(t, cfg.Partitions, top.Config().Partitions)
	require.Equal(t, TopicConfig{Retention: new(time.Hour), MessageTimestampType: record.LogAppendTime}.withDefaults(),
		smallIndexesUndone(top.Config()))
}

// smallIndexesUndone resets what smallIndexes sets to the defaults.
func smallIndexesUndone(c TopicConfig) TopicConfig {
	d := TopicConfig{}.withDefaults()
	c.SegmentIndexBytes, c.IndexIntervalBytes, c.Partitions = d.SegmentIndexBytes, d.IndexIntervalBytes, d.Partitions
	return c
}

// TestRetentionZero: retention.ms=0, which the old config could not say
// (zero meant the default), deletes every closed segment, and
// retention.bytes=0 too.
func TestRetentionZero(t *testing.T) {
	for _, settings := range []map[string]string{{"retention.ms": "0"}, {"retention.bytes": "0"}} {
		b := openBroker(t, t.TempDir(), WithoutExpvar(), WithMaintenanceInterval(-1))
		cfg, err := ParseTopicConfig(1, settings)
		require.NoError(t, err)
		top, err := b.CreateTopic("t", cfg)
		require.NoError(t, err)
		p := top.Partitions()[0]
		appendBatch(t, p, "old", 1) // timestamped long ago
		require.NoError(t, p.log.Roll())
		appendBatch(t, p, "new", 1)
		require.NoError(t, p.maintain())
		require.Equal(t, int64(1), p.LogStartOffset(), "%v: the closed segment is gone", settings)
		require.Equal(t, 1, p.log.NumSegments(), "%v: the active segment stays", settings)
	}
}

// TestREADMETopicSettings: the README's topic settings are the
// declarations'.
func TestREADMETopicSettings(t *testing.T) {
	testenv.README(t, "README.md", "topic", topicSettings.Markdown())
}

// TestEveryTopicFieldIsDeclared: no TopicConfig field escapes its one
// declaration; Partitions is CreateTopic's argument, not a setting.
func TestEveryTopicFieldIsDeclared(t *testing.T) {
	require.NoError(t, topicSettings.CheckFields("Partitions"))
}

// TestParseTopicConfigReportsEveryBadSetting: an unknown name does not
// hide an out-of-range value next to it.
func TestParseTopicConfigReportsEveryBadSetting(t *testing.T) {
	_, err := ParseTopicConfig(1, map[string]string{"no.such.setting": "x", "segment.bytes": "3"})
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorContains(t, err, "no.such.setting")
	require.ErrorContains(t, err, "segment.bytes")
}
