package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

// formatter prints records as Kafka's DefaultMessageFormatter does.
type formatter struct {
	printKey, printTimestamp, printOffset, printPartition, printHeaders, printValue bool
	keySep, lineSep, headersSep                                                     string
}

func newFormatter(props map[string]string) (*formatter, error) {
	f := &formatter{printValue: true, keySep: "\t", lineSep: "\n", headersSep: ","}
	for k, v := range props {
		boolean := func(dst *bool) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return usagef("--property %s=%s: want true or false", k, v)
			}
			*dst = b
			return nil
		}
		var err error
		switch k {
		case "print.key":
			err = boolean(&f.printKey)
		case "print.timestamp":
			err = boolean(&f.printTimestamp)
		case "print.offset":
			err = boolean(&f.printOffset)
		case "print.partition":
			err = boolean(&f.printPartition)
		case "print.headers":
			err = boolean(&f.printHeaders)
		case "print.value":
			err = boolean(&f.printValue)
		case "key.separator":
			f.keySep = unescape(v)
		case "line.separator":
			f.lineSep = unescape(v)
		case "headers.separator":
			f.headersSep = unescape(v)
		default:
			return nil, usagef("--property %s: unknown (print.key, print.timestamp, print.offset, print.partition, print.headers, print.value, key.separator, line.separator, headers.separator)", k)
		}
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// unescape reads \t and \n in separators given on a command line.
func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}

func nullable(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}

func (f *formatter) write(w *bufio.Writer, r *consumer.Record) {
	if f.printTimestamp {
		fmt.Fprintf(w, "%s:%d\t", r.TimestampType, r.Timestamp.UnixMilli())
	}
	if f.printPartition {
		fmt.Fprintf(w, "Partition:%d\t", r.Partition)
	}
	if f.printOffset {
		fmt.Fprintf(w, "Offset:%d\t", r.Offset)
	}
	if f.printHeaders {
		if len(r.Headers) == 0 {
			w.WriteString("NO_HEADERS")
		}
		for i, h := range r.Headers {
			if i > 0 {
				w.WriteString(f.headersSep)
			}
			w.WriteString(h.Key + ":" + nullable(h.Value))
		}
		w.WriteString("\t")
	}
	if f.printKey {
		w.WriteString(nullable(r.Key))
		if f.printValue {
			w.WriteString(f.keySep)
		}
	}
	if f.printValue {
		w.WriteString(nullable(r.Value))
	}
	w.WriteString(f.lineSep)
}

