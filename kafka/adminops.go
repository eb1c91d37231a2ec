package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
)

// The admin calls of the "operate it" API on kadm; see OpenAdminDriver
// for the mapping.

func (d adminDriver) DescribeTopic(ctx context.Context, name string) (admin.TopicDescription, error) {
	what := "describe topic " + name
	parts, err := d.ListOffsets(ctx, name)
	if err != nil {
		return admin.TopicDescription{}, err
	}
	rcs, err := d.adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return admin.TopicDescription{}, mapErr(what, err)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return admin.TopicDescription{}, mapErr(what, err)
	}
	out := admin.TopicDescription{Name: name}
	for _, c := range rc.Configs {
		e := admin.ConfigEntry{Name: c.Key, Source: admin.ConfigDefault}
		if c.Value != nil {
			e.Value = *c.Value
		}
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			e.Source = admin.ConfigSet
		}
		out.Configs = append(out.Configs, e)
	}
	slices.SortFunc(out.Configs, func(a, b admin.ConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	ids := make([]int32, len(parts))
	for i, p := range parts {
		ids[i] = p.Partition
	}
	sizes, err := d.sizes(ctx, name, ids)
	if err != nil {
		return admin.TopicDescription{}, mapErr(what, err)
	}
	for _, p := range parts {
		out.Partitions = append(out.Partitions, admin.PartitionDescription{
			Partition: p.Partition, LogStartOffset: p.Earliest, LogEndOffset: p.Latest, Size: sizes[p.Partition], Segments: -1,
		})
	}
	return out, nil
}

// sizes is each partition's size on its leader, from DescribeLogDirs
// (the largest replica's when the leader is not known).
func (d adminDriver) sizes(ctx context.Context, topic string, ids []int32) (map[int32]int64, error) {
	set := kadm.TopicsSet{}
	set.Add(topic, ids...)
	dirs, err := d.adm.DescribeAllLogDirs(ctx, set)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	dirs.Each(func(ld kadm.DescribedLogDir) {
		ld.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == topic {
				out[p.Partition] = max(out[p.Partition], p.Size)
			}
		})
	})
	return out, nil
}

func (d adminDriver) AlterTopicConfig(ctx context.Context, name string, changes map[string]*string) error {
	what := "alter topic " + name
	// Checked by commitlog's settings table first, so that a bad value
	// fails as on the embedded broker whatever the brokers check
	// (min.insync.replicas is the brokers': above 1 is legal with
	// replicas). Only the changed settings are checked: the topic may set
	// others the table does not take (compression.type=gzip on Kafka).
	names := map[string]bool{}
	for _, n := range commitlog.TopicSettingNames() {
		names[n] = true
	}
	set := map[string]string{}
	var ops []kadm.AlterConfig
	for _, k := range slices.Sorted(maps.Keys(changes)) {
		v := changes[k]
		if v == nil {
			if !names[k] && k != "min.insync.replicas" {
				return fmt.Errorf("kafka: %s: unknown setting %q: %w", what, k, commitlog.ErrInvalidConfig)
			}
			ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			continue
		}
		if k != "min.insync.replicas" {
			set[k] = *v
		}
		ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
	}
	if _, err := commitlog.ParseTopicConfig(1, set); err != nil {
		return fmt.Errorf("kafka: %s: %w", what, err)
	}
	rs, err := d.adm.AlterTopicConfigs(ctx, ops, name)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = rs.On(name, nil); err == nil {
			err = r.Err
			if err != nil && r.ErrMessage != "" {
				err = fmt.Errorf("%w (%s)", err, r.ErrMessage)
			}
		}
	}
	return mapErr(what, err)
}

func (d adminDriver) DeleteRecords(ctx context.Context, topic string, before map[int32]int64) (map[int32]int64, error) {
	what := "delete records of " + topic
	parts, err := d.ListOffsets(ctx, topic) // an unknown topic or partition fails here as on the embedded broker
	if err != nil {
		return nil, err
	}
	// Kafka refuses a topic whose policy lacks delete (POLICY_VIOLATION);
	// not every broker does (kfake), so it is checked here.
	rcs, err := d.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, mapErr(what, err)
	}
	if rc, err := rcs.On(topic, nil); err == nil && rc.Err == nil {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil && !strings.Contains(*c.Value, commitlog.CleanupDelete) {
				return nil, fmt.Errorf("kafka: %s: cleanup.policy %s: records can only be deleted from a topic whose policy includes delete: %w", what, *c.Value, commitlog.ErrInvalidConfig)
			}
		}
	}
	var os kadm.Offsets
	out := make(map[int32]int64, len(before))
	for _, id := range slices.Sorted(maps.Keys(before)) {
		i := slices.IndexFunc(parts, func(p admin.PartitionOffsets) bool { return p.Partition == id })
		if i < 0 {
			return nil, fmt.Errorf("kafka: %s: topic %s has %d partitions, no partition %d: %w", what, topic, len(parts), id, commitlog.ErrUnknownPartition)
		}
		off := before[id]
		if off < -1 {
			return nil, fmt.Errorf("kafka: %s: partition %d: offset %d: %w", what, id, off, commitlog.ErrOffsetOutOfRange)
		}
		if off != -1 && off <= parts[i].Earliest {
			// Kafka leaves the log start where it is (some brokers,
			// kfake, answer OFFSET_OUT_OF_RANGE): not sent.
			out[id] = parts[i].Earliest
			continue
		}
		os.Add(kadm.Offset{Topic: topic, Partition: id, At: off, LeaderEpoch: -1})
	}
	if len(os) == 0 {
		return out, nil
	}
	rs, err := d.adm.DeleteRecords(ctx, os)
	if err != nil {
		return nil, mapErr(what, err)
	}
	for _, id := range slices.Sorted(maps.Keys(before)) {
		if _, done := out[id]; done {
			continue
		}
		r, err := rs.On(topic, id, nil)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			return out, mapErr(fmt.Sprintf("%s-%d", what, id), err)
		}
		out[id] = r.LowWatermark
	}
	return out, nil
}

