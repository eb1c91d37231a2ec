package assignor

import (
	"fmt"
	"slices"
)

// Sticky returns the "sticky" assignor, Kafka's StickyAssignor (eager
// protocol).
//
// Its result is, first, as balanced as the subscriptions allow and, second,
// among all such assignments, one that leaves the largest possible number of
// partitions with their current owner:
//
//   - Balance: no partition can be passed along a chain of members, each
//     subscribed to the partition it receives, from a member with c
//     partitions to one with c-2 or fewer (equivalently, the sum of the
//     squared partition counts is minimal). With identical subscriptions
//     this means the counts differ by at most one.
//   - Stickiness: a member's claim in [Member.Owned] stands unless the
//     partition no longer exists, the member no longer subscribes to its
//     topic, or another member claims the partition with a higher
//     [Member.Generation]. When the highest generation is claimed by
//     several members nobody's claim stands.
//
// When all members subscribe to the same topics the assignment is computed
// directly, in O(p log p) for p partitions: quotas of floor(p/m) or
// ceil(p/m) partitions, the larger ones going first (in ID order) to members
// that already own that many, then to the others in ID order; each member
// keeps its lowest owned partitions up to its quota; the remaining
// partitions, ordered by (partition, topic), are dealt to the members in ID
// order in consecutive runs. Otherwise a min-cost flow over (topic, current
// owner) classes finds an assignment optimal for both criteria; among tying
// optima it takes the one with the fewest partitions of the first topic on
// the first member, then of the first topic on the second member, and so on;
// and each topic's moving partitions are dealt in runs in the same way.
//
// Kafka's implementation reaches the same balance for identical
// subscriptions but is a heuristic for different ones; this one is exact.
// Where several assignments are equally good the choice differs from Kafka's
// (which, for one, deals moving partitions round-robin). The rules above make
// the choice depend only on the set of equally good assignments, which is
// what lets [CooperativeSticky] reach exactly this assignment in its second
// rebalance.
func Sticky() Assignor { return stickyAssignor{} }

type stickyAssignor struct{}

func (stickyAssignor) Name() string                { return stickyName }
func (stickyAssignor) Protocol() RebalanceProtocol { return Eager }

func (stickyAssignor) Assign(members []Member, partitionsPerTopic map[string]int32) (Assignment, error) {
	g, err := newGroup(members, partitionsPerTopic)
	if err != nil {
		return nil, err
	}
	lists, _, err := stickyLists(g)
	if err != nil {
		return nil, err
	}
	return g.output(lists), nil
}

// ownership is the resolved view of the members' Owned claims, restricted to
// partitions that exist in assignable topics. Slices are indexed by
// group.dense.
type ownership struct {
	owner    []int   // member index whose claim stands, or -1
	claims   []int32 // how many members claim the partition
	claimant []int   // the last member (highest index) claiming it, or -1
	ownedBy  [][]tp  // member index -> partitions whose claim stands, sorted
}

// claimedByOther reports whether a member other than mi claims the partition
// with dense index d.
func (o *ownership) claimedByOther(d, mi int) bool {
	return o.claims[d] > 1 || (o.claims[d] == 1 && o.claimant[d] != mi)
}

func resolveOwnership(g *group) *ownership {
	o := &ownership{
		owner:    make([]int, g.total),
		claims:   make([]int32, g.total),
		claimant: make([]int, g.total),
		ownedBy:  make([][]tp, len(g.members)),
	}
	best := make([]int, g.total) // claimant with the highest generation
	ties := make([]int32, g.total)
	for d := range o.owner {
		o.owner[d], o.claimant[d], best[d] = -1, -1, -1
	}
	for mi, m := range g.members {
		gen := m.src.Generation
		for _, c := range m.src.Owned {
			ti, ok := g.index[c.Topic]
			if !ok || c.Partition < 0 || c.Partition >= g.counts[ti] {
				continue
			}
			d := g.dense(tp{topic: ti, partition: c.Partition})
			if o.claimant[d] == mi {
				continue // the same member listing a partition twice
			}
			o.claims[d]++
			o.claimant[d] = mi
			switch b := best[d]; {
			case b < 0 || gen > g.members[b].src.Generation:
				best[d], ties[d] = mi, 1
			case gen == g.members[b].src.Generation:
				ties[d]++
			}
		}
	}
	for ti := range g.topics {
		for p := int32(0); p < g.counts[ti]; p++ {
			d := g.dense(tp{topic: ti, partition: p})
			if b := best[d]; b >= 0 && ties[d] == 1 && g.members[b].subscribed[ti] {
				o.owner[d] = b
				o.ownedBy[b] = append(o.ownedBy[b], tp{topic: ti, partition: p})
			}
		}
	}
	return o
}

// stickyLists computes the sticky assignment as per-member lists (indexed
// like g.members) together with the ownership it was computed from.
func stickyLists(g *group) ([][]tp, *ownership, error) {
	own := resolveOwnership(g)
	if len(g.members) == 0 {
		return nil, own, nil
	}
	equal := true
	for _, m := range g.members[1:] {
		if !slices.Equal(m.topics, g.members[0].topics) {
			equal = false
			break
		}
	}
	if equal {
		return stickyEqual(g, own), own, nil
	}
	lists, err := stickyGeneral(g, own)
	return lists, own, err
}

