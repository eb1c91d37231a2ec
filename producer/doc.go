// Package producer is the writing client of commitlog, modelled on Kafka's
// producer: a partitioner picks each record's partition, a record
// accumulator collects records into one open batch per partition
// (batch.size, linger.ms) within a shared memory budget (buffer.memory),
// and the sender encodes each ready batch as one v2 record batch
// (compressed with LZ4 when compression.type=lz4) and appends it to its
// partition, completing the records' futures in order.
//
// # Sending
//
// Send returns a *Future at once; SendSync waits for it; SendCallback
// calls a function instead. Records sent to one partition by one producer
// keep their order. When buffer.memory is used up, Send blocks until room
// frees, ctx ends or max.block.ms passes, and then fails.
//
// # The sender
//
// Each partition drains on its own: when a partition has a batch ready (full,
// lingered, or flushed) a drain goroutine for that partition appends its
// batches one after another, and exits when none is left. Partitions never
// wait for each other, and a partition has at most one batch being
// appended at a time, which is what keeps per-partition order. While a batch
// is being appended (and fsynced, with acks=all and Fsync), new records
// gather in the next batch: that is the group commit that lets many
// synchronous senders share one write and one fsync.
//
// # acks
//
// acks=0 completes a record's future as soon as it is queued (offset -1,
// errors are only logged); acks=1 when its batch is in the partition's
// log (readable, in the page cache); acks=all when it is in every in-sync
// replica (here, the one log) and, with Config.Fsync or a topic with
// flush.messages=1, fsynced.
package producer
