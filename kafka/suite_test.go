package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/clienttest"
)

// TestSuite runs the clients' suite on Kafka: a kfake cluster per case,
// made once per Env (with group timeouts short enough for the group
// cases); Open connects to it, Restart closes the connection and connects
// again (the cluster keeps its data, as brokers do).
func TestSuite(t *testing.T) {
	clienttest.Run(t, func(t *testing.T) *clienttest.Env {
		fc := newFake(t, kfake.GroupMinSessionTimeout(100*time.Millisecond))
		connect := func(t *testing.T) commitlog.Backend {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Connect(ctx, Config{BootstrapServers: fc.ListenAddrs(), ClientID: "suite"})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		return &clienttest.Env{
			Name: "kafka",
			Open: connect,
			Restart: func(t *testing.T, b commitlog.Backend) commitlog.Backend {
				require.NoError(t, b.Close())
				return connect(t)
			},
		}
	})
}
