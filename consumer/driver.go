package consumer

import (
	"context"
	"time"

	"github.com/commitlog-go/commitlog/assignor"
)

// RebalanceEvent names the RebalanceListener method a Driver asks the
// Consumer to run.
type RebalanceEvent int

// The rebalance events, one per RebalanceListener method.
const (
	PartitionsRevoked RebalanceEvent = iota
	PartitionsAssigned
	PartitionsLost
)

// String returns the listener method's name.
func (e RebalanceEvent) String() string {
	switch e {
	case PartitionsRevoked:
		return "OnPartitionsRevoked"
	case PartitionsAssigned:
		return "OnPartitionsAssigned"
	case PartitionsLost:
		return "OnPartitionsLost"
	}
	return "RebalanceEvent(?)"
}

// Driver is a Consumer on a backend other than the embedded broker (a
// Kafka cluster, from package kafka): when New is given such a backend,
// every exported method of the Consumer calls the Driver's method of the
// same name, which must keep the Consumer's documented semantics (its
// sentinel errors, the threading model, listeners running inside Poll on
// the polling goroutine). It is implemented by package kafka;
// applications do not call it.
type Driver interface {
	// Subscribe is Consumer.Subscribe; onRebalance (never nil) runs the
	// application's listener, and the driver calls it inside Poll or
	// Close, as the embedded consumer calls its listener, with a ctx that
	// marks the call as the listener's.
	Subscribe(topics []string, onRebalance func(ctx context.Context, ev RebalanceEvent, tps []TopicPartition)) error
	Assign(tps []TopicPartition) error
	Assignment() []TopicPartition
	// Poll is Consumer.Poll (keep: the records must stay valid while the
	// application keeps them) and Consumer.PollInto (keep false: the
	// driver may reuse what the previous poll returned); it appends to
	// dst.
	Poll(ctx context.Context, dst []Record, keep bool) ([]Record, error)
	Seek(tp TopicPartition, offset int64) error
	SeekToBeginning(tps ...TopicPartition) error
	SeekToEnd(tps ...TopicPartition) error
	Position(tp TopicPartition) (int64, error)
	Pause(tps ...TopicPartition) error
	Resume(tps ...TopicPartition) error
	Paused() []TopicPartition
	CommitSync(ctx context.Context, offsets map[TopicPartition]OffsetAndMetadata) error
	CommitAsync(offsets map[TopicPartition]OffsetAndMetadata, cb func(map[TopicPartition]OffsetAndMetadata, error))
	Committed(ctx context.Context, tps []TopicPartition) (map[TopicPartition]OffsetAndMetadata, error)
	OffsetsForTimes(times map[TopicPartition]time.Time) (map[TopicPartition]*OffsetAndTimestamp, error)
	// EndOffsets is Consumer.EndOffsets of tps (the Consumer passes the
	// assignment when the application named no partition); Lag is
	// computed by the Consumer from Position and EndOffsets.
	EndOffsets(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error)
	MemberID() (string, int32)
	Close(ctx context.Context) error
}

// DriverOpener is a backend that makes consumer Drivers: New uses it when
// the backend is not a commitlog.Store. It is implemented by package
// kafka (*kafka.Cluster); applications do not call it.
//
// OpenConsumerDriver gets the config checked and with every default
// filled in: each pointer field set, Assignors not empty, so that it maps
// every setting without knowing this package's defaults. A setting it
// cannot map must fail with an error wrapping commitlog.ErrInvalidConfig
// or errors.ErrUnsupported.
type DriverOpener interface {
	OpenConsumerDriver(cfg Config) (Driver, error)
}

// filled is the resolved config as a Config with every field set: what a
// DriverOpener gets.
func (r config) filled() Config {
	return Config{
		GroupID:                r.GroupID,
		AutoOffsetReset:        r.AutoOffsetReset,
		EnableAutoCommit:       new(r.EnableAutoCommit),
		AutoCommitInterval:     new(r.AutoCommitInterval),
		MaxPollRecords:         r.MaxPollRecords,
		FetchMaxBytes:          new(r.FetchMaxBytes),
		MaxPartitionFetchBytes: new(r.MaxPartitionFetchBytes),
		FetchMinBytes:          new(r.FetchMinBytes),
		FetchMaxWait:           new(r.FetchMaxWait),
		SessionTimeout:         r.SessionTimeout,
		HeartbeatInterval:      r.HeartbeatInterval,
		MaxPollInterval:        r.MaxPollInterval,
		Assignors:              append([]assignor.Assignor(nil), r.Assignors...),
		ClientID:               r.ClientID,
	}
}

// onRebalance is what a driver calls to run the application's listener
// (never nil once subscribed) with this Consumer.
func (c *Consumer) onRebalance(l RebalanceListener) func(ctx context.Context, ev RebalanceEvent, tps []TopicPartition) {
	return func(ctx context.Context, ev RebalanceEvent, tps []TopicPartition) {
		switch ev {
		case PartitionsRevoked:
			l.OnPartitionsRevoked(ctx, c, tps)
		case PartitionsAssigned:
			l.OnPartitionsAssigned(ctx, c, tps)
		case PartitionsLost:
			l.OnPartitionsLost(ctx, c, tps)
		}
	}
}
