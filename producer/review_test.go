package producer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// TestSendNilRecord: a nil record fails its future (and callback) instead
// of panicking in Send.
func TestSendNilRecord(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{})
	require.NoError(t, err)
	defer p.Close(context.Background())
	_, err = p.Send(context.Background(), nil).Wait(context.Background())
	require.ErrorIs(t, err, commitlog.ErrInvalidRecord)
	_, err = p.SendSync(context.Background(), nil)
	require.ErrorIs(t, err, commitlog.ErrInvalidRecord)
	var cbErr error
	p.SendCallback(context.Background(), nil, func(_ RecordMetadata, err error) { cbErr = err })
	require.ErrorIs(t, cbErr, commitlog.ErrInvalidRecord)
}

// TestKeylessRecordOnCompactedTopic: a record without a key sent to a
// compacted topic fails alone, in Send; it used to join a batch with other
// records, and the log refused the whole batch, failing records that were
// valid (sent by other goroutines, possibly).
func TestKeylessRecordOnCompactedTopic(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"c": {CleanupPolicy: commitlog.CleanupCompact}})
	p, err := New(b, Config{}.SetLinger(50*time.Millisecond))
	require.NoError(t, err)
	defer p.Close(context.Background())
	good := p.Send(context.Background(), &Record{Topic: "c", Key: []byte("k"), Value: []byte("v")})
	bad := p.Send(context.Background(), &Record{Topic: "c", Value: []byte("v")})
	_, err = bad.Wait(context.Background())
	require.ErrorIs(t, err, commitlog.ErrInvalidRecord)
	md, err := good.Wait(context.Background())
	require.NoError(t, err, "a valid record failed with the invalid one in its batch")
	require.Equal(t, int64(0), md.Offset)
}
