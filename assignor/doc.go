// Package assignor owns the partition assignment strategies of consumer
// groups: given the members of a group (their subscriptions and, for the
// sticky strategies, the partitions they currently own) and the partition
// count of every topic, an [Assignor] decides which member consumes which
// partition.
//
// Every strategy is a pure function: no I/O, no goroutines, no clock, no
// randomness and no shared state. The same input always yields the same
// [Assignment] (members and partitions are sorted internally, so nothing
// depends on map iteration order), and inputs are never modified. In a
// consumer group the leader elected for a generation runs the group's assignor
// once, and the coordinator hands every member its share.
//
// The built-ins follow the Java Kafka client and use its protocol names:
//
//   - [Range] ("range"): per topic, consecutive ranges over the members
//     subscribed to it.
//   - [RoundRobin] ("roundrobin"): all subscribed partitions dealt in turn
//     over all members.
//   - [Sticky] ("sticky"): balanced, and moves as few currently owned
//     partitions as that balance allows.
//   - [CooperativeSticky] ("cooperative-sticky"): the sticky result, applied in
//     two rebalances so that no partition is ever owned by two members at once.
//
// # Eager and cooperative rebalancing
//
// Under the [Eager] protocol every member revokes everything it owns before the
// group rebalances, so the assignor may hand any partition to anyone. Under the
// [Cooperative] protocol members keep consuming what they own during a
// rebalance, so a partition must not be given to a new member while another
// member still owns it. [CooperativeSticky] therefore works in two phases: in
// the first rebalance it assigns the sticky target minus every partition that
// has to move away from a current owner (those stay unassigned; the owner sees
// them missing from its assignment and revokes them); the revocation triggers a
// second rebalance, in which those partitions are no longer owned by anyone
// and are assigned to their targets.
package assignor
