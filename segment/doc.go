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
// # Concurrency
//
// One writer (the partition, which serialises appends) and any number of
// concurrent readers. The writer writes a batch with pwrite and only then
// publishes the new size and next offset with atomic stores; readers read
// with pread below the published size, so they see only complete batches
// and never wait for the writer.
package segment
