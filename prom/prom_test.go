package prom_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/prom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// forwarder stands for package forward's Forwarder (which needs a Kafka
// cluster): the broker exports what it reports.
type forwarder struct{}

func (forwarder) ForwarderStats() commitlog.ForwarderStats {
	return commitlog.ForwarderStats{Name: "fwd", Direction: commitlog.ForwardOut, LagRecords: 3, LagBytes: 300,
		Partitions: []commitlog.ForwardedLag{{Topic: "t", Partition: 0, Position: 7, HighWatermark: 10, LagRecords: 3,
			LagBytes: 300, OldestAge: 2 * time.Second, AtRisk: true, LostRecords: 1}}}
}

// busyBroker is a broker with topics, a consumer group, a producer, a
// consumer and a forwarder, all active: every family of the export has
// samples.
func busyBroker(t *testing.T) (*commitlog.Broker, func(n int)) {
	t.Helper()
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	_, err = b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	t.Cleanup(b.RegisterForwarder(forwarder{}))
	ctx := context.Background()
	p, err := producer.New(b, producer.Config{ClientID: "writer"})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close(ctx) })
	c, err := consumer.New(b, consumer.Config{GroupID: "g", ClientID: "reader", AutoOffsetReset: consumer.ResetEarliest,
		FetchMaxWait: new(10 * time.Millisecond)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(ctx) })
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	step := func(n int) {
		for i := range n {
			p.Send(ctx, &producer.Record{Topic: "t", Partition: int32(i % 2), ExplicitPartition: true, Value: []byte("value")})
		}
		require.NoError(t, p.Flush(ctx))
		got := 0
		for got < n {
			recs, err := c.Poll(ctx)
			require.NoError(t, err)
			got += len(recs)
		}
		require.NoError(t, c.CommitSync(ctx, nil))
	}
	step(10)
	return b, step
}

// TestCollectorLint: promlint finds no problem in the collector's output,
// which registers into an application's own registry and has every
// family of the export.
func TestCollectorLint(t *testing.T) {
	b, _ := busyBroker(t)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(prom.NewCollector(b)))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		require.NotEmpty(t, mf.GetHelp(), mf.GetName())
	}
	var all []string
	for _, f := range commitlog.MetricDescriptions() {
		all = append(all, f.Name)
	}
	require.ElementsMatch(t, all, names, "every family has samples on a busy broker")
}

// TestTextLint: promlint finds no problem in Broker.WritePrometheus's
// text, which parses as the same families as the collector gathers.
func TestTextLint(t *testing.T) {
	b, _ := busyBroker(t)
	var buf bytes.Buffer
	require.NoError(t, b.WritePrometheus(&buf))
	problems, err := promlint.New(bytes.NewReader(buf.Bytes())).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)

	parser := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(prom.NewCollector(b)))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, parsed, len(mfs))
	for _, mf := range mfs {
		p := parsed[mf.GetName()]
		require.NotNil(t, p, mf.GetName())
		require.Equal(t, mf.GetType(), p.GetType(), mf.GetName())
		require.Equal(t, mf.GetHelp(), p.GetHelp(), mf.GetName())
		require.Len(t, p.GetMetric(), len(mf.GetMetric()), mf.GetName())
	}
}

// TestCountersGrow: between two scrapes of a busy broker, the counters
// and histogram counts grow, the values are what was done, and the
// histograms' buckets are cumulative.
func TestCountersGrow(t *testing.T) {
	b, step := busyBroker(t)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(prom.NewCollector(b)))
	before := gather(t, reg)
	step(20)
	after := gather(t, reg)
	for _, name := range []string{
		"commitlog_log_records_appended_total", "commitlog_log_bytes_appended_total", "commitlog_log_batches_appended_total",
		"commitlog_log_bytes_fetched_total", "commitlog_producer_records_sent_total", "commitlog_producer_batches_sent_total",
		"commitlog_consumer_records_fetched_total",
	} {
		require.Greater(t, sum(after[name]), sum(before[name]), name)
	}
	for _, name := range []string{"commitlog_log_append_duration_seconds", "commitlog_producer_queue_time_seconds",
		"commitlog_producer_batch_size_bytes", "commitlog_consumer_poll_duration_seconds"} {
		require.Greater(t, histCount(after[name]), histCount(before[name]), name)
		for _, m := range after[name].GetMetric() {
			h := m.GetHistogram()
			prev := uint64(0)
			for _, bk := range h.GetBucket() {
				require.GreaterOrEqual(t, bk.GetCumulativeCount(), prev, "%s: cumulative buckets", name)
				prev = bk.GetCumulativeCount()
			}
			require.LessOrEqual(t, prev, h.GetSampleCount(), name)
		}
	}
	require.Equal(t, 30.0, sum(after["commitlog_log_records_appended_total"], "topic", "t"))
	require.Equal(t, 30.0, sum(after["commitlog_producer_records_sent_total"]))
	require.Equal(t, 30.0, sum(after["commitlog_consumer_records_fetched_total"]))
	require.Equal(t, 0.0, sum(after["commitlog_consumer_records_lag"]), "caught up")
	require.Equal(t, 1.0, sum(after["commitlog_consumer_rebalances_total"]))
	require.Equal(t, 1.0, sum(after["commitlog_consumer_group_members"]))
	require.Equal(t, 1.0, sum(after["commitlog_forward_lost_records_total"]))
	for _, m := range after["commitlog_producer_records_sent_total"].GetMetric() {
		require.Equal(t, "client_id", m.GetLabel()[0].GetName())
		require.Equal(t, "writer", m.GetLabel()[0].GetValue())
	}
}

// TestExtraClients: a client given by option (one on a Kafka cluster
// has no broker) is collected, without a broker; one given twice shares
// its series rather than failing the scrape.
func TestExtraClients(t *testing.T) {
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	ctx := context.Background()
	p, err := producer.New(b, producer.Config{ClientID: "w"})
	require.NoError(t, err)
	defer p.Close(ctx)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(prom.NewCollector(nil, prom.WithProducers(p))))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP commitlog_producer_records_sent_total Records the producer appended (Kafka's record-send-total).
# TYPE commitlog_producer_records_sent_total counter
commitlog_producer_records_sent_total{client_id="w"} 0
`), "commitlog_producer_records_sent_total"))
	reg = prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(prom.NewCollector(b, prom.WithProducers(p))))
	_, err = reg.Gather()
	require.NoError(t, err, "the producer registered on the broker and given again")
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// sum adds the values of mf's series, those with the label given in
// only (name, value) if any.
func sum(mf *dto.MetricFamily, only ...string) float64 {
	s := 0.0
	for _, m := range mf.GetMetric() {
		if len(only) == 2 && !hasLabel(m, only[0], only[1]) {
			continue
		}
		switch {
		case m.Counter != nil:
			s += m.GetCounter().GetValue()
		case m.Gauge != nil:
			s += m.GetGauge().GetValue()
		}
	}
	return s
}

func histCount(mf *dto.MetricFamily) uint64 {
	var n uint64
	for _, m := range mf.GetMetric() {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
