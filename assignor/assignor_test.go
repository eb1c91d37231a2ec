package assignor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func allAssignors() []Assignor {
	return []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky()}
}

func TestNamesAndProtocols(t *testing.T) {
	tests := []struct {
		name     string
		assignor Assignor
		protocol RebalanceProtocol
	}{
		{"range", Range(), Eager},
		{"roundrobin", RoundRobin(), Eager},
		{"sticky", Sticky(), Eager},
		{"cooperative-sticky", CooperativeSticky(), Cooperative},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.name, tc.assignor.Name())
			require.Equal(t, tc.protocol, tc.assignor.Protocol())
			got, err := ByName(tc.name)
			require.NoError(t, err)
			require.Equal(t, tc.assignor, got)
		})
	}
}

func TestByNameUnknown(t *testing.T) {
	for _, name := range []string{"", "Range", "round-robin", "cooperative_sticky", "custom"} {
		a, err := ByName(name)
		require.ErrorIs(t, err, ErrUnknownAssignor, name)
		require.Nil(t, a)
	}
}

func TestStrings(t *testing.T) {
	require.Equal(t, "eager", Eager.String())
	require.Equal(t, "cooperative", Cooperative.String())
	require.Equal(t, "RebalanceProtocol(7)", RebalanceProtocol(7).String())
	require.Equal(t, "orders-3", TopicPartition{Topic: "orders", Partition: 3}.String())
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		ppt     map[string]int32
	}{
		{"duplicate member id", []Member{{ID: "a", Topics: []string{"T"}}, {ID: "b"}, {ID: "a"}}, map[string]int32{"T": 1}},
		{"negative partition count", membersOf(2, "T"), map[string]int32{"T": -1}},
	}
	for _, tc := range tests {
		for _, a := range allAssignors() {
			t.Run(tc.name+"/"+a.Name(), func(t *testing.T) {
				got, err := a.Assign(tc.members, tc.ppt)
				require.ErrorIs(t, err, ErrInvalidInput)
				require.Nil(t, got)
			})
		}
	}
}

// Edge cases every assignor handles alike.
func TestEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		ppt     map[string]int32
		want    Assignment
	}{
		{"no members", nil, map[string]int32{"T": 3}, Assignment{}},
		{"no topics", membersOf(2, "T"), nil, Assignment{"m0": {}, "m1": {}}},
		{"topic with no partitions", membersOf(2, "T"), map[string]int32{"T": 0}, Assignment{"m0": {}, "m1": {}}},
		{"nobody subscribes", membersOf(2), map[string]int32{"T": 4}, Assignment{"m0": {}, "m1": {}}},
		{
			"only one subscriber",
			[]Member{{ID: "m0"}, {ID: "m1", Topics: []string{"T", "T"}}, {ID: "m2", Topics: []string{"gone"}}},
			map[string]int32{"T": 3},
			Assignment{"m0": {}, "m1": parts("T", 0, 1, 2), "m2": {}},
		},
		{"one member", membersOf(1, "b", "a"), map[string]int32{"a": 2, "b": 1}, Assignment{"m0": join(parts("a", 0, 1), parts("b", 0))}},
	}
	for _, tc := range tests {
		for _, a := range allAssignors() {
			t.Run(tc.name+"/"+a.Name(), func(t *testing.T) {
				got, err := a.Assign(tc.members, tc.ppt)
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			})
		}
	}
}
