package commitlog_test

import (
	"bytes"
	"testing"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

type groupStats []commitlog.GroupStats

func (g groupStats) GroupStats() []commitlog.GroupStats { return g }
func (groupStats) Close() error                         { return nil }

// TestPrometheusLabelEscaping: label values are escaped as the Prometheus
// text format says (backslash, double quote and line feed; every other
// character as is). They were written with Go's %q, whose \t, \u00a0 or
// \x01 escapes Prometheus rejects, failing the whole scrape for one odd
// consumer group id.
func TestPrometheusLabelEscaping(t *testing.T) {
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	_, err = b.GroupCoordinator(func() (commitlog.GroupCoordinator, error) {
		return groupStats{{Group: "a\"b\\c\nd\te\u00a0f\x01é", Members: 1,
			Lag: []commitlog.PartitionLag{{Topic: "t", Partition: 0, Lag: 3}}}, {Group: "bad\xff", Members: 2}}, nil
	})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, b.WritePrometheus(&out))
	want := `group="a\"b\\c\nd` + "\te\u00a0f\x01é" + `"`
	require.Contains(t, out.String(), `commitlog_consumer_group_members{`+want+`} 1`)
	require.Contains(t, out.String(), `commitlog_consumer_group_lag{`+want+`,topic="t",partition="0"} 3`)
	require.Contains(t, out.String(), "commitlog_consumer_group_members{group=\"bad\uFFFD\"} 2", "valid UTF-8")
}
