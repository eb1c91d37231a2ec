package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/kafka"
)

// TestKafkaBackend runs the admin subcommands on a Kafka cluster (kfake),
// through the same code as on a data directory.
func TestKafkaBackend(t *testing.T) {
	fc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	defer fc.Close()
	addr := strings.Join(fc.ListenAddrs(), ",")
	root := t.TempDir()
	var out strings.Builder
	for _, s := range []struct {
		args  []string
		stdin string
	}{
		{args: []string{"topics", "--create", "--topic", "orders", "--partitions", "2", "--config", "retention.ms=86400000"}},
		{args: []string{"topics", "--list"}},
		{args: []string{"topics", "--create", "--topic", "orders", "--if-not-exists"}},
		{args: []string{"console-producer", "--topic", "orders", "--property", "parse.key=true", "--property", "key.separator=:"}, stdin: "a:1\nb:2\nc:3\nd:4\n"},
		{args: []string{"get-offsets", "--topic", "orders", "--time", "earliest"}},
		{args: []string{"console-consumer", "--topic", "orders", "--group", "g", "--from-beginning", "--max-messages", "4", "--timeout-ms", "60000"}},
		{args: []string{"consumer-groups", "--list"}},
		{args: []string{"consumer-groups", "--reset-offsets", "--group", "g", "--to-earliest", "--topic", "orders", "--execute"}},
		{args: []string{"consumer-groups", "--describe", "--group", "g"}},
		{args: []string{"configs", "--entity-type", "topics", "--entity-name", "orders", "--alter", "--add-config", "retention.ms=1000"}},
		{args: []string{"configs", "--entity-type", "topics", "--entity-name", "orders", "--describe"}},
		{args: []string{"consumer-groups", "--delete", "--group", "g"}},
		{args: []string{"topics", "--delete", "--topic", "orders"}},
	} {
		args := append(slices.Clone(s.args), "--bootstrap-server", addr)
		r := run(t, root, s.stdin, args...)
		// The records' order across partitions is the consumer's.
		if s.args[0] == "console-consumer" {
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			slices.Sort(lines)
			r.stdout = strings.Join(lines, "\n") + "\n"
		}
		fmt.Fprintf(&out, "$ commitlog %s\n%s\n", strings.Join(s.args, " "), format(r, root))
	}
	golden(t, "kafka-backend", strings.ReplaceAll(out.String(), addr, "$ADDR"))
}

// TestDumpLogForeignSegment dumps a segment file that franz-go's producer
// and kfake wrote (batches of an idempotent producer, with sequences and a
// producer id, as a Kafka broker stores them): kfake keeps a partition's
// batches as Kafka's segment files do, byte for byte, in files named .dat.
func TestDumpLogForeignSegment(t *testing.T) {
	dataDir := t.TempDir()
	fc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dataDir), kfake.SeedTopics(1, "t"))
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(fc.ListenAddrs()...), kgo.ProducerLinger(0))
	require.NoError(t, err)
	ctx := t.Context()
	for i := range 3 {
		var recs []*kgo.Record
		for j := range i + 1 {
			recs = append(recs, &kgo.Record{Topic: "t", Key: fmt.Appendf(nil, "k%d", j), Value: fmt.Appendf(nil, "batch %d record %d", i, j),
				Timestamp: baseTime.Add(time.Duration(i*10+j) * time.Second), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}})
		}
		require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	}
	cl.Close()
	fc.Close()
	segs := walkFiles(t, filepath.Join(dataDir, "partitions", "t-0"), ".dat")
	require.Len(t, segs, 1, "kfake's segment files of t-0")
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "00000000000000000000.log"), data, 0o644))
	r := run(t, root, "", "dump-log", "--print-data-log", "--files", "00000000000000000000.log")
	require.Equal(t, 0, r.code, r.stderr)
	require.NotContains(t, r.stdout, "producerId: -1", "franz-go produces idempotently")
	require.NotContains(t, r.stdout, "isvalid: false")
	// kfake picks the producer id, which the CRC covers.
	got := producerID.ReplaceAllString(r.stdout, "producerId: $$PID")
	got = crcField.ReplaceAllString(got, "crc: $$CRC")
	golden(t, "dump-log-kfake", got)
}

// TestKafkaActiveMember: a group with a running member shows its member id
// against its partitions, and refuses a reset with a clear message.
func TestKafkaActiveMember(t *testing.T) {
	fc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	defer fc.Close()
	addr := strings.Join(fc.ListenAddrs(), ",")
	ctx := t.Context()
	b, err := kafka.Connect(ctx, kafka.Config{BootstrapServers: fc.ListenAddrs()})
	require.NoError(t, err)
	defer b.Close()
	c, err := consumer.New(b, consumer.Config{GroupID: "live", AutoOffsetReset: consumer.ResetEarliest})
	require.NoError(t, err)
	defer c.Close(ctx)
	require.NoError(t, c.Subscribe([]string{"orders"}, nil))
	for len(c.Assignment()) < 2 {
		_, err := c.Poll(ctx)
		require.NoError(t, err)
	}
	member, _ := c.MemberID()
	root := t.TempDir()

	r := run(t, root, "", "consumer-groups", "--bootstrap-server", addr, "--describe", "--group", "live", "--members")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `(?m)^live\s+`+regexp.QuoteMeta(member)+`\s+-\s+\S+\s+2\s+orders-0,orders-1$`, r.stdout)

	r = run(t, root, "", "consumer-groups", "--bootstrap-server", addr, "--describe", "--group", "live", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var groups []jsonGroup
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &groups))
	require.Len(t, groups, 1)
	require.Equal(t, "Stable", groups[0].State)
	require.Len(t, groups[0].Partitions, 2)
	for _, p := range groups[0].Partitions {
		require.Equal(t, member, p.MemberID)
	}

	r = run(t, root, "", "consumer-groups", "--bootstrap-server", addr, "--reset-offsets", "--group", "live", "--to-earliest", "--all-topics")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "offsets can only be reset while group 'live' has no members; stop its consumers first")
}