// jsonConsumed is a record as console-consumer --json prints it, one JSON
// object a line (JSON Lines: the output is a stream). Key, Value and
// header values are strings when they are valid UTF-8, else base64 in
// the *_base64 field; null stays null.
type jsonConsumed struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	TimestampType string       `json:"timestamp_type"`
	Key           *string      `json:"key"`
	KeyBase64     []byte       `json:"key_base64,omitempty"`
	Value         *string      `json:"value"`
	ValueBase64   []byte       `json:"value_base64,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
}

// jsonBytes maps b to a JSON string or, if it is not UTF-8, to base64.
func jsonBytes(b []byte) (*string, []byte) {
	switch {
	case b == nil:
		return nil, nil
	case utf8.Valid(b):
		return new(string(b)), nil
	default:
		return nil, b
	}
}

func consumedJSON(r *consumer.Record) jsonConsumed {
	j := jsonConsumed{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(),
		TimestampType: r.TimestampType.String(), Headers: []jsonHeader{}}
	j.Key, j.KeyBase64 = jsonBytes(r.Key)
	j.Value, j.ValueBase64 = jsonBytes(r.Value)
	for _, h := range r.Headers {
		jh := jsonHeader{Key: h.Key}
		jh.Value, jh.ValueBase64 = jsonBytes(h.Value)
		j.Headers = append(j.Headers, jh)
	}
	return j
}

func (a *app) consoleConsumer(ctx context.Context, args []string) (err error) {
	fs := a.newFlags("console-consumer", "--topic T [--from-beginning] [--group G] [--partition P [--offset O]] [--max-messages N] [--timeout-ms MS] [--property k=v]...")
	var t target
	t.register(fs)
	topic := fs.String("topic", "", "the `topic` to consume")
	group := fs.String("group", "", "consume as a member of this consumer `group` (commits its offsets); without it, every partition is read without a group")
	fromBeginning := fs.Bool("from-beginning", false, "start at the earliest offset, not the latest (without --group, or when the group has no committed offset)")
	partition := fs.Int("partition", -1, "consume only this `partition`")
	offsetFlag := fs.String("offset", "latest", "with --partition: the `offset` to start at: a number, earliest or latest")
	maxMessages := fs.Int("max-messages", 0, "exit after this many `records` (default: none, tail until interrupted)")
	timeoutMs := fs.Int64("timeout-ms", 0, "exit when no record came for this many `ms` (default: wait forever)")
	props := &multiFlag{}
	fs.Var(props, "property", "a formatter property `k=v`: print.key, print.timestamp, print.offset, print.partition, print.headers, print.value (true/false), key.separator, line.separator, headers.separator (repeatable)")
	if err := a.parse(fs, args, false); err != nil {
		return err
	}
	if *topic == "" {
		return usagef("--topic is required")
	}
	if *group != "" && *partition >= 0 {
		return usagef("--group and --partition exclude each other")
	}
	var startOffset int64 = -1 // latest
	switch *offsetFlag {
	case "latest":
	case "earliest":
		startOffset = -2
	default:
		if *partition < 0 {
			return usagef("--offset needs --partition")
		}
		n, err := strconv.ParseInt(*offsetFlag, 10, 64)
		if err != nil || n < 0 {
			return usagef("--offset %q: want a number, earliest or latest", *offsetFlag)
		}
		startOffset = n
	}
	if *fromBeginning && *offsetFlag == "latest" {
		startOffset = -2
	}
	kv, err := keyValues("property", props.values)
	if err != nil {
		return err
	}
	f, err := newFormatter(kv)
	if err != nil {
		return err
	}

	b, err := openBackend(ctx, &t, *group != "")
	if err != nil {
		return err
	}
	defer closeBackend(b, &err)
	// With a group, the offsets committed are those of the records
	// printed (not of every record a poll returned, which --max-messages
	// may cut short): after every poll and at the end.
	cfg := consumer.Config{GroupID: *group, AutoOffsetReset: consumer.ResetLatest, EnableAutoCommit: new(false)}
	if startOffset == -2 {
		cfg.AutoOffsetReset = consumer.ResetEarliest
	}
	c, err := consumer.New(b, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if *group != "" {
		if err := c.Subscribe([]string{*topic}, nil); err != nil {
			return err
		}
	} else {
		ac, err := admin.New(b)
		if err != nil {
			return err
		}
		offs, err := ac.ListOffsets(ctx, *topic)
		if err != nil {
			return err
		}
		var tps []consumer.TopicPartition
		for _, o := range offs {
			if *partition < 0 || o.Partition == int32(*partition) {
				tps = append(tps, consumer.TopicPartition{Topic: *topic, Partition: o.Partition})
			}
		}
		if len(tps) == 0 {
			return fmt.Errorf("topic %s has no partition %d", *topic, *partition)
		}
		if err := c.Assign(tps); err != nil {
			return err
		}
		switch {
		case startOffset == -2:
			err = c.SeekToBeginning()
		case startOffset == -1:
			err = c.SeekToEnd()
		default:
			err = c.Seek(tps[0], startOffset)
		}
		if err != nil {
			return err
		}
	}

	printed := map[consumer.TopicPartition]consumer.OffsetAndMetadata{}
	commit := func() error {
		if *group == "" || len(printed) == 0 {
			return nil
		}
		err := c.CommitSync(context.WithoutCancel(ctx), printed)
		clear(printed)
		return err
	}
	defer func() {
		if cerr := commit(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(a.stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	count := 0
	defer func() { fmt.Fprintf(a.stderr, "Processed a total of %d messages\n", count) }()
	idle := time.Duration(*timeoutMs) * time.Millisecond
	for *maxMessages <= 0 || count < *maxMessages {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if idle > 0 {
			pctx, cancel = context.WithTimeout(ctx, idle)
		}
		recs, err := pollUntilRecords(pctx, c)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				return nil // interrupted, or --timeout-ms passed without a record
			}
			return err
		}
		for i := range recs {
			if *maxMessages > 0 && count >= *maxMessages {
				break
			}
			if t.json {
				if err := enc.Encode(consumedJSON(&recs[i])); err != nil {
					return err
				}
			} else {
				f.write(w, &recs[i])
			}
			count++
			printed[consumer.TopicPartition{Topic: recs[i].Topic, Partition: recs[i].Partition}] = consumer.OffsetAndMetadata{Offset: recs[i].Offset + 1}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := commit(); err != nil {
			return err
		}
	}
	return nil
}

// pollUntilRecords polls until some records come or ctx ends.
func pollUntilRecords(ctx context.Context, c *consumer.Consumer) ([]consumer.Record, error) {
	for {
		recs, err := c.Poll(ctx)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			return recs, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

func (a *app) consoleProducer(ctx context.Context, args []string) (err error) {
	fs := a.newFlags("console-producer", "--topic T [--property parse.key=true] [--property key.separator=:]")
	var t target
	t.register(fs)
	topic := fs.String("topic", "", "the `topic` to send stdin's lines to, one record a line")
	props := &multiFlag{}
	fs.Var(props, "property", "a reader property `k=v`: parse.key (true/false), key.separator (default a tab), null.marker (repeatable)")
	producerProps := &multiFlag{}
	fs.Var(producerProps, "producer-property", "a producer setting `k=v` (acks, linger.ms, compression.type, ...; repeatable)")
	if err := a.parse(fs, args, false); err != nil {
		return err
	}
	if *topic == "" {
		return usagef("--topic is required")
	}
	kv, err := keyValues("property", props.values)
	if err != nil {
		return err
	}
	parseKey, keySep, nullMarker := false, "\t", ""
	for k, v := range kv {
		switch k {
		case "parse.key":
			if parseKey, err = strconv.ParseBool(v); err != nil {
				return usagef("--property parse.key=%s: want true or false", v)
			}
		case "key.separator":
			keySep = unescape(v)
		case "null.marker":
			nullMarker = v
		default:
			return usagef("--property %s: unknown (parse.key, key.separator, null.marker)", k)
		}
	}
	if keySep == "" {
		return usagef("--property key.separator: must not be empty")
	}
	pkv, err := keyValues("producer-property", producerProps.values)
	if err != nil {
		return err
	}
	cfg, err := producer.ParseConfig(pkv)
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, &t, true)
	if err != nil {
		return err
	}
	defer closeBackend(b, &err)
	p, err := producer.New(b, cfg)
	if err != nil {
		return err
	}
	var failed error
	var failures atomic.Int64
	field := func(s string) []byte {
		if nullMarker != "" && s == nullMarker {
			return nil
		}
		return []byte(s)
	}
	sc := bufio.NewScanner(a.stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		rec := &producer.Record{Topic: *topic}
		text := sc.Text()
		if parseKey {
			k, v, ok := strings.Cut(text, keySep)
			if !ok {
				failed = fmt.Errorf("line %d: no key separator %q", line, keySep)
				break
			}
			rec.Key, rec.Value = field(k), field(v)
		} else {
			rec.Value = field(text)
		}
		n := line
		p.SendCallback(ctx, rec, func(_ context.Context, _ producer.RecordMetadata, err error) {
			if err != nil {
				failures.Add(1)
				fmt.Fprintf(a.stderr, "Error: line %d: %v\n", n, err)
			}
		})
		if ctx.Err() != nil {
			break
		}
	}
	if err := sc.Err(); err != nil && failed == nil && !errors.Is(err, io.EOF) {
		failed = err
	}
	if err := p.Close(context.WithoutCancel(ctx)); err != nil && failed == nil {
		failed = err
	}
	if failed == nil && failures.Load() > 0 {
		failed = fmt.Errorf("%d records failed", failures.Load())
	}
	if t.json {
		if err := a.writeJSON(map[string]any{"topic": *topic, "lines": line, "failed": failures.Load()}); err != nil && failed == nil {
			failed = err
		}
	}
	return failed
}
