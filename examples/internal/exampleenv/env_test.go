package exampleenv

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		servers string
		want    []string
	}{
		{"", nil},
		{"k1:9092", []string{"k1:9092"}},
		{"k1:9092, k2:9092,", []string{"k1:9092", "k2:9092"}},
	} {
		e := New(tc.servers)
		require.Equal(t, tc.want, e.BootstrapServers, tc.servers)
		require.Equal(t, tc.want != nil, e.Kafka(), tc.servers)
		if e.Kafka() {
			require.NotEmpty(t, e.RunID)
			require.Equal(t, "orders-"+e.RunID, e.Name("orders"))
		} else {
			require.Equal(t, "orders", e.Name("orders"), "embedded names are unchanged")
		}
	}
	require.NotEqual(t, New("k:1").RunID, New("k:1").RunID, "every run has its own names")
}
