package consumer

import (
	"fmt"
	"slices"
	"time"

	"github.com/commitlog-go/commitlog"
)

// OffsetAndTimestamp is a result of OffsetsForTimes.
type OffsetAndTimestamp struct {
	Offset    int64
	Timestamp time.Time
}

// Assign consumes exactly the given partitions, with no group membership
// (Kafka's manual assignment). Commits then need a group.id and succeed
// only while that group has no active members.
func (c *Consumer) Assign(tps []TopicPartition) error {
	if c.drv != nil {
		return c.drv.Assign(tps)
	}
	if err := c.group.assign(); err != nil {
		return err
	}
	c.fetch.clear()
	for _, tp := range tps {
		if c.fetch.parts[tp] != nil {
			continue // a set, as in Kafka
		}
		if err := c.fetch.add(tp); err != nil {
			return err
		}
	}
	return nil
}

// Assignment returns the partitions currently assigned, sorted.
func (c *Consumer) Assignment() []TopicPartition {
	if c.drv != nil {
		return c.drv.Assignment()
	}
	return c.fetch.assignment()
}

// Seek sets the next offset Poll returns for an assigned partition. A
// negative offset is refused, as Kafka's seek refuses it.
func (c *Consumer) Seek(tp TopicPartition, offset int64) error {
	if c.drv != nil {
		return c.drv.Seek(tp, offset)
	}
	ps, err := c.fetch.state(tp)
	if err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("consumer: seek %s-%d to negative offset %d: %w", tp.Topic, tp.Partition, offset, commitlog.ErrOffsetOutOfRange)
	}
	c.fetch.moveTo(ps, offset)
	return nil
}

// SeekToBeginning moves partitions (all assigned when none given) to their
// log start offset.
func (c *Consumer) SeekToBeginning(tps ...TopicPartition) error {
	if c.drv != nil {
		return c.drv.SeekToBeginning(tps...)
	}
	return c.seekEach(tps, func(ps *partState) int64 { return ps.part.LogStartOffset() })
}

// SeekToEnd moves partitions (all assigned when none given) to their high
// watermark.
func (c *Consumer) SeekToEnd(tps ...TopicPartition) error {
	if c.drv != nil {
		return c.drv.SeekToEnd(tps...)
	}
	return c.seekEach(tps, func(ps *partState) int64 { return ps.part.HighWatermark() })
}

func (c *Consumer) seekEach(tps []TopicPartition, to func(*partState) int64) error {
	if len(tps) == 0 {
		tps = c.fetch.assignment()
	}
	for _, tp := range tps {
		ps, err := c.fetch.state(tp)
		if err != nil {
			return err
		}
		if err := c.Seek(tp, to(ps)); err != nil {
			return err
		}
	}
	return nil
}

// Position is the offset of the next record Poll returns for tp.
func (c *Consumer) Position(tp TopicPartition) (int64, error) {
	if c.drv != nil {
		return c.drv.Position(tp)
	}
	ps, err := c.fetch.state(tp)
	if err != nil {
		return 0, err
	}
	if err := c.fetch.resolve(ps); err != nil {
		return 0, err
	}
	return ps.pos, nil
}

// OffsetsForTimes returns, for each partition, the first offset whose
// timestamp is at or after the given time (nil when there is none), as
// Kafka's offsetsForTimes. The partitions need not be assigned.
func (c *Consumer) OffsetsForTimes(times map[TopicPartition]time.Time) (map[TopicPartition]*OffsetAndTimestamp, error) {
	if c.drv != nil {
		return c.drv.OffsetsForTimes(times)
	}
	out := map[TopicPartition]*OffsetAndTimestamp{}
	for tp, ts := range times {
		t, err := c.b.Topic(tp.Topic)
		if err != nil {
			return nil, err
		}
		p, err := t.Partition(tp.Partition)
		if err != nil {
			return nil, err
		}
		off, at, found, err := p.OffsetForTimestamp(ts.UnixMilli())
		if err != nil {
			return nil, err
		}
		if found {
			out[tp] = &OffsetAndTimestamp{Offset: off, Timestamp: time.UnixMilli(at)}
		} else {
			out[tp] = nil
		}
	}
	return out, nil
}

// Pause stops fetching from partitions until Resume; the group membership
// is kept.
func (c *Consumer) Pause(tps ...TopicPartition) error {
	if c.drv != nil {
		return c.drv.Pause(tps...)
	}
	return c.setPaused(tps, true)
}

