package commitlog

import (
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func subdirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestPartitionCountBound: nothing bounded the partition count, and each
// partition costs files and file handles: a typo of 100000 made
// CreateTopic grind through as many directories.
func TestPartitionCountBound(t *testing.T) {
	_, err := ParseTopicConfig(MaxPartitions+1, nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	cfg, err := ParseTopicConfig(MaxPartitions, nil)
	require.NoError(t, err)
	require.Equal(t, int32(MaxPartitions), cfg.Partitions)

	dir := t.TempDir()
	b := openBroker(t, dir, WithoutExpvar())
	for _, n := range []int32{MaxPartitions + 1, math.MaxInt32, -1, -5, math.MinInt32} {
		_, err := b.CreateTopic("t", TopicConfig{Partitions: n})
		require.ErrorIs(t, err, ErrInvalidConfig, "%d", n)
	}
	require.Empty(t, subdirs(t, dir))
	_, err = b.CreateTopic("t", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	for _, n := range []int32{MaxPartitions + 1, math.MaxInt32} {
		require.ErrorIs(t, b.AddPartitions("t", n), ErrInvalidConfig, "%d", n)
	}
	require.Equal(t, int32(1), mustTopic(t, b, "t").NumPartitions())
	require.Equal(t, []string{"t-0"}, subdirs(t, dir))
}
