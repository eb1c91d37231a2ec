package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// bin is the command built by TestMain.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "commitlog-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "commitlog")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary in dir with args and stdin.
func run(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// baseTime is the timestamp of the fixture's first record.
var baseTime = time.UnixMilli(1767225600000) // 2026-01-01T00:00:00Z

// fixture makes a data directory "data" in a new temporary directory and
// returns the temporary directory: topic orders (3 partitions,
// retention.ms set) with keyed records, topic events (1 partition) whose
// partition 0 has two batches, one with headers, and consumer group
// billing with committed offsets on orders.
func fixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	ctx := t.Context()
	b, err := commitlog.Open(filepath.Join(root, "data"), commitlog.WithoutExpvar())
	require.NoError(t, err)
	ac, err := admin.New(b)
	require.NoError(t, err)
	cfg, err := commitlog.ParseTopicConfig(3, map[string]string{"retention.ms": "86400000"})
	require.NoError(t, err)
	require.NoError(t, ac.CreateTopic(ctx, "orders", cfg))
	// events indexes every batch (index.interval.bytes=0), so that its
	// index files have entries.
	require.NoError(t, ac.CreateTopic(ctx, "events", commitlog.TopicConfig{Partitions: 1, IndexIntervalBytes: new(0)}))
	p, err := producer.New(b, producer.Config{})
	require.NoError(t, err)
	// One record a batch (SendSync), so that the segment files are the same
	// at every run.
	for i := range 9 {
		_, err := p.SendSync(ctx, &producer.Record{Topic: "orders", Partition: int32(i % 3), ExplicitPartition: true,
			Key: fmt.Appendf(nil, "order-%d", i), Value: fmt.Appendf(nil, "amount=%d", 10*i),
			Timestamp: baseTime.Add(time.Duration(i) * time.Minute)})
		require.NoError(t, err)
	}
	for i := range 3 {
		rec := &producer.Record{Topic: "events", ExplicitPartition: true, Value: fmt.Appendf(nil, "event %d", i),
			Timestamp: baseTime.Add(time.Duration(i) * time.Second)}
		if i == 1 {
			rec.Headers = []producer.Header{{Key: "trace", Value: []byte("abc")}, {Key: "source", Value: []byte("web")}}
			rec.Key = []byte("k1")
		}
		_, err := p.SendSync(ctx, rec)
		require.NoError(t, err)
	}
	require.NoError(t, p.Close(ctx))
	c, err := consumer.New(b, consumer.Config{GroupID: "billing"})
	require.NoError(t, err)
	require.NoError(t, c.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{
		{Topic: "orders", Partition: 0}: {Offset: 1},
		{Topic: "orders", Partition: 1}: {Offset: 3},
	}))
	require.NoError(t, c.Close(ctx))
	require.NoError(t, b.Close())
	return root
}

// normalise replaces what differs from run to run: the temporary directory.
func normalise(s, root string) string {
	return strings.ReplaceAll(s, root, "$ROOT")
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), got, "output differs from %s (go test -update rewrites it)", path)
}

func format(r result, root string) string {
	s := fmt.Sprintf("exit: %d\n--- stdout\n%s", r.code, normalise(r.stdout, root))
	if r.stderr != "" {
		s += "--- stderr\n" + normalise(r.stderr, root)
	}
	return s
}

