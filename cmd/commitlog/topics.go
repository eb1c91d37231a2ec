package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
)

func (a *app) topics(ctx context.Context, args []string) (err error) {
	fs := a.newFlags("topics", "(--list | --describe | --create | --alter | --delete) [flags]")
	var t target
	t.register(fs)
	list := fs.Bool("list", false, "list the topics")
	describe := fs.Bool("describe", false, "describe the topics (all, or --topic)")
	create := fs.Bool("create", false, "create --topic")
	alter := fs.Bool("alter", false, "alter --topic: its configs (--add-config, --delete-config) or its partition count (--partitions)")
	del := fs.Bool("delete", false, "delete --topic")
	topic := fs.String("topic", "", "the `topic`")
	partitions := fs.Int("partitions", 0, "the partition `count` (--create: default 1; --alter: the new, larger count)")
	ifNotExists := fs.Bool("if-not-exists", false, "--create: succeed when the topic exists")
	ifExists := fs.Bool("if-exists", false, "--alter, --delete: succeed when the topic does not exist")
	configs := &multiFlag{}
	fs.Var(configs, "config", "--create: a topic config `name=value` (repeatable)")
	addConfig := &multiFlag{split: true}
	fs.Var(addConfig, "add-config", "--alter: configs to set, `k=v[,k=v]` (repeatable)")
	deleteConfig := &multiFlag{split: true}
	fs.Var(deleteConfig, "delete-config", "--alter: configs to return to their defaults, `k[,k]` (repeatable)")
	if err := a.parse(fs, args, false); err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{*list, *describe, *create, *alter, *del} {
		if b {
			n++
		}
	}
	if n != 1 {
		return usagef("exactly one of --list, --describe, --create, --alter and --delete is required")
	}
	if (*create || *alter || *del) && *topic == "" {
		return usagef("--topic is required")
	}
	if len(configs.values) > 0 && !*create {
		return usagef("--config goes with --create")
	}
	if (len(addConfig.values) > 0 || len(deleteConfig.values) > 0) && !*alter {
		return usagef("--add-config and --delete-config go with --alter")
	}
	if *partitions < 0 || *partitions > commitlog.MaxPartitions {
		return usagef("--partitions %d: want 1 to %d", *partitions, commitlog.MaxPartitions)
	}
	settings, err := keyValues("config", configs.values)
	if err != nil {
		return err
	}
	changes, err := configChanges(addConfig.values, deleteConfig.values)
	if err != nil {
		return err
	}
	if *alter && len(changes) == 0 && *partitions == 0 {
		return usagef("--alter needs --add-config, --delete-config or --partitions")
	}
	var cfg commitlog.TopicConfig
	if *create {
		if cfg, err = commitlog.ParseTopicConfig(int32(max(*partitions, 1)), settings); err != nil {
			return err
		}
	}

	b, c, err := openAdmin(ctx, &t, *create || *alter || *del)
	if err != nil {
		return err
	}
	defer closeBackend(b, &err)
	switch {
	case *list:
		names, err := c.ListTopics(ctx)
		if err != nil {
			return err
		}
		return a.writeNames(t.json, names)
	case *describe:
		return a.describeTopics(ctx, c, t.json, *topic)
	case *create:
		created := true
		if *ifNotExists {
			created, err = c.CreateTopicIfNotExists(ctx, *topic, cfg)
		} else {
			err = c.CreateTopic(ctx, *topic, cfg)
		}
		if err != nil {
			return err
		}
		if t.json {
			return a.writeJSON(map[string]any{"topic": *topic, "created": created})
		}
		if created {
			fmt.Fprintf(a.stdout, "Created topic %s.\n", *topic)
		}
		return nil
	case *alter:
		if *partitions > 0 {
			if err := c.AddPartitions(ctx, *topic, int32(*partitions)); err != nil {
				return ifExistsOK(err, *ifExists)
			}
		}
		if len(changes) > 0 {
			if err := c.AlterTopicConfig(ctx, *topic, changes); err != nil {
				return ifExistsOK(err, *ifExists)
			}
		}
		if t.json {
			return a.writeJSON(map[string]any{"topic": *topic, "altered": true})
		}
		fmt.Fprintf(a.stdout, "Completed updating topic %s.\n", *topic)
		return nil
	default: // delete
		err := c.DeleteTopic(ctx, *topic)
		if err != nil {
			return ifExistsOK(err, *ifExists)
		}
		if t.json {
			return a.writeJSON(map[string]any{"topic": *topic, "deleted": true})
		}
		fmt.Fprintf(a.stdout, "Deleted topic %s.\n", *topic)
		return nil
	}
}

// ifExistsOK drops an unknown-topic error when --if-exists was given.
func ifExistsOK(err error, ifExists bool) error {
	if ifExists && errors.Is(err, commitlog.ErrUnknownTopic) {
		return nil
	}
	return err
}

// configChanges turns --add-config and --delete-config into
// AlterTopicConfig's changes.
func configChanges(add, del []string) (map[string]*string, error) {
	set, err := keyValues("add-config", add)
	if err != nil {
		return nil, err
	}
	changes := make(map[string]*string, len(set)+len(del))
	for k, v := range set {
		changes[k] = &v
	}
	for _, k := range del {
		if _, ok := changes[k]; ok {
			return nil, usagef("config %s is both added and deleted", k)
		}
		changes[k] = nil
	}
	return changes, nil
}

type jsonTopic struct {
	Topic      string          `json:"topic"`
	Partitions []jsonPartition `json:"partitions"`
	Configs    []jsonConfig    `json:"configs"`
}

