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
// # Contexts
//
// The context of Send, SendSync and SendCallback governs the record until
// its batch is handed to the partition, not after; Kafka cannot take a
// record back once it is sent either, and franz-go fails the records whose
// context ends before they are written, as this producer does:
//
//   - A context already done when Send is called: the record is not
//     queued and fails at once with an error wrapping ctx.Err().
//   - A context that ends while the record waits in the accumulator
//     (lingering, or behind another batch of its partition): when the
//     sender takes its batch, the record is left out of it and fails with
//     an error wrapping ctx.Err(); it is never written. The other records
//     of the batch are written as usual, with dense offsets.
//   - A context that ends once the batch was handed over, during its
//     append or fsync: too late. The record completes with the append's
//     result, and may well be in the log.
//
// With acks=0 a record is complete as soon as it is queued, so only the
// first rule applies: a queued record is written whatever its context.
// Future.Wait's own context only stops the wait, never the write; SendSync,
// which uses one context for both, returns ctx.Err() as soon as it ends,
// and the record is then not written unless the sender had already taken
// its batch (Future.Result tells which, once Done is closed).
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
