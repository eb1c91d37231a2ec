package clienttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

// The cases of operating the backend through the admin API (describe and
// alter topics, delete records, the special ListOffsets timestamps,
// describe, delete and reset groups) and of a consumer's end offsets and
// lag: the same results and sentinel errors on every backend.

func init() {
	register("admin/describe-topic", adminDescribeTopic)
	register("admin/alter-topic-config", adminAlterTopicConfig)
	register("admin/delete-records", adminDeleteRecords)
	register("admin/list-offsets-at", adminListOffsetsAt)
	register("admin/group-lifecycle", adminGroupLifecycle)
	register("admin/reset-offsets", adminResetOffsets)
	register("consumer/end-offsets-and-lag", consumerEndOffsetsAndLag)
}

// produceAt writes one record per timestamp to partition id of topic,
// each acknowledged (and so its own batch) before the next.
func produceAt(t *testing.T, b commitlog.Backend, topic string, id int32, ts ...time.Time) {
	t.Helper()
	recs := make([]*producer.Record, len(ts))
	for i, at := range ts {
		recs[i] = &producer.Record{Topic: topic, Partition: id, ExplicitPartition: true, Value: []byte("v"), Timestamp: at}
	}
	produce(t, b, recs...)
}

// produceN writes n records to partition id of topic.
func produceN(t *testing.T, b commitlog.Backend, topic string, id int32, n int) {
	t.Helper()
	ts := make([]time.Time, n)
	now := time.Now()
	for i := range ts {
		ts[i] = now
	}
	produceAt(t, b, topic, id, ts...)
}

func adminDescribeTopic(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	require.NoError(t, a.CreateTopic(ctx, "d", commitlog.TopicConfig{Partitions: 2, Retention: new(time.Hour)}))
	produceN(t, b, "d", 0, 3)

	d, err := a.DescribeTopic(ctx, "d")
	require.NoError(t, err)
	require.Equal(t, "d", d.Name)
	require.Len(t, d.Partitions, 2)
	for i, want := range []int64{3, 0} {
		p := d.Partitions[i]
		require.Equal(t, int32(i), p.Partition)
		require.Equal(t, int64(0), p.LogStartOffset)
		require.Equal(t, want, p.LogEndOffset)
		require.NotZero(t, p.Segments, "a count, or -1 where the backend does not say")
	}
	require.Positive(t, d.Partitions[0].Size)
	e, ok := d.Config("retention.ms")
	require.True(t, ok)
	require.Equal(t, admin.ConfigEntry{Name: "retention.ms", Value: "3600000", Source: admin.ConfigSet}, e)
	e, ok = d.Config("cleanup.policy")
	require.True(t, ok)
	require.Equal(t, admin.ConfigEntry{Name: "cleanup.policy", Value: "delete", Source: admin.ConfigDefault}, e)
	require.True(t, slices.IsSortedFunc(d.Configs, func(x, y admin.ConfigEntry) int {
		return map[bool]int{true: -1, false: 1}[x.Name < y.Name]
	}))

	_, err = a.DescribeTopic(ctx, "nosuch")
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
}

