package assignor_test

import (
	"fmt"

	"github.com/commitlog-go/commitlog/assignor"
)

func members(n int) []assignor.Member {
	var ms []assignor.Member
	for i := 0; i < n; i++ {
		ms = append(ms, assignor.Member{ID: fmt.Sprintf("m%d", i), Topics: []string{"t"}})
	}
	return ms
}

func show(a assignor.Assignment, n int) {
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("m%d", i)
		var ps []int32
		for _, tp := range a[id] {
			ps = append(ps, tp.Partition)
		}
		fmt.Println(id, ps)
	}
}

// ExampleRange: per topic, consecutive ranges; the first members get one
// more when the partitions do not divide evenly.
func ExampleRange() {
	a, _ := assignor.Range().Assign(members(5), map[string]int32{"t": 7})
	show(a, 5)
	// Output:
	// m0 [0 1]
	// m1 [2 3]
	// m2 [4]
	// m3 [5]
	// m4 [6]
}

// ExampleRoundRobin: partitions dealt in turn over the sorted members.
func ExampleRoundRobin() {
	a, _ := assignor.RoundRobin().Assign(members(3), map[string]int32{"t": 7})
	show(a, 3)
	// Output:
	// m0 [0 3 6]
	// m1 [1 4]
	// m2 [2 5]
}

// ExampleSticky: when a member joins, the others keep what they had and
// give up only what the newcomer needs.
func ExampleSticky() {
	s := assignor.Sticky()
	first, _ := s.Assign(members(2), map[string]int32{"t": 6})
	ms := members(3)
	ms[0].Owned, ms[1].Owned = first["m0"], first["m1"]
	ms[0].Generation, ms[1].Generation = 1, 1
	second, _ := s.Assign(ms, map[string]int32{"t": 6})
	kept := 0
	for _, id := range []string{"m0", "m1"} {
		for _, tp := range second[id] {
			for _, old := range first[id] {
				if tp == old {
					kept++
				}
			}
		}
	}
	fmt.Println(len(second["m0"]), len(second["m1"]), len(second["m2"]), "kept", kept)
	// Output: 2 2 2 kept 4
}

// ExampleCooperativeSticky: partitions that move are left unassigned in
// the first round (their owner revokes them), and assigned in the next.
func ExampleCooperativeSticky() {
	cs := assignor.CooperativeSticky()
	first, _ := cs.Assign(members(2), map[string]int32{"t": 6})
	ms := members(3)
	ms[0].Owned, ms[1].Owned = first["m0"], first["m1"]
	ms[0].Generation, ms[1].Generation = 1, 1
	round1, _ := cs.Assign(ms, map[string]int32{"t": 6})
	fmt.Println("round 1:", len(round1["m0"]), len(round1["m1"]), len(round1["m2"]))
	ms[0].Owned, ms[1].Owned = round1["m0"], round1["m1"]
	ms[0].Generation, ms[1].Generation, ms[2].Generation = 2, 2, 2
	round2, _ := cs.Assign(ms, map[string]int32{"t": 6})
	fmt.Println("round 2:", len(round2["m0"]), len(round2["m1"]), len(round2["m2"]))
	// Output:
	// round 1: 2 2 0
	// round 2: 2 2 2
}
