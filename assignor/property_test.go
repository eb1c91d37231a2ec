package assignor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

const propertyCases = 400

// TestPropertiesAllAssignors checks, over random groups, what every assignor
// guarantees: valid and (except cooperative-sticky) complete assignments,
// balance where promised, determinism, independence from input order, and
// untouched inputs.
//
// Balance within one is promised for equal subscriptions, except by range
// over several topics: range splits each topic on its own and always gives a
// topic's leftover partitions to the first members by ID, so with two topics
// of 1 partition and 2 members, m0 gets both.
func TestPropertiesAllAssignors(t *testing.T) {
	tests := []struct {
		assignor   Assignor
		complete   bool
		balancedOn func(equal bool, topics int) bool
	}{
		{Range(), true, func(equal bool, topics int) bool { return equal && topics <= 1 }},
		{RoundRobin(), true, func(equal bool, _ int) bool { return equal }},
		{Sticky(), true, func(equal bool, _ int) bool { return equal }},
		// Cooperative-sticky may withhold partitions in a round, so its
		// balance is checked after convergence, in its own test.
		{CooperativeSticky(), false, func(bool, int) bool { return false }},
	}
	for _, tc := range tests {
		t.Run(tc.assignor.Name(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < propertyCases; i++ {
				members, ppt := randomInput(r, r.IntN(2) == 0)
				t.Run(fmt.Sprint(i), func(t *testing.T) {
					membersCopy, pptCopy := cloneMembers(members), clonePPT(ppt)
					got, err := tc.assignor.Assign(members, ppt)
					require.NoError(t, err)
					require.Equal(t, membersCopy, members, "members modified")
					require.Equal(t, pptCopy, ppt, "partition counts modified")

					requireValid(t, members, ppt, got, tc.complete)
					if equal, topics := equalSubscriptions(members, ppt); tc.balancedOn(equal, topics) {
						requireBalancedWithinOne(t, got)
					}

					again, err := tc.assignor.Assign(members, ppt)
					require.NoError(t, err)
					require.Equal(t, got, again, "not deterministic")
					shuffled := cloneMembers(members)
					r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
					reordered, err := tc.assignor.Assign(shuffled, ppt)
					require.NoError(t, err)
					require.Equal(t, got, reordered, "depends on member order")
				})
			}
		})
	}
}

// TestPropertiesSticky checks balance, stability and stickiness of the sticky
// assignor over random groups.
func TestPropertiesSticky(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < propertyCases; i++ {
		members, ppt := randomInput(r, r.IntN(2) == 0)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			prev, err := Sticky().Assign(members, ppt)
			require.NoError(t, err)
			requireValid(t, members, ppt, prev, true)
			requireNoImprovingChain(t, members, prev)

			// Standing claims are honoured at least as well as by an
			// assignment that ignores them.
			scratch, err := Sticky().Assign(withOwned(members, nil, 0), ppt)
			require.NoError(t, err)
			require.Equal(t, sumSquares(scratch), sumSquares(prev))
			standing := standingOwners(members, ppt)
			require.GreaterOrEqual(t, kept(prev, standing), kept(scratch, standing))

			// No membership change: nothing moves.
			same, err := Sticky().Assign(withOwned(members, prev, 7), ppt)
			require.NoError(t, err)
			require.Equal(t, prev, same)

			// Membership change: someone joins or leaves. The sticky
			// result must keep at least as many partitions with their
			// previous owner as an assignment from scratch does.
			next := withOwned(members, prev, 8)
			if len(next) > 1 && r.IntN(2) == 0 {
				gone := r.IntN(len(next))
				next = slices.Delete(next, gone, gone+1)
			} else {
				topics := slices.Clone(next[r.IntN(len(next))].Topics)
				if r.IntN(2) == 0 {
					topics = []string{topicNames[r.IntN(len(topicNames))]}
				}
				next = append(next, Member{ID: "newcomer", Topics: topics})
			}
			sticky, err := Sticky().Assign(next, ppt)
			require.NoError(t, err)
			fresh, err := Sticky().Assign(withOwned(next, nil, 0), ppt)
			require.NoError(t, err)
			for _, a := range []Assignment{sticky, fresh} {
				requireValid(t, next, ppt, a, true)
				requireNoImprovingChain(t, next, a)
				if equal, _ := equalSubscriptions(next, ppt); equal {
					requireBalancedWithinOne(t, a)
				}
			}
			require.Equal(t, sumSquares(fresh), sumSquares(sticky), "balance depends on ownership")
			owners := previousOwners(prev)
			require.GreaterOrEqual(t, kept(sticky, owners), kept(fresh, owners))
		})
	}
}

// TestPropertiesCooperativeSticky checks that cooperative-sticky only
// withholds partitions that move away from a current owner, and that a second
// rebalance, fed the first one's result, completes the sticky target.
func TestPropertiesCooperativeSticky(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < propertyCases; i++ {
		members, ppt := randomInput(r, true)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			target, err := Sticky().Assign(members, ppt)
			require.NoError(t, err)
			round1, err := CooperativeSticky().Assign(members, ppt)
			require.NoError(t, err)
			requireValid(t, members, ppt, round1, false)

			// Round 1 is the target minus partitions handed to a member
			// while some other member still claims them.
			claimants := make(map[TopicPartition][]string)
			for _, m := range members {
				for _, p := range m.Owned {
					claimants[p] = append(claimants[p], m.ID)
				}
			}
			for id, ps := range target {
				for _, p := range ps {
					if slices.Contains(round1[id], p) {
						continue
					}
					others := slices.DeleteFunc(slices.Clone(claimants[p]), func(c string) bool { return c == id })
					require.NotEmpty(t, others, "%v withheld from %q but nobody else owns it", p, id)
				}
				for _, p := range round1[id] {
					require.Contains(t, ps, p, "%v given to %q outside the sticky target", p, id)
				}
			}

			// Round 2: every member reports its round-1 assignment.
			next := withOwned(members, round1, 9)
			round2, err := CooperativeSticky().Assign(next, ppt)
			require.NoError(t, err)
			requireValid(t, members, ppt, round2, true)
			requireNoImprovingChain(t, members, round2)
			stickyNext, err := Sticky().Assign(next, ppt)
			require.NoError(t, err)
			require.Equal(t, stickyNext, round2, "round 2 still withholds")
			if equal, _ := equalSubscriptions(members, ppt); equal {
				requireBalancedWithinOne(t, round2)
			}
			require.Equal(t, target, round2, "did not converge to the sticky target")
			// A third round changes nothing.
			round3, err := CooperativeSticky().Assign(withOwned(members, round2, 10), ppt)
			require.NoError(t, err)
			require.Equal(t, round2, round3)
		})
	}
}