// TestGolden runs each command line on a fresh fixture; later steps of a
// case see what the earlier ones changed.
func TestGolden(t *testing.T) {
	type step struct {
		args  []string
		stdin string
	}
	seg := func(topic string, suffix string) string {
		return "data/" + topic + "/00000000000000000000" + suffix
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"usage", []step{{args: nil}}},
		{"unknown-subcommand", []step{{args: []string{"nope"}}}},
		{"topics-help", []step{{args: []string{"topics", "--help"}}}},
		{"topics-list", []step{{args: []string{"topics", "--data-dir", "data", "--list"}}}},
		{"topics-list-json", []step{{args: []string{"topics", "--data-dir", "data", "--list", "--json"}}}},
		{"topics-describe", []step{{args: []string{"topics", "--data-dir", "data", "--describe"}}}},
		{"topics-describe-json", []step{{args: []string{"topics", "--data-dir", "data", "--describe", "--topic", "events", "--json"}}}},
		{"topics-describe-unknown", []step{{args: []string{"topics", "--data-dir", "data", "--describe", "--topic", "nope"}}}},
		{"topics-no-action", []step{{args: []string{"topics", "--data-dir", "data"}}}},
		{"topics-no-backend", []step{{args: []string{"topics", "--list"}}}},
		{"topics-missing-dir", []step{
			{args: []string{"topics", "--data-dir", "missing", "--list"}},
			{args: []string{"get-offsets", "--data-dir", "data/orders-0"}},
		}},
		{"topics-create-alter-delete", []step{
			{args: []string{"topics", "--data-dir", "data", "--create", "--topic", "new", "--partitions", "2", "--config", "cleanup.policy=compact", "--config", "segment.bytes=1048576"}},
			{args: []string{"topics", "--data-dir", "data", "--create", "--topic", "new", "--if-not-exists"}},
			{args: []string{"topics", "--data-dir", "data", "--create", "--topic", "new"}},
			{args: []string{"topics", "--data-dir", "data", "--alter", "--topic", "new", "--partitions", "4", "--add-config", "retention.ms=1000,max.message.bytes=2000", "--delete-config", "segment.bytes"}},
			{args: []string{"topics", "--data-dir", "data", "--describe", "--topic", "new"}},
			{args: []string{"topics", "--data-dir", "data", "--delete", "--topic", "new"}},
			{args: []string{"topics", "--data-dir", "data", "--delete", "--topic", "new", "--if-exists"}},
			{args: []string{"topics", "--data-dir", "data", "--list"}},
		}},
		{"topics-create-bad-config", []step{{args: []string{"topics", "--data-dir", "data", "--create", "--topic", "x", "--config", "retention.ms=soon"}}}},
		{"configs", []step{
			{args: []string{"configs", "--data-dir", "data", "--entity-type", "topics", "--entity-name", "orders", "--describe"}},
			{args: []string{"configs", "--data-dir", "data", "--entity-type", "topics", "--entity-name", "orders", "--alter", "--add-config", "segment.bytes=2097152", "--delete-config", "retention.ms"}},
			{args: []string{"configs", "--data-dir", "data", "--entity-type", "topics", "--entity-name", "orders", "--describe", "--json"}},
			{args: []string{"configs", "--data-dir", "data", "--entity-type", "topics", "--entity-name", "orders", "--describe", "--all"}},
		}},
		{"get-offsets", []step{
			{args: []string{"get-offsets", "--data-dir", "data"}},
			{args: []string{"get-offsets", "--data-dir", "data", "--topic", "orders", "--time", "earliest"}},
			{args: []string{"get-offsets", "--data-dir", "data", "--topic", "orders", "--time", "max-timestamp", "--json"}},
			{args: []string{"get-offsets", "--data-dir", "data", "--topic", "orders", "--time", "1767225840000", "--partitions", "1"}},
			{args: []string{"get-offsets", "--data-dir", "data", "--topic", "orders", "--time", "yesterday"}},
		}},
		{"delete-records", []step{
			{args: []string{"delete-records", "--data-dir", "data", "--offset-json-file", "offsets.json"}},
			{args: []string{"get-offsets", "--data-dir", "data", "--time", "earliest"}},
			{args: []string{"delete-records", "--data-dir", "data", "--offset-json-file", "offsets.json", "--json"}},
			{args: []string{"delete-records", "--data-dir", "data", "--offset-json-file", "bad.json"}},
		}},
		{"consumer-groups", []step{
			{args: []string{"consumer-groups", "--data-dir", "data", "--list"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--describe", "--group", "billing"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--describe", "--group", "billing", "--json"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--describe", "--group", "nope"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--describe", "--group", "billing", "--state"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--describe", "--group", "billing", "--members"}},
		}},
		{"consumer-groups-reset", []step{
			{args: []string{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "billing", "--to-earliest", "--all-topics"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "billing", "--to-latest", "--topic", "orders:0,2", "--json"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "billing", "--shift-by", "-1", "--topic", "orders:1", "--execute"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "billing", "--to-datetime", "2026-01-01T00:04:00.000Z", "--topic", "orders"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "new", "--to-offset", "2", "--topic", "events", "--execute"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--describe", "--group", "billing", "--group", "new"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "billing", "--to-earliest"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "billing", "--to-earliest", "--to-latest", "--all-topics"}},
		}},
		{"consumer-groups-delete", []step{
			{args: []string{"consumer-groups", "--data-dir", "data", "--delete", "--group", "billing"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--list", "--json"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--delete", "--group", "billing"}},
		}},
		{"console-consumer", []step{
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "events", "--from-beginning", "--max-messages", "3"}},
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "events", "--from-beginning", "--max-messages", "2",
				"--property", "print.key=true", "--property", "key.separator=:", "--property", "print.timestamp=true",
				"--property", "print.offset=true", "--property", "print.partition=true", "--property", "print.headers=true"}},
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "orders", "--partition", "1", "--offset", "1", "--max-messages", "2", "--property", "print.key=true"}},
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "orders", "--group", "billing", "--max-messages", "2", "--property", "print.partition=true"}},
			{args: []string{"consumer-groups", "--data-dir", "data", "--describe", "--group", "billing"}},
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "events", "--timeout-ms", "200"}},
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "events", "--from-beginning", "--max-messages", "2", "--json"}},
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "events", "--property", "print.colour=true"}},
		}},
		{"console-producer", []step{
			{args: []string{"console-producer", "--data-dir", "data", "--topic", "events", "--property", "parse.key=true", "--property", "key.separator=:"}, stdin: "a:first\nb:second\n:no key\n"},
			{args: []string{"console-consumer", "--data-dir", "data", "--topic", "events", "--partition", "0", "--offset", "3", "--max-messages", "3", "--property", "print.key=true", "--property", "print.offset=true"}},
			{args: []string{"console-producer", "--data-dir", "data", "--topic", "events", "--property", "parse.key=true"}, stdin: "no separator\n"},
			{args: []string{"console-producer", "--data-dir", "data", "--topic", "nope"}, stdin: "x\n"},
			{args: []string{"console-producer", "--data-dir", "data", "--topic", "events", "--json"}, stdin: "x\ny\n"},
		}},
		{"dump-log", []step{
			{args: []string{"dump-log", "--files", seg("events-0", ".log")}},
			{args: []string{"dump-log", "--files", seg("events-0", ".log"), "--deep-iteration"}},
			{args: []string{"dump-log", "--files", seg("events-0", ".log"), "--print-data-log"}},
			{args: []string{"dump-log", "--print-data-log", "--json", seg("orders-1", ".log")}},
			{args: []string{"dump-log", "--files", seg("events-0", ".index") + "," + seg("events-0", ".timeindex")}},
			{args: []string{"dump-log", "--index-sanity-check", "--files", seg("events-0", ".index") + "," + seg("events-0", ".timeindex")}},
			{args: []string{"dump-log", "--verify-index-only", "--files", seg("events-0", ".timeindex")}},
			{args: []string{"dump-log", seg("orders-2", ".log"), "--deep-iteration", seg("orders-2", ".timeindex")}},
			{args: []string{"dump-log", "--files", "data/meta.json"}},
			{args: []string{"dump-log"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := fixture(t)
			require.NoError(t, os.WriteFile(filepath.Join(root, "offsets.json"),
				[]byte(`{"partitions":[{"topic":"orders","partition":0,"offset":2},{"topic":"orders","partition":2,"offset":-1}],"version":1}`), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(root, "bad.json"), []byte(`{"partitions":[{"topic":"orders"}],"version":1}`), 0o644))
			var out strings.Builder
			for _, s := range tt.steps {
				r := run(t, root, s.stdin, s.args...)
				fmt.Fprintf(&out, "$ commitlog %s\n%s\n", strings.Join(s.args, " "), format(r, root))
			}
			golden(t, tt.name, out.String())
		})
	}
}