type jsonPartition struct {
	Partition      int32 `json:"partition"`
	LogStartOffset int64 `json:"log_start_offset"`
	LogEndOffset   int64 `json:"log_end_offset"`
	Size           int64 `json:"size"`
	// Segments is -1 where the backend does not say (Kafka).
	Segments int `json:"segments"`
}

type jsonConfig struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

func (a *app) describeTopics(ctx context.Context, c *admin.Client, asJSON bool, topic string) error {
	names := []string{topic}
	if topic == "" {
		var err error
		if names, err = c.ListTopics(ctx); err != nil {
			return err
		}
	}
	out := []jsonTopic{}
	for _, name := range names {
		d, err := c.DescribeTopic(ctx, name)
		if err != nil {
			return err
		}
		jt := jsonTopic{Topic: d.Name, Partitions: []jsonPartition{}, Configs: []jsonConfig{}}
		for _, p := range d.Partitions {
			jt.Partitions = append(jt.Partitions, jsonPartition(p))
		}
		for _, ce := range d.Configs {
			jt.Configs = append(jt.Configs, jsonConfig{ce.Name, ce.Value, ce.Source.String()})
		}
		out = append(out, jt)
	}
	if asJSON {
		return a.writeJSON(out)
	}
	for _, jt := range out {
		var set []string
		for _, ce := range jt.Configs {
			if ce.Source == admin.ConfigSet.String() {
				set = append(set, ce.Name+"="+ce.Value)
			}
		}
		fmt.Fprintf(a.stdout, "Topic: %s\tPartitionCount: %d\tConfigs: %s\n", jt.Topic, len(jt.Partitions), strings.Join(set, ","))
		for _, p := range jt.Partitions {
			segs := "-"
			if p.Segments >= 0 {
				segs = fmt.Sprint(p.Segments)
			}
			fmt.Fprintf(a.stdout, "\tTopic: %s\tPartition: %d\tLogStartOffset: %d\tLogEndOffset: %d\tSize: %d\tSegments: %s\n",
				jt.Topic, p.Partition, p.LogStartOffset, p.LogEndOffset, p.Size, segs)
		}
	}
	return nil
}

func (a *app) configs(ctx context.Context, args []string) (err error) {
	fs := a.newFlags("configs", "--entity-type topics --entity-name T (--describe [--all] | --alter [--add-config k=v] [--delete-config k])")
	var t target
	t.register(fs)
	entityType := fs.String("entity-type", "", "the type of entity: topics (the only one)")
	entityName := fs.String("entity-name", "", "the entity's `name` (the topic)")
	topic := fs.String("topic", "", "shorthand for --entity-type topics --entity-name `T`")
	describe := fs.Bool("describe", false, "list the entity's configs")
	all := fs.Bool("all", false, "--describe: every config, the defaults too")
	alter := fs.Bool("alter", false, "alter the entity's configs")
	addConfig := &multiFlag{split: true}
	fs.Var(addConfig, "add-config", "--alter: configs to set, `k=v[,k=v]` (repeatable)")
	deleteConfig := &multiFlag{split: true}
	fs.Var(deleteConfig, "delete-config", "--alter: configs to return to their defaults, `k[,k]` (repeatable)")
	if err := a.parse(fs, args, false); err != nil {
		return err
	}
	if *topic != "" {
		*entityType, *entityName = "topics", *topic
	}
	if *entityType != "topics" {
		return usagef("--entity-type topics is required (the only entity type)")
	}
	if *entityName == "" {
		return usagef("--entity-name is required")
	}
	if *describe == *alter {
		return usagef("exactly one of --describe and --alter is required")
	}
	changes, err := configChanges(addConfig.values, deleteConfig.values)
	if err != nil {
		return err
	}
	if *alter && len(changes) == 0 {
		return usagef("--alter needs --add-config or --delete-config")
	}
	b, c, err := openAdmin(ctx, &t, *alter)
	if err != nil {
		return err
	}
	defer closeBackend(b, &err)
	if *alter {
		if err := c.AlterTopicConfig(ctx, *entityName, changes); err != nil {
			return err
		}
		if t.json {
			keys := slices.Sorted(maps.Keys(changes))
			return a.writeJSON(map[string]any{"topic": *entityName, "altered": keys})
		}
		fmt.Fprintf(a.stdout, "Completed updating config for topic %s.\n", *entityName)
		return nil
	}
	d, err := c.DescribeTopic(ctx, *entityName)
	if err != nil {
		return err
	}
	out := []jsonConfig{}
	for _, ce := range d.Configs {
		if *all || ce.Source == admin.ConfigSet {
			out = append(out, jsonConfig{ce.Name, ce.Value, ce.Source.String()})
		}
	}
	if t.json {
		return a.writeJSON(out)
	}
	if *all {
		fmt.Fprintf(a.stdout, "All configs for topic %s are:\n", *entityName)
	} else {
		fmt.Fprintf(a.stdout, "Dynamic configs for topic %s are:\n", *entityName)
	}
	for _, ce := range out {
		source := "DEFAULT_CONFIG"
		if ce.Source == admin.ConfigSet.String() {
			source = "DYNAMIC_TOPIC_CONFIG"
		}
		fmt.Fprintf(a.stdout, "  %s=%s sensitive=false synonyms={%s:%s=%s}\n", ce.Name, ce.Value, source, ce.Name, ce.Value)
	}
	return nil
}

// writeNames prints a list of names (topics, groups), one a line, or as
// a JSON array.
func (a *app) writeNames(asJSON bool, names []string) error {
	if asJSON {
		return a.writeJSON(nonNil(names))
	}
	for _, n := range names {
		fmt.Fprintln(a.stdout, n)
	}
	return nil
}

// nonNil makes a nil slice an empty one, so that JSON prints [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
