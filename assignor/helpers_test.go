package assignor

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// parts builds the partitions of one topic.
func parts(topic string, ps ...int32) []TopicPartition {
	out := make([]TopicPartition, 0, len(ps))
	for _, p := range ps {
		out = append(out, TopicPartition{Topic: topic, Partition: p})
	}
	return out
}

// join concatenates partition lists into a new, non-nil slice.
func join(lists ...[]TopicPartition) []TopicPartition {
	out := []TopicPartition{}
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// membersOf builds members m0..m(n-1) subscribed to topics.
func membersOf(n int, topics ...string) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("m%d", i), Topics: slices.Clone(topics)}
	}
	return ms
}

func compareTopicPartition(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

func cloneMembers(ms []Member) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = Member{
			ID:         m.ID,
			Topics:     slices.Clone(m.Topics),
			Owned:      slices.Clone(m.Owned),
			Generation: m.Generation,
			UserData:   slices.Clone(m.UserData),
		}
	}
	return out
}

func clonePPT(ppt map[string]int32) map[string]int32 {
	out := make(map[string]int32, len(ppt))
	for k, v := range ppt {
		out[k] = v
	}
	return out
}

// withOwned returns a copy of members whose Owned is their share of prev and
// whose Generation is gen.
func withOwned(members []Member, prev Assignment, gen int32) []Member {
	out := cloneMembers(members)
	for i := range out {
		out[i].Owned = slices.Clone(prev[out[i].ID])
		out[i].Generation = gen
	}
	return out
}

func subscribes(m Member, topic string) bool { return slices.Contains(m.Topics, topic) }

