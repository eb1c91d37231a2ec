package consumer

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/commitlog-go/commitlog/record"
)

// Errors of the group administration (package admin raises them on every
// backend).
var (
	// ErrGroupNotEmpty: the group has members, so it can be neither
	// deleted nor have its offsets reset (Kafka's NON_EMPTY_GROUP).
	ErrGroupNotEmpty = errors.New("commitlog: group not empty")
	// ErrUnknownGroup: no such group: it has neither members nor
	// committed offsets (Kafka's GROUP_ID_NOT_FOUND).
	ErrUnknownGroup = errors.New("commitlog: unknown group")
)

// Group states, as Kafka names them (DescribeGroups, kafka-consumer-groups
// --describe --state).
const (
	GroupEmpty              = "Empty"
	GroupPreparingRebalance = "PreparingRebalance"
	GroupStable             = "Stable"
	GroupDead               = "Dead"
)

// GroupMember is one member of a group as DescribeGroup reports it.
type GroupMember struct {
	MemberID string
	// ClientID is the member's client.id (its default, as Kafka's, when
	// the consumer set none).
	ClientID string
	// Topics are the topics it subscribed to.
	Topics []string
	// Assignment is its partitions in the current generation, sorted.
	Assignment []TopicPartition
}

// GroupDescription is a group's membership as the coordinator holds it.
type GroupDescription struct {
	Group string
	// State is GroupEmpty, GroupPreparingRebalance or GroupStable.
	State      string
	Generation int32
	// Protocol is the assignor of the current generation ("" when the
	// group is empty).
	Protocol string
	Leader   string
	// Members are sorted by member id.
	Members []GroupMember
}

// DescribeGroup returns the group's state, generation, assignor and
// members. A group without members or committed offsets is an error
// wrapping ErrUnknownGroup.
func (c *Coordinator) DescribeGroup(groupID string) (GroupDescription, error) {
	c.mu.Lock()
	g := c.groups[groupID]
	c.mu.Unlock()
	d := GroupDescription{Group: groupID, State: GroupEmpty}
	if g != nil {
		g.mu.Lock()
		if !g.deleted {
			d.Generation, d.Protocol, d.Leader = g.generation, g.protocol, g.leader
			switch g.state {
			case statePreparing:
				d.State = GroupPreparingRebalance
			case stateStable:
				d.State = GroupStable
			}
			for _, id := range slices.Sorted(maps.Keys(g.members)) {
				m := g.members[id]
				a := slices.Clone(m.assignment)
				sortTPs(a)
				d.Members = append(d.Members, GroupMember{MemberID: id, ClientID: m.clientID, Topics: slices.Clone(m.topics), Assignment: a})
			}
		}
		g.mu.Unlock()
	}
	if len(d.Members) == 0 && len(c.offsets.fetch(groupID, nil)) == 0 {
		return GroupDescription{Group: groupID, State: GroupDead}, fmt.Errorf("consumer: group %s: %w", groupID, ErrUnknownGroup)
	}
	return d, nil
}

// DeleteGroup deletes a group that has no members, with its committed
// offsets (tombstones in __consumer_offsets, so that the deletion
// survives a restart), as kafka-consumer-groups --delete. A group with
// members is refused with ErrGroupNotEmpty; an unknown one is
// ErrUnknownGroup.
func (c *Coordinator) DeleteGroup(groupID string) error {
	g := c.group(groupID)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.members) > 0 {
		return fmt.Errorf("consumer: delete group %s: %d members: %w", groupID, len(g.members), ErrGroupNotEmpty)
	}
	committed := c.offsets.fetch(groupID, nil)
	if err := c.offsets.remove(groupID, committed); err != nil {
		return err
	}
	g.deleted = true
	c.mu.Lock()
	if c.groups[groupID] == g {
		delete(c.groups, groupID)
	}
	c.mu.Unlock()
	if len(committed) == 0 && g.generation == 0 {
		return fmt.Errorf("consumer: delete group %s: %w", groupID, ErrUnknownGroup)
	}
	c.broker.Logger().Info("group deleted", "group", groupID, "offsets", len(committed))
	return nil
}

// ResetOffsets commits offsets for a group that has no members, as
// kafka-consumer-groups --reset-offsets --execute does: refused with
// ErrGroupNotEmpty while the group has members (they would overwrite
// them). Every entry is checked as CommitOffsets checks it, and none is
// written unless all pass.
func (c *Coordinator) ResetOffsets(groupID string, offsets map[TopicPartition]OffsetAndMetadata) error {
	g := c.group(groupID)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.members) > 0 {
		return fmt.Errorf("consumer: reset offsets of group %s: %d members: %w", groupID, len(g.members), ErrGroupNotEmpty)
	}
	err := c.validateCommit(groupID, offsets)
	if err == nil {
		err = c.offsets.commit(groupID, offsets)
	}
	if err != nil && g.generation == 0 && len(c.offsets.fetch(groupID, nil)) == 0 {
		// A group this call made: no trace of a failed reset is left
		// (ListGroups would list it).
		g.deleted = true
		c.mu.Lock()
		if c.groups[groupID] == g {
			delete(c.groups, groupID)
		}
		c.mu.Unlock()
	}
	return err
}

// remove writes a tombstone for each of the group's committed offsets,
// fsyncs them, and drops the offsets from the cache.
func (s *offsetStore) remove(group string, offsets map[TopicPartition]OffsetAndMetadata) error {
	if err := s.readOnlyErr("delete", group); err != nil {
		return err
	}
	if len(offsets) == 0 {
		return nil
	}
	p, err := s.partitionFor(group)
	if err != nil {
		return err
	}
	b := record.NewBuilder(0, record.BatchOptions{})
	now := s.commitTime(group, offsets)
	for tp := range offsets {
		b.Add(now, encodeOffsetKey(group, tp), nil, nil)
	}
	raw, err := b.Build()
	if err != nil {
		return err
	}
	if _, err := p.Append(raw, true); err != nil {
		return fmt.Errorf("consumer: delete group %s: %w", group, err)
	}
	s.mu.Lock()
	for tp := range offsets {
		delete(s.cache[group], tp)
		if s.stamps[group] != nil {
			s.stamps[group][tp] = now // a later commit never carries an older stamp
		}
	}
	if len(s.cache[group]) == 0 {
		delete(s.cache, group)
	}
	s.mu.Unlock()
	return nil
}
