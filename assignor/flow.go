package assignor

import "math"

const (
	flowSource = 0
	flowSink   = 1
	flowInf    = math.MaxInt64 / 4
)

// flowNet is a small min-cost-flow network for the sticky assignor. Nodes 0
// and 1 are the source and the sink, nodes 2..2+members-1 the members, the
// rest whatever addNode adds. Edges are stored in pairs (e, e^1 = reverse).
//
// The member -> sink arcs are not stored: they have a convex cost, the k-th
// unit costing unit*(2k-1), and are evaluated from sinkFlow. The residual
// network therefore has, per member m with f = sinkFlow[m], a forward arc
// m -> sink of cost unit*(2f+1) and, when f > 0, a backward arc sink -> m of
// cost -unit*(2f-1), exactly as if the arc were split into unit-capacity
// parallel arcs of increasing cost.
//
// run uses the primal-dual method: Dijkstra with potentials finds shortest
// distances, then a blocking flow is pushed along the arcs of zero reduced
// cost (Dinic levels), and both repeat until the requested flow is sent.
type flowNet struct {
	members  int
	adj      [][]int
	to       []int
	capa     []int
	orig     []int
	cost     []int64
	unit     int64
	sinkFlow []int

	pot, dist []int64
	level     []int
	iter      []int
	heap      distHeap
	queue     []int
}

// newFlowNet returns a network with the given number of member nodes and
// room for about nodes nodes and edges edges.
func newFlowNet(members, nodes, edges int) *flowNet {
	f := &flowNet{
		members:  members,
		adj:      make([][]int, 2+members, nodes),
		to:       make([]int, 0, 2*edges),
		capa:     make([]int, 0, 2*edges),
		orig:     make([]int, 0, 2*edges),
		cost:     make([]int64, 0, 2*edges),
		sinkFlow: make([]int, members),
	}
	return f
}

func (f *flowNet) memberNode(mi int) int { return 2 + mi }

func (f *flowNet) isMember(v int) bool { return v >= 2 && v < 2+f.members }

func (f *flowNet) addNode() int {
	f.adj = append(f.adj, nil)
	return len(f.adj) - 1
}

// addEdge adds u -> v and returns the forward edge's index.
func (f *flowNet) addEdge(u, v, capacity int, cost int64) int {
	e := len(f.to)
	f.to = append(f.to, v, u)
	f.capa = append(f.capa, capacity, 0)
	f.orig = append(f.orig, capacity, 0)
	f.cost = append(f.cost, cost, -cost)
	f.adj[u] = append(f.adj[u], e)
	f.adj[v] = append(f.adj[v], e+1)
	return e
}

// flow returns the flow on forward edge e.
func (f *flowNet) flow(e int) int { return f.orig[e] - f.capa[e] }

func (f *flowNet) reduced(e, u int) int64 { return f.cost[e] + f.pot[u] - f.pot[f.to[e]] }

// sinkReduced is the reduced cost of the next unit from member node v to the
// sink.
func (f *flowNet) sinkReduced(v int) int64 {
	k := int64(f.sinkFlow[v-2])
	return f.unit*(2*k+1) + f.pot[v] - f.pot[flowSink]
}

// run sends up to want units from source to sink at minimum cost and returns
// how many it sent.
func (f *flowNet) run(want int) int {
	nodes := len(f.adj)
	f.pot = make([]int64, nodes)
	f.dist = make([]int64, nodes)
	f.level = make([]int, nodes)
	f.iter = make([]int, nodes)
	sent := 0
	for sent < want && f.shortestPaths() {
		for sent < want && f.levels() {
			for i := range f.iter {
				f.iter[i] = -1
			}
			for sent < want && f.augment(flowSource) {
				sent++
			}
		}
	}
	return sent
}

// shortestPaths runs Dijkstra on reduced costs (all non-negative by the
// primal-dual invariant) and adds the distances to the potentials. It reports
// whether the sink is reachable.
func (f *flowNet) shortestPaths() bool {
	for i := range f.dist {
		f.dist[i] = flowInf
	}
	f.dist[flowSource] = 0
	q := append(f.heap[:0], distItem{node: flowSource})
	relax := func(v int, d int64) {
		if d < f.dist[v] {
			f.dist[v] = d
			q.push(distItem{node: v, dist: d})
		}
	}
	for len(q) > 0 {
		it := q.pop()
		u, d := it.node, it.dist
		if d > f.dist[u] {
			continue
		}
		for _, e := range f.adj[u] {
			if f.capa[e] > 0 {
				relax(f.to[e], d+f.reduced(e, u))
			}
		}
		switch {
		case f.isMember(u):
			relax(flowSink, d+f.sinkReduced(u))
		case u == flowSink:
			for mi, k := range f.sinkFlow {
				if k > 0 {
					v := f.memberNode(mi)
					relax(v, d-f.unit*int64(2*k-1)+f.pot[flowSink]-f.pot[v])
				}
			}
		}
	}
	f.heap = q
	if f.dist[flowSink] >= flowInf {
		return false
	}
	for v, d := range f.dist {
		if d < flowInf {
			f.pot[v] += d
		}
	}
	return true
}

