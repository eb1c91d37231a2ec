package producer

import (
	"context"
	"testing"

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