func (d adminDriver) ListOffsetsAt(ctx context.Context, topic string, spec admin.OffsetSpec) ([]admin.ListedOffset, error) {
	what := "list offsets of " + topic
	var lo kadm.ListedOffsets
	var err error
	switch spec {
	case admin.Earliest:
		lo, err = d.adm.ListStartOffsets(fresh(ctx), topic)
	case admin.Latest:
		lo, err = d.adm.ListEndOffsets(fresh(ctx), topic)
	case admin.MaxTimestamp:
		lo, err = d.adm.ListMaxTimestampOffsets(fresh(ctx), topic)
	default:
		lo, err = d.adm.ListOffsetsAfterMilli(fresh(ctx), int64(spec), topic)
	}
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, mapErr(what, err)
	}
	ps := lo[topic]
	if len(ps) == 0 {
		return nil, fmt.Errorf("kafka: %s: %w", what, commitlog.ErrUnknownTopic)
	}
	var end kadm.ListedOffsets
	if spec == admin.MaxTimestamp || spec >= 0 {
		// Not found is -1 (max-timestamp) or the end offset with
		// timestamp -1 (a time): either way the answer is the end.
		if end, err = d.adm.ListEndOffsets(fresh(ctx), topic); err == nil {
			err = end.Error()
		}
		if err != nil {
			return nil, mapErr(what, err)
		}
	}
	out := make([]admin.ListedOffset, 0, len(ps))
	for _, id := range slices.Sorted(maps.Keys(ps)) {
		o := ps[id]
		l := admin.ListedOffset{Partition: id, Offset: o.Offset, Timestamp: -1, Found: true}
		if spec == admin.MaxTimestamp || spec >= 0 {
			l.Found = o.Offset >= 0 && o.Timestamp >= 0
			if l.Found {
				l.Timestamp = o.Timestamp
			} else if e, ok := end.Lookup(topic, id); ok {
				l.Offset = e.Offset
			}
		}
		out = append(out, l)
	}
	return out, nil
}

func (d adminDriver) DescribeGroup(ctx context.Context, group string) (admin.GroupInfo, error) {
	what := "describe group " + group
	ds, err := d.adm.DescribeGroups(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return admin.GroupInfo{}, mapErr(what, err)
	}
	g, ok := ds[group]
	if !ok && err == nil {
		return admin.GroupInfo{}, fmt.Errorf("kafka: %s: no answer", what)
	}
	if err == nil {
		err = g.Err
	}
	info := admin.GroupInfo{State: g.State, Generation: -1, Protocol: g.Protocol}
	if errors.Is(err, kerr.GroupIDNotFound) || err == nil && g.State == admin.GroupDead {
		// A group with only commits is Empty on a real broker; kfake
		// answers so too once a commit made it. Dead is unknown.
		committed, cerr := d.CommittedOffsets(ctx, group)
		if cerr != nil {
			return admin.GroupInfo{}, cerr
		}
		if len(committed) > 0 {
			return admin.GroupInfo{State: admin.GroupEmpty, Generation: -1}, nil
		}
		return admin.GroupInfo{State: admin.GroupDead, Generation: -1}, fmt.Errorf("kafka: %s: %w", what, admin.ErrUnknownGroup)
	}
	if err != nil {
		return admin.GroupInfo{}, mapErr(what, err)
	}
	for _, m := range g.Members {
		gm := admin.GroupMember{MemberID: m.MemberID, ClientID: m.ClientID}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				for _, p := range t.Partitions {
					gm.Assignment = append(gm.Assignment, admin.TopicPartition{Topic: t.Topic, Partition: p})
				}
			}
		}
		slices.SortFunc(gm.Assignment, admin.TopicPartition.Compare)
		info.Members = append(info.Members, gm)
	}
	slices.SortFunc(info.Members, func(a, b admin.GroupMember) int { return strings.Compare(a.MemberID, b.MemberID) })
	return info, nil
}

func (d adminDriver) DeleteGroup(ctx context.Context, group string) error {
	r, err := d.adm.DeleteGroup(ctx, group)
	if err == nil {
		err = r.Err
	}
	return mapErr("delete group "+group, err)
}

func (d adminDriver) ResetOffsets(ctx context.Context, group string, offsets map[admin.TopicPartition]admin.OffsetAndMetadata) error {
	what := "reset offsets of " + group
	// The group's members would overwrite the new offsets: refused as
	// kafka-consumer-groups refuses an active group, and as the
	// embedded coordinator does.
	info, err := d.DescribeGroup(ctx, group)
	if err != nil && !errors.Is(err, admin.ErrUnknownGroup) {
		return err
	}
	if len(info.Members) > 0 {
		return fmt.Errorf("kafka: %s: %d members: %w", what, len(info.Members), admin.ErrGroupNotEmpty)
	}
	var os kadm.Offsets
	for tp, om := range offsets {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: om.Offset, LeaderEpoch: -1, Metadata: om.Metadata})
	}
	rs, err := d.adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = rs.Error()
	}
	if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) {
		// A member joined since the check.
		return fmt.Errorf("kafka: %s: %w: %w", what, admin.ErrGroupNotEmpty, err)
	}
	return mapErr(what, err)
}
