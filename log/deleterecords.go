package log

import (
	"fmt"
)

// DeleteRecordsBefore advances the log start offset to offset (Kafka's
// DeleteRecords): the records below it are no longer readable, the
// segments wholly below it are removed, and the new start is made durable
// before the call returns, through Config.OnStartOffset (the broker's
// log-start-offset-checkpoint), after an fsync of the log up to offset so
// that a crash never leaves the log ending below its start. offset must
// be at most maxOffset (the high watermark), or the error wraps
// ErrOffsetOutOfRange; an offset at or below the current log start
// changes nothing. It returns the log start offset after the call (Kafka's
// low watermark).
//
// The log start may then fall inside a segment: reads below it get
// ErrOffsetOutOfRange, and offset lookups by time or by max timestamp
// ignore the records below it.
func (l *Log) DeleteRecordsBefore(offset, maxOffset int64) (int64, error) {
	if l.readOnly {
		return 0, l.readOnlyErr("delete records")
	}
	if l.closed.Load() {
		return 0, fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	maxOffset = min(maxOffset, l.end.Load())
	if offset < 0 || offset > maxOffset {
		return 0, fmt.Errorf("log %s: delete records before %d: outside [0, %d]: %w", l.dir, offset, maxOffset, ErrOffsetOutOfRange)
	}
	if offset <= l.start.Load() {
		return l.start.Load(), nil
	}
	if err := l.SyncTo(offset); err != nil {
		return 0, err
	}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return 0, fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	l.pending.Store(max(l.pending.Load(), offset))
	l.mu.Unlock()
	// reap records the new start even when no segment goes (it is what
	// keeps the records below it unreadable after a restart), then moves
	// it: no reader is sent past records a crash would bring back.
	_, err := l.reap()
	if err != nil {
		return l.start.Load(), fmt.Errorf("log %s: delete records before %d: %w", l.dir, offset, err)
	}
	return l.start.Load(), nil
}

// checkStartInLog refuses a checkpointed log start offset past the log
// end: DeleteRecordsBefore fsyncs the log up to the new start before it
// records it, so that is damage (of the checkpoint or the segments).
func (l *Log) checkStartInLog() error {
	if start, end := l.start.Load(), l.end.Load(); start > end {
		return fmt.Errorf("log %s: the checkpointed log start offset %d is past the log end offset %d: the checkpoint or the segments are damaged (if the broker's log-start-offset-checkpoint is, remove it): %w",
			l.dir, start, end, ErrCorrupt)
	}
	return nil
}
