package consumer

import (
	"maps"
	"slices"
	"strings"

	"github.com/commitlog-go/commitlog"
)

// GroupStats returns every group's state and lag, sorted by group id, for
// the broker's Stats (commitlog.GroupCoordinator): lag per partition is the high watermark
// minus the committed offset, for every partition the group has committed
// or currently has assigned.
func (c *Coordinator) GroupStats() []commitlog.GroupStats {
	var out []commitlog.GroupStats
	c.mu.Lock()
	ids := slices.Sorted(maps.Keys(c.groups))
	groups := make([]*group, len(ids))
	for i, id := range ids {
		groups[i] = c.groups[id]
	}
	c.mu.Unlock()
	// Groups that only have committed offsets (no live members) count too.
	c.offsets.syncLogged()
	c.offsets.mu.RLock()
	for id := range c.offsets.cache {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
			groups = append(groups, nil)
		}
	}
	c.offsets.mu.RUnlock()
	for i, id := range ids {
		gs := commitlog.GroupStats{Group: id, State: "Empty", ClampedCommits: c.offsets.clampedCommits(id)}
		tps := map[TopicPartition]bool{}
		if g := groups[i]; g != nil {
			g.mu.Lock()
			gs.Generation = g.generation
			gs.Members = len(g.members)
			switch g.state {
			case statePreparing:
				gs.State = "PreparingRebalance"
			case stateStable:
				gs.State = "Stable"
			}
			for _, m := range g.members {
				for _, tp := range m.assignment {
					tps[tp] = true
				}
			}
			g.mu.Unlock()
		}
		committed := c.offsets.fetch(id, nil)
		for tp := range committed {
			tps[tp] = true
		}
		keys := slices.SortedFunc(maps.Keys(tps), TopicPartition.Compare)
		for _, tp := range keys {
			t, err := c.broker.Topic(tp.Topic)
			if err != nil {
				continue
			}
			p, err := t.Partition(tp.Partition)
			if err != nil {
				continue
			}
			pl := commitlog.PartitionLag{Topic: tp.Topic, Partition: tp.Partition, Committed: -1, HighWatermark: p.HighWatermark()}
			if om, ok := committed[tp]; ok {
				pl.Committed = om.Offset
				pl.Lag = max(pl.HighWatermark-om.Offset, 0)
			} else {
				pl.Lag = pl.HighWatermark - p.LogStartOffset()
			}
			gs.TotalLag += pl.Lag
			gs.Lag = append(gs.Lag, pl)
		}
		out = append(out, gs)
	}
	slices.SortFunc(out, func(a, b commitlog.GroupStats) int { return strings.Compare(a.Group, b.Group) })
	return out
}
