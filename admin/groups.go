package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
)

// Group errors, package consumer's (the embedded coordinator raises
// them; package kafka maps Kafka's NON_EMPTY_GROUP and GROUP_ID_NOT_FOUND
// to them).
var (
	// ErrGroupNotEmpty: DeleteGroup or ResetOffsets of a group that has
	// members.
	ErrGroupNotEmpty = consumer.ErrGroupNotEmpty
	// ErrUnknownGroup: DescribeGroup or DeleteGroup of a group that has
	// neither members nor committed offsets.
	ErrUnknownGroup = consumer.ErrUnknownGroup
)

// The group states, as Kafka names them.
const (
	GroupEmpty              = consumer.GroupEmpty
	GroupPreparingRebalance = consumer.GroupPreparingRebalance
	GroupStable             = consumer.GroupStable
	GroupDead               = consumer.GroupDead
)

// GroupMember is one member of a described group.
type GroupMember struct {
	MemberID string
	// ClientID is the member's client.id (the consumer's default, as
	// Kafka's, when it set none).
	ClientID string
	// Assignment is its partitions, sorted.
	Assignment []TopicPartition
}

// GroupPartition is a group's position on one partition, as
// kafka-consumer-groups --describe shows it.
type GroupPartition struct {
	TopicPartition
	// Committed is the committed offset, -1 when the group has none for
	// the partition (an assigned partition not committed yet).
	Committed int64
	Metadata  string
	// LogEndOffset is the partition's high watermark.
	LogEndOffset int64
	// Lag is LogEndOffset minus Committed (from the log start offset
	// when nothing is committed), never negative.
	Lag int64
}

// GroupDescription is what DescribeGroup reports of a consumer group.
type GroupDescription struct {
	Group string
	// State is GroupEmpty, GroupPreparingRebalance, GroupStable, or
	// another state Kafka reports (CompletingRebalance).
	State string
	// Generation is the group's generation; -1 on Kafka, whose
	// DescribeGroups does not report it.
	Generation int32
	// Protocol is the assignor of the current generation ("range",
	// "cooperative-sticky", ...), "" when the group is empty.
	Protocol string
	// Members are sorted by member id.
	Members []GroupMember
	// Partitions are every partition the group has committed or has
	// assigned, sorted.
	Partitions []GroupPartition
	// TotalLag is the sum of the partitions' lags.
	TotalLag int64
}

// GroupInfo is a group's membership as a Driver reports it (State,
// Generation, Protocol and Members of GroupDescription); Client adds the
// offsets. Applications use DescribeGroup.
type GroupInfo struct {
	State      string
	Generation int32
	Protocol   string
	Members    []GroupMember
}

// DescribeGroup returns a group's state, generation, assignor, members
// with their assignments, and for each partition it committed or has
// assigned the committed offset, the log end offset and the lag. A group
// with neither members nor committed offsets is an error wrapping
// ErrUnknownGroup.
func (c *Client) DescribeGroup(ctx context.Context, group string) (GroupDescription, error) {
	if err := ctx.Err(); err != nil {
		return GroupDescription{}, fmt.Errorf("admin: describe group %s: %w", group, err)
	}
	info, err := c.drv.DescribeGroup(ctx, group)
	if err != nil {
		return GroupDescription{}, err
	}
	committed, err := c.drv.CommittedOffsets(ctx, group)
	if err != nil {
		return GroupDescription{}, err
	}
	d := GroupDescription{Group: group, State: info.State, Generation: info.Generation, Protocol: info.Protocol, Members: info.Members}
	tps := map[TopicPartition]bool{}
	for tp := range committed {
		tps[tp] = true
	}
	for _, m := range info.Members {
		for _, tp := range m.Assignment {
			tps[tp] = true
		}
	}
	offsets := map[string][]PartitionOffsets{}
	for _, tp := range slices.SortedFunc(maps.Keys(tps), compareTPs) {
		if _, ok := offsets[tp.Topic]; !ok {
			os, err := c.drv.ListOffsets(ctx, tp.Topic)
			if err != nil && !errors.Is(err, commitlog.ErrUnknownTopic) {
				return GroupDescription{}, fmt.Errorf("admin: describe group %s: %w", group, err)
			}
			offsets[tp.Topic] = os // nil for a deleted topic: its partitions are left out
		}
		i := slices.IndexFunc(offsets[tp.Topic], func(o PartitionOffsets) bool { return o.Partition == tp.Partition })
		if i < 0 {
			continue
		}
		po := offsets[tp.Topic][i]
		gp := GroupPartition{TopicPartition: tp, Committed: -1, LogEndOffset: po.Latest}
		if om, ok := committed[tp]; ok {
			gp.Committed, gp.Metadata = om.Offset, om.Metadata
			gp.Lag = max(po.Latest-om.Offset, 0)
		} else {
			gp.Lag = max(po.Latest-po.Earliest, 0)
		}
		d.TotalLag += gp.Lag
		d.Partitions = append(d.Partitions, gp)
	}
	return d, nil
}

