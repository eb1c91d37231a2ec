// Package exampleenv owns what the examples share to choose their backend:
// the -bootstrap-server flag (the name Kafka's scripts use) and Open, which
// opens the embedded broker in a directory or connects to a Kafka cluster.
// Everything an example does after Open is the same code on both backends.
//
// On Kafka the topics and groups of a run are named with a suffix unique to
// the run (Env.Name), so that rerunning an example against a real cluster
// does not read, or collide with, what an earlier run left there. The
// examples do not delete their topics on Kafka: the cluster's retention or
// kafka-topics.sh --delete removes them.
package exampleenv

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/kafka"
)

// Env says which backend an example runs on. The zero Env is the embedded
// broker.
type Env struct {
	// BootstrapServers are the Kafka cluster's seed brokers (host:port);
	// empty means the embedded broker.
	BootstrapServers []string
	// RunID is the suffix of this run's topic and group names on Kafka.
	// New makes one per run; empty means no suffix.
	RunID string
}

// Parse defines -bootstrap-server on the command line, parses the command
// line and returns the Env it names.
func Parse() Env {
	servers := flag.String("bootstrap-server", "", "run on the Kafka cluster at `host:port[,host:port]` instead of an embedded broker")
	flag.Parse()
	return New(*servers)
}

// New returns the Env of a -bootstrap-server value: embedded when it is
// empty, else Kafka with a run id of its own: the time in seconds and 32
// random bits.
func New(servers string) Env {
	if servers == "" {
		return Env{}
	}
	var seeds []string
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	return Env{BootstrapServers: seeds, RunID: fmt.Sprintf("%s%08x", strconv.FormatInt(time.Now().Unix(), 36), rand.Uint32())}
}

// Kafka reports whether the Env is a Kafka cluster.
func (e Env) Kafka() bool { return len(e.BootstrapServers) > 0 }

// Name returns the name of a topic or group for this run: name itself on
// the embedded broker (its directory is new at every run), name-RunID on
// Kafka.
func (e Env) Name(name string) string {
	if !e.Kafka() || e.RunID == "" {
		return name
	}
	return name + "-" + e.RunID
}

// Open returns the backend: the embedded broker on dir, or a connection to
// the Kafka cluster (dir is then unused). The caller closes it.
func (e Env) Open(ctx context.Context, dir string) (commitlog.Backend, error) {
	if !e.Kafka() {
		return commitlog.Open(dir)
	}
	c, err := kafka.Connect(ctx, kafka.Config{BootstrapServers: e.BootstrapServers, ClientID: "commitlog-example"})
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka at %s: %w", strings.Join(e.BootstrapServers, ","), err)
	}
	return c, nil
}

// String describes the backend in one line, for the examples to print on
// Kafka.
func (e Env) String() string {
	if !e.Kafka() {
		return "embedded broker"
	}
	return fmt.Sprintf("Kafka at %s (this run's topics and groups end in -%s)", strings.Join(e.BootstrapServers, ","), e.RunID)
}
