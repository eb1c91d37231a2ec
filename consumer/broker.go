package consumer

import (
	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/partition"
)

// This file holds what package consumer uses of the broker beyond its
// topics: the partition type it reads and the extension registry that
// keeps one Coordinator per broker (stats.go holds the other end of that
// registry, the commitlog.StatsContributor). Both are named only here.

// brokerPartition is a partition of a broker topic, as the fetcher and
// the offsets store read it.
type brokerPartition = partition.Partition

type coordinatorKey struct{}

// brokerCoordinator returns the broker's coordinator, calling start to make
// it on first use; the broker closes it on Close.
func brokerCoordinator(b *commitlog.Broker, start func() (*Coordinator, error)) (*Coordinator, error) {
	v, err := b.Extension(coordinatorKey{}, func() (any, error) { return start() })
	if err != nil {
		return nil, err
	}
	return v.(*Coordinator), nil
}
