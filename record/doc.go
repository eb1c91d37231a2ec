// Package record owns the Kafka v2 record batch codec shared by every other
// package of commitlog: encoding and decoding of record batches exactly as
// Kafka lays them out on disk (magic 2, CRC-32C Castagnoli, zig-zag varints,
// null keys and values as length -1, headers), compression of the records
// section in every codec Kafka defines (gzip, snappy, raw or in the Java
// client's xerial framing, lz4 and zstd), and an allocation-free iterator
// over the records of a batch for the read path.
//
// Decoding never trusts its input: malformed bytes produce an error wrapping
// ErrCorrupt, never a panic.
package record
