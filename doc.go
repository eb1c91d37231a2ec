// Package commitlog is an embeddable, in-process equivalent of Apache Kafka:
// durable, partitioned, append-only commit logs with batching producers and
// consumer groups, called directly from your program with no network layer.
// Data is stored in Kafka's own on-disk format (v2 record batches with
// CRC-32C, segment files named by base offset, .index and .timeindex files).
//
// The root package owns the Broker: one data directory, locked by one
// process, holding topics and their partitions (Partition: the high
// watermark, long-poll wake-ups and group-committed fsync of one
// partition's log). Clients live in sub-packages: producer (batching
// writes), consumer (reads, consumer groups, offset commits) and assignor
// (partition assignment strategies). They reach storage only through the
// root, by the Store interface that *Broker implements; the storage layers
// below it are log, segment, index and record (the batch codec, which the
// clients share).
//
//	b, err := commitlog.Open("data")
//	if err != nil { ... }
//	defer b.Close()
//	b.CreateTopic("orders", commitlog.TopicConfig{Partitions: 3})
//
//	p, _ := producer.New(b, producer.Config{})
//	defer p.Close(ctx)
//	md, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Key: []byte("id-1"), Value: []byte("paid")})
//	fmt.Println(md.Partition, md.Offset)
//
//	t, _ := b.Topic("orders")
//	part, _ := t.Partition(md.Partition)
//	batches, _ := part.Read(nil, md.Offset, 1<<20) // whole v2 batches
//	_ = batches
//
// # Files
//
// The data directory holds, as Kafka's log directory does:
//
//	.lock                                the owner's lock (its pid on unix)
//	meta.json, meta.json.prev            topics, partition counts, settings; the previous version
//	recovery-point-offset-checkpoint     per partition, the offset below which it is fsynced
//	log-start-offset-checkpoint          per partition, the log start offset
//	<topic>-<partition>/                 one directory per partition: segments named by base
//	    00000000000000000000.log         offset (.log, .index, .timeindex), the clean-shutdown
//	    00000000000000000000.index       marker .kafka_cleanshutdown and the cleaner's
//	    00000000000000000000.timeindex   cleaner-offset-checkpoint
//
// The two checkpoint files are in Kafka's text format: a line "0", a line
// with the number of entries, then "<topic> <partition> <offset>" lines.
// They are replaced atomically at every maintenance tick where an offset
// moved, by retention before it removes segment files, after DeleteTopic
// and at Close, and checked at Open: see package log. Index files hold
// exactly their entries (package index): nothing is preallocated or
// memory-mapped. Every file goes through a vfs.FS (WithFS), the OS's by
// default.
//
// # Metadata
//
// meta.json in the data directory lists the topics, their partition counts
// and settings. Every change (CreateTopic, AddPartitions, DeleteTopic)
// creates the new partition directories first, then writes the new
// metadata to a temporary file, keeps the metadata it replaces as
// meta.json.prev, renames the new file over meta.json and fsyncs the
// directory. DeleteTopic commits first and then renames each partition
// directory aside ("<topic>-<n>.<nanos>-delete") and removes it; until
// those directories are gone, meta.json records the topic under "deleted".
// Every name and count read from meta.json is checked as CreateTopic checks
// them (a bad one is ErrCorrupt naming the file and the entry), and no path
// built from it leaves the data directory.
//
// Open never deletes data it cannot prove is garbage. It removes only the
// temporary metadata files, directories renamed aside by a deletion,
// partitions of topics meta.json records as deleted (unless a topic of
// that name, created since, uses them) and empty partition directories
// (an empty first segment and its indexes, nothing else) that a crash left
// before a CreateTopic or AddPartitions committed. It leaves alone
// directories named like partitions that hold other files. It fails with
// an error wrapping ErrCorrupt, naming the files and changing nothing,
// when meta.json is damaged, when it is missing while meta.json.prev
// exists or partition directories hold data, when it names a partition
// whose directory is gone, or when a partition directory holding data
// (a non-empty segment, or one past offset 0) is not in it. meta.json.prev
// is never used on its own, since it may lack the last change. Open with
// WithRecoverMetadata to rebuild the topic list from the partition
// directories instead: see its documentation. A new or empty directory
// opens as an empty broker.
//
// A topic has 1 to MaxPartitions (10000) partitions: Kafka sets no bound,
// but every partition here costs a directory, open files and memory
// in one process, so CreateTopic, AddPartitions and ParseTopicConfig refuse
// more with ErrInvalidConfig.
//
// Internal topics: __consumer_offsets, where the consumer package keeps
// committed offsets, is the broker's. CreateTopic, AddPartitions and
// DeleteTopic refuse it, and Kafka's __transaction_state, with
// ErrInvalidTopic (a name colliding with one once '.' and '_' are treated
// alike too); the consumer package gets or creates it with
// Broker.OffsetsTopic. Other names starting with "__" are ordinary topics.
//
// # Read-only opening
//
// OpenReadOnly opens a data directory that another process (or another
// Broker of this one) owns and may be writing, for tools that look at a
// running broker's data: it takes no lock, and writes nothing to the
// directory (no lock file, recovery, truncation, index file, checkpoint,
// metadata or clean-shutdown marker), and runs no retention, flush or
// cleaner. Every change (CreateTopic, AddPartitions, DeleteTopic,
// AlterTopicConfig, DeleteRecordsBefore, Append and with it a producer's
// sends, Roll, Compact, a consumer's Subscribe, commits, group deletion
// and offset resets) fails with an error wrapping ErrReadOnly.
//
// What a reader sees: at open, and then at every refresh (every
// WithRefreshInterval, default 200 ms, or at once with Broker.Refresh),
// the topics meta.json names with their settings, each partition's
// segments, and in them every complete batch that passes its CRC and
// offset checks, up to the first that does not (the owner is in the
// middle of writing it: a torn tail is normal and is read again at the
// next refresh, never cut). The high watermark is the end of the last such
// batch; long polls wake when a refresh moves it. Segments are indexed in
// memory by a scan of each file at open (opening reads the whole log
// once), new bytes only at refreshes. Rolls show as new segments;
// retention moves the log start offset to what the owner recorded in
// log-start-offset-checkpoint and drops the segments below it, and a read
// below it gets ErrOffsetOutOfRange, as a consumer of the owner would; a
// compaction swap (a new file under the first replaced segment's name)
// replaces the segments it covers. A segment whose file is removed under
// a read keeps serving that read from its open file (the space is freed
// when the reader lets go); a file cut under a reader (an owner's recovery
// after a crash) is an error wrapping ErrCorrupt, never a crash (the
// memory map's fault fallback). A topic the owner deleted is
// ErrUnknownTopic. Consumer groups are the owner's: the reader lists and
// describes them and reads their committed offsets from
// __consumer_offsets (loaded again when it changes), but sees no members
// (the owner holds them in memory), and cannot join.
//
// Errors are sentinel values (ErrUnknownTopic, ErrOffsetOutOfRange,
// ErrCorrupt, ErrClosed, ErrRecordTooLarge, ...) wrapped with context; test
// them with errors.Is.
package commitlog
