package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/commitlog-go/commitlog/admin"
)

func (a *app) consumerGroups(ctx context.Context, args []string) (err error) {
	fs := a.newFlags("consumer-groups", "(--list | --describe --group G | --delete --group G | --reset-offsets --group G ...) [flags]")
	var t target
	t.register(fs)
	list := fs.Bool("list", false, "list the consumer groups")
	describe := fs.Bool("describe", false, "describe --group: committed offsets, log end offsets, lag, members")
	del := fs.Bool("delete", false, "delete --group (it must have no members)")
	reset := fs.Bool("reset-offsets", false, "reset --group's committed offsets (a dry run unless --execute); the group must have no members")
	groups := &multiFlag{}
	fs.Var(groups, "group", "the consumer `group` (repeatable with --describe and --delete)")
	topics := &multiFlag{}
	fs.Var(topics, "topic", "--reset-offsets: a `topic`, all its partitions, or topic:p,p for some (repeatable)")
	allTopics := fs.Bool("all-topics", false, "--reset-offsets: every topic the group has committed offsets for")
	toEarliest := fs.Bool("to-earliest", false, "--reset-offsets to the log start offset")
	toLatest := fs.Bool("to-latest", false, "--reset-offsets to the log end offset")
	toDatetime := fs.String("to-datetime", "", "--reset-offsets to the first offset at or after a `time`: YYYY-MM-DDTHH:mm:SS.sss, with an optional zone (Z, +01:00); local time without one")
	toOffset := fs.String("to-offset", "", "--reset-offsets to an `offset` (brought into the partition's range)")
	shiftBy := fs.String("shift-by", "", "--reset-offsets by moving the committed offset `n` (negative: back)")
	state := fs.Bool("state", false, "--describe: the group's state, assignor and member count instead of its offsets")
	members := fs.Bool("members", false, "--describe: the group's members and their partitions instead of its offsets")
	execute := fs.Bool("execute", false, "--reset-offsets: commit the plan")
	dryRun := fs.Bool("dry-run", false, "--reset-offsets: only print the plan (the default)")
	if err := a.parse(fs, args, false); err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{*list, *describe, *del, *reset} {
		if b {
			n++
		}
	}
	if n != 1 {
		return usagef("exactly one of --list, --describe, --delete and --reset-offsets is required")
	}
	if !*list && len(groups.values) == 0 {
		return usagef("--group is required")
	}
	if *reset && len(groups.values) != 1 {
		return usagef("--reset-offsets takes one --group")
	}
	var req admin.ResetRequest
	if *reset {
		if req, err = resetRequest(topics.values, *allTopics, *toEarliest, *toLatest, *toDatetime, *toOffset, *shiftBy); err != nil {
			return err
		}
		if *execute && *dryRun {
			return usagef("--dry-run and --execute exclude each other")
		}
		req.Execute = *execute
	} else if len(topics.values) > 0 || *allTopics || *execute || *dryRun {
		return usagef("--topic, --all-topics, --execute and --dry-run go with --reset-offsets")
	}
	if (*state || *members) && !*describe {
		return usagef("--state and --members go with --describe")
	}
	if *state && *members {
		return usagef("--state and --members exclude each other")
	}

	b, c, err := openAdmin(ctx, &t, *del || (*reset && *execute))
	if err != nil {
		return err
	}
	defer closeBackend(b, &err)
	switch {
	case *list:
		ids, err := c.ListGroups(ctx)
		if err != nil {
			return err
		}
		return a.writeNames(t.json, ids)
	case *describe:
		view := "offsets"
		if *state {
			view = "state"
		} else if *members {
			view = "members"
		}
		return a.describeGroups(ctx, c, t.json, groups.values, view)
	case *del:
		for _, g := range groups.values {
			if err := c.DeleteGroup(ctx, g); err != nil {
				return groupError(g, err)
			}
		}
		if t.json {
			return a.writeJSON(map[string]any{"deleted": groups.values})
		}
		fmt.Fprintf(a.stdout, "Deletion of requested consumer groups ('%s') was successful.\n", strings.Join(groups.values, "', '"))
		return nil
	default:
		return a.resetOffsets(ctx, c, t.json, groups.values[0], req)
	}
}

