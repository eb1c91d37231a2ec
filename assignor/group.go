package assignor

import (
	"cmp"
	"fmt"
	"slices"
)

// tp is a partition in the internal form: topic is an index into
// group.topics. Because group.topics is sorted, ordering by (topic,
// partition) here is the same as ordering TopicPartitions by name.
type tp struct {
	topic     int
	partition int32
}

func compareTP(a, b tp) int {
	if c := cmp.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// compareDeal orders partitions by (partition, topic), which interleaves
// topics; the sticky assignors deal partitions in this order so a member's
// new partitions come from several topics rather than one.
func compareDeal(a, b tp) int {
	if c := cmp.Compare(a.partition, b.partition); c != 0 {
		return c
	}
	return cmp.Compare(a.topic, b.topic)
}

// groupMember is a Member normalised for assignment.
type groupMember struct {
	src        *Member
	topics     []int  // sorted indices of the assignable topics it subscribes to
	subscribed []bool // by topic index
}

// group is the normalised input shared by all strategies.
type group struct {
	members     []groupMember // sorted by ID
	topics      []string      // sorted: subscribed by someone, present, with partitions
	counts      []int32       // partition count by topic index
	subscribers [][]int       // member indices (ascending, so by ID) by topic index
	offset      []int         // dense index of partition 0 of each topic
	total       int           // partitions of all topics in topics
	index       map[string]int
}

// dense maps a partition to an index in [0, g.total).
func (g *group) dense(p tp) int { return g.offset[p.topic] + int(p.partition) }

// newGroup validates and normalises the input without modifying it.
func newGroup(members []Member, partitionsPerTopic map[string]int32) (*group, error) {
	for _, topic := range sortedKeys(partitionsPerTopic) {
		if n := partitionsPerTopic[topic]; n < 0 {
			return nil, fmt.Errorf("%w: topic %q has %d partitions", ErrInvalidInput, topic, n)
		}
	}
	order := make([]int, len(members))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(members[a].ID, members[b].ID) })
	for i := 1; i < len(order); i++ {
		if members[order[i]].ID == members[order[i-1]].ID {
			return nil, fmt.Errorf("%w: duplicate member id %q", ErrInvalidInput, members[order[i]].ID)
		}
	}

	seen := make(map[string]bool)
	var topics []string
	for i := range members {
		for _, t := range members[i].Topics {
			if seen[t] {
				continue
			}
			seen[t] = true
			if partitionsPerTopic[t] > 0 {
				topics = append(topics, t)
			}
		}
	}
	slices.Sort(topics)
	g := &group{
		members:     make([]groupMember, len(members)),
		topics:      topics,
		counts:      make([]int32, len(topics)),
		offset:      make([]int, len(topics)),
		subscribers: make([][]int, len(topics)),
		index:       make(map[string]int, len(topics)),
	}
	for i, t := range topics {
		g.index[t] = i
		g.counts[i] = partitionsPerTopic[t]
		g.offset[i] = g.total
		g.total += int(g.counts[i])
	}
	for mi, oi := range order {
		m := groupMember{src: &members[oi], subscribed: make([]bool, len(topics))}
		for _, t := range m.src.Topics {
			if ti, ok := g.index[t]; ok && !m.subscribed[ti] {
				m.subscribed[ti] = true
				m.topics = append(m.topics, ti)
			}
		}
		slices.Sort(m.topics)
		for _, ti := range m.topics {
			g.subscribers[ti] = append(g.subscribers[ti], mi)
		}
		g.members[mi] = m
	}
	return g, nil
}

// output converts per-member partition lists (indexed like g.members) into
// an Assignment, sorting each list. Every member gets a non-nil slice.
func (g *group) output(lists [][]tp) Assignment {
	out := make(Assignment, len(g.members))
	for i, m := range g.members {
		var l []tp
		if i < len(lists) {
			l = lists[i]
		}
		slices.SortFunc(l, compareTP)
		ps := make([]TopicPartition, len(l))
		for j, p := range l {
			ps[j] = TopicPartition{Topic: g.topics[p.topic], Partition: p.partition}
		}
		out[m.src.ID] = ps
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
