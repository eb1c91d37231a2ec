package assignor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundRobinExamples(t *testing.T) {
	twoTopics := func() []Member {
		ms := membersOf(5, "B")
		for i := 0; i < 3; i++ {
			ms[i].Topics = []string{"A", "B"}
		}
		return ms
	}
	tests := []struct {
		name    string
		members []Member
		ppt     map[string]int32
		want    Assignment
	}{
		{
			// SEMANTICS.md: T0..T6 dealt m0, m1, m2, m0, m1, m2, m0.
			name:    "semantics example: 7 partitions, 3 members",
			members: membersOf(3, "T"),
			ppt:     map[string]int32{"T": 7},
			want: Assignment{
				"m0": parts("T", 0, 3, 6),
				"m1": parts("T", 1, 4),
				"m2": parts("T", 2, 5),
			},
		},
		{
			// Partitions in order A0..A4, B0..B6; a cursor cycles over
			// m0..m4, skips members not subscribed to the partition's
			// topic, assigns, then steps once:
			//   A0->m0  A1->m1  A2->m2  A3: m3,m4 skip -> m0  A4->m1
			//   B0->m2  B1->m3  B2->m4  B3->m0  B4->m1  B5->m2  B6->m3
			// The cursor is not reset between topics, so B starts at
			// m2. Totals 3,3,3,2,1: round-robin is only balanced when
			// subscriptions are equal.
			name:    "two topics, A subscribed by m0-m2 only",
			members: twoTopics(),
			ppt:     map[string]int32{"A": 5, "B": 7},
			want: Assignment{
				"m0": join(parts("A", 0, 3), parts("B", 3)),
				"m1": join(parts("A", 1, 4), parts("B", 4)),
				"m2": join(parts("A", 2), parts("B", 0, 5)),
				"m3": parts("B", 1, 6),
				"m4": parts("B", 2),
			},
		},
		{
			// Topics are sorted by name: "a" is dealt before "b", and the
			// cursor carries over.
			name:    "topics in name order, cursor carries over",
			members: membersOf(2, "b", "a"),
			ppt:     map[string]int32{"b": 2, "a": 3},
			want: Assignment{
				"m0": join(parts("a", 0, 2), parts("b", 1)),
				"m1": join(parts("a", 1), parts("b", 0)),
			},
		},
		{
			name: "unknown topics and non-subscribers",
			members: []Member{
				{ID: "m0", Topics: []string{"T", "missing"}},
				{ID: "m1"},
				{ID: "m2", Topics: []string{"T"}},
			},
			ppt:  map[string]int32{"T": 3, "other": 4},
			want: Assignment{"m0": parts("T", 0, 2), "m1": {}, "m2": parts("T", 1)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RoundRobin().Assign(tc.members, tc.ppt)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
