package record

import "errors"

// ErrCorrupt reports bytes that do not form a valid v2 record batch, index
// entry or segment: a bad CRC, a length that runs past the data, a varint that
// does not terminate. It is always wrapped with where the damage was found;
// test for it with errors.Is.
var ErrCorrupt = errors.New("commitlog: corrupt data")

// ErrRecordTooLarge reports a record or batch larger than the configured
// maximum (Kafka's max.message.bytes / message.max.bytes).
var ErrRecordTooLarge = errors.New("commitlog: record too large")