// TestJSONParses checks that every --json output is one JSON document.
func TestJSONParses(t *testing.T) {
	root := fixture(t)
	for _, args := range [][]string{
		{"topics", "--data-dir", "data", "--list", "--json"},
		{"topics", "--data-dir", "data", "--describe", "--json"},
		{"configs", "--data-dir", "data", "--topic", "orders", "--describe", "--all", "--json"},
		{"get-offsets", "--data-dir", "data", "--json"},
		{"consumer-groups", "--data-dir", "data", "--list", "--json"},
		{"consumer-groups", "--data-dir", "data", "--describe", "--group", "billing", "--json"},
		{"consumer-groups", "--data-dir", "data", "--reset-offsets", "--group", "billing", "--to-earliest", "--all-topics", "--json"},
		{"dump-log", "--json", "--deep-iteration", "data/orders-0/00000000000000000000.log", "data/orders-1/00000000000000000000.timeindex"},
	} {
		r := run(t, root, "", args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		var v any
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		require.NoError(t, dec.Decode(&v), "%v", args)
		require.False(t, dec.More(), "%v: more than one document", args)
	}
	var topics []jsonTopic
	r := run(t, root, "", "topics", "--data-dir", "data", "--describe", "--json")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &topics))
	require.Len(t, topics, 2)
	require.Equal(t, "events", topics[0].Topic)
	require.Equal(t, int64(3), topics[0].Partitions[0].LogEndOffset)
}

// TestLocked: while another process owns a directory, the reading
// commands work on it (read-only) and a changing one says who owns it.
func TestLocked(t *testing.T) {
	root := fixture(t)
	b, err := commitlog.Open(filepath.Join(root, "data"), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	r := run(t, root, "", "topics", "--data-dir", "data", "--list")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "orders")
	r = run(t, root, "", "topics", "--data-dir", "data", "--create", "--topic", "more")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, fmt.Sprintf("is in use by pid %d; stop it or use --bootstrap-server", os.Getpid()))
	// dump-log takes no lock.
	r = run(t, root, "", "dump-log", "data/orders-0/00000000000000000000.log")
	require.Equal(t, 0, r.code, r.stderr)
}

