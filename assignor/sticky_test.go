package assignor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func owning(m Member, gen int32, owned ...[]TopicPartition) Member {
	m.Owned = join(owned...)
	m.Generation = gen
	return m
}

func TestStickyExamples(t *testing.T) {
	m := membersOf(3, "T")
	tests := []struct {
		name    string
		members []Member
		ppt     map[string]int32
		want    Assignment
	}{
		{
			// Quotas 3,2,2 (the extra one to m0, the lowest ID, as
			// nobody owns anything); partitions dealt in runs.
			name:    "fresh",
			members: m,
			ppt:     map[string]int32{"T": 7},
			want:    Assignment{"m0": parts("T", 0, 1, 2), "m1": parts("T", 3, 4), "m2": parts("T", 5, 6)},
		},
		{
			// 8 partitions over 3: quotas 3,3,2. m0 and m1 own 4 each,
			// so both get a quota of 3 and keep their lowest three; m2
			// gets the two they give up.
			name: "member joins",
			members: []Member{
				owning(m[0], 1, parts("T", 0, 1, 2, 3)),
				owning(m[1], 1, parts("T", 4, 5, 6, 7)),
				m[2],
			},
			ppt:  map[string]int32{"T": 8},
			want: Assignment{"m0": parts("T", 0, 1, 2), "m1": parts("T", 4, 5, 6), "m2": parts("T", 3, 7)},
		},
		{
			// m1 left; m0 and m2 keep theirs and share m1's T1 and T4:
			// quotas 4,3 (the extra to the lowest ID, as nobody owns
			// 4), so the freed T1, T4 are dealt one each in ID order.
			name: "member leaves",
			members: []Member{
				owning(m[0], 4, parts("T", 0, 3, 6)),
				owning(m[2], 4, parts("T", 2, 5)),
			},
			ppt:  map[string]int32{"T": 7},
			want: Assignment{"m0": parts("T", 0, 1, 3, 6), "m2": parts("T", 2, 4, 5)},
		},
		{
			// The extra partition goes to m1, which already owns 3,
			// not to m0.
			name: "ceil quota to whoever owns that many",
			members: []Member{
				owning(m[0], 1, parts("T", 0)),
				owning(m[1], 1, parts("T", 1, 2, 3)),
				m[2],
			},
			ppt:  map[string]int32{"T": 7},
			want: Assignment{"m0": parts("T", 0, 4), "m1": parts("T", 1, 2, 3), "m2": parts("T", 5, 6)},
		},
		{
			name: "higher generation wins a contested partition",
			members: []Member{
				owning(m[0], 2, parts("T", 1)),
				owning(m[1], 5, parts("T", 1)),
			},
			ppt:  map[string]int32{"T": 2},
			want: Assignment{"m0": parts("T", 0), "m1": parts("T", 1)},
		},
		{
			name: "same contest, generations swapped",
			members: []Member{
				owning(m[0], 5, parts("T", 1)),
				owning(m[1], 2, parts("T", 1)),
			},
			ppt:  map[string]int32{"T": 2},
			want: Assignment{"m0": parts("T", 1), "m1": parts("T", 0)},
		},
		{
			// T2 no longer exists, U is no longer subscribed: both claims
			// are dropped, only T1 is kept.
			name: "stale claims dropped",
			members: []Member{
				owning(m[0], 1, parts("T", 1, 2), parts("U", 0)),
				m[1],
			},
			ppt:  map[string]int32{"T": 2, "U": 1},
			want: Assignment{"m0": parts("T", 1), "m1": parts("T", 0)},
		},
		{
			// Unequal subscriptions: x only reads T1 (2 partitions), z
			// only T2 (4), y both. The only 2/2/2 split gives x all of
			// T1 (taking it from y) and y half of T2 (from z): a chain
			// x <- y <- z that no single-move heuristic finds, since x
			// cannot take from z directly.
			name: "balance through a chain",
			members: []Member{
				owning(Member{ID: "x", Topics: []string{"T1"}}, 1),
				owning(Member{ID: "y", Topics: []string{"T1", "T2"}}, 1, parts("T1", 0, 1)),
				owning(Member{ID: "z", Topics: []string{"T2"}}, 1, parts("T2", 0, 1, 2, 3)),
			},
			ppt: map[string]int32{"T1": 2, "T2": 4},
			want: Assignment{
				"x": parts("T1", 0, 1),
				"y": parts("T2", 2, 3),
				"z": parts("T2", 0, 1),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sticky().Assign(tc.members, tc.ppt)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCooperativeStickyTwoPhases(t *testing.T) {
	m := membersOf(3, "T")
	ppt := map[string]int32{"T": 8}
	members := []Member{
		owning(m[0], 1, parts("T", 0, 1, 2, 3)),
		owning(m[1], 1, parts("T", 4, 5, 6, 7)),
		m[2],
	}
	// Round 1: the sticky target moves T3 (from m0) and T7 (from m1) to
	// m2; both are withheld until their owners revoke them.
	round1, err := CooperativeSticky().Assign(members, ppt)
	require.NoError(t, err)
	require.Equal(t, Assignment{"m0": parts("T", 0, 1, 2), "m1": parts("T", 4, 5, 6), "m2": {}}, round1)

	// Round 2: owners report what they kept; the freed partitions go to
	// m2 and the result is the sticky target.
	round2, err := CooperativeSticky().Assign(withOwned(members, round1, 2), ppt)
	require.NoError(t, err)
	target, err := Sticky().Assign(members, ppt)
	require.NoError(t, err)
	require.Equal(t, target, round2)
	require.Equal(t, Assignment{"m0": parts("T", 0, 1, 2), "m1": parts("T", 4, 5, 6), "m2": parts("T", 3, 7)}, round2)
}

func TestCooperativeStickyWithholds(t *testing.T) {
	m := membersOf(2, "T")
	tests := []struct {
		name    string
		members []Member
		want    Assignment
	}{
		{
			// Nobody's claim on T0 stands (tied generation), so it is
			// assigned afresh, but as both still claim it, it is
			// withheld from whoever gets it.
			name:    "same-generation double claim",
			members: []Member{owning(m[0], 3, parts("T", 0)), owning(m[1], 3, parts("T", 0, 1))},
			want:    Assignment{"m0": {}, "m1": parts("T", 1)},
		},
		{
			// m1's older claim on T0 loses to m0's; m0 keeps T0 even
			// though m1 lists it too.
			name:    "stale claim does not block the standing owner",
			members: []Member{owning(m[0], 3, parts("T", 0)), owning(m[1], 2, parts("T", 0, 1))},
			want:    Assignment{"m0": parts("T", 0), "m1": parts("T", 1)},
		},
		{
			// m0 owns T1 but no longer subscribes to T: T1 moves to m1,
			// withheld until m0 lets go.
			name: "owner unsubscribed",
			members: []Member{
				owning(Member{ID: "m0", Topics: []string{"U"}}, 3, parts("T", 1)),
				owning(m[1], 3, parts("T", 0)),
			},
			want: Assignment{"m0": {}, "m1": parts("T", 0)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CooperativeSticky().Assign(tc.members, map[string]int32{"T": 2})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestStickyOptimalBruteForce compares the sticky assignor with an
// exhaustive search on small random groups: its result must have the
// smallest possible sum of squared counts and, among those, keep the most
// standing claims.
func TestStickyOptimalBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 300; i++ {
		topics := []string{"a", "b"}[:1+r.IntN(2)]
		ppt := make(map[string]int32)
		var all []TopicPartition
		for _, topic := range topics {
			ppt[topic] = int32(r.IntN(4))
			for p := int32(0); p < ppt[topic]; p++ {
				all = append(all, TopicPartition{topic, p})
			}
		}
		members := make([]Member, 1+r.IntN(4))
		for j := range members {
			members[j] = Member{ID: fmt.Sprintf("m%d", j), Generation: int32(r.IntN(2))}
			for _, topic := range topics {
				if r.IntN(3) > 0 {
					members[j].Topics = append(members[j].Topics, topic)
				}
			}
			for _, p := range all {
				if r.IntN(3) == 0 {
					members[j].Owned = append(members[j].Owned, p)
				}
			}
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := Sticky().Assign(members, ppt)
			require.NoError(t, err)
			requireValid(t, members, ppt, got, true)
			owners := standingOwners(members, ppt)

			// Enumerate every assignment of the subscribed partitions.
			var subscribed []TopicPartition
			var candidates [][]int
			for _, p := range all {
				var c []int
				for j, m := range members {
					if subscribes(m, p.Topic) {
						c = append(c, j)
					}
				}
				if len(c) > 0 {
					subscribed = append(subscribed, p)
					candidates = append(candidates, c)
				}
			}
			bestSq, bestKept := -1, -1
			choice := make([]int, len(subscribed))
			var walk func(k int)
			walk = func(k int) {
				if k == len(subscribed) {
					cnt := make([]int, len(members))
					keptN := 0
					for x, p := range subscribed {
						j := candidates[x][choice[x]]
						cnt[j]++
						if owners[p] == members[j].ID {
							keptN++
						}
					}
					sq := 0
					for _, c := range cnt {
						sq += c * c
					}
					if bestSq < 0 || sq < bestSq || (sq == bestSq && keptN > bestKept) {
						bestSq, bestKept = sq, keptN
					}
					return
				}
				for choice[k] = range candidates[k] {
					walk(k + 1)
				}
			}
			walk(0)
			require.Equal(t, max(bestSq, 0), sumSquares(got), "not as balanced as possible")
			require.Equal(t, max(bestKept, 0), kept(got, owners), "not as sticky as possible")
		})
	}
}
