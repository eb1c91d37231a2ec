package assignor

// Range returns the "range" assignor, Kafka's RangeAssignor.
//
// Each topic is assigned on its own: the members subscribed to it, sorted by
// ID, receive consecutive ranges of its partitions. With n partitions and m
// members each member gets n/m partitions and the first n%m members one more;
// for 7 partitions and 5 members that is 0-1, 2-3, 4, 5, 6.
//
// Because every topic favours the same leading members, the result is only
// balanced per topic: over several topics the first members can get up to one
// extra partition per topic.
func Range() Assignor { return rangeAssignor{} }

type rangeAssignor struct{}

func (rangeAssignor) Name() string                { return rangeName }
func (rangeAssignor) Protocol() RebalanceProtocol { return Eager }

func (rangeAssignor) Assign(members []Member, partitionsPerTopic map[string]int32) (Assignment, error) {
	g, err := newGroup(members, partitionsPerTopic)
	if err != nil {
		return nil, err
	}
	lists := make([][]tp, len(g.members))
	for ti, subs := range g.subscribers {
		n, m := int(g.counts[ti]), len(subs)
		per, extra := n/m, n%m
		for i, mi := range subs {
			start := per*i + min(i, extra)
			length := per
			if i < extra {
				length++
			}
			for p := start; p < start+length; p++ {
				lists[mi] = append(lists[mi], tp{topic: ti, partition: int32(p)})
			}
		}
	}
	return g.output(lists), nil
}
