package commitlog_test

import (
	"bytes"
	"testing"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

type producerSource commitlog.ProducerStats

func (p producerSource) Stats() commitlog.ProducerStats { return commitlog.ProducerStats(p) }

// TestClientRegistry: registered clients are in Stats and the export
// until unregistered (idempotently); two with the same client id share
// one series, their counters and histograms added, rather than giving
// the scrape a duplicate series.
func TestClientRegistry(t *testing.T) {
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	h := commitlog.Histogram{Bounds: []float64{1, 2}, Counts: []uint64{1, 2}, Count: 3, Sum: 4}
	un1 := b.RegisterProducer(producerSource{ClientID: "p", RecordsSent: 5, BatchSize: h, QueueTime: h})
	un2 := b.RegisterProducer(producerSource{ClientID: "p", RecordsSent: 7, BatchSize: h})
	un3 := b.RegisterProducer(producerSource{ClientID: "a", RecordsSent: 1})
	s := b.Stats()
	require.Len(t, s.Producers, 2)
	require.Equal(t, "a", s.Producers[0].ClientID, "sorted by client id")
	require.Equal(t, int64(12), s.Producers[1].RecordsSent)
	require.Equal(t, commitlog.Histogram{Bounds: []float64{1, 2}, Counts: []uint64{2, 4}, Count: 6, Sum: 8}, s.Producers[1].BatchSize)
	require.Equal(t, h, s.Producers[1].QueueTime, "an empty histogram adds nothing")

	var out bytes.Buffer
	require.NoError(t, b.WritePrometheus(&out))
	require.Contains(t, out.String(), "commitlog_producer_records_sent_total{client_id=\"p\"} 12\n")
	require.Contains(t, out.String(), "commitlog_producer_batch_size_bytes_bucket{client_id=\"p\",le=\"2\"} 4\n")
	require.Contains(t, out.String(), "commitlog_producer_batch_size_bytes_bucket{client_id=\"p\",le=\"+Inf\"} 6\n")
	require.Contains(t, out.String(), "commitlog_producer_batch_size_bytes_sum{client_id=\"p\"} 8\n")
	require.Contains(t, out.String(), "commitlog_producer_batch_size_bytes_count{client_id=\"p\"} 6\n")
	un1()
	un1()
	require.Equal(t, int64(7), b.Stats().Producers[1].RecordsSent, "unregister is idempotent: it removed one")
	un2()
	un3()
	require.Empty(t, b.Stats().Producers)
}

// TestMetricDescriptions: every family has help, a type, snake-case
// labels, and a name a Prometheus user expects (counters end in _total,
// nothing else does); the samples of Metrics have one value per label.
func TestMetricDescriptions(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range commitlog.MetricDescriptions() {
		require.False(t, seen[f.Name], "%s twice", f.Name)
		seen[f.Name] = true
		require.Regexp(t, `^commitlog_[a-z0-9_]+$`, f.Name)
		require.NotEmpty(t, f.Help, f.Name)
		require.Equal(t, f.Type == commitlog.Counter, len(f.Name) > 6 && f.Name[len(f.Name)-6:] == "_total", f.Name)
		require.NotContains(t, f.Name, "per_sec")
		for _, l := range f.Labels {
			require.Regexp(t, `^[a-z][a-z_]*$`, l)
		}
	}
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	_, err = b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	fams := b.Metrics()
	require.NotEmpty(t, fams)
	for _, f := range fams {
		for _, s := range f.Samples {
			require.Len(t, s.LabelValues, len(f.Labels), f.Name)
			require.Equal(t, f.Type == commitlog.HistogramType, s.Histogram != nil, f.Name)
		}
	}
}
