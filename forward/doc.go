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
//   - Forwarder produces with kgo's idempotent producer (retries within a
//     connection never duplicate), one partition in order. Its checkpoint is a
//     consumer group of the embedded broker (Config.Group), committed with the
//     positions the cluster has acknowledged, so it is never ahead of the
//     cluster. The checkpoint may lag behind it (a crash between an ack and a
//     commit), so on every (re)start the forwarder reads the tail of each
//     remote partition, takes the highest OffsetHeader found there and resumes
//     after max(checkpoint, that offset + 1).
//   - Mirror appends to the local partition durably (fsynced) before it
//     commits the remote offsets to a consumer group of the cluster
//     (MirrorConfig.Group). On every (re)start it reads the tail of each local
//     partition, takes the highest OffsetHeader there and resumes after
//     max(committed, that offset + 1).
//
// Records without the header in a destination partition (written by someone
// else) are ignored when reconciling: the copier looks further back for its
// own last record. They are not an error, but they interleave with the copied
// records, so the destination no longer equals the source: give each copier
// its destination partitions to itself. (Forwarder's reconciliation also
// reads each remote partition up to its end offset: one that ends in a
// transaction marker, which only a transactional producer writes and the
// forwarder never does, keeps it reading until Close.)
//
// One window remains for Forwarder, inherent to Kafka's idempotent producer
// (its producer id does not survive a process): a produce request that a
// killed process had already sent, held in the network for longer than the
// next process takes to start and read the remote tails, would land after
// that read and be duplicated. Kafka handles the requests of a connection
// before it notices the connection closed, so this takes a delayed packet,
// not a crash alone. A clean Close flushes what it sent first.
//
// What the copy cannot keep: a remote topic with message.timestamp.type
// LogAppendTime (or a local one, for Mirror) stamps its own timestamps; keep
// CreateTime, the default, on the destination. Mirror reads committed
// records only (read_committed), so transaction markers and aborted records
// leave gaps in the remote offsets that the local partition does not have
// (the OffsetHeader maps each record back). Partition counts are taken when a
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
// Forwarder's lag in bytes is estimated from the local partition's bytes per
// offset; Mirror's from the records it copied so far, and Mirror reports no
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
// Flush waits until everything written before it is in the cluster and
// checkpointed; Err reports the failure the copier is retrying after.
//
// # Tests
//
// The crash tests run a few trials by default; set COMMITLOG_FORWARD_TRIALS
// to run more (e.g. COMMITLOG_FORWARD_TRIALS=50 go test ./forward). The
// SIGKILL tests re-execute the test binary and run on unix only.
package forward
