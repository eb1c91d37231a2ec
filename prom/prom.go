// Package prom exports a commitlog broker's metrics, and those of its
// producers and consumers, through an application's own Prometheus
// registry: NewCollector returns a prometheus.Collector built from the
// same families as Broker.WritePrometheus (commitlog.MetricDescriptions
// and Broker.Metrics). It is a module of its own so that the commitlog
// module does not depend on client_golang.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(prom.NewCollector(broker))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
package prom

import (
	"github.com/commitlog-go/commitlog"
	"github.com/prometheus/client_golang/prometheus"
)

// Option configures a Collector.
type Option func(*collector)

// WithProducers adds the stats of producers (*producer.Producer) to the
// collector: those of a producer on a Kafka cluster (package kafka), which
// has no broker to register with. A producer of the embedded broker is collected with the
// broker already.
func WithProducers(ps ...commitlog.ProducerStatsSource) Option {
	return func(c *collector) { c.producers = append(c.producers, ps...) }
}

// WithConsumers adds the stats of consumers to the collector, as
// WithProducers for producers.
func WithConsumers(cs ...commitlog.ConsumerStatsSource) Option {
	return func(c *collector) { c.consumers = append(c.consumers, cs...) }
}

// collector is NewCollector's.
type collector struct {
	b         *commitlog.Broker
	producers []commitlog.ProducerStatsSource
	consumers []commitlog.ConsumerStatsSource
	descs     map[string]*prometheus.Desc // by family name; read-only after NewCollector
}

// NewCollector returns a collector of b's metrics (nil b: only those of
// the clients given by WithProducers and WithConsumers). Register it on
// the application's registry; each scrape takes one snapshot of b.Stats.
func NewCollector(b *commitlog.Broker, opts ...Option) prometheus.Collector {
	c := &collector{b: b, descs: map[string]*prometheus.Desc{}}
	for _, o := range opts {
		o(c)
	}
	for _, f := range commitlog.MetricDescriptions() {
		c.descs[f.Name] = prometheus.NewDesc(f.Name, f.Help, f.Labels, nil)
	}
	return c
}

// Describe sends the descriptions of every family the collector may
// collect.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range commitlog.MetricDescriptions() {
		ch <- c.descs[f.Name]
	}
}

// Collect sends the current value of every series.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.families() {
		d := c.descs[f.Name]
		for _, s := range f.Samples {
			var m prometheus.Metric
			var err error
			switch {
			case f.Type == commitlog.HistogramType && s.Histogram != nil:
				h := s.Histogram
				buckets := make(map[float64]uint64, len(h.Bounds))
				for i, ub := range h.Bounds {
					buckets[ub] = h.Counts[i]
				}
				m, err = prometheus.NewConstHistogram(d, h.Count, h.Sum, buckets, s.LabelValues...)
			case f.Type == commitlog.Counter:
				m, err = prometheus.NewConstMetric(d, prometheus.CounterValue, s.Value, s.LabelValues...)
			default:
				m, err = prometheus.NewConstMetric(d, prometheus.GaugeValue, s.Value, s.LabelValues...)
			}
			if err != nil {
				m = prometheus.NewInvalidMetric(d, err)
			}
			ch <- m
		}
	}
}

// families is one snapshot of the broker's stats, with the extra clients'.
func (c *collector) families() []commitlog.MetricFamily {
	var s commitlog.Stats
	if c.b != nil {
		s = c.b.Stats()
	}
	for _, p := range c.producers {
		s.Producers = append(s.Producers, p.Stats())
	}
	for _, cs := range c.consumers {
		s.Consumers = append(s.Consumers, cs.Stats())
	}
	return commitlog.StatsMetrics(s)
}
