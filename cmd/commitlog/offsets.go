package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/commitlog-go/commitlog/admin"
)

func (a *app) getOffsets(ctx context.Context, args []string) (err error) {
	fs := a.newFlags("get-offsets", "[--topic T] [--partitions p,p] [--time earliest|latest|max-timestamp|<ms>]")
	var t target
	t.register(fs)
	topic := fs.String("topic", "", "the `topic` (default: every topic)")
	partitions := fs.String("partitions", "", "only these `partitions`, comma-separated")
	timeFlag := fs.String("time", "latest", "which offset: earliest (-2), latest (-1), max-timestamp (-3), or the first at or after a time in `ms` since the epoch")
	if err := a.parse(fs, args, false); err != nil {
		return err
	}
	spec, err := parseOffsetSpec(*timeFlag)
	if err != nil {
		return err
	}
	var only []int32
	if *partitions != "" {
		for p := range strings.SplitSeq(*partitions, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			if err != nil || n < 0 {
				return usagef("--partitions: bad partition %q", p)
			}
			only = append(only, int32(n))
		}
	}
	b, c, err := openAdmin(ctx, &t, false)
	if err != nil {
		return err
	}
	defer closeBackend(b, &err)
	topics := []string{*topic}
	if *topic == "" {
		if topics, err = c.ListTopics(ctx); err != nil {
			return err
		}
	}
	type jsonOffset struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		// Timestamp is the record's, -1 for earliest and latest.
		Timestamp int64 `json:"timestamp"`
		Found     bool  `json:"found"`
	}
	out := []jsonOffset{}
	for _, name := range topics {
		offs, err := c.ListOffsetsAt(ctx, name, spec)
		if err != nil {
			return err
		}
		for _, o := range offs {
			if only != nil && !slices.Contains(only, o.Partition) {
				continue
			}
			out = append(out, jsonOffset{name, o.Partition, o.Offset, o.Timestamp, o.Found})
		}
	}
	if t.json {
		return a.writeJSON(out)
	}
	for _, o := range out {
		fmt.Fprintf(a.stdout, "%s:%d:%d\n", o.Topic, o.Partition, o.Offset)
	}
	return nil
}

// parseOffsetSpec parses --time as kafka-get-offsets takes it.
func parseOffsetSpec(s string) (admin.OffsetSpec, error) {
	switch s {
	case "earliest", "-2":
		return admin.Earliest, nil
	case "latest", "-1":
		return admin.Latest, nil
	case "max-timestamp", "-3":
		return admin.MaxTimestamp, nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 {
		return 0, usagef("--time %q: want earliest, latest, max-timestamp or a time in ms since the epoch", s)
	}
	return admin.At(time.UnixMilli(ms)), nil
}

// offsetJSON is kafka-delete-records' --offset-json-file format.
type offsetJSON struct {
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition *int32 `json:"partition"`
		Offset    *int64 `json:"offset"`
	} `json:"partitions"`
	Version int `json:"version"`
}

func (a *app) deleteRecords(ctx context.Context, args []string) (err error) {
	fs := a.newFlags("delete-records", "--offset-json-file F")
	var t target
	t.register(fs)
	file := fs.String("offset-json-file", "", `the JSON `+"`file`"+` naming the partitions and the offsets to delete below: {"partitions":[{"topic":"t","partition":0,"offset":10}],"version":1} (offset -1: the high watermark)`)
	if err := a.parse(fs, args, false); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--offset-json-file is required")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var spec offsetJSON
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if spec.Version != 1 {
		return fmt.Errorf("%s: version %d: only version 1 is known", *file, spec.Version)
	}
	if len(spec.Partitions) == 0 {
		return fmt.Errorf("%s: no partitions", *file)
	}
	byTopic := map[string]map[int32]int64{}
	var order []string
	for i, p := range spec.Partitions {
		if p.Topic == "" || p.Partition == nil || p.Offset == nil {
			return fmt.Errorf("%s: partitions[%d] needs topic, partition and offset", *file, i)
		}
		if _, ok := byTopic[p.Topic]; !ok {
			byTopic[p.Topic] = map[int32]int64{}
			order = append(order, p.Topic)
		}
		if _, dup := byTopic[p.Topic][*p.Partition]; dup {
			return fmt.Errorf("%s: partition %s-%d is listed twice", *file, p.Topic, *p.Partition)
		}
		byTopic[p.Topic][*p.Partition] = *p.Offset
	}
	b, c, err := openAdmin(ctx, &t, true)
	if err != nil {
		return err
	}
	defer closeBackend(b, &err)
	type jsonLow struct {
		Topic        string `json:"topic"`
		Partition    int32  `json:"partition"`
		LowWatermark int64  `json:"low_watermark"`
	}
	out := []jsonLow{}
	if !t.json {
		fmt.Fprintln(a.stdout, "Executing records delete operation")
	}
	for _, topic := range order {
		lows, err := c.DeleteRecords(ctx, topic, byTopic[topic])
		if err != nil {
			return err
		}
		for _, p := range slices.Sorted(maps.Keys(lows)) {
			out = append(out, jsonLow{topic, p, lows[p]})
		}
	}
	if t.json {
		return a.writeJSON(out)
	}
	fmt.Fprintln(a.stdout, "Records delete operation completed:")
	for _, l := range out {
		fmt.Fprintf(a.stdout, "partition: %s-%d\tlow_watermark: %d\n", l.Topic, l.Partition, l.LowWatermark)
	}
	return nil
}
