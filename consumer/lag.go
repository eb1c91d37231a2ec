package consumer

import (
	"context"
	"fmt"
)

// EndOffsets returns the end offset of each partition of tps (the offset
// the next record will get, as a consumer sees it: the high watermark), as
// Kafka's endOffsets; with no tps, those of the assignment. The
// partitions need not be assigned. An unknown topic or partition is an
// error wrapping commitlog.ErrUnknownTopic or ErrUnknownPartition.
func (c *Consumer) EndOffsets(ctx context.Context, tps ...TopicPartition) (map[TopicPartition]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("consumer: end offsets: %w", err)
	}
	if len(tps) == 0 {
		tps = c.Assignment()
	}
	if c.drv != nil {
		return c.drv.EndOffsets(ctx, tps)
	}
	out := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		t, err := c.b.Topic(tp.Topic)
		if err != nil {
			return nil, fmt.Errorf("consumer: end offsets: %w", err)
		}
		p, err := t.Partition(tp.Partition)
		if err != nil {
			return nil, fmt.Errorf("consumer: end offsets: %w", err)
		}
		out[tp] = p.HighWatermark()
	}
	return out, nil
}

// Lag returns, for each assigned partition, how many records the
// consumer is behind: its end offset minus the consumer's position (0 when
// caught up), as Kafka's currentLag for each partition of the
// assignment. A partition whose position is not known yet gets it as
// Position does (the committed offset or auto.offset.reset), so an error
// of Position (ErrOffsetOutOfRange with auto.offset.reset none) is Lag's.
func (c *Consumer) Lag(ctx context.Context) (map[TopicPartition]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("consumer: lag: %w", err)
	}
	tps := c.Assignment()
	pos := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		p, err := c.Position(tp)
		if err != nil {
			return nil, fmt.Errorf("consumer: lag: %w", err)
		}
		pos[tp] = p
	}
	end, err := c.EndOffsets(ctx, tps...)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(tps))
	for tp, p := range pos {
		out[tp] = max(end[tp]-p, 0)
	}
	return out, nil
}
