// Package consumer is the reading client of commitlog, modelled on Kafka's
// consumer. It owns three things:
//
//   - the Consumer, which reads the partitions assigned to it (Assign) or
//     those its consumer group gives it (Subscribe), and commits how far
//     it got;
//   - the group Coordinator, one per broker, which runs the groups
//     (members, generations, rebalances through the assignors of package
//     assignor) and checks commits against them;
//   - the offsets store, which keeps committed offsets in the internal
//     compacted topic __consumer_offsets and loads them back when the
//     coordinator starts.
//
// # Backends
//
// New takes a commitlog.Backend: the embedded *commitlog.Broker, which
// this package reads directly (everything below describes it), or a Kafka
// cluster (*kafka.Cluster from package kafka), which implements
// DriverOpener: the Consumer then hands every call to a Driver on
// franz-go, which keeps the semantics documented here (errors, listeners
// inside Poll, Close); package kafka documents how each setting and call
// maps. CoordinatorFor is the embedded broker's only.
//
// # Fetching and the records' bytes
//
// A fetch reads whole batches from a partition into one buffer and checks
// them (headers, CRCs, offsets); Poll then decodes the records it returns,
// and no more, as views into that buffer: a record's Key, Value and header
// values are not copies. Each read asks for what the records the Poll
// still lacks take (max.poll.records, by the sizes of the partition's
// records so far), within max.partition.fetch.bytes and fetch.max.bytes:
// a Seek followed by a Poll of one record reads the batch holding it, not
// a megabyte.
//
// Poll's records stay valid for as long as the application keeps them: a
// buffer Poll returned records from is never reused, so each fetch reads
// into a buffer of its own and each Poll allocates the slice it returns,
// and the garbage collector frees them once no record points into them
// (keeping one record keeps its whole buffer). PollInto(ctx, dst) returns
// the same records into dst without those allocations: the consumer reuses
// its buffers, so its records are valid only until the next Poll or
// PollInto (and the rebalance listeners that call runs). It is the form for
// a loop that handles or copies each record before it polls again.
//
// # Threading model
//
// A Consumer, like Kafka's, belongs to one goroutine, the polling
// goroutine: Poll, Seek, Position, Pause, Assign, Subscribe, CommitSync
// and CommitAsync are called from it, or from the rebalance listener that
// Poll runs on it. Close may be called from any goroutine. Besides the
// polling goroutine, a consumer runs:
//
//   - a commit goroutine, from New to Close: it writes CommitAsync's
//     commits, in the order they were made, and runs their callbacks;
//   - a heartbeat goroutine, from Subscribe to Close: it heartbeats every
//     heartbeat.interval.ms and leaves the group after max.poll.interval.ms
//     without a Poll. It runs no application code.
//
// Application code runs in three places: rebalance listeners, inside Poll
// on the polling goroutine and inside Close on its caller's goroutine;
// CommitAsync callbacks, on the commit goroutine (or, for commits still
// queued at Close, on the goroutine calling Close); and nothing else.
// Listeners and callbacks may call any method of the consumer, with any
// ctx: none of them deadlocks or waits for the code that calls it, which
// Go cannot tell from another goroutine, so the consumer never waits for
// a listener or callback that is running:
//
//   - Poll from a listener fails (it would run inside the Poll that runs
//     the listener).
//   - CommitSync and CommitAsync work as anywhere else.
//   - Close from a listener, with the ctx the listener got (or one derived
//     from it), closes there and then. With another ctx, and from another
//     goroutine while a listener runs, Close writes the commits made
//     before it and returns; the Poll running the listener closes the
//     consumer when the listener returns, then returns ErrClosed.
//   - Close from a commit callback writes the commits queued behind it and
//     runs their callbacks, nested in the running one.
//
// # Locks
//
// Each part of a Consumer owns its state and its locks (if any); no lock
// of the consumer is held while Poll reads a partition or while
// application code runs.
//
//   - pollGate.mu guards the poll role: whether a Poll or Close holds it
//     and whether the holder is running a listener. The role (not a lock:
//     a turn that Poll takes for its whole run) guards the fetcher (the
//     assigned partitions, their positions, the fetched records) and the
//     group phase; the methods the polling goroutine calls between polls
//     use that state too, without the role, which is the single-goroutine
//     rule above.
//   - membership.mu guards the subscription (mode, topics, listener) and
//     the member id, generation and rejoin flag, which the heartbeat
//     goroutine and the commit paths read.
//   - committer.writeMu is held while one commit is written, so that
//     commits are written one at a time, in the order made; it guards the
//     record of what was written. committer.mu (taken after writeMu, if
//     both) guards the commit numbers and the async queue; CommitAsync
//     takes only it, so an auto-commit in Poll never waits for a write.
//   - The Coordinator has a lock for its group table and one per group;
//     the offsets store a read-write lock for its cache. A commit holds
//     its group's lock across the write, so that no stale commit lands
//     after a rebalance.
//
// # Committed offsets
//
// A commit is one batch of records in partition xxhash(group) % count of
// __consumer_offsets, fsynced before CommitSync returns: per partition, a
// key in Kafka's OffsetCommitKey v1 layout (group, topic, partition) and a
// value in OffsetCommitValue v3 (offset, leader epoch -1, metadata, commit
// timestamp in ms). A committed offset is the next offset to consume.
//
// A commit beyond its partition's log end offset when the coordinator
// loads the commits (a power cut took back records the group had read
// before they were fsynced, and committed past: possible only for records
// appended without fsync, see the README's "Durability") is clamped: it is
// logged at Error level, counted in commitlog.GroupStats.ClampedCommits
// and rewritten, durably, to the log end offset, so that the group resumes
// there and processes the records appended next instead of skipping them.
// Kafka's clients meet the same case as an out-of-range fetch and apply
// auto.offset.reset.
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
