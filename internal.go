package commitlog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// OffsetsTopic is the internal compacted topic in which the consumer
// package keeps committed offsets, as Kafka's __consumer_offsets. Only
// Broker.OffsetsTopic creates it; CreateTopic, AddPartitions and
// DeleteTopic refuse it.
const OffsetsTopic = "__consumer_offsets"

// internalTopics are the topics the broker and its clients manage, which
// the public topic API refuses to create, re-partition or delete:
// __consumer_offsets, and Kafka's __transaction_state (unused here, kept
// out of users' hands so a program moved to Kafka keeps working).
var internalTopics = []string{OffsetsTopic, "__transaction_state"}

// IsInternalTopic reports whether name is an internal topic. Other names
// starting with "__" are ordinary topics.
func IsInternalTopic(name string) bool { return slices.Contains(internalTopics, name) }

// internalTopicConfig is the configuration an internal topic is created
// with: compacted, 100 MiB segments (Kafka's offsets.topic.segment.bytes
// and transaction.state.log.segment.bytes).
func internalTopicConfig(string) TopicConfig {
	return TopicConfig{CleanupPolicy: CleanupCompact, SegmentBytes: 100 << 20}
}

// internalTopicError is the public topic API's error for an internal
// topic.
func internalTopicError(op, name string) error {
	if IsInternalTopic(name) {
		return fmt.Errorf("commitlog: %s %s: it is an internal topic, managed by the broker: %w", op, name, ErrInvalidTopic)
	}
	return nil
}

// collidesWithInternal reports the internal topic that name, not itself
// internal, would collide with once '.' and '_' are treated alike.
func collidesWithInternal(name string) (string, bool) {
	for _, internal := range internalTopics {
		if name != internal && normTopic(name) == normTopic(internal) {
			return internal, true
		}
	}
	return "", false
}

func normTopic(s string) string { return strings.ReplaceAll(s, ".", "_") }

// OffsetsTopic returns the internal topic __consumer_offsets, creating it
// with the given number of partitions (compacted, 100 MiB segments) if it
// does not exist yet; an existing topic is returned whatever its count.
// It is how the consumer package reaches the topic in which it stores
// committed offsets; programs have no reason to call it.
func (b *Broker) OffsetsTopic(partitions int32) (*Topic, error) {
	if t, ok := (*b.topics.Load())[OffsetsTopic]; ok {
		return t, nil
	}
	cfg := internalTopicConfig(OffsetsTopic)
	cfg.Partitions = partitions
	t, err := b.createTopic(OffsetsTopic, cfg)
	if errors.Is(err, ErrTopicExists) {
		return b.Topic(OffsetsTopic)
	}
	return t, err
}
