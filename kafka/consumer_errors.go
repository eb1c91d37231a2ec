package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
)

// consumerErr maps an error of a Kafka request made for a consumer to the
// sentinel error the embedded consumer returns in the same case, wrapping
// both, so that errors.Is works the same on both backends. what says
// which call failed. Errors with no counterpart are returned wrapped, as
// they are.
//
// (The producer and admin drivers have a mapping of their own, in
// errors.go; the two are to be merged.)
func consumerErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, kgo.ErrClientClosed):
		sentinel = commitlog.ErrClosed
	case errors.Is(err, kerr.OffsetOutOfRange):
		sentinel = commitlog.ErrOffsetOutOfRange
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		sentinel = commitlog.ErrUnknownTopic
	case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.StaleMemberEpoch):
		sentinel = consumer.ErrIllegalGeneration
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedInstanceID):
		sentinel = consumer.ErrUnknownMemberID
	case errors.Is(err, kerr.RebalanceInProgress):
		sentinel = consumer.ErrRebalanceInProgress
	case errors.Is(err, kerr.InconsistentGroupProtocol):
		sentinel = consumer.ErrInconsistentGroupProtocol
	case errors.Is(err, kerr.OffsetMetadataTooLarge):
		sentinel = commitlog.ErrRecordTooLarge
	case errors.Is(err, kerr.InvalidTopicException):
		sentinel = commitlog.ErrInvalidTopic
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("consumer: %s: %w", what, err)
	}
	if sentinel == nil {
		return fmt.Errorf("consumer: %s: %w", what, err)
	}
	return fmt.Errorf("consumer: %s: %w: %w", what, sentinel, err)
}