// TestDumpLogDamage: dump-log reports a torn tail, a bad CRC and an index
// that points elsewhere, as kafka-dump-log does.
func TestDumpLogDamage(t *testing.T) {
	root := fixture(t)
	dir := filepath.Join(root, "data", "events-0")
	logPath := filepath.Join(dir, "00000000000000000000.log")
	data, err := os.ReadFile(logPath)
	require.NoError(t, err)
	h, err := record.ParseHeader(data)
	require.NoError(t, err)
	first := h.Size()
	// A flipped byte in the second batch's value, and a torn third batch.
	data[first+h.Size()-2] ^= 0xff
	require.NoError(t, os.WriteFile(logPath, data[:len(data)-5], 0o644))
	// An index entry naming offset 1 at the first batch's position.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000000.index"), []byte{0, 0, 0, 1, 0, 0, 0, 0}, 0o644))
	r := run(t, root, "", "dump-log", "--files", "data/events-0/00000000000000000000.log,data/events-0/00000000000000000000.index")
	golden(t, "dump-log-damage", format(r, root))
}

// walkFiles lists the files under dir whose name ends with suffix.
func walkFiles(t *testing.T, dir, suffix string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, suffix) {
			out = append(out, path)
		}
		return err
	}))
	return out
}

var (
	producerID = regexp.MustCompile(`producerId: \d+`)
	crcField   = regexp.MustCompile(`crc: \d+`)
)

// TestHelpAndUsage: every subcommand prints its flags with --help (exit 0)
// and refuses an unknown flag (exit 2); the package doc names every one.
func TestHelpAndUsage(t *testing.T) {
	doc, err := os.ReadFile("main.go")
	require.NoError(t, err)
	root := t.TempDir()
	for _, c := range subcommands() {
		t.Run(c.name, func(t *testing.T) {
			require.Contains(t, string(doc), "//\tcommitlog "+c.name+" ", "the package doc lists %s", c.name)
			r := run(t, root, "", c.name, "--help")
			require.Equal(t, 0, r.code)
			require.True(t, strings.HasPrefix(r.stdout, "Usage: commitlog "+c.name+" "), r.stdout)
			require.Contains(t, r.stdout, "\n  --")
			r = run(t, root, "", c.name, "--no-such-flag")
			require.Equal(t, 2, r.code)
			require.Contains(t, r.stderr, "flag provided but not defined: -no-such-flag")
			require.Empty(t, r.stdout)
		})
	}
	r := run(t, root, "", "--help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "Subcommands:")
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	off := (&app{stderr: &buf}).progress("f", 100)
	off.last = time.Time{}
	off.set(50)
	off.done()
	require.Empty(t, buf.String(), "no bar when stderr is not a terminal")

	p := (&app{stderr: &buf, stderrTTY: true}).progress("f.log", 100)
	p.last = time.Time{} // due for a redraw
	p.set(50)
	require.Contains(t, buf.String(), "\rf.log [===============               ]  50%")
	p.done()
	require.True(t, strings.HasSuffix(buf.String(), "\r\033[K"), "done erases the bar")
}

// TestDumpLogTimeIndexErrors: a time index that disagrees with its log is
// reported on stderr as kafka-dump-log reports it, and a damaged index
// fails --index-sanity-check (exit 1).
func TestDumpLogTimeIndexErrors(t *testing.T) {
	root := fixture(t)
	dir := filepath.Join(root, "data", "orders-1")
	entry := func(ts int64, rel uint32) []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint64(b, uint64(ts))
		binary.BigEndian.PutUint32(b[8:], rel)
		return b
	}
	// Offset 0 with the wrong time; offset 1 with a time before the
	// previous entry's; offset 7, which the log does not have.
	ti := slices.Concat(entry(999, 0), entry(998, 1), entry(2000, 7))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000000.timeindex"), ti, 0o644))
	// Two offset index entries that go back (orders-1's batches are 84
	// bytes each).
	ix := []byte{0, 0, 0, 2, 0, 0, 0, 168, 0, 0, 0, 1, 0, 0, 0, 84}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000000.index"), ix, 0o644))
	var out strings.Builder
	for _, args := range [][]string{
		{"dump-log", "data/orders-1/00000000000000000000.timeindex"},
		{"dump-log", "--verify-index-only", "data/orders-1/00000000000000000000.index"},
		{"dump-log", "--index-sanity-check", "data/orders-1/00000000000000000000.index"},
		{"dump-log", "--index-sanity-check", "data/orders-1/00000000000000000000.timeindex"},
	} {
		r := run(t, root, "", args...)
		fmt.Fprintf(&out, "$ commitlog %s\n%s\n", strings.Join(args, " "), format(r, root))
	}
	golden(t, "dump-log-timeindex-errors", out.String())
}
