package assignor

// RoundRobin returns the "roundrobin" assignor, Kafka's RoundRobinAssignor.
//
// All partitions of all subscribed topics, sorted by topic and partition, are
// dealt one at a time to the members sorted by ID. The dealer is a circular
// cursor over all members: for each partition it advances past members not
// subscribed to the partition's topic, gives the partition to the first
// subscribed one and moves one step on. For one topic of 7 partitions and 3
// members that is 0,3,6 / 1,4 / 2,5. With identical subscriptions the counts
// differ by at most one; with different subscriptions they may not.
func RoundRobin() Assignor { return roundRobinAssignor{} }

type roundRobinAssignor struct{}

func (roundRobinAssignor) Name() string                { return roundRobinName }
func (roundRobinAssignor) Protocol() RebalanceProtocol { return Eager }

func (roundRobinAssignor) Assign(members []Member, partitionsPerTopic map[string]int32) (Assignment, error) {
	g, err := newGroup(members, partitionsPerTopic)
	if err != nil {
		return nil, err
	}
	lists := make([][]tp, len(g.members))
	cursor := 0
	for ti := range g.topics {
		// Every topic in g.topics has at least one subscriber, so the
		// search below always stops.
		for p := int32(0); p < g.counts[ti]; p++ {
			for !g.members[cursor].subscribed[ti] {
				cursor = (cursor + 1) % len(g.members)
			}
			lists[cursor] = append(lists[cursor], tp{topic: ti, partition: p})
			cursor = (cursor + 1) % len(g.members)
		}
	}
	return g.output(lists), nil
}
