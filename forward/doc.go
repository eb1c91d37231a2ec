// Package forward owns store-and-forward between an embedded commitlog
// broker and a Kafka cluster, in both directions, on franz-go (kgo):
//
//   - Forwarder copies local topics to the cluster: an edge device writes to
//     its embedded log while offline, and everything reaches Kafka once the
//     network is back.
//   - Mirror copies cluster topics into local ones: an edge cache that keeps
//     serving reads while the cluster is unreachable.
//
// # What is copied
//
// Each record keeps its partition (local partition p is remote partition p),
// key, value (null stays null), headers (in order) and timestamp (ms), and
// the records of a partition keep their order. The copy carries one more
// header, appended after the record's own: OffsetHeader
// ("commitlog-source-offset"), whose value is the record's offset in the
// partition it was copied from, in decimal ASCII. The destination topic is
// created with the source's partition count when it does not exist; when it
// exists with another count the copier stops with ErrPartitionMismatch.
//
// # Exactly once across crashes
//
// Neither direction loses or duplicates a record across crashes, restarts or
// outages of the cluster, as long as the copier is the only writer of the
// destination partitions. How:
//
//   - Forwarder, in ModeTransactional (the default), produces the backlog
//     in Kafka transactions under a stable transactional.id
//     (Config.TransactionalID): one partition in order, a transaction per
//     flushed stretch of chunks (up to Config.TransactionBytes, 16 MiB, or
//     until it has caught up with the local log). Its checkpoint is a
//     consumer group of the embedded broker (Config.Group), committed with
//     the positions of committed transactions only, so it is never ahead
//     of the cluster. On every (re)start it first initializes its producer
//     id under the transactional.id: the cluster fences the producer of the
//     process before (its epoch is now stale) and aborts that producer's
//     open transaction, so nothing the old process sent, however long it is
//     held in the network, can be written or committed after this point.
//     Then it reads the tail of each remote partition, committed records
//     only (read_committed, up to the last stable offset), takes the
//     highest OffsetHeader found there and resumes after max(checkpoint,
//     that offset + 1). The checkpoint may lag behind the cluster (a crash
//     between a commit of a transaction and the local commit); the tail
//     covers that.
//   - Mirror appends to the local partition durably (fsynced) before it
//     commits the remote offsets to a consumer group of the cluster
//     (MirrorConfig.Group). On every (re)start it reads the tail of each local
//     partition, takes the highest OffsetHeader there and resumes after
//     max(committed, that offset + 1).
//
// Consumers of the forwarded topics should read with
// isolation.level=read_committed: a read_uncommitted consumer also sees the
// records of transactions that a crash or an outage left to be aborted
// (they are forwarded again, in a later transaction). Every transaction
// ends in a commit marker, which takes an offset of its own: remote offsets
// do not follow the local ones (the OffsetHeader maps each record back).
//
// # The transactional.id
//
// The transactional.id must stay the same across restarts of a forwarder
// (else the new process cannot fence the old one) and must differ from that
// of any other producer of the cluster (else they fence each other, in
// turn, forever). By default it is Group + "-" + an instance id: 16 hex
// digits that the first Forwarder of a Group on a broker draws at random
// and keeps in the metadata of its checkpoint commits, and that every later
// Forwarder of that Group on that broker reads back
// (Forwarder.TransactionalID says it). So two devices with the same Group
// get different ids, and a device keeps its id as long as its data
// directory (a Forwarder of the Group whose topics have no checkpoint yet
// draws a new one). Set Config.TransactionalID to choose it (e.g. the device's
// serial number); changing it between runs, like restoring the data
// directory of another device, gives up the fencing of the run before.
// The producer's transaction.timeout.ms (kgo.TransactionTimeout, 40 s by
// default) bounds how long a transaction may stay open: the forwarder ends
// each within a quarter of it; raise it, within the cluster's
// transaction.max.timeout.ms, on a link so slow that one chunk
// (Config.ReadBytes) takes longer than that to send.
//
// # ModeIdempotent
//
// ModeIdempotent produces with kgo's idempotent producer only (retries
// within a connection never duplicate) and commits the checkpoint with the
// positions the cluster acknowledged, record by record: no transaction
// round trips, no drain of kgo's pipeline at the end of each transaction,
// and read_uncommitted consumers see only forwarded records, each once. It
// leaves one window, inherent to the idempotent producer (its producer id
// does not survive a process, so nothing fences the old one): a produce
// request that a killed process had already sent, held in the network for
// longer than the next process takes to start and read the remote tails,
// lands after that read and is a duplicate. Kafka handles the requests of a
// connection before it notices the connection closed, so this takes a
// delayed packet, not a crash alone. A clean Close flushes what it sent
// first.
//
// In both modes, records without the header in a destination partition
// (written by someone else) are ignored when reconciling: the copier looks
// further back for its own last record. They are not an error, but they
// interleave with the copied records, so the destination no longer equals
// the source: give each copier its destination partitions to itself. A
// remote partition that ends in a transaction marker, the forwarder's own
// or another producer's, reconciles like any other: the tail is read by
// offsets, markers and aborted records included, not by a count of
// records.
//
// What the copy cannot keep: a remote topic with message.timestamp.type
// LogAppendTime (or a local one, for Mirror) stamps its own timestamps; keep
// CreateTime, the default, on the destination. Mirror reads committed
// records only (read_committed), so transaction markers and aborted records
// leave gaps in the remote offsets that the local partition does not have
// (the OffsetHeader maps each record back), as Forwarder's commit markers
// do in the cluster. Partition counts are taken when a
// session starts: partitions added to the source later are refused
// (ErrPartitionMismatch) until the destination has as many.
//
// # Outages and retention
//
// While the cluster is unreachable the local log keeps accepting writes:
// the copier retries (kgo's own retries, and its own loop with exponential
// backoff, reconciling anew each time) and logs each failure. Forwarder
// watches its backlog against the local topic's retention: when the oldest
// record not yet forwarded is older than RetentionWarnRatio (0.8) of
// retention.ms, or the backlog exceeds that share of retention.bytes, it logs
// a warning and sets ForwardedLag.AtRisk (metric
// commitlog_forward_retention_at_risk). When retention deleted records
// before they were forwarded, it logs an error, counts them in
// ForwardedLag.LostRecords (commitlog_forward_lost_records_total) and goes on
// from the log start offset. Mirror does the same for records the cluster's
// retention deleted before they were mirrored.
//
// # Metrics
//
// Both register with the broker (commitlog.Broker.RegisterForwarder): their
// per-partition lag in records and bytes is part of Broker.Stats
// (Stats.Forwarders) and of Broker.WritePrometheus
// (commitlog_forward_lag_records, commitlog_forward_lag_bytes,
// commitlog_forward_oldest_unforwarded_age_seconds,
// commitlog_forward_retention_at_risk, commitlog_forward_lost_records_total).
// A Forwarder's position (ForwardedLag.Position) is, in ModeTransactional,
// after the last record of the last committed transaction: records in an
// open transaction still count as lag. Forwarder's lag in bytes is
// estimated from the local partition's bytes per offset; Mirror's from the records it copied so far, and Mirror reports no
// age or risk (it does not know the cluster's retention).
//
// # Use
//
//	f, err := forward.New(b, forward.Config{
//		Topics:        []string{"readings"},
//		ClientOptions: []kgo.Opt{kgo.SeedBrokers("kafka:9092")},
//	})
//	...
//	defer f.Close(ctx) // before b.Close
//
// Flush waits until everything written before it is in the cluster (in
// ModeTransactional: in committed transactions) and checkpointed; Err
// reports the failure the copier is retrying after. Close commits the open
// transaction within its ctx, or aborts it.
//
// # Tests
//
// The crash tests run a few trials by default; set COMMITLOG_FORWARD_TRIALS
// to run more (e.g. COMMITLOG_FORWARD_TRIALS=50 go test ./forward). The
// SIGKILL tests re-execute the test binary and run on unix only.
package forward
