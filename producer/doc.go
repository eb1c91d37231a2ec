// Package producer is the writing client of commitlog, modelled on Kafka's
// producer: a partitioner picks each record's partition, a record
// accumulator collects records into one open batch per partition
// (batch.size, linger.ms) within a shared memory budget (buffer.memory),
// and the sender encodes each ready batch as one v2 record batch
// (compressed as compression.type says: gzip, snappy, lz4 or zstd) and
// appends it to its partition, completing the records' futures in order.
//
// # Backends
//
// New takes a commitlog.Backend: the embedded *commitlog.Broker, whose
// partitions this package appends to itself (everything below), or a
// backend that opens a Driver (a Kafka cluster, package kafka), to which
// every method delegates. On a Driver the API behaves as documented here:
// the checks of a record, buffer.memory and max.block.ms, Futures, the
// callbacks' order and scope, Flush and Close; the batching, the senders
// and acks are the backend's (Cluster.OpenProducerDriver in package kafka
// says how each setting maps).
//
// # Sending
//
// Send returns a *Future at once; SendSync waits for it; SendCallback
// calls a function instead. Records sent to one partition by one producer
// keep their order. When buffer.memory is used up, Send blocks until room
// frees, ctx ends or max.block.ms passes, and then fails.
//
// A record whose result someone waits for (SendSync, Future.Wait,
// Future.Result) does not wait out linger.ms, as with franz-go's
// ProduceSync: its batch goes as soon as the partition's sender is free,
// with the records that join it meanwhile. A receive from Future.Done
// does not hurry the batch.
//
// A record sent to a partition whose sender is far behind (half a MiB of
// sealed batches waiting for it, as when the disk is slower than the
// senders) makes Send wait, once the record is queued, until the sender
// is down to a quarter of a MiB, ctx ends or max.block.ms passes: a producer that ran
// ahead would fill buffer.memory with batches that leave the processor
// caches before they are written. Nothing fails for that wait, and there
// is none with max.block.ms=0, for SendSync (which waits for its record
// anyway) or while a callback of the partition runs (the caller may be
// that callback).
//
// A record without a Timestamp is stamped with the time it is queued
// (CreateTime, in ms). The wall clock is read once when a batch starts;
// each later record of the batch adds the monotonic time elapsed since,
// as a producer's goroutine reads it once a millisecond while records are
// being stamped (and stops reading it when none are), so that a record
// costs no clock read of its own. Every 32nd record of a batch reads the
// clock itself. A timestamp is never later than the record's Send, nor
// earlier than the one before it in its batch; it may be earlier than the
// Send by a millisecond, or by however late that goroutine is scheduled
// on a busy machine. A step of the wall clock shows from the next batch.
//
// # Memory
//
// buffer.memory bounds the bytes of the batches waiting to be written; a
// batch's buffers take up to about 1.2 times what it reserves (the
// allocator's size classes, and a record's 8-byte slot for its
// timestamp), and the buffers of written batches are kept for new ones
// up to a quarter of buffer.memory. Since Send waits for a sender half a
// MiB behind, a partition holds at most about that much plus its open
// batch and the one being written, so a producer uses about
// min(buffer.memory, partitions x 0.6 MiB) for its batches. Beyond that
// the process pays a constant: the Go runtime and the broker, the
// garbage collector's headroom over a live heap of a few MiB (GOGC), and
// the mapped index pages of the partitions written to. Measured with
// bench/cmd/producer-perf, 10^7 records of 100 B to 8 partitions at 1.1M
// records/s: a peak RSS of 19 MB (buffer.memory is 32 MiB), of which
// 8.3 MB is the process with the broker open and nothing sent, the heap
// peaked at 8 MB (4 MB live) and about 7 MB was file-backed (the binary,
// the index pages). So RSS stays within buffer.memory + about 16 MB.
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
// Each partition has one sender goroutine, started by its first batch and
// stopped by Close. When the partition has a batch ready (full, lingered,
// flushed, or waited for) the sender appends its batches one after
// another. Partitions never wait for each other, and a partition's batches
// are appended one at a time, in order, which is what keeps per-partition
// order. While a batch is being appended, new records gather in the next
// batch. A sender that falls behind (a backlog of sealed batches) has
// its batches encoded by the goroutines that seal them.
//
// With acks=all and Fsync, the sender writes every batch ready and then
// waits for one fsync that covers them all, and completes them in order:
// the records that gathered during an fsync share the next one, however
// many batches they fill (group commit). After an fsync it yields the
// processor for a moment, so that the synchronous senders it released
// can send their next records into the same batch as the others.
//
// # Callbacks
//
// SendCallback's callback runs on the sender of the record's partition,
// once the record's batch is written or has failed (or at once, on the
// goroutine calling SendCallback, when the record fails before it is
// queued). As in Kafka:
//
//   - a partition's callbacks run one at a time, in record order;
//   - the callbacks of a batch run before the futures of its records
//     complete, so a Future that is done implies that the callbacks of
//     its partition's earlier records have returned;
//   - Flush and Close return only once the callbacks of every record sent
//     before them have returned.
//
// A callback holds up its partition while it runs: it must not block for
// long, and must not wait for a record of its own partition (SendSync, or
// Future.Wait of a record sent after its own), which would wait for it.
// It may call Send and SendCallback, and Flush and Close with the ctx it
// was given (or one derived from it): a callback's ctx carries its scope,
// so Flush and Close called with it know, by construction, that they run
// on the sender they would wait for, and do not wait at all. Flush sends
// every queued record without waiting out linger.ms and returns
// ErrFlushInCallback; Close stops accepting records and returns nil, and
// the producer finishes the close (sending everything queued) once the
// callback has returned. Called from a callback with another ctx
// (context.Background()), Flush and Close are taken for calls from
// anywhere else and wait, here for the callback itself: until that ctx
// ends. The scope ends when the callback returns: a goroutine the
// callback starts, or a ctx kept for later, waits as usual once it has.
//
// # acks
//
// acks=0 completes a record's future as soon as it is queued (offset -1,
// errors are only logged); acks=1 when its batch is in the partition's
// log (readable, in the page cache); acks=all when it is in every in-sync
// replica (here, the one log) and, with Config.Fsync or a topic with
// flush.messages=1, fsynced.
package producer