// resetRequest builds the request of --reset-offsets' flags.
func resetRequest(topics []string, allTopics, toEarliest, toLatest bool, toDatetime, toOffset, shiftBy string) (admin.ResetRequest, error) {
	var req admin.ResetRequest
	n := 0
	if toEarliest {
		n, req.Strategy = n+1, admin.ResetToEarliest
	}
	if toLatest {
		n, req.Strategy = n+1, admin.ResetToLatest
	}
	if toDatetime != "" {
		n, req.Strategy = n+1, admin.ResetToDatetime
		tm, err := parseDatetime(toDatetime)
		if err != nil {
			return req, err
		}
		req.Time = tm
	}
	if toOffset != "" {
		n, req.Strategy = n+1, admin.ResetToOffset
		off, err := strconv.ParseInt(toOffset, 10, 64)
		if err != nil {
			return req, usagef("--to-offset %q: not a number", toOffset)
		}
		req.Offset = off
	}
	if shiftBy != "" {
		n, req.Strategy = n+1, admin.ResetShiftBy
		shift, err := strconv.ParseInt(shiftBy, 10, 64)
		if err != nil {
			return req, usagef("--shift-by %q: not a number", shiftBy)
		}
		req.Shift = shift
	}
	if n != 1 {
		return req, usagef("exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset and --shift-by is required")
	}
	if allTopics == (len(topics) > 0) {
		return req, usagef("exactly one of --topic and --all-topics is required")
	}
	for _, tp := range topics {
		name, parts, ok := strings.Cut(tp, ":")
		if name == "" {
			return req, usagef("--topic %q: no topic name", tp)
		}
		if !ok {
			req.Topics = append(req.Topics, name)
			continue
		}
		for p := range strings.SplitSeq(parts, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			if err != nil || n < 0 {
				return req, usagef("--topic %q: bad partition %q", tp, p)
			}
			req.Partitions = append(req.Partitions, admin.TopicPartition{Topic: name, Partition: int32(n)})
		}
	}
	return req, nil
}

// parseDatetime parses kafka-consumer-groups' --to-datetime:
// YYYY-MM-DDTHH:mm:SS.sss, optionally followed by a zone; local time
// without one.
func parseDatetime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z07:00"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05"} {
		if tm, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, usagef("--to-datetime %q: want YYYY-MM-DDTHH:mm:SS.sss, optionally with a zone (Z, +01:00)", s)
}

type jsonGroup struct {
	Group      string               `json:"group"`
	State      string               `json:"state"`
	Generation int32                `json:"generation"`
	Protocol   string               `json:"protocol"`
	Members    []jsonMember         `json:"members"`
	Partitions []jsonGroupPartition `json:"partitions"`
	TotalLag   int64                `json:"total_lag"`
}

type jsonMember struct {
	MemberID   string          `json:"member_id"`
	ClientID   string          `json:"client_id"`
	Assignment []jsonTopicPart `json:"assignment"`
}

type jsonTopicPart struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

type jsonGroupPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is -1 when the group has not committed the partition.
	Committed    int64  `json:"committed_offset"`
	Metadata     string `json:"metadata"`
	LogEndOffset int64  `json:"log_end_offset"`
	Lag          int64  `json:"lag"`
	MemberID     string `json:"member_id"`
	ClientID     string `json:"client_id"`
}

