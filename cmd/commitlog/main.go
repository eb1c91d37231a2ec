// Command commitlog operates commitlog data directories and Kafka clusters
// with subcommands modelled on Kafka's command-line tools, taking Kafka's
// flag names where they fit:
//
//	commitlog topics           --list | --describe [--topic T] | --create --topic T [--partitions N] [--config k=v]...
//	                           [--if-not-exists] | --alter --topic T [--add-config k=v[,k=v]] [--delete-config k]
//	                           [--partitions N] | --delete --topic T [--if-exists]            (kafka-topics.sh)
//	commitlog configs          --entity-type topics --entity-name T (--describe [--all] |
//	                           --alter [--add-config k=v[,k=v]] [--delete-config k])           (kafka-configs.sh)
//	commitlog consumer-groups  --list | --describe --group G [--state | --members] | --delete --group G |
//	                           --reset-offsets --group G (--to-earliest | --to-latest | --to-datetime T |
//	                           --to-offset N | --shift-by N) (--topic T[:p,p]... | --all-topics) [--dry-run | --execute]
//	                                                                                       (kafka-consumer-groups.sh)
//	commitlog get-offsets      [--topic T] [--partitions p,p] [--time earliest|latest|max-timestamp|<ms>]
//	                                                                                       (kafka-get-offsets.sh)
//	commitlog delete-records   --offset-json-file F                                        (kafka-delete-records.sh)
//	commitlog console-consumer --topic T [--from-beginning] [--group G] [--partition P [--offset O]]
//	                           [--max-messages N] [--timeout-ms MS] [--property k=v]...   (kafka-console-consumer.sh)
//	commitlog console-producer --topic T [--property parse.key=true] [--property key.separator=:]
//	                                                                                       (kafka-console-producer.sh)
//	commitlog dump-log         --files F[,F]... [--print-data-log] [--deep-iteration]
//	                           [--verify-index-only] [--index-sanity-check] [--max-bytes N] (kafka-dump-log.sh)
//
// Every subcommand but dump-log works on a data directory (--data-dir DIR)
// or on a Kafka cluster (--bootstrap-server host:port[,host:port]), through
// the same code: packages admin, producer and consumer on a
// commitlog.Backend, the embedded broker or kafka.Connect's cluster.
// Commands that change something (topics --create/--alter/--delete,
// configs --alter, consumer-groups --delete and --reset-offsets --execute,
// delete-records, console-producer, console-consumer with --group, which
// commits) open the directory as its owner, so the program that owns it must
// be stopped: the command says which pid holds it. Commands that only read
// are meant to open it read-only, beside a running owner; until the library
// can (commitlog.OpenReadOnly), they open it as the writers do, and need the
// owner stopped too. A read never creates a missing directory.
//
// dump-log reads segment files (.log, .index, .timeindex) directly, whoever
// wrote them (this library or a Kafka broker: the format is the same), with
// no broker and no lock, and prints what kafka-dump-log.sh prints.
//
// Every subcommand takes --help, prints tables aligned as Kafka's tools
// do, and with --json prints one JSON document for scripts instead
// (console-consumer, whose output is a stream, one JSON object a record). Long work
// (dump-log of a large file) shows a progress bar on stderr when stderr is a
// terminal. Exit codes: 0 success, 1 an error, 2 a usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/kafka"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// app is one run of the command: its standard streams, so that tests and
// main share the code.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stderrTTY says whether stderr is a terminal (progress bars).
	stderrTTY bool
	// usages print the subcommands' --help.
	usages map[*flag.FlagSet]func()
}

// subcommand is one of the command's subcommands.
type subcommand struct {
	name    string
	summary string
	run     func(a *app, ctx context.Context, args []string) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"topics", "list, describe, create, alter and delete topics (kafka-topics.sh)", (*app).topics},
		{"configs", "describe and alter topic configs (kafka-configs.sh)", (*app).configs},
		{"consumer-groups", "list, describe, delete consumer groups and reset their offsets (kafka-consumer-groups.sh)", (*app).consumerGroups},
		{"get-offsets", "list the offsets of partitions at a time (kafka-get-offsets.sh)", (*app).getOffsets},
		{"delete-records", "delete the records below offsets (kafka-delete-records.sh)", (*app).deleteRecords},
		{"console-consumer", "print records to stdout (kafka-console-consumer.sh)", (*app).consoleConsumer},
		{"console-producer", "send stdin's lines as records (kafka-console-producer.sh)", (*app).consoleProducer},
		{"dump-log", "print the contents of segment files (kafka-dump-log.sh)", (*app).dumpLog},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stderrTTY: isTerminal(os.Stderr)}
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// usageError is a command line the subcommand cannot run: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// main runs the command line args and returns the exit code.
func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(a.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	i := slices.IndexFunc(subcommands(), func(c subcommand) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(a.stderr, "commitlog: unknown subcommand %q\n\n", args[0])
		a.usage(a.stderr)
		return exitUsage
	}
	cmd := subcommands()[i]
	err := cmd.run(a, ctx, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "commitlog %s: %s\nRun 'commitlog %s --help' for usage.\n", cmd.name, ue.msg, cmd.name)
		return exitUsage
	default:
		fmt.Fprintf(a.stderr, "Error: %s\n", err)
		return exitError
	}
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: commitlog <subcommand> [flags]")
	fmt.Fprintln(w, "\nSubcommands:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range subcommands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun 'commitlog <subcommand> --help' for a subcommand's flags.")
}

