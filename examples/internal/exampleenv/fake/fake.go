// Package fake owns the in-process Kafka cluster (kfake) the examples'
// tests run them on. Only tests import it.
package fake

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
)

// Env starts a one-broker kfake cluster, closed at the end of the test, and
// returns the Env of an example run on it, as -bootstrap-server would. Its
// group minimum session timeout is 100 ms, so that a test may use short
// sessions.
func Env(t testing.TB) exampleenv.Env {
	t.Helper()
	fc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(fc.Close)
	return exampleenv.New(strings.Join(fc.ListenAddrs(), ","))
}
