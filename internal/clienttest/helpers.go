package clienttest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/producer"
)

// caseCtx is a context that ends with the test, or after a minute (a
// case that hangs fails instead of stalling the run).
func caseCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newAdmin returns an admin client on b.
func newAdmin(t *testing.T, b commitlog.Backend) *admin.Client {
	t.Helper()
	a, err := admin.New(b)
	require.NoError(t, err)
	return a
}

// createTopic creates a topic of n partitions through the admin API.
func createTopic(t *testing.T, b commitlog.Backend, name string, n int32) {
	t.Helper()
	createTopicWith(t, b, name, commitlog.TopicConfig{Partitions: n})
}

// createTopicWith creates a topic with cfg through the admin API.
func createTopicWith(t *testing.T, b commitlog.Backend, name string, cfg commitlog.TopicConfig) {
	t.Helper()
	require.NoError(t, newAdmin(t, b).CreateTopic(caseCtx(t), name, cfg))
}

// newProducer returns a producer on b, closed at the end of the test.
func newProducer(t *testing.T, b commitlog.Backend, cfg producer.Config) *producer.Producer {
	t.Helper()
	p, err := producer.New(b, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// testLinger is a linger.ms long enough that only Flush (or a waiter)
// sends a batch within a case (and within franz-go's limit of a minute).
const testLinger = 30 * time.Second
