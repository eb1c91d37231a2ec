package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
)

// errMapping says that a franz-go error (a kerr code, or a kgo error)
// means a commitlog sentinel.
type errMapping struct {
	from error // matched with errors.Is
	to   error
}

// errMappings are the general mappings of Kafka's and franz-go's errors
// to commitlog's sentinels, the first match winning. The drivers of the
// clients (producer.go, admin.go, consumer.go) add their own from an init
// of their file (errMappings = append(errMappings, ...)), for the errors
// of their packages (producer.ErrBufferFull, consumer.ErrIllegalGeneration,
// ...).
var errMappings = []errMapping{
	{kerr.UnknownTopicOrPartition, commitlog.ErrUnknownTopic},
	{kerr.UnknownTopicID, commitlog.ErrUnknownTopic},
	{kerr.TopicAlreadyExists, commitlog.ErrTopicExists},
	{kerr.InvalidTopicException, commitlog.ErrInvalidTopic},
	{kerr.TopicAuthorizationFailed, commitlog.ErrUnknownTopic}, // Kafka hides topics one may not see
	{kerr.MessageTooLarge, commitlog.ErrRecordTooLarge},
	{kerr.RecordListTooLarge, commitlog.ErrRecordTooLarge},
	{kerr.InvalidRecord, commitlog.ErrInvalidRecord},
	{kerr.CorruptMessage, commitlog.ErrCorrupt},
	{kerr.OffsetOutOfRange, commitlog.ErrOffsetOutOfRange},
	{kerr.InvalidConfig, commitlog.ErrInvalidConfig},
	{kerr.InvalidPartitions, commitlog.ErrInvalidConfig},
	{kerr.InvalidReplicationFactor, commitlog.ErrInvalidConfig},
	{kerr.InvalidRequiredAcks, commitlog.ErrInvalidConfig},
	{kerr.PolicyViolation, commitlog.ErrInvalidConfig},
	{kgo.ErrClientClosed, commitlog.ErrClosed},
	// The group protocol's errors, as the embedded coordinator names them.
	{kerr.IllegalGeneration, consumer.ErrIllegalGeneration},
	{kerr.StaleMemberEpoch, consumer.ErrIllegalGeneration},
	{kerr.UnknownMemberID, consumer.ErrUnknownMemberID},
	{kerr.FencedInstanceID, consumer.ErrUnknownMemberID},
	{kerr.RebalanceInProgress, consumer.ErrRebalanceInProgress},
	{kerr.InconsistentGroupProtocol, consumer.ErrInconsistentGroupProtocol},
	{kerr.OffsetMetadataTooLarge, commitlog.ErrRecordTooLarge},
	{kerr.NonEmptyGroup, consumer.ErrGroupNotEmpty},
	{kerr.GroupIDNotFound, consumer.ErrUnknownGroup},
}

// mapErr returns err wrapping both the commitlog sentinel it means (if
// any) and err itself, with op ("produce to t") as context: errors.Is
// then matches the sentinel as on the embedded broker, and the kerr or
// kgo error too. nil stays nil; an error that already wraps the sentinel
// it means, or means none, only gets the context.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, m := range errMappings {
		if errors.Is(err, m.from) {
			if errors.Is(err, m.to) {
				break
			}
			return fmt.Errorf("kafka: %s: %w: %w", op, m.to, err)
		}
	}
	return fmt.Errorf("kafka: %s: %w", op, err)
}