// DeleteGroup deletes a consumer group and its committed offsets, as
// kafka-consumer-groups --delete: only a group without members (else an
// error wrapping ErrGroupNotEmpty); an unknown group is ErrUnknownGroup.
func (c *Client) DeleteGroup(ctx context.Context, group string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("admin: delete group %s: %w", group, err)
	}
	return c.drv.DeleteGroup(ctx, group)
}

// ResetStrategy is how ResetOffsets picks each partition's new offset,
// as kafka-consumer-groups --reset-offsets' options.
type ResetStrategy int

const (
	// ResetToEarliest (--to-earliest): the log start offset.
	ResetToEarliest ResetStrategy = iota
	// ResetToLatest (--to-latest): the log end offset.
	ResetToLatest
	// ResetToDatetime (--to-datetime): the first offset at or after
	// ResetRequest.Time, the log end offset when every record is older.
	ResetToDatetime
	// ResetToOffset (--to-offset): ResetRequest.Offset, brought into the
	// partition's range [log start, log end].
	ResetToOffset
	// ResetShiftBy (--shift-by): the committed offset moved by
	// ResetRequest.Shift (negative: back), brought into the range; a
	// partition without a committed offset is an error wrapping
	// consumer.ErrInvalidOffset.
	ResetShiftBy
)

// String is the option's name: to-earliest, to-latest, ...
func (s ResetStrategy) String() string {
	switch s {
	case ResetToEarliest:
		return "to-earliest"
	case ResetToLatest:
		return "to-latest"
	case ResetToDatetime:
		return "to-datetime"
	case ResetToOffset:
		return "to-offset"
	case ResetShiftBy:
		return "shift-by"
	}
	return fmt.Sprintf("ResetStrategy(%d)", int(s))
}

// ResetRequest says which partitions of a group ResetOffsets resets, how,
// and whether to apply the plan.
type ResetRequest struct {
	// Topics are reset on all their partitions (--topic t); Partitions
	// name partitions one by one (--topic t:0,1). With neither, every
	// topic the group has committed offsets for (--all-topics).
	Topics     []string
	Partitions []TopicPartition
	Strategy   ResetStrategy
	// Time is ResetToDatetime's time.
	Time time.Time
	// Offset is ResetToOffset's offset.
	Offset int64
	// Shift is ResetShiftBy's shift.
	Shift int64
	// Execute applies the plan (--execute); false only computes it
	// (--dry-run, the default).
	Execute bool
}

// PlannedOffset is one partition of a reset plan.
type PlannedOffset struct {
	TopicPartition
	// Current is the committed offset before the reset, -1 if none.
	Current int64
	// Target is the offset the reset commits.
	Target int64
}