func adminAlterTopicConfig(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	createTopic(t, b, "alt", 1)
	entry := func(name string) admin.ConfigEntry {
		t.Helper()
		d, err := a.DescribeTopic(ctx, "alt")
		require.NoError(t, err)
		e, ok := d.Config(name)
		require.True(t, ok, name)
		return e
	}
	require.Equal(t, admin.ConfigDefault, entry("retention.ms").Source)

	require.NoError(t, a.AlterTopicConfig(ctx, "alt", map[string]*string{"retention.ms": new("60000"), "max.message.bytes": new("2048")}))
	require.Equal(t, admin.ConfigEntry{Name: "retention.ms", Value: "60000", Source: admin.ConfigSet}, entry("retention.ms"))
	require.Equal(t, admin.ConfigEntry{Name: "max.message.bytes", Value: "2048", Source: admin.ConfigSet}, entry("max.message.bytes"))

	// The other settings keep their values; nil returns one to its default.
	require.NoError(t, a.AlterTopicConfig(ctx, "alt", map[string]*string{"retention.ms": nil}))
	require.Equal(t, admin.ConfigEntry{Name: "retention.ms", Value: "604800000", Source: admin.ConfigDefault}, entry("retention.ms"))
	require.Equal(t, "2048", entry("max.message.bytes").Value)

	for _, tc := range []struct {
		name    string
		topic   string
		changes map[string]*string
		want    error
	}{
		{"bad value", "alt", map[string]*string{"retention.ms": new("soon")}, commitlog.ErrInvalidConfig},
		{"out of range", "alt", map[string]*string{"min.cleanable.dirty.ratio": new("2")}, commitlog.ErrInvalidConfig},
		{"bad policy", "alt", map[string]*string{"cleanup.policy": new("sometimes")}, commitlog.ErrInvalidConfig},
		{"unknown setting", "alt", map[string]*string{"no.such.setting": new("1")}, commitlog.ErrInvalidConfig},
		{"unknown setting reset", "alt", map[string]*string{"no.such.setting": nil}, commitlog.ErrInvalidConfig},
		{"unknown topic", "nosuch", map[string]*string{"retention.ms": new("1000")}, commitlog.ErrUnknownTopic},
		{"internal topic", "__consumer_offsets", map[string]*string{"retention.ms": new("1000")}, commitlog.ErrInvalidTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, a.AlterTopicConfig(ctx, tc.topic, tc.changes), tc.want)
		})
	}
	require.Equal(t, admin.ConfigDefault, entry("retention.ms").Source, "a refused change changes nothing")
}

func adminDeleteRecords(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	createTopic(t, b, "dr", 2)
	produceN(t, b, "dr", 0, 10)
	produceN(t, b, "dr", 1, 3)
	createTopicWith(t, b, "compacted", commitlog.TopicConfig{CleanupPolicy: commitlog.CleanupCompact})

	low, err := a.DeleteRecords(ctx, "dr", map[int32]int64{0: 4, 1: -1})
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{0: 4, 1: 3}, low)
	offs, err := a.ListOffsets(ctx, "dr")
	require.NoError(t, err)
	require.Equal(t, []admin.PartitionOffsets{{Partition: 0, Earliest: 4, Latest: 10}, {Partition: 1, Earliest: 3, Latest: 3}}, offs)

	// A consumer from the earliest offset starts at the new log start.
	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(50 * time.Millisecond)})
	require.NoError(t, c.Assign([]consumer.TopicPartition{{Topic: "dr", Partition: 0}}))
	recs := pollUntil(t, c, 6)
	require.Equal(t, int64(4), recs[0].Offset)

	for _, tc := range []struct {
		name   string
		topic  string
		before map[int32]int64
		want   error
	}{
		{"past the high watermark", "dr", map[int32]int64{0: 11}, commitlog.ErrOffsetOutOfRange},
		{"unknown partition", "dr", map[int32]int64{7: 1}, commitlog.ErrUnknownPartition},
		{"unknown topic", "nosuch", map[int32]int64{0: 1}, commitlog.ErrUnknownTopic},
		{"internal topic", "__consumer_offsets", map[int32]int64{0: 1}, commitlog.ErrInvalidTopic},
		{"compacted topic", "compacted", map[int32]int64{0: 0}, commitlog.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.DeleteRecords(ctx, tc.topic, tc.before)
			require.ErrorIs(t, err, tc.want)
		})
	}
	low, err = a.DeleteRecords(ctx, "dr", map[int32]int64{0: 2})
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{0: 4}, low, "an offset below the log start changes nothing")

	b = env.Restart(t, b)
	offs, err = newAdmin(t, b).ListOffsets(ctx, "dr")
	require.NoError(t, err)
	require.Equal(t, []admin.PartitionOffsets{{Partition: 0, Earliest: 4, Latest: 10}, {Partition: 1, Earliest: 3, Latest: 3}}, offs, "durable")
}

