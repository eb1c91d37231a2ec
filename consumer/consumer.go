package consumer

import (
	"fmt"
	"time"

	"github.com/commitlog-go/commitlog"
)

// Consumer reads records from a broker's topics, alone (Assign) or as a
// member of a consumer group (Subscribe). Like Kafka's KafkaConsumer it is
// meant for one goroutine: Poll, Seek, Commit and the rest are called from
// the polling goroutine (or its rebalance listener). Close may be called
// from any goroutine and wakes a waiting Poll. The package documentation
// says what runs on which goroutine.
type Consumer struct {
	drv   Driver // not nil: the backend is not the embedded broker, and every exported method delegates to drv
	b     commitlog.Store
	set   config       // Config resolved: defaults applied (config.go)
	coord *Coordinator // nil without a group.id

	// Each part owns its state; its type says what guards it.
	gate    pollGate   // the poll role, which Poll and Close take in turn
	fetch   fetcher    // assigned partitions, positions, fetched records: the poll role's
	group   membership // subscription and place in the group: own lock
	commits committer  // numbering, order and queue of commits, its goroutine: own locks
	life    lifecycle  // Close's progress

	lastAutoCommit time.Time // the poll role's: when Poll last auto-committed

	metrics consumerMetrics // metrics.go
}

// New returns a consumer of b: the embedded broker (a commitlog.Store), or
// a backend with a consumer driver (a DriverOpener: a Kafka cluster from
// package kafka). Any other backend gets an error wrapping
// commitlog.ErrUnsupportedBackend.
func New(backend commitlog.Backend, cfg Config) (*Consumer, error) {
	set, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	b, ok := backend.(commitlog.Store)
	if !ok {
		o, ok := backend.(DriverOpener)
		if !ok {
			return nil, fmt.Errorf("consumer: backend %T: %w", backend, commitlog.ErrUnsupportedBackend)
		}
		drv, err := o.OpenConsumerDriver(set.filled())
		if err != nil {
			return nil, err
		}
		c := &Consumer{drv: drv, set: set}
		c.metrics.start(c, nil)
		return c, nil
	}
	c := &Consumer{b: b, set: set, group: newMembership(), life: newLifecycle(), lastAutoCommit: time.Now()}
	if c.set.GroupID != "" {
		if c.coord, err = CoordinatorFor(b); err != nil {
			return nil, err
		}
	}
	c.fetch = newFetcher(b, &c.set, c.committedOffset)
	c.commits.start(c.writeCommit)
	c.metrics.start(c, b)
	return c, nil
}

func errClosed() error { return fmt.Errorf("consumer: %w", commitlog.ErrClosed) }
