package assignor

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
)

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	// Topic is the topic name.
	Topic string
	// Partition is the partition number, from 0 to the topic's partition
	// count minus one.
	Partition int32
}

// Compare orders partitions by topic, then by partition number (for
// slices.SortFunc): -1, 0 or +1 as tp is before, the same as or after o.
func (tp TopicPartition) Compare(o TopicPartition) int {
	if c := cmp.Compare(tp.Topic, o.Topic); c != 0 {
		return c
	}
	return cmp.Compare(tp.Partition, o.Partition)
}

// String returns the partition in Kafka's "topic-partition" notation.
func (tp TopicPartition) String() string {
	return tp.Topic + "-" + strconv.Itoa(int(tp.Partition))
}

// Member describes one member of a consumer group as the assignor sees it.
type Member struct {
	// ID is the member id. Ids must be unique within one call; assignors
	// order members by ID.
	ID string
	// Topics is the member's subscription. Topics missing from the
	// partition counts handed to Assign are ignored; duplicates are
	// harmless.
	Topics []string
	// Owned lists the partitions the member currently owns. Only the sticky
	// assignors read it; it may be nil.
	Owned []TopicPartition
	// Generation is the group generation in which Owned was valid, 0 if
	// unknown. When several members claim one partition the claim with the
	// highest generation stands.
	Generation int32
	// UserData is opaque data the member attached to its subscription. The
	// built-in assignors ignore it.
	UserData []byte
}

// Assignment maps a member ID to the partitions assigned to it. Every member
// given to Assign has an entry (an empty, non-nil slice when it gets
// nothing), and each slice is sorted by topic, then partition.
type Assignment map[string][]TopicPartition

// RebalanceProtocol is the rebalance protocol an assignor requires.
type RebalanceProtocol int

const (
	// Eager means every member revokes all of its partitions before the
	// group rebalances; the assignment may move any partition at once.
	Eager RebalanceProtocol = iota
	// Cooperative means members keep their partitions during a rebalance;
	// the assignment never gives a member a partition another member still
	// owns, so moving a partition takes two rebalances.
	Cooperative
)

// String returns "eager", "cooperative", or the number for unknown values.
func (p RebalanceProtocol) String() string {
	switch p {
	case Eager:
		return "eager"
	case Cooperative:
		return "cooperative"
	default:
		return "RebalanceProtocol(" + strconv.Itoa(int(p)) + ")"
	}
}

// Assignor is a partition assignment strategy.
//
// Implementations must be pure functions of their arguments: deterministic,
// free of I/O, safe for concurrent use, and must not modify their inputs.
type Assignor interface {
	// Name returns the strategy's protocol name, as used in the group
	// protocol (for the built-ins Kafka's: "range", "roundrobin",
	// "sticky", "cooperative-sticky").
	Name() string
	// Protocol returns the rebalance protocol the strategy requires.
	Protocol() RebalanceProtocol
	// Assign distributes the partitions of every subscribed topic over the
	// members. partitionsPerTopic gives each topic's partition count;
	// subscribed topics missing from it are ignored.
	Assign(members []Member, partitionsPerTopic map[string]int32) (Assignment, error)
}

// ErrUnknownAssignor is returned (wrapped, with the name) by ByName for a
// name that is not one of the built-in strategies.
var ErrUnknownAssignor = errors.New("assignor: unknown assignor")

// ErrInvalidInput is returned (wrapped, with details) by the built-in
// assignors when two members share an ID or a topic has a negative partition
// count.
var ErrInvalidInput = errors.New("assignor: invalid input")

// ByName returns the built-in assignor with the given protocol name:
// "range", "roundrobin", "sticky" or "cooperative-sticky".
func ByName(name string) (Assignor, error) {
	switch name {
	case rangeName:
		return Range(), nil
	case roundRobinName:
		return RoundRobin(), nil
	case stickyName:
		return Sticky(), nil
	case cooperativeStickyName:
		return CooperativeSticky(), nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownAssignor, name)
	}
}

const (
	rangeName             = "range"
	roundRobinName        = "roundrobin"
	stickyName            = "sticky"
	cooperativeStickyName = "cooperative-sticky"
)
