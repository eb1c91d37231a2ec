package producer

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/testenv"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// producerSamples are, for every producer setting, Kafka values other than
// the default, in canonical form.
var producerSamples = map[string][]string{
	"acks":             {"0", "1"},
	"batch.size":       {"0", "1", "65536"},
	"linger.ms":        {"0", "100"},
	"buffer.memory":    {"0", "1048576"},
	"max.block.ms":     {"0", "1000"},
	"max.request.size": {"0", "100"},
	"compression.type": {"gzip", "snappy", "lz4", "zstd"},
	"client.id":        {"orders-writer"},
}

func TestProducerSettingsRoundTrip(t *testing.T) {
	require.ElementsMatch(t, producerSettings.Names(), slices.Collect(maps.Keys(producerSamples)), "every setting has samples")
	for name, values := range producerSamples {
		for _, v := range values {
			in := map[string]string{name: v}
			cfg, err := ParseConfig(in)
			require.NoError(t, err, "%s=%s", name, v)
			require.Equal(t, in, cfg.Settings(), "%s=%s", name, v)
			back, err := ParseConfig(cfg.Settings())
			require.NoError(t, err)
			require.Equal(t, cfg, back)
		}
	}
	for _, s := range []map[string]string{{"acks": "all"}, {"acks": "-1"}, {"linger.ms": "5"}, {"compression.type": "none"}} {
		cfg, err := ParseConfig(s)
		require.NoError(t, err)
		require.Empty(t, cfg.Settings(), "%v is the default", s)
	}
	var all Config
	require.Equal(t, map[string]string{"acks": "all", "batch.size": "16384", "linger.ms": "5", "buffer.memory": "33554432",
		"max.block.ms": "60000", "max.request.size": "1048576", "compression.type": "none", "client.id": ""}, producerSettings.FormatAll(&all))

	// Kafka's zeros, and what a struct literal says for them.
	cfg, err := ParseConfig(map[string]string{"acks": "0", "linger.ms": "0", "batch.size": "0", "max.block.ms": "0"})
	require.NoError(t, err)
	require.Equal(t, Config{Acks: new(AcksNone), Linger: new(time.Duration(0)), BatchSize: new(0), MaxBlock: new(time.Duration(0))}, cfg)
	r, err := cfg.resolve()
	require.NoError(t, err)
	require.Equal(t, AcksNone, r.Acks)
	require.Zero(t, r.Linger)
	require.Zero(t, r.BatchSize)
	require.Zero(t, r.MaxBlock)
	r, err = Config{}.resolve()
	require.NoError(t, err)
	require.Equal(t, config{Acks: AcksAll, BatchSize: DefaultBatchSize, Linger: DefaultLinger, BufferMemory: DefaultBufferMemory,
		MaxBlock: DefaultMaxBlock, MaxRequestSize: DefaultMaxRequestSize, Partitioner: r.Partitioner}, r)
	require.NotNil(t, r.Partitioner)
}

func TestProducerConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"acks": "2"}, `acks="2": want all, -1, 0, 1`},
		{map[string]string{"linger.ms": "soon"}, `linger.ms="soon": not an integer`},
		{map[string]string{"linger.ms": "-1"}, "linger.ms (Linger) -1ms: want at least 0 ms"},
		{map[string]string{"compression.type": "brotli"}, `compression.type="brotli": want none, gzip, snappy, lz4, zstd`},
		{map[string]string{"partitioner.class": "org.apache.kafka.clients.producer.RoundRobinPartitioner"}, "set the Go field Partitioner"},
		{map[string]string{"bootstrap.servers": "localhost:9092"}, `unknown producer setting "bootstrap.servers"`},
		{map[string]string{"buffer.memory": "-1"}, "buffer.memory (BufferMemory) -1"},
	} {
		_, err := ParseConfig(tt.settings)
		require.ErrorIs(t, err, commitlog.ErrInvalidConfig, "%v", tt.settings)
		require.ErrorContains(t, err, tt.want)
	}
	for _, c := range []Config{{Acks: new(Acks(2))}, {BatchSize: new(-1)}, {Linger: new(time.Microsecond)}, {MaxBlock: new(-time.Second)},
		{MaxRequestSize: new(-1)}, {Compression: record.Compression(5)}} {
		_, err := New(nil, c)
		require.ErrorIs(t, err, commitlog.ErrInvalidConfig, "%+v", c)
	}
}

// TestKafkaZeroSettings: acks=0, linger.ms=0, batch.size=0 (a batch a
// record) and max.block.ms=0 (fail at once when the buffer is full) work.
func TestKafkaZeroSettings(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Acks: new(AcksLeader), Linger: new(time.Duration(0)), BatchSize: new(0)})
	require.NoError(t, err)
	var futures []*Future
	for range 20 {
		futures = append(futures, p.Send(context.Background(), &Record{Topic: "t", Value: []byte("v")}))
	}
	for _, f := range futures {
		_, err := f.Wait(context.Background())
		require.NoError(t, err)
	}
	require.NoError(t, p.Close(context.Background()))
	tp, err := b.Topic("t")
	require.NoError(t, err)
	data, err := tp.Partitions()[0].Read(nil, 0, 1<<20)
	require.NoError(t, err)
	batches := 0
	require.NoError(t, record.Batches(data, func(h *record.BatchHeader, _ []byte) error {
		require.Equal(t, int32(1), h.NumRecords, "batch.size=0: one record a batch")
		batches++
		return nil
	}))
	require.Equal(t, 20, batches)

	p, err = New(b, Config{Acks: new(AcksNone), Linger: new(time.Duration(0))})
	require.NoError(t, err)
	md, err := p.SendSync(context.Background(), &Record{Topic: "t", Value: []byte("acks=0")})
	require.NoError(t, err, "acks=0: done when queued")
	require.Equal(t, int64(-1), md.Offset)
	require.NoError(t, p.Close(context.Background()))
	require.Len(t, readPartition(t, b, "t", 0), 21)

	// The first record's memory stays reserved while its callback runs.
	p, err = New(b, Config{BufferMemory: new(int64(1000)), MaxBlock: new(time.Duration(0)), Linger: new(time.Duration(0))})
	require.NoError(t, err)
	release, written := make(chan struct{}), make(chan struct{})
	p.SendCallback(context.Background(), &Record{Topic: "t", Value: make([]byte, 600)}, func(context.Context, RecordMetadata, error) {
		close(written)
		<-release
	})
	<-written
	_, err = p.SendSync(context.Background(), &Record{Topic: "t", Value: make([]byte, 600)})
	require.ErrorIs(t, err, ErrBufferFull, "max.block.ms=0: no wait for room")
	close(release)
	require.NoError(t, p.Close(context.Background()))
}

func TestREADMEProducerSettings(t *testing.T) {
	testenv.README(t, "../README.md", "producer", producerSettings.Markdown())
}

// TestEveryProducerFieldIsDeclared: no Config field escapes its one
// declaration (a field added or renamed without it fails here).
func TestEveryProducerFieldIsDeclared(t *testing.T) {
	require.NoError(t, producerSettings.CheckFields())
}

// TestParseConfigReportsEveryBadSetting: an unknown name does not hide an
// out-of-range value next to it.
func TestParseConfigReportsEveryBadSetting(t *testing.T) {
	_, err := ParseConfig(map[string]string{"no.such.setting": "x", "linger.ms": "-5"})
	require.ErrorIs(t, err, commitlog.ErrInvalidConfig)
	require.ErrorContains(t, err, "no.such.setting")
	require.ErrorContains(t, err, "linger.ms")
	require.NotContains(t, err.Error(), "producer: producer", "one prefix")
}
