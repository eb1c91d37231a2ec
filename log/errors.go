package log

import (
	"errors"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
)

// The sentinel errors of the layers below, re-exported so that callers of
// this package need no other import. They are the same values as in the
// packages that define them, so errors.Is works with either name.
var (
	ErrClosed         = segment.ErrClosed
	ErrCorrupt        = record.ErrCorrupt
	ErrRecordTooLarge = record.ErrRecordTooLarge
)

// ErrOffsetOutOfRange reports a read below the log start offset or above
// the high watermark (Kafka's OFFSET_OUT_OF_RANGE).
var ErrOffsetOutOfRange = errors.New("commitlog: offset out of range")

// ErrInvalidRecord reports a record the log refuses for what it holds
// rather than how it is encoded: a record without a key appended to a
// compacted log, or a batch that does not hold one record per offset it
// spans (Kafka's INVALID_RECORD).
var ErrInvalidRecord = errors.New("commitlog: invalid record")
