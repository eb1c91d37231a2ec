// Package commitlog is an embeddable, in-process equivalent of Apache Kafka:
// durable, partitioned, append-only commit logs with batching producers and
// consumer groups, called directly from your program with no network layer.
// Data is stored in Kafka's own on-disk format (v2 record batches with
// CRC-32C, segment files named by base offset, .index and .timeindex files).
//
// The root package owns the Broker: one data directory, locked by one
// process, holding topics and their partitions. Clients live in
// sub-packages: producer (batching writes), consumer (reads, consumer
// groups, offset commits) and assignor (partition assignment strategies).
// The storage layers are log, segment, index and record.
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
// A topic has 1 to MaxPartitions (10000) partitions: Kafka sets no bound,
// but every partition here costs a directory, open files and memory maps
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
// Errors are sentinel values (ErrUnknownTopic, ErrOffsetOutOfRange,
// ErrCorrupt, ErrClosed, ErrRecordTooLarge, ...) wrapped with context; test
// them with errors.Is.
package commitlog
