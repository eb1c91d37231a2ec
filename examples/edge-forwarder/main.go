// Command edge-forwarder is an edge device that stores and forwards: it
// writes sensor readings to an embedded commitlog broker, whether or not
// the Kafka cluster is reachable, and a forward.Forwarder copies them to the
// cluster, exactly once, as soon as it is.
//
// Without -brokers it runs offline against an in-process fake Kafka
// cluster (kfake) and plays an outage: the cluster goes away, the device
// keeps writing (the forwarder's lag grows), the cluster comes back and the
// backlog drains.
//
// The forwarder runs in its default, transactional mode (-mode
// transactional): every chunk of the backlog is one Kafka transaction
// under a transactional.id that stays the same across restarts, so
// consumers of the cluster should read with isolation.level=read_committed.
// -mode idempotent uses the idempotent producer only.
//
//	go run ./examples/edge-forwarder
//	go run ./examples/edge-forwarder -data ./edge -brokers kafka1:9092,kafka2:9092
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/forward"
	"github.com/commitlog-go/commitlog/producer"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edge-forwarder:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("edge-forwarder", flag.ContinueOnError)
	dataDir := fs.String("data", "", "data directory of the embedded broker (default: a temporary directory)")
	brokers := fs.String("brokers", "", "Kafka bootstrap servers, comma-separated (default: an in-process fake cluster)")
	topic := fs.String("topic", "readings", "topic to write and forward")
	partitions := fs.Int("partitions", 3, "partitions of the topic, if it is created")
	records := fs.Int("records", 3000, "readings to write")
	modeName := fs.String("mode", "transactional", "how to produce: transactional or idempotent")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var mode forward.Mode
	switch *modeName {
	case "transactional":
		mode = forward.ModeTransactional
	case "idempotent":
		mode = forward.ModeIdempotent
	default:
		return fmt.Errorf("-mode %q: want transactional or idempotent", *modeName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "commitlog-edge-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	b, err := commitlog.Open(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := b.CreateTopic(*topic, commitlog.TopicConfig{Partitions: int32(*partitions)}); err != nil && !errors.Is(err, commitlog.ErrTopicExists) {
		return err
	}

	// The cluster: the one given, or a fake one on a fixed port that this
	// program can stop and start again.
	var fake *fakeCluster
	seeds := strings.Split(*brokers, ",")
	if *brokers == "" {
		if fake, err = startFake(); err != nil {
			return err
		}
		defer fake.stop()
		seeds = fake.seeds()
		fmt.Fprintf(out, "no -brokers: using an in-process fake Kafka cluster at %s\n", seeds[0])
	}

	f, err := forward.New(b, forward.Config{
		Topics:        []string{*topic},
		Mode:          mode,
		ClientOptions: []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(100 * time.Millisecond)},
	})
	if err != nil {
		return err
	}
	defer f.Close(ctx)
	if mode == forward.ModeTransactional {
		fmt.Fprintf(out, "forwarding in transactions, transactional.id %s\n", f.TransactionalID())
	}

	p, err := producer.New(b, producer.Config{})
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	write := func(from, to int) error {
		for i := from; i < to; i++ {
			p.Send(ctx, &producer.Record{
				Topic: *topic,
				Key:   []byte("sensor-" + strconv.Itoa(i%100)),
				Value: []byte(fmt.Sprintf(`{"reading":%d,"celsius":%.1f}`, i, 20+float64(i%50)/10)),
			})
		}
		return p.Flush(ctx)
	}

	half := *records / 2
	if err := write(0, half); err != nil {
		return err
	}
	if err := f.Flush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d readings, forwarded: lag %d\n", half, lag(b))

	if fake != nil {
		fake.stop()
		fmt.Fprintln(out, "the cluster went away; the device keeps writing")
	}
	if err := write(half, *records); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d more readings: lag %d records, %d bytes\n", *records-half, lag(b), b.Stats().Forwarders[0].LagBytes)
	if fake != nil {
		time.Sleep(300 * time.Millisecond) // an outage long enough to be seen
		if err := fake.start(); err != nil {
			return err
		}
		fmt.Fprintln(out, "the cluster is back")
	}
	if err := f.Flush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "forwarded everything: lag %d\n", lag(b))

	var prom bytes.Buffer
	if err := b.WritePrometheus(&prom); err != nil {
		return err
	}
	for _, l := range strings.Split(prom.String(), "\n") {
		if strings.HasPrefix(l, "commitlog_forward_lag_records{") {
			fmt.Fprintln(out, "  "+l)
		}
	}

	// Check the cluster: each partition's last record is the last local one.
	n, err := checkRemote(ctx, b, seeds, *topic)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "the cluster holds %d records of %s, the last of each partition the last one written here\n", n, *topic)
	return nil
}

