package commitlog

import (
	"errors"
	"github.com/commitlog-go/commitlog/vfs"

	"github.com/commitlog-go/commitlog/log"
)

// Sentinel errors. Test for them with errors.Is; they are returned wrapped
// with the topic, partition or file they concern.
var (
	// ErrOffsetOutOfRange: a read below the log start offset or above the
	// high watermark.
	ErrOffsetOutOfRange = log.ErrOffsetOutOfRange
	// ErrCorrupt: bytes on disk or handed in that are not valid batches.
	ErrCorrupt = log.ErrCorrupt
	// ErrClosed: use of a closed broker, topic, partition or client.
	ErrClosed = log.ErrClosed
	// ErrRecordTooLarge: a record or batch over max.message.bytes (or the
	// producer's max.request.size).
	ErrRecordTooLarge = log.ErrRecordTooLarge
	// ErrInvalidRecord: a record the topic refuses for what it holds: one
	// without a key sent to a compacted topic (Kafka's INVALID_RECORD).
	ErrInvalidRecord = log.ErrInvalidRecord
	// ErrUnknownTopic: no such topic (Kafka's UNKNOWN_TOPIC_OR_PARTITION),
	// including a topic deleted while in use.
	ErrUnknownTopic = errors.New("commitlog: unknown topic")
	// ErrUnknownPartition: the topic exists but not the partition.
	ErrUnknownPartition = errors.New("commitlog: unknown partition")
	// ErrUnsupportedBackend: a client was given a Backend that is neither
	// the embedded broker nor a driver opener of its package.
	ErrUnsupportedBackend = errors.New("commitlog: unsupported backend")
	// ErrTopicExists: CreateTopic of a name already taken.
	ErrTopicExists = errors.New("commitlog: topic already exists")
	// ErrInvalidTopic: a topic name Kafka would refuse (or that collides
	// with another once '.' and '_' are treated alike), or an internal
	// topic used through the public topic API. Settings out of range are
	// ErrInvalidConfig.
	ErrInvalidTopic = errors.New("commitlog: invalid topic")
	// ErrInvalidConfig: a topic or client setting out of range.
	ErrInvalidConfig = errors.New("commitlog: invalid config")
	// ErrLocked: another Broker (in this or another process) holds the
	// data directory.
	ErrLocked = vfs.ErrLocked
)