// stickyEqual handles identical subscriptions.
func stickyEqual(g *group, own *ownership) [][]tp {
	n := len(g.members)
	var all []tp
	for _, ti := range g.members[0].topics {
		for p := int32(0); p < g.counts[ti]; p++ {
			all = append(all, tp{topic: ti, partition: p})
		}
	}
	minQ, extra := len(all)/n, len(all)%n
	maxQ := minQ
	if extra > 0 {
		maxQ++
	}

	// Quotas: the ceil quotas go first to members already owning that many
	// (so they keep them all), then to the remaining members in ID order.
	quota := make([]int, n)
	given := 0
	for mi := range quota {
		quota[mi] = minQ
		if given < extra && len(own.ownedBy[mi]) >= maxQ {
			quota[mi] = maxQ
			given++
		}
	}
	for mi := 0; mi < n && given < extra; mi++ {
		if quota[mi] == minQ {
			quota[mi] = maxQ
			given++
		}
	}

	lists := make([][]tp, n)
	kept := make([]bool, g.total)
	keptCount := 0
	for mi := range lists {
		keep := own.ownedBy[mi][:min(len(own.ownedBy[mi]), quota[mi])]
		lists[mi] = append(make([]tp, 0, quota[mi]), keep...)
		for _, p := range keep {
			kept[g.dense(p)] = true
		}
		keptCount += len(keep)
	}
	free := make([]tp, 0, len(all)-keptCount)
	for _, p := range all {
		if !kept[g.dense(p)] {
			free = append(free, p)
		}
	}
	slices.SortFunc(free, compareDeal)
	for mi := range lists {
		need := quota[mi] - len(lists[mi])
		lists[mi] = append(lists[mi], free[:need]...)
		free = free[need:]
	}
	return lists
}

// stickyGeneral handles members with different subscriptions by min-cost
// flow. Partitions of one topic are interchangeable except for who owns them,
// so the flow carries counts, not single partitions. Per topic there is a hub
// node for the partitions that change hands, and one class node per member
// owning some of the topic's partitions:
//
//	source -> class  (capacity = partitions the member owns, cost 0)
//	class  -> owner  (keep: cost 0)
//	class  -> hub    (give up: cost 1)
//	source -> hub    (capacity = unowned partitions, cost 0)
//	hub    -> member subscribed to the topic (cost 0)
//	member -> sink   (the k-th unit costs unit*(2k-1), so a member with c
//	                  partitions costs unit*c*c)
//
// With unit larger than the number of partitions, a min-cost flow minimises
// the sum of squared counts first and the number of moved partitions second.
// In an optimal flow no member both gives up and receives partitions of one
// topic (keeping instead would be cheaper).
func stickyGeneral(g *group, own *ownership) ([][]tp, error) {
	type class struct {
		owner int
		parts []int32 // sorted
		keep  int     // edge class -> owner
	}
	type topicFlow struct {
		free     []int32
		classes  []class
		hubEdges []int // hub -> member, aligned with g.subscribers[topic]
	}
	n := len(g.members)
	nodes, edges := 2+n, 0
	for _, subs := range g.subscribers {
		nodes += 1 + len(subs)
		edges += 1 + 4*len(subs)
	}
	net := newFlowNet(n, nodes, edges)
	flows := make([]topicFlow, len(g.topics))
	total := 0
	perOwner := make([][]int32, n)
	for ti, subs := range g.subscribers {
		tf := &flows[ti]
		for p := int32(0); p < g.counts[ti]; p++ {
			if mi := own.owner[g.dense(tp{topic: ti, partition: p})]; mi >= 0 {
				perOwner[mi] = append(perOwner[mi], p)
			} else {
				tf.free = append(tf.free, p)
			}
		}
		count := int(g.counts[ti])
		total += count
		hub := net.addNode()
		tf.hubEdges = make([]int, len(subs))
		for j, mi := range subs {
			tf.hubEdges[j] = net.addEdge(hub, net.memberNode(mi), count, 0)
		}
		if len(tf.free) > 0 {
			net.addEdge(flowSource, hub, len(tf.free), 0)
		}
		for _, mi := range subs {
			ps := perOwner[mi]
			if len(ps) == 0 {
				continue
			}
			perOwner[mi] = nil
			node := net.addNode()
			net.addEdge(flowSource, node, len(ps), 0)
			keep := net.addEdge(node, net.memberNode(mi), len(ps), 0)
			net.addEdge(node, hub, len(ps), 1)
			tf.classes = append(tf.classes, class{owner: mi, parts: ps, keep: keep})
		}
	}
	net.unit = int64(total) + 1
	if pushed := net.run(total); pushed != total {
		return nil, fmt.Errorf("assignor: internal error: sticky flow placed %d of %d partitions", pushed, total)
	}

	// Several optimal flows may tie; take the canonical one (see
	// canonicalize) so that the result depends on the set of optimal
	// assignments alone, not on the search order. A group is everything
	// one member receives from one topic (its keep edge and its hub edge);
	// topics in name order, members in ID order.
	var groups [][]int
	for ti, subs := range g.subscribers {
		keepOf := make(map[int]int, len(flows[ti].classes))
		for _, c := range flows[ti].classes {
			keepOf[c.owner] = c.keep
		}
		for j, mi := range subs {
			group := []int{flows[ti].hubEdges[j]}
			if e, ok := keepOf[mi]; ok {
				group = append(group, e)
			}
			groups = append(groups, group)
		}
	}
	net.canonicalize(groups)

	lists := make([][]tp, n)
	for ti, subs := range g.subscribers {
		tf := &flows[ti]
		moving := tf.free
		for _, c := range tf.classes {
			kept := net.flow(c.keep)
			for _, p := range c.parts[:kept] {
				lists[c.owner] = append(lists[c.owner], tp{topic: ti, partition: p})
			}
			moving = append(moving, c.parts[kept:]...)
		}
		slices.Sort(moving)
		for j, mi := range subs {
			in := net.flow(tf.hubEdges[j])
			for _, p := range moving[:in] {
				lists[mi] = append(lists[mi], tp{topic: ti, partition: p})
			}
			moving = moving[in:]
		}
	}
	return lists, nil
}
