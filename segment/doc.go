// Package segment owns one segment of a partition's log: a ".log" file of
// Kafka v2 record batches laid back to back, named by its base offset, and
// the segment's two index files (package index).
//
// A Segment appends encoded batches, adds an offset and time index entry
// every index.interval.bytes, reads whole batches from an offset up to a
// byte limit, finds the first offset at or after a timestamp, and recovers
// after a crash: Recover scans the file batch by batch, verifies each CRC,
// truncates the file at the first torn or corrupt batch and rebuilds both
// indexes from what is left.
//
// # Offsets
//
// A batch's CRC does not cover its base offset field (as in Kafka), so a
// damaged base offset is only seen by where the batch sits. A segment is
// dense or compacted (Config.Compacted). In a dense segment, every segment
// of a delete-policy log and the active segment of any log, the first
// batch starts at the base offset (the file name) and every batch exactly
// at the previous one's next offset. In a compacted one, which the log
// cleaner wrote and may hold gaps, the first batch starts at or after the
// base offset and every batch after the previous one's last offset. In
// both, offset index entries name the last offset of the batch at their
// position (as Kafka's do), and every batch ends below the segment's next
// offset. A batch that breaks these rules is an error wrapping
// record.ErrCorrupt that names the segment and the position, wherever it
// is found; it is never served under offsets it does not have, and
// nothing after it is skipped silently:
//
//   - Read, Position and FindOffsetByTimestamp check every batch header
//     they walk from the index entry they start at, and Read checks the
//     header after the last batch it returns: in a compacted segment
//     either of two batches that contradict each other may be the one that
//     moved, so neither is served. A read whose first batch is damaged
//     fails; one that meets damage after good batches returns those, and
//     the next read, which starts at the damage, fails. Scan checks every
//     batch too.
//   - Recover checks every batch: the first one out of place ends the
//     valid log, as a bad CRC does (in a compacted segment, the one before
//     it too when the two overlap).
//   - Open of a Sealed segment checks the batches it reads anyway: the
//     first batch of the file, the batch at the last offset index entry
//     and those after it. It does not read the rest (reads check it), and
//     it refuses a segment whose checks fail after Recover found the
//     damage: a Sealed segment is never truncated. An unsealed segment is
//     the active segment after a crash: Recover cuts its tail.
//
// A batch moved into a gap that compaction left (or the last batch of a
// compacted segment moved up) contradicts nothing and cannot be told from
// one written there; the log checks segments against each other (see
// package log).
//
// # Concurrency
//
// One writer (the partition, which serialises appends) and any number of
// concurrent readers. The writer writes a batch with pwrite and only then
// publishes the new size and next offset with atomic stores; readers read
// below the published size, so they see only complete batches and never
// wait for the writer.
//
// # Reads through a memory map
//
// On Linux, macOS and the BSDs, a segment whose file gives a file
// descriptor (the OS file system's files do; see vfs) is read through a
// read-only shared memory map of it, which the first read makes: a read
// copies the batches it returns out of the map, without a system call
// (bytes read for the first time excepted, see below), and nothing else
// ever sees the map. The map spans segment.bytes of
// address range from the start of the file, past its end while the
// segment is active: the bytes below the published size are in the file
// and never change, and the batches appended later show through the map
// (it is the page cache itself). Bytes past the map (a segment grown past
// segment.bytes) are read with pread, as on other platforms and file
// systems.
//
// The map lives as long as the open file: it is removed when the last
// reference goes (Close, or Delete once the readers that hold the
// segment release it), so retention and compaction never pull it from
// under a read. A file cut under the segment by something else (another
// process), or a page the disk fails to read back, makes the read fault
// (SIGBUS): the fault is caught, the read is made again with pread, which
// returns the I/O error or finds the short file (an error wrapping
// record.ErrCorrupt), and the segment reads with pread from then on.
//
// Bytes are read through the map from their second read on: the first
// read of each 64 KiB window of the file goes through pread. The first
// touch of a page of a map takes a page fault, which costs more than a
// pread and pays off only when the page is read again; so bytes read once
// (a consumer reading the log through, random reads spread over far more
// than they come back to) cost what they cost before, and bytes read
// again (random reads of a working set) the copy out of the map. The
// pages a map shows count in the process's resident memory as shared
// file pages, as the page cache they are.
package segment
