// Package log owns the log of one partition: the ordered list of its
// segments (package segment) in one directory, and everything that spans
// segments: appending with offset assignment, reading from an offset,
// lookups by timestamp, rolling to a new segment (segment.bytes,
// segment.ms), retention (retention.bytes, retention.ms), compaction
// (cleanup.policy compact), the flush policy (flush.messages, flush.ms,
// explicit Sync) and recovery on open.
//
// # Offsets
//
// Offsets are assigned densely from 0 and never change; compaction removes
// records and so leaves gaps, which readers skip. A log without
// Config.Compact never has gaps: every segment's first batch starts at its
// base offset, every batch where the previous one ends, and every segment
// at the previous segment's next offset. A compacted log's offsets only
// strictly increase within a segment, but every segment still ends exactly
// where the next one begins (the cleaner keeps the last batch of every
// group of segments it rewrites, empty if need be), so a missing segment
// is a gap Open refuses in every log; its active segment, which the
// cleaner never touches, is dense too. Since a batch's CRC does not cover its base offset, these
// rules are how a damaged base offset is found: Open checks segments
// against each other and package segment checks the batches (see its
// documentation) in recovery, when a segment is opened and on every read.
// A batch that breaks them is ErrCorrupt naming the segment and the
// position, never records served under wrong offsets or skipped. A log
// that was compacted must be opened with Config.Compact: opened without
// it, its gaps are refused as damage. The log start offset is
// the base offset of the oldest segment; retention deletes whole segments
// only, so it moves in steps of segments. The log end offset (LEO) is the
// offset the next batch gets. Reads below the log start offset or above
// the LEO fail with ErrOffsetOutOfRange; a read at the LEO returns nothing.
//
// # Recovery
//
// Close writes a clean-shutdown marker (".kafka_cleanshutdown") into the
// directory and Open removes it. Open after a clean shutdown restores every
// segment from its indexes without scanning the data (only the first batch,
// the batch at the last index entry and those after it are checked).
// Without the marker (a crash), the last segment is scanned batch by batch,
// its CRCs and offsets verified, its torn or damaged tail truncated (and
// logged) and its indexes rebuilt; older segments were flushed when the
// log rolled past them, so they are only rebuilt if their indexes fail the
// sanity check. A segment that was flushed whole (every segment but the
// last, and the last too after a clean shutdown) is never truncated:
// damage Open finds in it makes Open fail with ErrCorrupt naming the
// segment, and the files are left for an operator. Acknowledged data
// before the first damaged batch is never lost. After a crash the
// recovered last segment is fsynced before Open returns, so that
// FlushedOffset (the end) is true.
//
// With Config.Checkpoint (the broker's recovery-point-offset-checkpoint
// and log-start-offset-checkpoint entries for the log) Open also checks:
//   - segments wholly below the checkpointed log start offset are what
//     retention took out and recorded before a crash stopped it removing
//     their files: Open removes them;
//   - a first segment above the checkpointed log start means segments
//     went missing: ErrCorrupt;
//   - in the last segment after a crash, damage that would cut the log
//     below the recovery point is damage to fsynced records: ErrCorrupt,
//     and the file stays as it is; above it, the torn tail is cut;
//   - a log that ends below its recovery point lost segments: ErrCorrupt.
//
// # Retention and flushing
//
// The log applies retention whenever it rolls a segment, and the flush
// policy on every append. Retention finds the segments to go under the
// log's lock (PendingStartOffset moves past them) and takes them out
// later, in Maintain, Roll or Close, with no lock held: first
// Config.OnStartOffset makes the new start durable (the broker's
// log-start-offset-checkpoint), then the log start offset moves and the
// segments leave the log, then each segment's files are renamed to
// ".deleted" names and removed once no reader holds them. A crash in
// between leaves only files Open can prove are garbage, a log created in
// the same directory after Delete never loses a file to them, and no
// reader is ever reset past records a power cut would bring back (the
// log start, like the high watermark of a durable partition, moves only
// once durable). Append
// never waits for that. While a failed compaction swap waits for the next
// Open to finish it, retention removes nothing. The owner (the broker) also calls Maintain on a
// schedule (Kafka's log.retention.check.interval.ms and
// log.flush.scheduler.interval.ms), so time-based limits apply to idle logs
// too. The log itself starts no goroutines. Retention never deletes the
// active segment: segment.ms rolls it first.
//
// # Compaction
//
// A log with Config.Compact (cleanup.policy "compact" or "compact,delete")
// keeps at least the latest record of every key, forever, and lets the rest
// go, as Kafka's log cleaner does. A Cleaner runs passes; the broker runs
// one Cleaner in one goroutine, and Compact runs a pass by hand. The
// decisions, and where they differ from Kafka:
//
//   - What is cleaned. Closed segments only, never the active one. The
//     cleaner's checkpoint (CleanerCheckpointFile in the log directory,
//     replaced atomically) is the first dirty offset: everything below it
//     has been compacted. A pass maps the key of every record from the
//     first dirty offset on to the offset of its latest record, then
//     rewrites every closed segment below the end of what it mapped, clean
//     ones included (their keys may have newer records now), and moves the
//     checkpoint to that end. The mapped range ends at the end of the
//     closed segments, at the first batch whose max timestamp is within
//     MinCompactionLag of now (min.compaction.lag.ms; records from there on
//     are copied byte for byte), or where the offset map fills: then at the
//     end of the last segment mapped whole (at the last batch mapped whole
//     if not even one segment fits; Kafka fails there), and the next pass
//     goes on from it.
//   - When. The broker's cleaner cleans a log when its dirty ratio, the
//     bytes of closed segments from the first dirty offset on (up to the
//     first segment younger than the lag) over the bytes of all closed
//     segments, is at least MinCleanableDirtyRatio (min.cleanable.dirty.ratio),
//     or when a kept tombstone's delete horizon has passed (KIP-534); the
//     dirtiest log first. CleanerState reports all of it. Compact ignores
//     the ratio.
//   - The offset map. The xxhash64 of each key (Kafka uses MD5) maps to its
//     latest offset in an open-addressing table of 16-byte slots filled to
//     at most 90%, which grows by doubling up to DedupeBufferSize
//     (log.cleaner.dedupe.buffer.size, 128 MiB: about 7.5 million keys a
//     pass); memory is thus bounded whatever the log's size. Two keys with
//     the same 64-bit hash count as one key: the older records of one may
//     be removed on account of the other. The chance that any two of n keys
//     in one pass collide is about n²/2⁶⁵: 3·10⁻¹⁰ for 10⁵ keys, 3·10⁻⁶ for
//     10⁷. Kafka documents the same kind of risk for its MD5-based map.
//   - Which records stay. A record stays if no later record has its key
//     (by the map). Records without a key are dropped, as Kafka drops them
//     (and Append refuses them on a compacted log, with ErrInvalidRecord).
//     A tombstone (null value) stays until its batch's delete horizon: the
//     first pass that rewrites a batch holding tombstones sets attribute
//     bit 6 and stores the horizon, now + DeleteRetention
//     (delete.retention.ms), in the batch's base timestamp field, with the
//     record timestamps re-based so they read back unchanged (KIP-534,
//     Kafka 3.x); a later pass removes tombstones whose horizon has passed.
//     Control batches, and batches in a codec package record cannot read
//     (attribute values 5-7), are kept as they are. Every batch's CRC is verified:
//     a damaged batch fails the pass, never gets a fresh valid CRC.
//   - How batches are rewritten. A batch that keeps all its records (and
//     needs no horizon) is copied byte for byte. Otherwise it is rebuilt as
//     a valid v2 batch with the original base offset, last offset delta,
//     max timestamp, compression, timestamp type, producer fields and
//     leader epoch, and the kept records with their offsets, timestamps
//     and headers. A batch with nothing left goes, except the last batch of
//     the cleaned range, which stays (empty if need be) so that the cleaned
//     segment ends at the same offset as the segments it replaces: the
//     recovery of an interrupted swap relies on it.
//   - Merging. Consecutive segments are grouped while their total size
//     stays within segment.bytes and their offsets within the 32-bit
//     relative offsets of Kafka's index (Kafka's groupSegmentsBySize); each
//     group becomes one segment named by the first one's base offset. Full
//     segments thus merge on the pass after the one that shrank them.
//   - Crash safety. A group's cleaned segment is written under ".cleaned"
//     names (log and both indexes), fsynced, then swapped in under the
//     log's mutex: its files are renamed to ".swap" (the commit point), the
//     old segments' to ".deleted", then the ".swap" files to their final
//     names, with a directory fsync after each step; then the new segment
//     list is published and the old segments' files are removed once their
//     last reader is done. Index files are renamed before the .log file, so
//     the .log file's name tells which state a segment is in. Open deletes
//     ".cleaned" and ".deleted" files, completes every ".swap" (removes the
//     segments whose base offsets fall in its offset range, then renames
//     it; a ".swap" found torn while the old segment at its base offset is
//     still in place is deleted instead), and deletes ".swap" index files
//     left without their .log file. A
//     crash at any step thus leaves either the old segments or the new
//     one, never both, never neither. A swap that fails after its commit
//     point (an I/O error) leaves the files for Open to finish, keeps
//     serving the old segments (their open files hold the same records)
//     and stops compaction of the log until it is reopened (Kafka's
//     "uncleanable partitions").
//   - Concurrency. A pass holds no lock while it reads and writes: appends,
//     rolls, retention and reads go on. It takes the log's mutex only for
//     each swap's renames and fsyncs. Readers that loaded the old segment
//     list keep reading the old segments' open files; a read that finds a
//     segment gone retries with the new list. Passes of one log are
//     serialised; Close and Delete stop a pass in flight at its next batch
//     and wait for it. A pass whose segments retention deleted meanwhile
//     skips them. IOMaxBytesPerSecond throttles a Cleaner
//     (log.cleaner.io.max.bytes.per.second).
//   - Left out: transactions (aborted transactional records are not
//     removed; commitlog writes none), max.compaction.lag.ms, keeping the
//     last batch of each producer id for idempotence (commitlog has no
//     idempotent producer), more than one cleaner thread.
//
// # Concurrency
//
// Appends, rolls, retention and Close serialise on the log's own mutex.
// An fsync does not hold it (Kafka's flush does the same): Sync and
// SyncTo take the active segment and the log end offset under it, fsync
// without it, so appends go on meanwhile, and then raise FlushedOffset,
// which only grows, to that end. One fsync runs at a time; callers that
// arrive during it wait for the next, which covers them all (group
// commit). A roll during an fsync seals the old segment itself, and Close
// and Delete wait for an fsync in flight.
// Readers take no lock: they load an immutable snapshot of the segment list
// and hold a reference on the segment they read, so they never block the
// writer and a segment deleted by retention or replaced by compaction is
// removed from disk only once its last reader is done.
package log
