package commitlog

import (
	"fmt"
	"sync/atomic"
)

// Topic is a named, partitioned log. Its methods take no lock.
type Topic struct {
	name    string
	cfg     atomic.Pointer[TopicConfig] // defaults filled in; replaced whole by AlterTopicConfig
	broker  *Broker
	parts   atomic.Pointer[[]*Partition]
	deleted atomic.Bool
}

// Name is the topic's name.
func (t *Topic) Name() string { return t.name }

// Config is the topic's configuration with every default filled in: no
// field is zero or nil, except those whose default is zero
// (MessageTimestampType CreateTime, MinCompactionLag 0). The pointers are
// the caller's own: writing through them changes nothing in the topic.
// Partitions is the current count, which AddPartitions raises.
func (t *Topic) Config() TopicConfig {
	c := t.cfg.Load().clone() // filled in by CreateTopic and Open
	c.Partitions = t.NumPartitions()
	return c
}

// MaxMessageBytes is the topic's max.message.bytes, the largest batch it
// accepts: *Config().MaxMessageBytes without the copy, for a producer's
// every send.
func (t *Topic) MaxMessageBytes() int { return *t.cfg.Load().MaxMessageBytes }

// Compacted reports whether the topic's cleanup.policy includes compact:
// Config().Compacted() without the copy.
func (t *Topic) Compacted() bool { return t.cfg.Load().Compacted() }

// Deleted reports whether the topic has been deleted.
func (t *Topic) Deleted() bool { return t.deleted.Load() }

// Partitions returns the topic's partitions in order.
func (t *Topic) Partitions() []*Partition {
	if p := t.parts.Load(); p != nil {
		return *p
	}
	return nil
}

// NumPartitions is the current partition count.
func (t *Topic) NumPartitions() int32 { return int32(len(t.Partitions())) }

// Partition returns partition id, or an error wrapping ErrUnknownTopic
// (deleted topic) or ErrUnknownPartition.
func (t *Topic) Partition(id int32) (*Partition, error) {
	if t.deleted.Load() {
		return nil, fmt.Errorf("commitlog: topic %s: %w", t.name, ErrUnknownTopic)
	}
	parts := t.Partitions()
	if id < 0 || int(id) >= len(parts) {
		return nil, fmt.Errorf("commitlog: topic %s has %d partitions, no partition %d: %w", t.name, len(parts), id, ErrUnknownPartition)
	}
	return parts[id], nil
}
