package consumer

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/commitlog-go/commitlog"
)

// Read-only brokers (commitlog.OpenReadOnly): the consumer groups are the
// owner's. A coordinator on a read-only broker describes them, lists them
// and reads their committed offsets, which it loads from
// __consumer_offsets and loads again when the owner has written to it
// since (the broker's refresher makes the owner's commits readable); a
// join, a commit, a group deletion or an offset reset fails with an error
// wrapping commitlog.ErrReadOnly. The members and generations the owner
// holds in memory are not visible: such a group shows as GroupEmpty with
// its committed offsets.

// readOnlyStore reports whether b is a broker opened read-only.
func readOnlyStore(b commitlog.Store) bool {
	r, ok := b.(interface{ ReadOnly() bool })
	return ok && r.ReadOnly()
}

// readOnlyOffsets is the state of an offset store on a read-only broker.
type readOnlyOffsets struct {
	broker commitlog.Store
	mu     sync.Mutex       // serialises sync; guards topic and marks
	topic  *commitlog.Topic // the offsets topic the cache was loaded from, nil if none
	marks  []int64          // each partition's log start and high watermark at that load
}

func openReadOnlyOffsetStore(b commitlog.Store) (*offsetStore, error) {
	s := &offsetStore{ro: &readOnlyOffsets{broker: b}, cache: map[string]map[TopicPartition]OffsetAndMetadata{}}
	if err := s.sync(); err != nil {
		return nil, err
	}
	return s, nil
}

// sync loads the committed offsets of a read-only store again if the
// offsets topic changed since the last load (an offsets topic appeared,
// a high watermark or a log start offset moved). It does nothing for a
// store of the owner.
func (s *offsetStore) sync() error {
	if s.ro == nil {
		return nil
	}
	s.ro.mu.Lock()
	defer s.ro.mu.Unlock()
	t, err := s.ro.broker.Topic(commitlog.OffsetsTopic)
	if errors.Is(err, commitlog.ErrUnknownTopic) {
		t, err = nil, nil // no group has committed yet (or the owner has not loaded the topic)
	}
	if err != nil {
		return fmt.Errorf("consumer: offsets topic: %w", err)
	}
	var marks []int64
	if t != nil {
		for _, p := range t.Partitions() {
			marks = append(marks, p.LogStartOffset(), p.HighWatermark())
		}
	}
	if t == s.ro.topic && slices.Equal(marks, s.ro.marks) {
		return nil
	}
	fresh := &offsetStore{topic: t, cache: map[string]map[TopicPartition]OffsetAndMetadata{}}
	if t != nil {
		if err := fresh.load(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.topic, s.cache, s.stamps = t, fresh.cache, fresh.stamps
	s.mu.Unlock()
	s.ro.topic, s.ro.marks = t, marks
	return nil
}

// syncLogged is sync for the callers that return no error: a failed
// load keeps the offsets loaded before, and is logged.
func (s *offsetStore) syncLogged() {
	if s.ro == nil {
		return
	}
	if err := s.sync(); err != nil {
		s.ro.broker.Logger().Warn("consumer: read-only broker: loading the committed offsets again failed; keeping the last ones", "err", err)
	}
}

// readOnlyErr is the error of a change asked of the groups of a
// read-only broker, or nil for the owner's store.
func (s *offsetStore) readOnlyErr(op, group string) error {
	if s.ro == nil {
		return nil
	}
	return fmt.Errorf("consumer: %s for group %s: the broker is open read-only (the groups are its owner's): %w", op, group, commitlog.ErrReadOnly)
}
