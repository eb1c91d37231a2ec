package kafka

// TEMPORARY runner (issue 12, consumer branch): the producer engineer
// writes this file on the producer's branch; the two are reconciled at
// merge.

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/clienttest"
)

func TestSuite(t *testing.T) {
	clienttest.Run(t, func(t *testing.T) *clienttest.Env {
		// Short group timeouts keep the group cases fast.
		fc := newFake(t, kfake.GroupMinSessionTimeout(100*time.Millisecond))
		open := func(t *testing.T) commitlog.Backend {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Connect(ctx, Config{BootstrapServers: fc.ListenAddrs()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		return &clienttest.Env{
			Name: "kafka",
			Open: open,
			Restart: func(t *testing.T, b commitlog.Backend) commitlog.Backend {
				require.NoError(t, b.Close())
				return open(t)
			},
			CreateTopic: func(t *testing.T, b commitlog.Backend, name string, cfg commitlog.TopicConfig) {
				configs := map[string]*string{}
				if cfg.CleanupPolicy != "" {
					configs["cleanup.policy"] = &cfg.CleanupPolicy
				}
				parts := max(cfg.Partitions, 1)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				resp, err := b.(*Cluster).Admin().CreateTopic(ctx, parts, 1, configs, name)
				require.NoError(t, err)
				require.NoError(t, resp.Err, "create %s (%s partitions)", name, strconv.Itoa(int(parts)))
			},
		}
	})
}
