package commitlog_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
)

type fakeForwarder commitlog.ForwarderStats

func (f *fakeForwarder) ForwarderStats() commitlog.ForwarderStats {
	return commitlog.ForwarderStats(*f)
}

func TestRegisterForwarder(t *testing.T) {
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	require.Empty(t, b.Stats().Forwarders)

	f := &fakeForwarder{Name: "edge", Direction: commitlog.ForwardOut, LagRecords: 7, LagBytes: 700,
		Partitions: []commitlog.ForwardedLag{{Topic: "t", Partition: 1, Position: 3, HighWatermark: 10, LagRecords: 7, LagBytes: 700, OldestAge: 2 * time.Second, AtRisk: true, LostRecords: 4}}}
	g := &fakeForwarder{Name: "cache", Direction: commitlog.ForwardIn}
	unF := b.RegisterForwarder(f)
	unG := b.RegisterForwarder(g)
	s := b.Stats()
	require.Len(t, s.Forwarders, 2)
	require.Equal(t, "cache", s.Forwarders[0].Name, "sorted by name")
	require.Equal(t, commitlog.ForwarderStats(*f), s.Forwarders[1])

	var buf bytes.Buffer
	require.NoError(t, b.WritePrometheus(&buf))
	out := buf.String()
	l := `{forwarder="edge",direction="out",topic="t",partition="1"}`
	for _, line := range []string{
		"commitlog_forward_lag_records" + l + " 7",
		"commitlog_forward_lag_bytes" + l + " 700",
		"commitlog_forward_oldest_unforwarded_age_seconds" + l + " 2",
		"commitlog_forward_retention_at_risk" + l + " 1",
		"commitlog_forward_lost_records_total" + l + " 4",
		"# TYPE commitlog_forward_lost_records_total counter",
	} {
		require.Contains(t, out, line)
	}

	unF()
	unF() // idempotent
	s = b.Stats()
	require.Len(t, s.Forwarders, 1)
	require.Equal(t, "cache", s.Forwarders[0].Name)
	unG()
	require.Empty(t, b.Stats().Forwarders)
}
