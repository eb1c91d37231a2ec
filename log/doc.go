// Package log owns the log of one partition: the ordered list of its
// segments (package segment) in one directory, and everything that spans
// segments: appending with offset assignment, reading from an offset,
// lookups by timestamp, rolling to a new segment (segment.bytes,
// segment.ms), retention (retention.bytes, retention.ms), the flush policy
// (flush.messages, flush.ms, explicit Sync) and recovery on open.
//
// # Offsets
//
// Offsets are dense and start at 0. The log start offset is the base
// offset of the oldest segment; retention deletes whole segments only, so
// it moves in steps of segments. The log end offset (LEO) is the offset the
// next batch gets. Reads below the log start offset or above the LEO fail
// with ErrOffsetOutOfRange; a read at the LEO returns nothing.
//
// # Recovery
//
// Close writes a clean-shutdown marker (".kafka_cleanshutdown") into the
// directory and Open removes it. Open after a clean shutdown restores every
// segment from its indexes without scanning the data. Without the marker
// (a crash), the last segment is scanned batch by batch, its CRCs verified,
// its torn tail truncated and its indexes rebuilt; older segments were
// flushed when the log rolled past them, so they are only rebuilt if their
// indexes fail the sanity check. Acknowledged data before the first damaged
// batch is never lost.
//
// # Retention and flushing
//
// The log applies retention whenever it rolls a segment, and the flush
// policy on every append. The owner (the broker) also calls Maintain on a
// schedule (Kafka's log.retention.check.interval.ms and
// log.flush.scheduler.interval.ms), so time-based limits apply to idle logs
// too. The log itself starts no goroutines. Retention never deletes the
// active segment: segment.ms rolls it first.
//
// # Concurrency
//
// Appends, rolls, retention and Close serialise on the log's own mutex.
// Readers take no lock: they load an immutable snapshot of the segment list
// and hold a reference on the segment they read, so they never block the
// writer and a segment deleted by retention is removed from disk only once
// its last reader is done.
package log
