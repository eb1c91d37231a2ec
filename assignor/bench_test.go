package assignor

import (
	"fmt"
	"testing"
)

// benchGroup builds a group of n members over 10 topics with p partitions in
// all. With mixed, member i skips every topic t with (i+t)%3 == 0, so
// subscriptions differ. Members own what a round-robin assignment gave them
// before the last member joined, so the sticky assignors have claims to
// honour.
func benchGroup(b *testing.B, n, p int, mixed bool) ([]Member, map[string]int32) {
	const topics = 10
	ppt := make(map[string]int32, topics)
	var names []string
	for t := 0; t < topics; t++ {
		name := fmt.Sprintf("topic-%02d", t)
		names = append(names, name)
		ppt[name] = int32(p / topics)
	}
	members := make([]Member, n)
	for i := range members {
		members[i] = Member{ID: fmt.Sprintf("member-%03d", i), Generation: 1}
		for t, name := range names {
			if !mixed || (i+t)%3 != 0 {
				members[i].Topics = append(members[i].Topics, name)
			}
		}
	}
	prev, err := RoundRobin().Assign(members[:n-1], ppt)
	if err != nil {
		b.Fatal(err)
	}
	for i := range members {
		members[i].Owned = prev[members[i].ID]
	}
	return members, ppt
}

func benchmarkAssign(b *testing.B, mixed bool) {
	sizes := []struct{ members, partitions int }{{10, 100}, {100, 1000}}
	for _, a := range allAssignors() {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("%s/%dmembers_%dpartitions", a.Name(), size.members, size.partitions), func(b *testing.B) {
				members, ppt := benchGroup(b, size.members, size.partitions, mixed)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Assign(members, ppt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAssign measures every assignor on groups whose members all
// subscribe to the same 10 topics, right after one member joined.
func BenchmarkAssign(b *testing.B) { benchmarkAssign(b, false) }

// BenchmarkAssignMixedSubscriptions is BenchmarkAssign with subscriptions
// that differ between members, which sends the sticky assignors down their
// general (min-cost flow) path.
func BenchmarkAssignMixedSubscriptions(b *testing.B) { benchmarkAssign(b, true) }
