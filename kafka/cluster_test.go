package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/commitlog-go/commitlog"
)

// newFake starts an in-process fake Kafka cluster (kfake) closed at the
// end of the test.
func newFake(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	fc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(fc.Close)
	return fc
}

// connectFake connects to a new kfake cluster whose group timeouts may be
// short (100 ms), closed at the end of the test.
func connectFake(t *testing.T, opts ...kfake.Opt) *Cluster {
	t.Helper()
	fc := newFake(t, append([]kfake.Opt{kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, Config{BootstrapServers: fc.ListenAddrs()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConnect(t *testing.T) {
	fc := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, Config{BootstrapServers: fc.ListenAddrs(), ClientID: "test"})
	require.NoError(t, err)
	var b commitlog.Backend = c
	require.NotNil(t, b.Logger())
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close is idempotent")
}

func TestConnectErrors(t *testing.T) {
	_, err := Connect(context.Background(), Config{})
	require.True(t, errors.Is(err, ErrNoBootstrapServers))
	require.True(t, errors.Is(err, commitlog.ErrInvalidConfig))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Connect(ctx, Config{BootstrapServers: []string{"127.0.0.1:1"}})
	require.Error(t, err, "no broker answers on port 1")
}