// effectiveTopics is the member's subscription restricted to topics that
// exist with at least one partition, sorted and deduplicated.
func effectiveTopics(m Member, ppt map[string]int32) []string {
	var ts []string
	for _, t := range m.Topics {
		if ppt[t] > 0 && !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	slices.Sort(ts)
	return ts
}

// equalSubscriptions reports whether all members effectively subscribe to
// the same topics, and how many topics that is.
func equalSubscriptions(members []Member, ppt map[string]int32) (bool, int) {
	if len(members) == 0 {
		return true, 0
	}
	first := effectiveTopics(members[0], ppt)
	for _, m := range members[1:] {
		if !slices.Equal(first, effectiveTopics(m, ppt)) {
			return false, 0
		}
	}
	return true, len(first)
}

// requireValid checks the invariants every assignor guarantees. With
// complete, every partition of a subscribed topic must be assigned;
// otherwise only "at most once".
func requireValid(t *testing.T, members []Member, ppt map[string]int32, a Assignment, complete bool) {
	t.Helper()
	require.Len(t, a, len(members))
	byID := make(map[string]Member, len(members))
	for _, m := range members {
		byID[m.ID] = m
	}
	owner := make(map[TopicPartition]string)
	for id, ps := range a {
		m, ok := byID[id]
		require.True(t, ok, "assignment for unknown member %q", id)
		require.NotNil(t, ps, "member %q has a nil slice", id)
		require.True(t, slices.IsSortedFunc(ps, compareTopicPartition), "member %q: %v not sorted", id, ps)
		for _, p := range ps {
			n, exists := ppt[p.Topic]
			require.True(t, exists, "member %q got %v of an unknown topic", id, p)
			require.True(t, p.Partition >= 0 && p.Partition < n, "member %q got nonexistent %v", id, p)
			require.True(t, subscribes(m, p.Topic), "member %q got %v of an unsubscribed topic", id, p)
			prev, dup := owner[p]
			require.False(t, dup, "%v assigned to both %q and %q", p, prev, id)
			owner[p] = id
		}
	}
	if !complete {
		return
	}
	for topic, n := range ppt {
		subscribed := false
		for _, m := range members {
			subscribed = subscribed || subscribes(m, topic)
		}
		if !subscribed {
			continue
		}
		for p := int32(0); p < n; p++ {
			_, ok := owner[TopicPartition{Topic: topic, Partition: p}]
			require.True(t, ok, "%s-%d unassigned", topic, p)
		}
	}
}

func counts(a Assignment) map[string]int {
	c := make(map[string]int, len(a))
	for id, ps := range a {
		c[id] = len(ps)
	}
	return c
}

func requireBalancedWithinOne(t *testing.T, a Assignment) {
	t.Helper()
	lo, hi := -1, -1
	for _, n := range counts(a) {
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	require.LessOrEqual(t, hi-lo, 1, "counts %v", counts(a))
}

// requireNoImprovingChain checks that the assignment is as balanced as the
// subscriptions allow: there is no chain of members a -> ... -> b, each link
// meaning "holds a partition the next one subscribes to", from a member with
// c partitions to one with c-2 or fewer. Such a chain would let every member
// on it pass one partition forward and lower the imbalance; its absence is
// equivalent to a minimal sum of squared counts.
func requireNoImprovingChain(t *testing.T, members []Member, a Assignment) {
	t.Helper()
	c := counts(a)
	next := make(map[string][]string)
	for _, from := range members {
		topics := make(map[string]bool)
		for _, p := range a[from.ID] {
			topics[p.Topic] = true
		}
		for _, to := range members {
			if to.ID == from.ID {
				continue
			}
			for topic := range topics {
				if subscribes(to, topic) {
					next[from.ID] = append(next[from.ID], to.ID)
					break
				}
			}
		}
	}
	for _, start := range members {
		seen := map[string]bool{start.ID: true}
		queue := []string{start.ID}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			require.LessOrEqual(t, c[start.ID]-c[u], 1,
				"%q (%d partitions) could pass one along to %q (%d partitions)", start.ID, c[start.ID], u, c[u])
			for _, v := range next[u] {
				if !seen[v] {
					seen[v] = true
					queue = append(queue, v)
				}
			}
		}
	}
}

func sumSquares(a Assignment) int {
	s := 0
	for _, ps := range a {
		s += len(ps) * len(ps)
	}
	return s
}

// standingOwners resolves Owned claims as documented on Sticky: the claim
// with the highest generation stands, unless several members share it or the
// member no longer subscribes to the topic; claims on partitions that do not
// exist are ignored.
func standingOwners(members []Member, ppt map[string]int32) map[TopicPartition]string {
	type claim struct {
		id  string
		gen int32
		sub bool
	}
	claims := make(map[TopicPartition][]claim)
	for _, m := range members {
		seen := make(map[TopicPartition]bool)
		for _, p := range m.Owned {
			if p.Partition < 0 || p.Partition >= ppt[p.Topic] || seen[p] {
				continue
			}
			seen[p] = true
			claims[p] = append(claims[p], claim{m.ID, m.Generation, subscribes(m, p.Topic)})
		}
	}
	out := make(map[TopicPartition]string)
	for p, cs := range claims {
		best := slices.MaxFunc(cs, func(a, b claim) int { return cmp.Compare(a.gen, b.gen) })
		ties := 0
		for _, c := range cs {
			if c.gen == best.gen {
				ties++
			}
		}
		if ties == 1 && best.sub {
			out[p] = best.id
		}
	}
	return out
}

// kept counts the partitions that a assigns to the member in owners.
func kept(a Assignment, owners map[TopicPartition]string) int {
	n := 0
	for id, ps := range a {
		for _, p := range ps {
			if owners[p] == id {
				n++
			}
		}
	}
	return n
}

// previousOwners maps each partition of prev to its member.
func previousOwners(prev Assignment) map[TopicPartition]string {
	out := make(map[TopicPartition]string)
	for id, ps := range prev {
		for _, p := range ps {
			out[p] = id
		}
	}
	return out
}

var topicNames = []string{"alpha", "beta", "gamma", "delta"}

// randomInput builds a random group: 1-12 members, 1-4 topics of 0-30
// partitions, random subscriptions (a third of the time identical for all),
// sometimes a subscribed topic missing from the metadata or a topic nobody
// subscribes to, and, with owned, random and partly bogus Owned claims.
func randomInput(r *rand.Rand, owned bool) ([]Member, map[string]int32) {
	topics := topicNames[:1+r.IntN(len(topicNames))]
	ppt := make(map[string]int32)
	for _, t := range topics {
		ppt[t] = int32(r.IntN(31))
	}
	if r.IntN(4) == 0 {
		ppt["orphan"] = int32(r.IntN(5))
	}
	randomSubscription := func() []string {
		var s []string
		for _, t := range topics {
			if r.IntN(2) == 0 {
				s = append(s, t)
			}
		}
		if r.IntN(6) == 0 {
			s = append(s, "ghost")
		}
		if len(s) > 0 && r.IntN(8) == 0 {
			s = append(s, s[0]) // duplicate entry
		}
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		return s
	}
	n := 1 + r.IntN(12)
	members := make([]Member, n)
	equal := r.IntN(3) == 0
	shared := randomSubscription()
	for i, id := range r.Perm(n) {
		members[i] = Member{ID: fmt.Sprintf("member-%02d", id), Generation: int32(r.IntN(3))}
		if equal {
			members[i].Topics = slices.Clone(shared)
		} else {
			members[i].Topics = randomSubscription()
		}
	}
	if !owned {
		return members, ppt
	}
	for _, t := range topics {
		for p := int32(0); p < ppt[t]; p++ {
			if r.IntN(10) < 7 {
				i := r.IntN(n)
				members[i].Owned = append(members[i].Owned, TopicPartition{t, p})
			}
			if r.IntN(10) == 0 {
				i := r.IntN(n)
				members[i].Owned = append(members[i].Owned, TopicPartition{t, p})
			}
		}
	}
	for i := range members {
		if r.IntN(5) == 0 {
			members[i].Owned = append(members[i].Owned,
				TopicPartition{"ghost", 0}, TopicPartition{topics[0], 99}, TopicPartition{topics[0], -1})
		}
		if len(members[i].Owned) > 0 && r.IntN(5) == 0 {
			members[i].Owned = append(members[i].Owned, members[i].Owned[0])
		}
		o := members[i].Owned
		r.Shuffle(len(o), func(a, b int) { o[a], o[b] = o[b], o[a] })
	}
	return members, ppt
}

func TestTopicPartitionCompare(t *testing.T) {
	for _, c := range []struct {
		a, b TopicPartition
		want int
	}{
		{TopicPartition{"a", 1}, TopicPartition{"a", 1}, 0},
		{TopicPartition{"a", 1}, TopicPartition{"a", 2}, -1},
		{TopicPartition{"a", 10}, TopicPartition{"a", 2}, 1},
		{TopicPartition{"a", 9}, TopicPartition{"b", 0}, -1},
		{TopicPartition{"b", 0}, TopicPartition{"a", 9}, 1},
	} {
		require.Equal(t, c.want, c.a.Compare(c.b), "%v vs %v", c.a, c.b)
	}
}