// levels computes BFS levels over the arcs of zero reduced cost and reports
// whether the sink is reachable through them.
func (f *flowNet) levels() bool {
	for i := range f.level {
		f.level[i] = -1
	}
	f.level[flowSource] = 0
	queue := append(f.queue[:0], flowSource)
	for i := 0; i < len(queue); i++ {
		u := queue[i]
		for _, e := range f.adj[u] {
			v := f.to[e]
			if f.capa[e] > 0 && f.level[v] < 0 && f.reduced(e, u) == 0 {
				f.level[v] = f.level[u] + 1
				queue = append(queue, v)
			}
		}
		if f.isMember(u) && f.level[flowSink] < 0 && f.sinkReduced(u) == 0 {
			f.level[flowSink] = f.level[u] + 1
		}
	}
	f.queue = queue
	return f.level[flowSink] >= 0
}

// augment pushes one unit along a level-increasing path of zero reduced cost
// from u to the sink, if there is one. iter holds each node's current arc; -1
// stands for a member's arc to the sink.
func (f *flowNet) augment(u int) bool {
	if u == flowSink {
		return true
	}
	if f.iter[u] < 0 {
		if f.isMember(u) && f.level[flowSink] == f.level[u]+1 && f.sinkReduced(u) == 0 {
			// After this unit the next one costs 2*unit more, so the
			// arc stops being admissible by itself.
			f.sinkFlow[u-2]++
			return true
		}
		f.iter[u] = 0
	}
	for ; f.iter[u] < len(f.adj[u]); f.iter[u]++ {
		e := f.adj[u][f.iter[u]]
		v := f.to[e]
		if f.capa[e] > 0 && f.level[v] == f.level[u]+1 && f.reduced(e, u) == 0 && f.augment(v) {
			f.capa[e]--
			f.capa[e^1]++
			return true
		}
	}
	return false
}

type distItem struct {
	node int
	dist int64
}

// distHeap is a binary min-heap of distItems ordered by dist, then node.
type distHeap []distItem

func (h distHeap) less(i, j int) bool {
	if h[i].dist != h[j].dist {
		return h[i].dist < h[j].dist
	}
	return h[i].node < h[j].node
}

func (h *distHeap) push(it distItem) {
	*h = append(*h, it)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *distHeap) pop() distItem {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(q) && q.less(l, m) {
			m = l
		}
		if r < len(q) && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

// canonicalize turns the min-cost flow found by run into a canonical one: of
// all flows with the same value and cost, the one whose total flow through
// groups[0] is smallest, then through groups[1], and so on. A group is a set
// of edges into one member node.
//
// Every optimal flow satisfies complementary slackness with the final
// potentials, so the optimal flows are exactly those reachable by pushing
// flow around cycles of zero reduced cost. For each group in turn, flow is
// moved off the group's edges along such cycles (a breadth-first search from
// the group's tail ends back to its member, avoiding the edges of this and
// of earlier groups) until no cycle is left: a max-flow computation, so the
// group's total is then minimal given the earlier groups' totals.
func (f *flowNet) canonicalize(groups [][]int) {
	const (
		viaEdge = iota
		viaSinkArc
		viaUndoArc
		viaStart
	)
	nodes := len(f.adj)
	frozen := make([]bool, len(f.to)/2)
	seen := make([]bool, nodes)
	kind := make([]int, nodes)
	parent := make([]int, nodes) // edge id for viaEdge and viaStart, node otherwise
	queue := f.queue[:0]
	for _, group := range groups {
		if len(group) == 0 {
			continue
		}
		for _, e := range group {
			frozen[e/2] = true
		}
		target := f.to[group[0]]
		for {
			clear(seen)
			queue = queue[:0]
			for _, e := range group {
				c := f.to[e^1]
				if f.flow(e) > 0 && f.reduced(e, c) == 0 && !seen[c] {
					seen[c], kind[c], parent[c] = true, viaStart, e
					queue = append(queue, c)
				}
			}
			visit := func(v, k, p int) {
				if !seen[v] && v != flowSource {
					seen[v], kind[v], parent[v] = true, k, p
					queue = append(queue, v)
				}
			}
			for i := 0; i < len(queue) && !seen[target]; i++ {
				u := queue[i]
				for _, e := range f.adj[u] {
					if f.capa[e] > 0 && !frozen[e/2] && f.reduced(e, u) == 0 {
						visit(f.to[e], viaEdge, e)
					}
				}
				switch {
				case f.isMember(u) && f.sinkReduced(u) == 0:
					visit(flowSink, viaSinkArc, u)
				case u == flowSink:
					for mi, k := range f.sinkFlow {
						v := f.memberNode(mi)
						if k > 0 && -f.unit*int64(2*k-1)+f.pot[flowSink]-f.pot[v] == 0 {
							visit(v, viaUndoArc, flowSink)
						}
					}
				}
			}
			if !seen[target] {
				break
			}
			// Walk the path back from the member, pushing one unit
			// around the cycle.
			for v := target; ; {
				switch kind[v] {
				case viaEdge:
					e := parent[v]
					f.capa[e]--
					f.capa[e^1]++
					v = f.to[e^1]
					continue
				case viaSinkArc:
					f.sinkFlow[parent[v]-2]++
				case viaUndoArc:
					f.sinkFlow[v-2]--
				case viaStart:
					e := parent[v]
					f.capa[e]++
					f.capa[e^1]--
				}
				if kind[v] == viaStart {
					break
				}
				v = parent[v]
			}
		}
	}
	f.queue = queue
}