// Resume undoes Pause.
func (c *Consumer) Resume(tps ...TopicPartition) error {
	if c.drv != nil {
		return c.drv.Resume(tps...)
	}
	return c.setPaused(tps, false)
}

func (c *Consumer) setPaused(tps []TopicPartition, paused bool) error {
	for _, tp := range tps {
		ps, err := c.fetch.state(tp)
		if err != nil {
			return err
		}
		ps.paused = paused
		if paused {
			c.fetch.moveTo(ps, ps.pos) // what was fetched ahead is fetched again on Resume
		}
	}
	return nil
}

// Paused lists the paused partitions.
func (c *Consumer) Paused() []TopicPartition {
	if c.drv != nil {
		return c.drv.Paused()
	}
	var out []TopicPartition
	for tp, ps := range c.fetch.parts {
		if ps.paused {
			out = append(out, tp)
		}
	}
	sortTPs(out)
	return out
}

// clear drops every assigned partition.
func (f *fetcher) clear() {
	f.drop(func(*chunk) bool { return true })
	f.parts = map[TopicPartition]*partState{}
	f.order = nil
}

// add assigns tp, without a position yet (resolve gives it one).
func (f *fetcher) add(tp TopicPartition) error {
	t, err := f.b.Topic(tp.Topic)
	if err != nil {
		return err
	}
	p, err := t.Partition(tp.Partition)
	if err != nil {
		return err
	}
	f.parts[tp] = &partState{tp: tp, part: p, fetchPos: -1, pos: -1}
	f.order = append(f.order, tp)
	return nil
}

// remove unassigns tps, with their buffered records.
func (f *fetcher) remove(tps []TopicPartition) {
	for _, tp := range tps {
		delete(f.parts, tp)
	}
	f.order = slices.DeleteFunc(f.order, func(tp TopicPartition) bool { return f.parts[tp] == nil })
	f.drop(func(ch *chunk) bool { return f.parts[ch.ps.tp] != ch.ps })
}

// assignment is the assigned partitions, sorted.
func (f *fetcher) assignment() []TopicPartition {
	out := slices.Clone(f.order)
	sortTPs(out)
	return out
}

func sortTPs(tps []TopicPartition) { slices.SortFunc(tps, TopicPartition.Compare) }

func (f *fetcher) state(tp TopicPartition) (*partState, error) {
	ps := f.parts[tp]
	if ps == nil {
		return nil, fmt.Errorf("consumer: %s-%d is not assigned to this consumer: %w", tp.Topic, tp.Partition, commitlog.ErrUnknownPartition)
	}
	return ps, nil
}

// moveTo positions ps at offset, dropping what was fetched of it.
func (f *fetcher) moveTo(ps *partState, offset int64) {
	ps.fetchPos, ps.pos = offset, offset
	if ps.chunks > 0 {
		f.drop(func(ch *chunk) bool { return ch.ps == ps })
	}
}

// resolve gives a partition without a position one: its committed offset,
// or auto.offset.reset.
func (f *fetcher) resolve(ps *partState) error {
	if ps.fetchPos >= 0 {
		return nil
	}
	if om, ok := f.committed(ps.tp); ok {
		ps.fetchPos, ps.pos = om.Offset, om.Offset
		return nil
	}
	return f.reset(ps)
}

// reset applies auto.offset.reset to a partition without a valid position.
func (f *fetcher) reset(ps *partState) error {
	switch f.set.AutoOffsetReset {
	case ResetEarliest:
		f.moveTo(ps, ps.part.LogStartOffset())
	case ResetLatest:
		f.moveTo(ps, ps.part.HighWatermark())
	default:
		return fmt.Errorf("consumer: %s-%d has no valid position and auto.offset.reset is none: %w", ps.tp.Topic, ps.tp.Partition, commitlog.ErrOffsetOutOfRange)
	}
	return nil
}

// committable is what a commit of the positions stores: the position of
// every assigned partition that has one, except partitions whose topic was
// deleted (or deleted and created again: the position is in the old one),
// which would fail the whole commit.
func (f *fetcher) committable() map[TopicPartition]OffsetAndMetadata {
	out := map[TopicPartition]OffsetAndMetadata{}
	for tp, ps := range f.parts {
		if ps.pos < 0 || ps.gone {
			continue
		}
		t, err := f.b.Topic(tp.Topic)
		if err != nil {
			continue
		}
		if p, err := t.Partition(tp.Partition); err != nil || p != ps.part {
			continue
		}
		out[tp] = OffsetAndMetadata{Offset: ps.pos}
	}
	return out
}