func adminListOffsetsAt(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	createTopic(t, b, "lo", 2)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	produceAt(t, b, "lo", 0, at(1), at(3), at(2), at(3), at(0))

	for _, tc := range []struct {
		name string
		spec admin.OffsetSpec
		want []admin.ListedOffset
	}{
		{"earliest", admin.Earliest, []admin.ListedOffset{{Partition: 0, Offset: 0, Timestamp: -1, Found: true}, {Partition: 1, Offset: 0, Timestamp: -1, Found: true}}},
		{"latest", admin.Latest, []admin.ListedOffset{{Partition: 0, Offset: 5, Timestamp: -1, Found: true}, {Partition: 1, Offset: 0, Timestamp: -1, Found: true}}},
		{"max timestamp: the first of the largest", admin.MaxTimestamp, []admin.ListedOffset{{Partition: 0, Offset: 1, Timestamp: at(3).UnixMilli(), Found: true}, {Partition: 1, Offset: 0, Timestamp: -1}}},
		{"a time", admin.At(at(2)), []admin.ListedOffset{{Partition: 0, Offset: 1, Timestamp: at(3).UnixMilli(), Found: true}, {Partition: 1, Offset: 0, Timestamp: -1}}},
		{"a time before every record", admin.At(at(-10)), []admin.ListedOffset{{Partition: 0, Offset: 0, Timestamp: at(1).UnixMilli(), Found: true}, {Partition: 1, Offset: 0, Timestamp: -1}}},
		{"a time after every record", admin.At(at(4)), []admin.ListedOffset{{Partition: 0, Offset: 5, Timestamp: -1}, {Partition: 1, Offset: 0, Timestamp: -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.ListOffsetsAt(ctx, "lo", tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := a.ListOffsetsAt(ctx, "nosuch", admin.MaxTimestamp)
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
	_, err = a.ListOffsetsAt(ctx, "lo", admin.OffsetSpec(-4))
	require.ErrorIs(t, err, commitlog.ErrInvalidConfig)
}

// joinedMember subscribes a consumer of group to topic and polls until it
// has its partitions. Its client.id is "member-of-<group>".
func joinedMember(t *testing.T, b commitlog.Backend, group, topic string) *consumer.Consumer {
	t.Helper()
	cfg := fastGroup(group)
	cfg.ClientID = "member-of-" + group
	c := newConsumer(t, b, cfg)
	require.NoError(t, c.Subscribe([]string{topic}, nil))
	ctx, cancel := testCtx()
	defer cancel()
	for len(c.Assignment()) == 0 {
		_, err := c.Poll(ctx)
		require.NoError(t, err)
	}
	return c
}

// waitGroupEmpty waits until the group has no members.
func waitGroupEmpty(t *testing.T, a *admin.Client, group string) {
	t.Helper()
	ctx := caseCtx(t)
	require.Eventually(t, func() bool {
		d, err := a.DescribeGroup(ctx, group)
		return err == nil && len(d.Members) == 0 && d.State == admin.GroupEmpty
	}, 30*time.Second, 10*time.Millisecond)
}

func adminGroupLifecycle(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	createTopic(t, b, "gl", 2)
	produceN(t, b, "gl", 0, 5)
	produceN(t, b, "gl", 1, 1)

	_, err := a.DescribeGroup(ctx, "g")
	require.ErrorIs(t, err, admin.ErrUnknownGroup)
	require.ErrorIs(t, a.DeleteGroup(ctx, "g"), admin.ErrUnknownGroup)

	c := joinedMember(t, b, "g", "gl")
	tp0 := consumer.TopicPartition{Topic: "gl", Partition: 0}
	require.NoError(t, c.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp0: {Offset: 2, Metadata: "m"}}))

	d, err := a.DescribeGroup(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, "g", d.Group)
	require.Equal(t, admin.GroupStable, d.State)
	require.NotEmpty(t, d.Protocol)
	require.Len(t, d.Members, 1)
	id, _ := c.MemberID()
	require.Equal(t, id, d.Members[0].MemberID)
	require.Equal(t, "member-of-g", d.Members[0].ClientID)
	require.Equal(t, []admin.TopicPartition{tp0, {Topic: "gl", Partition: 1}}, d.Members[0].Assignment)
	require.Equal(t, []admin.GroupPartition{
		{TopicPartition: tp0, Committed: 2, Metadata: "m", LogEndOffset: 5, Lag: 3},
		{TopicPartition: admin.TopicPartition{Topic: "gl", Partition: 1}, Committed: -1, LogEndOffset: 1, Lag: 1},
	}, d.Partitions)
	require.Equal(t, int64(4), d.TotalLag)

	require.ErrorIs(t, a.DeleteGroup(ctx, "g"), admin.ErrGroupNotEmpty)
	_, err = a.ResetOffsets(ctx, "g", admin.ResetRequest{Strategy: admin.ResetToEarliest})
	require.ErrorIs(t, err, admin.ErrGroupNotEmpty, "the dry run too, as kafka-consumer-groups")

	require.NoError(t, c.Close(ctx))
	waitGroupEmpty(t, a, "g")
	groups, err := a.ListGroups(ctx)
	require.NoError(t, err)
	require.Contains(t, groups, "g")

	require.NoError(t, a.DeleteGroup(ctx, "g"))
	_, err = a.DescribeGroup(ctx, "g")
	require.ErrorIs(t, err, admin.ErrUnknownGroup)
	offs, err := a.CommittedOffsets(ctx, "g")
	require.NoError(t, err)
	require.Empty(t, offs, "deleted with the group")
	groups, err = a.ListGroups(ctx)
	require.NoError(t, err)
	require.NotContains(t, groups, "g")

	b = env.Restart(t, b)
	a = newAdmin(t, b)
	offs, err = a.CommittedOffsets(ctx, "g")
	require.NoError(t, err)
	require.Empty(t, offs, "the deletion is durable")

	// The id can be used again: a new group.
	joinedMember(t, b, "g", "gl")
	d, err = a.DescribeGroup(ctx, "g")
	require.NoError(t, err)
	require.Len(t, d.Members, 1)
	require.Equal(t, int64(6), d.TotalLag, "nothing committed: from the log start")
}

func adminResetOffsets(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	createTopic(t, b, "ro", 2)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	produceAt(t, b, "ro", 0, at(0), at(1), at(2), at(3), at(4), at(5))
	produceAt(t, b, "ro", 1, at(0), at(10))
	tp0, tp1 := admin.TopicPartition{Topic: "ro", Partition: 0}, admin.TopicPartition{Topic: "ro", Partition: 1}
	_, err := a.DeleteRecords(ctx, "ro", map[int32]int64{0: 1})
	require.NoError(t, err)

	// The group committed tp0 only (a standalone commit: no members).
	solo := newConsumer(t, b, fastGroup("r"))
	require.NoError(t, solo.Assign([]consumer.TopicPartition{tp0}))
	require.NoError(t, solo.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp0: {Offset: 3}}))
	require.NoError(t, solo.Close(ctx))

	for _, tc := range []struct {
		name string
		req  admin.ResetRequest
		want []admin.PlannedOffset
	}{
		{"to earliest, all topics", admin.ResetRequest{Strategy: admin.ResetToEarliest}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 1}}},
		{"to latest, a topic", admin.ResetRequest{Topics: []string{"ro"}, Strategy: admin.ResetToLatest}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 6}, {TopicPartition: tp1, Current: -1, Target: 2}}},
		{"to datetime", admin.ResetRequest{Topics: []string{"ro"}, Strategy: admin.ResetToDatetime, Time: at(2)}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 2}, {TopicPartition: tp1, Current: -1, Target: 1}}},
		{"to datetime after every record", admin.ResetRequest{Partitions: []admin.TopicPartition{tp1}, Strategy: admin.ResetToDatetime, Time: at(11)}, []admin.PlannedOffset{{TopicPartition: tp1, Current: -1, Target: 2}}},
		{"to datetime before the log start", admin.ResetRequest{Partitions: []admin.TopicPartition{tp0}, Strategy: admin.ResetToDatetime, Time: at(-5)}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 1}}},
		{"to offset", admin.ResetRequest{Partitions: []admin.TopicPartition{tp0}, Strategy: admin.ResetToOffset, Offset: 4}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 4}}},
		{"to offset past the end: the end", admin.ResetRequest{Partitions: []admin.TopicPartition{tp0}, Strategy: admin.ResetToOffset, Offset: 99}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 6}}},
		{"to offset below the start: the start", admin.ResetRequest{Partitions: []admin.TopicPartition{tp0}, Strategy: admin.ResetToOffset, Offset: 0}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 1}}},
		{"shift back", admin.ResetRequest{Strategy: admin.ResetShiftBy, Shift: -1}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 2}}},
		{"shift back too far: the start", admin.ResetRequest{Strategy: admin.ResetShiftBy, Shift: -10}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 1}}},
		{"shift forward too far: the end", admin.ResetRequest{Strategy: admin.ResetShiftBy, Shift: 10}, []admin.PlannedOffset{{TopicPartition: tp0, Current: 3, Target: 6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := a.ResetOffsets(ctx, "r", tc.req)
			require.NoError(t, err)
			require.Equal(t, tc.want, plan)
			offs, err := a.CommittedOffsets(ctx, "r")
			require.NoError(t, err)
			require.Equal(t, map[admin.TopicPartition]admin.OffsetAndMetadata{tp0: {Offset: 3}}, offs, "a dry run commits nothing")
		})
	}

	_, err = a.ResetOffsets(ctx, "r", admin.ResetRequest{Topics: []string{"ro"}, Strategy: admin.ResetShiftBy, Shift: 1})
	require.ErrorIs(t, err, consumer.ErrInvalidOffset, "tp1 has no committed offset to shift")
	_, err = a.ResetOffsets(ctx, "r", admin.ResetRequest{Topics: []string{"nosuch"}})
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
	_, err = a.ResetOffsets(ctx, "r", admin.ResetRequest{Partitions: []admin.TopicPartition{{Topic: "ro", Partition: 9}}})
	require.ErrorIs(t, err, commitlog.ErrUnknownPartition)

	plan, err := a.ResetOffsets(ctx, "r", admin.ResetRequest{Topics: []string{"ro"}, Strategy: admin.ResetToLatest, Execute: true})
	require.NoError(t, err)
	require.Len(t, plan, 2)
	offs, err := a.CommittedOffsets(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, map[admin.TopicPartition]admin.OffsetAndMetadata{tp0: {Offset: 6}, tp1: {Offset: 2}}, offs)

	// A new group: its offsets are made.
	_, err = a.ResetOffsets(ctx, "fresh", admin.ResetRequest{Partitions: []admin.TopicPartition{tp1}, Strategy: admin.ResetToEarliest, Execute: true})
	require.NoError(t, err)
	offs, err = a.CommittedOffsets(ctx, "fresh")
	require.NoError(t, err)
	require.Equal(t, map[admin.TopicPartition]admin.OffsetAndMetadata{tp1: {Offset: 0}}, offs)

	// With a member, the execution is refused and nothing changes.
	joinedMember(t, b, "r", "ro")
	_, err = a.ResetOffsets(ctx, "r", admin.ResetRequest{Strategy: admin.ResetToEarliest, Execute: true})
	require.ErrorIs(t, err, admin.ErrGroupNotEmpty)
}

