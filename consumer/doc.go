// Package consumer is the reading client of commitlog, modelled on Kafka's
// consumer: a Consumer reads the partitions assigned to it (Assign) or
// those its consumer group gives it (Subscribe), and commits how far it
// got. The Coordinator, one per broker, runs the groups (members,
// generations, rebalances through the assignors of package assignor) and
// stores committed offsets in the internal compacted topic
// __consumer_offsets.
//
// # Committed offsets
//
// A commit is one batch of records in partition xxhash(group) % count of
// __consumer_offsets, fsynced before CommitSync returns: per partition, a
// key in Kafka's OffsetCommitKey v1 layout (group, topic, partition) and a
// value in OffsetCommitValue v3 (offset, leader epoch -1, metadata, commit
// timestamp in ms). A committed offset is the next offset to consume.
//
// What a commit may hold: every entry must name a partition that exists,
// of any topic (not only those the group consumes, as in Kafka), and an
// offset of 0 or more. Otherwise the commit fails, with ErrUnknownTopic,
// ErrUnknownPartition (package commitlog) or ErrInvalidOffset, and none of
// its entries is written. Metadata over offset.metadata.max.bytes (4096)
// fails with ErrRecordTooLarge, a stale member with ErrIllegalGeneration
// or ErrUnknownMemberID. A commit of the positions (CommitSync(nil),
// CommitAsync(nil), auto-commit, Close) leaves out assigned partitions
// whose topic was deleted, or deleted and created again.
//
// Loading them back, when the coordinator starts:
//
//   - Each read of the offsets topic must move forward. A read that returns
//     nothing below the high watermark, batches whose offsets go back or
//     do not hold the position read (a damaged base offset field, which
//     the CRC does not cover), and any record that does not decode fail
//     the load, and so consumer.New and CoordinatorFor, with an error
//     wrapping commitlog.ErrCorrupt that names the partition and offset.
//     Nothing is guessed: the committed offsets of every group depend on
//     the whole topic. Records of other kinds (keys of version 2 and up,
//     Kafka's group metadata) are skipped.
//   - Within one partition the log order decides: a key's later record
//     wins, a tombstone (null value) deleting the offset, even if the
//     clock went back between the two.
//   - A key can have records in several partitions when the topic's
//     partition count changed. Across partitions the newer commit wins by
//     commit timestamp (a tombstone's is its record timestamp), a
//     partition's last record of the key counting as made at the newest
//     timestamp of the key's records up to it there; on a tie the
//     partition the group maps to now wins, then the lower-numbered one.
//     So that this holds when the clock goes back, a commit never carries
//     an older timestamp than the commit of the same key it replaces: it
//     takes that one instead of now.
//   - A negative committed offset, which older versions accepted, means no
//     committed offset (auto.offset.reset applies), as it did then.
package consumer
