package assignor

// CooperativeSticky returns the "cooperative-sticky" assignor, Kafka's
// CooperativeStickyAssignor, for the [Cooperative] rebalance protocol.
//
// It computes the same target as [Sticky] and then withholds every partition
// that would be handed to a member while a different member still owns it:
// a partition assigned to member m is left out of this round's assignment
// when another member lists it in [Member.Owned] and m's own claim is not the
// one that stands (see [Sticky] for how claims are resolved; a partition
// claimed by several members of the same, highest generation is always
// withheld). Moving a partition thus takes two rebalances:
//
//  1. This rebalance: the current owner does not find the partition in its
//     new assignment and revokes it; nobody is assigned it.
//  2. The revocation makes the members rejoin at once. Now nobody owns the
//     partition, so the sticky target gives it to its new member.
//
// When the members, subscriptions and partition counts of round 1 are
// unchanged in round 2 and every member reports its round-1 assignment as
// Owned, with one common generation, the round-2 assignment withholds
// nothing and is exactly the [Sticky] assignment of round 1's input. (The
// sticky target of round 2 keeps everything owned, since the round-1 target
// does and no assignment is better balanced; among the assignments that are
// then equally good, Sticky's tie-breaking picks the round-1 target again.)
func CooperativeSticky() Assignor { return cooperativeStickyAssignor{} }

type cooperativeStickyAssignor struct{}

func (cooperativeStickyAssignor) Name() string                { return cooperativeStickyName }
func (cooperativeStickyAssignor) Protocol() RebalanceProtocol { return Cooperative }

func (cooperativeStickyAssignor) Assign(members []Member, partitionsPerTopic map[string]int32) (Assignment, error) {
	g, err := newGroup(members, partitionsPerTopic)
	if err != nil {
		return nil, err
	}
	lists, own, err := stickyLists(g)
	if err != nil {
		return nil, err
	}
	for mi, l := range lists {
		granted := l[:0]
		for _, p := range l {
			if d := g.dense(p); own.owner[d] == mi || !own.claimedByOther(d, mi) {
				granted = append(granted, p)
			}
		}
		lists[mi] = granted
	}
	return g.output(lists), nil
}