func consumerEndOffsetsAndLag(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopic(t, b, "lag", 2)
	produceN(t, b, "lag", 0, 5)
	produceN(t, b, "lag", 1, 2)
	ctx := caseCtx(t)
	tp0, tp1 := consumer.TopicPartition{Topic: "lag", Partition: 0}, consumer.TopicPartition{Topic: "lag", Partition: 1}

	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(50 * time.Millisecond)})
	end, err := c.EndOffsets(ctx)
	require.NoError(t, err)
	require.Empty(t, end, "nothing assigned")
	end, err = c.EndOffsets(ctx, tp0, tp1)
	require.NoError(t, err, "unassigned partitions too")
	require.Equal(t, map[consumer.TopicPartition]int64{tp0: 5, tp1: 2}, end)
	_, err = c.EndOffsets(ctx, consumer.TopicPartition{Topic: "nosuch"})
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
	_, err = c.EndOffsets(ctx, consumer.TopicPartition{Topic: "lag", Partition: 5})
	require.ErrorIs(t, err, commitlog.ErrUnknownPartition)

	require.NoError(t, c.Assign([]consumer.TopicPartition{tp0, tp1}))
	end, err = c.EndOffsets(ctx)
	require.NoError(t, err)
	require.Equal(t, map[consumer.TopicPartition]int64{tp0: 5, tp1: 2}, end)
	lag, err := c.Lag(ctx)
	require.NoError(t, err)
	require.Equal(t, map[consumer.TopicPartition]int64{tp0: 5, tp1: 2}, lag)
	require.NoError(t, c.Seek(tp0, 3))
	lag, err = c.Lag(ctx)
	require.NoError(t, err)
	require.Equal(t, map[consumer.TopicPartition]int64{tp0: 2, tp1: 2}, lag)
	pollUntil(t, c, 4)
	lag, err = c.Lag(ctx)
	require.NoError(t, err)
	require.Equal(t, map[consumer.TopicPartition]int64{tp0: 0, tp1: 0}, lag)

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Lag(done)
	require.ErrorIs(t, err, context.Canceled)
}