// ResetOffsets plans (and with req.Execute, commits) new committed
// offsets for a group, as kafka-consumer-groups --reset-offsets. The
// plan is sorted by topic and partition. The group must have no members,
// for the dry run as for the execution (ErrGroupNotEmpty otherwise), as
// kafka-consumer-groups demands an inactive group; a group that does not
// exist yet is fine (the execution creates its offsets). An unknown topic
// or partition is an error wrapping commitlog.ErrUnknownTopic or
// ErrUnknownPartition; a strategy out of range commitlog.ErrInvalidConfig.
func (c *Client) ResetOffsets(ctx context.Context, group string, req ResetRequest) ([]PlannedOffset, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admin: reset offsets of %s: %w", group, err)
	}
	if req.Strategy < ResetToEarliest || req.Strategy > ResetShiftBy {
		return nil, fmt.Errorf("admin: reset offsets of %s: %v: %w", group, req.Strategy, commitlog.ErrInvalidConfig)
	}
	info, err := c.drv.DescribeGroup(ctx, group)
	if err != nil && !errors.Is(err, ErrUnknownGroup) {
		return nil, err
	}
	if len(info.Members) > 0 {
		return nil, fmt.Errorf("admin: reset offsets of %s: the group is %s with %d members; stop them first: %w", group, info.State, len(info.Members), ErrGroupNotEmpty)
	}
	committed, err := c.drv.CommittedOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	tps, err := c.resetPartitions(ctx, req, committed)
	if err != nil {
		return nil, fmt.Errorf("admin: reset offsets of %s: %w", group, err)
	}
	ranges := map[string]map[int32]PartitionOffsets{}
	byTime := map[string]map[int32]ListedOffset{}
	plan := make([]PlannedOffset, 0, len(tps))
	for _, tp := range tps {
		if ranges[tp.Topic] == nil {
			os, err := c.drv.ListOffsets(ctx, tp.Topic)
			if err != nil {
				return nil, fmt.Errorf("admin: reset offsets of %s: %w", group, err)
			}
			ranges[tp.Topic] = map[int32]PartitionOffsets{}
			for _, o := range os {
				ranges[tp.Topic][o.Partition] = o
			}
		}
		r, ok := ranges[tp.Topic][tp.Partition]
		if !ok {
			return nil, fmt.Errorf("admin: reset offsets of %s: topic %s has no partition %d: %w", group, tp.Topic, tp.Partition, commitlog.ErrUnknownPartition)
		}
		po := PlannedOffset{TopicPartition: tp, Current: -1}
		cur, hasCur := committed[tp]
		if hasCur {
			po.Current = cur.Offset
		}
		switch req.Strategy {
		case ResetToEarliest:
			po.Target = r.Earliest
		case ResetToLatest:
			po.Target = r.Latest
		case ResetToOffset:
			po.Target = req.Offset
		case ResetShiftBy:
			if !hasCur {
				return nil, fmt.Errorf("admin: reset offsets of %s: cannot shift %s-%d: the group has no committed offset for it: %w", group, tp.Topic, tp.Partition, consumer.ErrInvalidOffset)
			}
			po.Target = cur.Offset + req.Shift
		case ResetToDatetime:
			if byTime[tp.Topic] == nil {
				los, err := c.drv.ListOffsetsAt(ctx, tp.Topic, At(req.Time))
				if err != nil {
					return nil, fmt.Errorf("admin: reset offsets of %s: %w", group, err)
				}
				byTime[tp.Topic] = map[int32]ListedOffset{}
				for _, lo := range los {
					byTime[tp.Topic][lo.Partition] = lo
				}
			}
			po.Target = r.Latest
			if lo, ok := byTime[tp.Topic][tp.Partition]; ok && lo.Found {
				po.Target = lo.Offset
			}
		}
		po.Target = min(max(po.Target, r.Earliest), r.Latest)
		plan = append(plan, po)
	}
	if !req.Execute || len(plan) == 0 {
		return plan, nil
	}
	offsets := make(map[TopicPartition]OffsetAndMetadata, len(plan))
	for _, po := range plan {
		offsets[po.TopicPartition] = OffsetAndMetadata{Offset: po.Target}
	}
	if err := c.drv.ResetOffsets(ctx, group, offsets); err != nil {
		return nil, err
	}
	return plan, nil
}

// resetPartitions lists the partitions a reset covers, sorted, without
// duplicates.
func (c *Client) resetPartitions(ctx context.Context, req ResetRequest, committed map[TopicPartition]OffsetAndMetadata) ([]TopicPartition, error) {
	set := map[TopicPartition]bool{}
	for _, tp := range req.Partitions {
		set[tp] = true
	}
	topics := req.Topics
	if len(topics) == 0 && len(req.Partitions) == 0 {
		for tp := range committed {
			set[tp] = true
		}
	}
	for _, t := range topics {
		os, err := c.drv.ListOffsets(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			set[TopicPartition{Topic: t, Partition: o.Partition}] = true
		}
	}
	return slices.SortedFunc(maps.Keys(set), compareTPs), nil
}

func compareTPs(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}
