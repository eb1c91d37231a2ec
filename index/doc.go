// Package index owns a segment's two index files, in Kafka's on-disk format:
//
//   - the offset index (".index"), 8-byte big-endian entries
//     {relativeOffset uint32, position uint32} mapping an offset to the byte
//     position of a batch in the segment's ".log" file, and
//   - the time index (".timeindex"), 12-byte big-endian entries
//     {timestamp int64, relativeOffset uint32} mapping a timestamp to the
//     offset of the record that first reached it.
//
// Relative offsets are offset minus the segment's base offset. An index is
// held in memory, read whole when it is opened (a sealed segment's index is
// about 1/500 of its log), and written to its file with positional writes
// (pwrite) when the segment syncs, rolls or closes: the file holds exactly
// its entries, never preallocated padding. Nothing is memory-mapped, so a
// full disk is an error from the write that met it (Sync, Trim or Close),
// never a SIGBUS, and a file truncated by someone else cannot fault a
// reader. Entries not yet written after a crash are rebuilt by the segment's
// recovery, which scans the log.
//
// Indexes are derived data. A damaged file never causes a panic: SanityCheck
// reports it with an error wrapping record.ErrCorrupt, and the caller is
// expected to Reset the index and rebuild it from the log.
//
// # Concurrency
//
// Every index has exactly one writer: Append, TruncateTo, Reset, SanityCheck,
// Sync, Trim, Close, Delete and Rename must be called by one goroutine at a
// time (the caller serialises them). Any number of readers may call Lookup,
// FirstAtOrAfter, LastEntry, Entries, IsFull, BaseOffset and Path at the same
// time as the writer and each other, without a lock, except while TruncateTo
// or Reset runs: those are for recovery, before readers can reach the index.
// The writer stores an entry's bytes before publishing the new entry count
// with an atomic store; a reader loads the count, then the buffer, and
// binary-searches the entries below the count, so it always sees complete
// entries. The writer never rewrites a published entry in place: growing
// copies into a new buffer, which is published atomically. Reads after Close
// behave as on an empty index.
package index