// lag is the forwarder's total lag in records.
func lag(b *commitlog.Broker) int64 {
	var n int64
	for _, f := range b.Stats().Forwarders {
		n += f.LagRecords
	}
	return n
}

// checkRemote reads every committed record of each remote partition
// (read_committed: transaction markers take offsets but are no records) and
// checks that the last one's forward.OffsetHeader names the last local
// offset. It returns how many records the cluster holds.
func checkRemote(ctx context.Context, b *commitlog.Broker, seeds []string, topic string) (int64, error) {
	tp, err := b.Topic(topic)
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range tp.Partitions() {
		e, ok := ends.Lookup(topic, p.ID())
		if !ok || e.Err != nil {
			return 0, fmt.Errorf("remote partition %d: %v", p.ID(), e.Err)
		}
		if e.Offset == 0 {
			if p.HighWatermark() != 0 {
				return 0, fmt.Errorf("remote partition %d is empty", p.ID())
			}
			continue // nothing was written to it here either
		}
		n, lastSrc, err := readRemote(ctx, seeds, topic, p.ID(), e.Offset)
		if err != nil {
			return 0, err
		}
		if want := strconv.FormatInt(p.HighWatermark()-1, 10); lastSrc != want {
			return 0, fmt.Errorf("remote partition %d ends with local offset %s, not %s", p.ID(), lastSrc, want)
		}
		total += n
	}
	return total, nil
}

// readRemote reads a remote partition up to end (its last stable offset)
// and returns its record count and the OffsetHeader of its last record.
func readRemote(ctx context.Context, seeds []string, topic string, p int32, end int64) (int64, string, error) {
	rc, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return 0, "", err
	}
	defer rc.Close()
	var n int64
	var lastSrc string
	for last := int64(-1); last < end-1; {
		fetches := rc.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			return 0, "", err
		}
		fetches.EachRecord(func(r *kgo.Record) {
			last = r.Offset
			if r.Attrs.IsControl() {
				return
			}
			n++
			lastSrc = ""
			if h := r.Headers; len(h) > 0 && h[len(h)-1].Key == forward.OffsetHeader {
				lastSrc = string(h[len(h)-1].Value)
			}
		})
	}
	return n, lastSrc, nil
}

// fakeCluster is an in-process kfake cluster on a fixed port and data
// directory, so that it can go away and come back with its data.
type fakeCluster struct {
	dir  string
	port int
	c    *kfake.Cluster
}

func startFake() (*fakeCluster, error) {
	dir, err := os.MkdirTemp("", "commitlog-edge-kfake-")
	if err != nil {
		return nil, err
	}
	f := &fakeCluster{dir: dir}
	if err := f.start(); err != nil {
		return nil, err
	}
	addr := f.c.ListenAddrs()[0]
	f.port, err = strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	return f, err
}

func (f *fakeCluster) start() error {
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		f.c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(f.dir), kfake.Ports(f.port))
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

func (f *fakeCluster) seeds() []string { return []string{"127.0.0.1:" + strconv.Itoa(f.port)} }

// stop closes the cluster (idempotent); the last stop removes its data.
func (f *fakeCluster) stop() {
	if f.c != nil {
		f.c.Close()
		f.c = nil
		return
	}
	os.RemoveAll(f.dir)
}