// newFlags returns a subcommand's flag set; parse prints its usage line and
// flags to stdout for --help.
func (a *app) newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("commitlog "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parse prints the usage, for --help only
	if a.usages == nil {
		a.usages = map[*flag.FlagSet]func(){}
	}
	a.usages[fs] = func() {
		fmt.Fprintf(a.stdout, "Usage: commitlog %s %s\n\nFlags:\n", name, usage)
		printFlags(a.stdout, fs)
	}
	return fs
}

// printFlags lists fs's flags as Kafka's tools do: --name, its value's
// placeholder, its description and its default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if placeholder != "" {
			line += " " + placeholder
		}
		fmt.Fprintf(w, "%s\n      %s", line, usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "-1" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parseArgs is parse for a subcommand that takes arguments besides its
// flags, before, between or after them (dump-log's files); it returns them.
func (a *app) parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := a.parse(fs, args, true); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
}

// parse parses args into fs: --help prints the usage (flag.ErrHelp, exit 0),
// a bad flag or a stray argument is a usage error.
func (a *app) parse(fs *flag.FlagSet, args []string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usages[fs]()
			return err
		}
		return &usageError{err.Error()}
	}
	if !allowArgs && fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// multiFlag is a flag that may be repeated; each value may also hold
// several comma-separated ones when split is set (--add-config a=1,b=2).
type multiFlag struct {
	values []string
	split  bool
}

func (m *multiFlag) String() string { return strings.Join(m.values, ",") }

func (m *multiFlag) Set(v string) error {
	if m.split {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				m.values = append(m.values, part)
			}
		}
		return nil
	}
	m.values = append(m.values, v)
	return nil
}

// keyValues parses k=v strings into a map.
func keyValues(flagName string, kvs []string) (map[string]string, error) {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: want key=value", flagName, kv)
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

// target is where a subcommand runs: a data directory or a Kafka cluster,
// and how it prints.
type target struct {
	dataDir   string
	bootstrap string
	json      bool
}

func (t *target) register(fs *flag.FlagSet) {
	fs.StringVar(&t.dataDir, "data-dir", "", "the commitlog data `directory` to work on")
	fs.StringVar(&t.bootstrap, "bootstrap-server", "", "the Kafka cluster to work on instead: `host:port`[,host:port...]")
	fs.BoolVar(&t.json, "json", false, "print one JSON document instead of text")
}

// openBackend opens the backend the flags name: the data directory or the
// Kafka cluster. write says whether the command changes something; a
// command that only reads must not change the directory.
//
// This is the one place that opens a backend.
func openBackend(ctx context.Context, t *target, write bool) (commitlog.Backend, error) {
	switch {
	case t.dataDir != "" && t.bootstrap != "":
		return nil, usagef("give one of --data-dir and --bootstrap-server, not both")
	case t.bootstrap != "":
		seeds := strings.Split(t.bootstrap, ",")
		c, err := kafka.Connect(ctx, kafka.Config{BootstrapServers: seeds, ClientID: "commitlog-cli", Logger: logger()})
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", t.bootstrap, err)
		}
		return c, nil
	case t.dataDir == "":
		return nil, usagef("--data-dir or --bootstrap-server is required")
	}
	if !write {
		// A read must not create a data directory, nor make one of a
		// directory that is not (a typo'd path).
		if _, err := os.Stat(t.dataDir); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		_, errMeta := os.Stat(filepath.Join(t.dataDir, "meta.json"))
		_, errLock := os.Stat(filepath.Join(t.dataDir, ".lock"))
		if errMeta != nil && errLock != nil {
			return nil, fmt.Errorf("%s is not a commitlog data directory: it has no meta.json", t.dataDir)
		}
	}
	// A command that only reads opens the directory read-only: it works
	// while another process owns and writes it, and writes nothing. One
	// that changes something takes the lock, so the owner must be stopped.
	if !write {
		return commitlog.OpenReadOnly(t.dataDir, commitlog.WithoutExpvar(), commitlog.WithLogger(logger()))
	}
	b, err := commitlog.Open(t.dataDir, commitlog.WithoutExpvar(), commitlog.WithLogger(logger()))
	if errors.Is(err, commitlog.ErrLocked) {
		return nil, lockedError(t.dataDir, err)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// logger is the backends' logger: warnings and errors to stderr, so that
// stdout holds only the command's output.
func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// lockedError says who holds a data directory.
func lockedError(dir string, err error) error {
	holder := "another process"
	if b, rerr := os.ReadFile(filepath.Join(dir, ".lock")); rerr == nil {
		if pid := strings.TrimSpace(string(b)); pid != "" {
			holder = "pid " + pid
		}
	}
	return fmt.Errorf("the directory %s is in use by %s; stop it or use --bootstrap-server to go through a broker (%w)", dir, holder, err)
}

// writeJSON prints v as indented JSON.
func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table returns a tabwriter aligned as Kafka's tables are.
func (a *app) table() *tabwriter.Writer {
	return tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
}

// openAdmin opens the backend (see openBackend) and an admin client on it;
// the caller defers closeBackend(b, &err).
func openAdmin(ctx context.Context, t *target, write bool) (commitlog.Backend, *admin.Client, error) {
	b, err := openBackend(ctx, t, write)
	if err != nil {
		return nil, nil, err
	}
	c, err := admin.New(b)
	if err != nil {
		_ = b.Close()
		return nil, nil, err
	}
	return b, c, nil
}

// closeBackend closes b, keeping the first error.
func closeBackend(b commitlog.Backend, err *error) {
	if cerr := b.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}
