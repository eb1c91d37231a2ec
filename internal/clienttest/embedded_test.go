package clienttest_test

// TEMPORARY runner (issue 12, consumer branch): the producer engineer
// writes this file on the producer's branch; the two are reconciled at
// merge.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/clienttest"
)

func TestEmbedded(t *testing.T) {
	clienttest.Run(t, func(t *testing.T) *clienttest.Env {
		dir := t.TempDir()
		open := func(t *testing.T) commitlog.Backend {
			b, err := commitlog.Open(dir, commitlog.WithMaintenanceInterval(time.Hour), commitlog.WithoutExpvar())
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
		return &clienttest.Env{
			Name: "embedded",
			Open: open,
			Restart: func(t *testing.T, b commitlog.Backend) commitlog.Backend {
				require.NoError(t, b.Close())
				return open(t)
			},
			CreateTopic: func(t *testing.T, b commitlog.Backend, name string, cfg commitlog.TopicConfig) {
				_, err := b.(*commitlog.Broker).CreateTopic(name, cfg)
				require.NoError(t, err)
			},
		}
	})
}
