package clienttest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
)

// TestEmbedded runs the suite on the embedded broker: a data directory per
// case; Restart closes the broker and opens the directory again.
func TestEmbedded(t *testing.T) {
	Run(t, func(t *testing.T) *Env {
		dir := t.TempDir()
		open := func(t *testing.T) commitlog.Backend {
			b, err := commitlog.Open(dir, commitlog.WithMaintenanceInterval(time.Hour), commitlog.WithoutExpvar())
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
		return &Env{
			Name: "embedded",
			Open: open,
			Restart: func(t *testing.T, b commitlog.Backend) commitlog.Backend {
				require.NoError(t, b.Close())
				return open(t)
			},
		}
	})
}
