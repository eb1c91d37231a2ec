// Package kafka is the Kafka backend of commitlog's clients: a connection
// to a real Kafka cluster, through franz-go (kgo and kadm), that package
// producer, consumer and admin accept wherever they accept the embedded
// *commitlog.Broker. A program moves from its embedded logs to a cluster
// by changing the one line that opens its backend:
//
//	b, err := commitlog.Open("data")                                                  // embedded
//	b, err := kafka.Connect(ctx, kafka.Config{BootstrapServers: []string{"k1:9092"}}) // Kafka
//
// Everything after that line (producer.New, consumer.New, admin.New and
// every call on them) is the same code on both backends. The package
// documents, per client, which settings and calls map to what on Kafka and
// which cannot be mapped (those fail with an error wrapping
// commitlog.ErrInvalidConfig or errors.ErrUnsupported): the producer at
// Cluster.OpenProducerDriver, the admin client at Cluster.OpenAdminDriver.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
)

// Config says how to reach a Kafka cluster.
type Config struct {
	// BootstrapServers mirrors bootstrap.servers: the host:port seed
	// brokers. Required.
	BootstrapServers []string
	// ClientID mirrors client.id; empty means franz-go's default ("kgo").
	ClientID string
	// Logger is where the clients log; nil means slog.Default().
	Logger *slog.Logger
	// Options are extra franz-go client options (TLS, SASL, timeouts, ...)
	// added to every client the cluster makes, after the ones commitlog
	// derives from the client configs, so they win.
	Options []kgo.Opt
}

// Cluster is a connection to a Kafka cluster: a commitlog.Backend. It
// holds one franz-go client for metadata and admin requests; each
// producer and consumer made on it gets a client of its own (a consumer
// group member needs its own), which the producer or consumer closes.
type Cluster struct {
	cfg    Config
	logger *slog.Logger
	admin  *kgo.Client // metadata and admin requests; closed by Close
	adm    *kadm.Client

	mu     sync.Mutex // guards closed
	closed bool
}

var _ commitlog.Backend = (*Cluster)(nil)

// ErrNoBootstrapServers: Connect without a seed broker.
var ErrNoBootstrapServers = errors.New("kafka: no bootstrap.servers")

// Connect connects to the cluster and checks that a broker answers before
// ctx ends.
func Connect(ctx context.Context, cfg Config) (*Cluster, error) {
	if len(cfg.BootstrapServers) == 0 {
		return nil, fmt.Errorf("kafka: connect: %w (%w)", ErrNoBootstrapServers, commitlog.ErrInvalidConfig)
	}
	c := &Cluster{cfg: cfg, logger: cfg.Logger}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	cl, err := kgo.NewClient(c.ClientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("kafka: connect %v: %w", cfg.BootstrapServers, err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka: connect %v: %w", cfg.BootstrapServers, err)
	}
	c.admin = cl
	c.adm = kadm.NewClient(cl)
	return c, nil
}

// ClientOptions returns the franz-go options every client of the cluster
// starts from (seed brokers, client id, Config.Options), followed by
// extra. The producer, consumer and admin drivers build their clients
// from it.
func (c *Cluster) ClientOptions(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.cfg.BootstrapServers...)}
	if c.cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.cfg.ClientID))
	}
	opts = append(opts, extra...)
	return append(opts, c.cfg.Options...)
}

// Client is the cluster's shared franz-go client (metadata and admin
// requests). Do not close it; Close does.
func (c *Cluster) Client() *kgo.Client { return c.admin }

// Admin is a kadm client on the shared client.
func (c *Cluster) Admin() *kadm.Client { return c.adm }

// Logger is the logger the clients log through.
func (c *Cluster) Logger() *slog.Logger { return c.logger }

// Close closes the shared client. Close the producers and consumers made
// on the cluster first; Close is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.admin.Close()
	return nil
}
