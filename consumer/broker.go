package consumer

import (
	"fmt"

	"github.com/commitlog-go/commitlog"
)

// This file holds what package consumer uses of the broker beyond its
// topics: the partition type it reads and the typed hook that keeps one
// Coordinator per broker (stats.go implements the rest of
// commitlog.GroupCoordinator). Both are named only here.

// brokerPartition is a partition of a broker topic, as the fetcher and
// the offsets store read it.
type brokerPartition = commitlog.Partition

// brokerCoordinator returns the broker's coordinator, calling start to make
// it on first use; the broker closes it on Close.
func brokerCoordinator(b commitlog.Store, start func() (*Coordinator, error)) (*Coordinator, error) {
	gc, err := b.GroupCoordinator(func() (commitlog.GroupCoordinator, error) { return start() })
	if err != nil {
		return nil, err
	}
	c, ok := gc.(*Coordinator)
	if !ok {
		return nil, fmt.Errorf("consumer: the store runs a group coordinator of type %T, not this package's", gc)
	}
	return c, nil
}
