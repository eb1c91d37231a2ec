package commitlog

import (
	"fmt"
	"log/slog"
	"sync"
)

// Store is the broker as its clients see it: the one door through which
// package producer and package consumer reach storage. They find topics by
// name, append to and read from their partitions, log through the
// broker's logger, and (the consumer) keep committed offsets in the
// internal offsets topic under one group coordinator per broker. *Broker
// implements it; nothing else of the storage layers (log, segment, index)
// is visible to the clients.
type Store interface {
	// Topic returns the named topic, or an error wrapping ErrUnknownTopic
	// (ErrClosed once the broker is closed).
	Topic(name string) (*Topic, error)
	// Logger is the structured logger the clients log through.
	Logger() *slog.Logger
	// OffsetsTopic returns the internal __consumer_offsets topic, creating
	// it with the given partition count if it does not exist.
	OffsetsTopic(partitions int32) (*Topic, error)
	// GroupCoordinator returns the store's consumer group coordinator,
	// calling start to create it on first use.
	GroupCoordinator(start func() (GroupCoordinator, error)) (GroupCoordinator, error)
}

var _ Store = (*Broker)(nil)

// GroupCoordinator is the consumer group coordinator that a broker runs
// for its consumers (package consumer provides it): one per broker,
// created on first use and closed by Broker.Close before the partitions
// close. Its group stats are part of Broker.Stats.
type GroupCoordinator interface {
	// GroupStats returns the state and lag of every group, sorted by
	// group id.
	GroupStats() []GroupStats
	// Close stops the coordinator; members waiting in it get ErrClosed.
	Close() error
}

// coordinatorSlot holds the broker's group coordinator.
type coordinatorSlot struct {
	mu      sync.Mutex // guards gc and closing; held while start runs, so only one coordinator is made
	gc      GroupCoordinator
	closing bool // Broker.Close has begun: no coordinator is made any more
}

// GroupCoordinator returns the broker's consumer group coordinator,
// calling start to create it on first use. After Close it fails with
// ErrClosed. Programs get it through package consumer
// (consumer.CoordinatorFor).
func (b *Broker) GroupCoordinator(start func() (GroupCoordinator, error)) (GroupCoordinator, error) {
	s := &b.coord
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, fmt.Errorf("commitlog: %w", ErrClosed)
	}
	if s.gc != nil {
		return s.gc, nil
	}
	gc, err := start()
	if err != nil {
		return nil, err
	}
	s.gc = gc
	return gc, nil
}

// coordinator is the running group coordinator, or nil.
func (b *Broker) coordinator() GroupCoordinator {
	b.coord.mu.Lock()
	defer b.coord.mu.Unlock()
	return b.coord.gc
}

// closeCoordinator stops the group coordinator, if one runs, and keeps a
// new one from starting.
func (b *Broker) closeCoordinator() error {
	b.coord.mu.Lock()
	b.coord.closing = true
	gc := b.coord.gc
	b.coord.mu.Unlock()
	if gc == nil {
		return nil
	}
	return gc.Close()
}
