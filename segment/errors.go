package segment

import "errors"

// ErrOffsetOutOfRange reports a read below the log start offset or at or
// beyond the high watermark (Kafka's OFFSET_OUT_OF_RANGE).
var ErrOffsetOutOfRange = errors.New("commitlog: offset out of range")

// ErrClosed reports use of a segment, log, partition or broker after Close.
var ErrClosed = errors.New("commitlog: closed")
