// Package index owns a segment's two index files, in Kafka's on-disk format:
//
//   - the offset index (".index"), 8-byte big-endian entries
//     {relativeOffset uint32, position uint32} mapping an offset to the byte
//     position of a batch in the segment's ".log" file, and
//   - the time index (".timeindex"), 12-byte big-endian entries
//     {timestamp int64, relativeOffset uint32} mapping a timestamp to the
//     offset of the record that first reached it.
//
// Relative offsets are offset minus the segment's base offset. Both files are
// preallocated (ftruncate) to a configured maximum size, memory-mapped
// read-write with github.com/edsrzf/mmap-go, and trimmed to the used size when
// the segment rolls or is closed. The number of entries in an existing file is
// its valid prefix: the file size rounded down to a whole number of entries,
// less any trailing all-zero entries (padding left by preallocation when the
// process stopped without closing the index).
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
// time as the writer and each other. The writer stores an entry's bytes before
// publishing the new entry count with an atomic store; a reader loads the count
// once and binary-searches the entries below it, so it always sees complete
// entries. A sync.RWMutex guards the lifetime of the mapping: readers hold it
// shared, and operations that remap, unmap or rewrite published entries (Trim,
// TruncateTo, Reset, Close, Delete, Rename and an Append that has to grow the
// file again after Trim) hold it exclusively. Reads after Close behave as on an
// empty index and never fault.
package index
