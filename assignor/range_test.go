package assignor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRangeExamples(t *testing.T) {
	// Two topics: A (5 partitions) subscribed by m0, m1, m2 only; B (7
	// partitions) subscribed by all five members.
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
			// SEMANTICS.md: 7/5 = 1 each, 7%5 = 2 extra for m0 and m1.
			name:    "semantics example: 7 partitions, 5 members",
			members: membersOf(5, "T"),
			ppt:     map[string]int32{"T": 7},
			want: Assignment{
				"m0": parts("T", 0, 1),
				"m1": parts("T", 2, 3),
				"m2": parts("T", 4),
				"m3": parts("T", 5),
				"m4": parts("T", 6),
			},
		},
		{
			// Each topic on its own, over its own subscribers sorted by
			// ID:
			//   A: subscribers m0,m1,m2; 5/3 = 1 each, 5%3 = 2 extra
			//      for m0,m1 -> m0: A0-1, m1: A2-3, m2: A4.
			//   B: subscribers m0..m4; 7/5 = 1 each, 7%5 = 2 extra
			//      for m0,m1 -> m0: B0-1, m1: B2-3, m2: B4, m3: B5,
			//      m4: B6.
			// m0 and m1 get the extra partition of both topics, hence
			// 4,4,2,1,1: range balances each topic, not the total.
			name:    "two topics, A subscribed by m0-m2 only",
			members: twoTopics(),
			ppt:     map[string]int32{"A": 5, "B": 7},
			want: Assignment{
				"m0": join(parts("A", 0, 1), parts("B", 0, 1)),
				"m1": join(parts("A", 2, 3), parts("B", 2, 3)),
				"m2": join(parts("A", 4), parts("B", 4)),
				"m3": parts("B", 5),
				"m4": parts("B", 6),
			},
		},
		{
			name:    "more members than partitions",
			members: membersOf(3, "T"),
			ppt:     map[string]int32{"T": 2},
			want:    Assignment{"m0": parts("T", 0), "m1": parts("T", 1), "m2": {}},
		},
		{
			name: "members are ordered by ID, not by position",
			members: []Member{
				{ID: "c", Topics: []string{"T"}},
				{ID: "a", Topics: []string{"T"}},
				{ID: "b", Topics: []string{"T"}},
			},
			ppt:  map[string]int32{"T": 4},
			want: Assignment{"a": parts("T", 0, 1), "b": parts("T", 2), "c": parts("T", 3)},
		},
		{
			name: "unknown topics and non-subscribers",
			members: []Member{
				{ID: "m0", Topics: []string{"T", "missing"}},
				{ID: "m1"},
				{ID: "m2", Topics: []string{"missing"}},
			},
			ppt:  map[string]int32{"T": 3, "other": 4},
			want: Assignment{"m0": parts("T", 0, 1, 2), "m1": {}, "m2": {}},
		},
		{
			name:    "no members",
			members: nil,
			ppt:     map[string]int32{"T": 3},
			want:    Assignment{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Range().Assign(tc.members, tc.ppt)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