// describeGroups prints groups as kafka-consumer-groups --describe does:
// view is offsets (the default), state (--state) or members (--members).
// The JSON document holds everything whatever the view.
func (a *app) describeGroups(ctx context.Context, c *admin.Client, asJSON bool, groups []string, view string) error {
	out := []jsonGroup{}
	for _, g := range groups {
		d, err := c.DescribeGroup(ctx, g)
		if err != nil {
			return groupError(g, err)
		}
		owner := map[admin.TopicPartition]admin.GroupMember{}
		jg := jsonGroup{Group: d.Group, State: d.State, Generation: d.Generation, Protocol: d.Protocol,
			Members: []jsonMember{}, Partitions: []jsonGroupPartition{}, TotalLag: d.TotalLag}
		for _, m := range d.Members {
			jm := jsonMember{MemberID: m.MemberID, ClientID: m.ClientID, Assignment: []jsonTopicPart{}}
			for _, tp := range m.Assignment {
				owner[tp] = m
				jm.Assignment = append(jm.Assignment, jsonTopicPart{tp.Topic, tp.Partition})
			}
			jg.Members = append(jg.Members, jm)
		}
		for _, p := range d.Partitions {
			m := owner[p.TopicPartition]
			jg.Partitions = append(jg.Partitions, jsonGroupPartition{p.Topic, p.Partition, p.Committed, p.Metadata,
				p.LogEndOffset, p.Lag, m.MemberID, m.ClientID})
		}
		out = append(out, jg)
	}
	if asJSON {
		return a.writeJSON(out)
	}
	for i, jg := range out {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		if view == "state" {
			tw := a.table()
			fmt.Fprintln(tw, "GROUP\tASSIGNMENT-STRATEGY\tSTATE\t#MEMBERS")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", jg.Group, dash(jg.Protocol), jg.State, len(jg.Members))
			if err := tw.Flush(); err != nil {
				return err
			}
			continue
		}
		if len(jg.Members) == 0 {
			fmt.Fprintf(a.stdout, "Consumer group '%s' has no active members.\n\n", jg.Group)
		}
		if view == "members" {
			tw := a.table()
			fmt.Fprintln(tw, "GROUP\tCONSUMER-ID\tHOST\tCLIENT-ID\t#PARTITIONS\tASSIGNMENT")
			for _, m := range jg.Members {
				var parts []string
				for _, tp := range m.Assignment {
					parts = append(parts, fmt.Sprintf("%s-%d", tp.Topic, tp.Partition))
				}
				fmt.Fprintf(tw, "%s\t%s\t-\t%s\t%d\t%s\n", jg.Group, m.MemberID, dash(m.ClientID), len(m.Assignment), dash(strings.Join(parts, ",")))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			continue
		}
		tw := a.table()
		fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
		for _, p := range jg.Partitions {
			committed := "-"
			if p.Committed >= 0 {
				committed = strconv.FormatInt(p.Committed, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t-\t%s\n", jg.Group, p.Topic, p.Partition, committed,
				p.LogEndOffset, p.Lag, dash(p.MemberID), dash(p.ClientID))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// groupError says what went wrong with a group as kafka-consumer-groups
// does, keeping err for the details.
func groupError(group string, err error) error {
	switch {
	case errors.Is(err, admin.ErrUnknownGroup):
		return fmt.Errorf("consumer group '%s' does not exist (%w)", group, err)
	case errors.Is(err, admin.ErrGroupNotEmpty):
		return fmt.Errorf("consumer group '%s' is not empty: stop its consumers first (%w)", group, err)
	}
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type jsonPlanned struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Current is -1 when the group had no committed offset.
	Current int64 `json:"current_offset"`
	New     int64 `json:"new_offset"`
}

func (a *app) resetOffsets(ctx context.Context, c *admin.Client, asJSON bool, group string, req admin.ResetRequest) error {
	plan, err := c.ResetOffsets(ctx, group, req)
	if errors.Is(err, admin.ErrGroupNotEmpty) {
		return fmt.Errorf("offsets can only be reset while group '%s' has no members; stop its consumers first (%w)", group, err)
	}
	if err != nil {
		return err
	}
	if asJSON {
		out := []jsonPlanned{}
		for _, p := range plan {
			out = append(out, jsonPlanned{group, p.Topic, p.Partition, p.Current, p.Target})
		}
		return a.writeJSON(map[string]any{"executed": req.Execute, "offsets": out})
	}
	tw := a.table()
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET")
	for _, p := range plan {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", group, p.Topic, p.Partition, p.Target)
	}
	return tw.Flush()
}
