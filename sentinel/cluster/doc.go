// Package cluster is the gossip plumbing between vigil nodes, built on
// hashicorp/memberlist. It knows nothing about Redis or failover: the vigil
// node plugs in through the Handler interface and exchanges two things.
//
//   - NodeState, a node's full view (current epoch, and per master its
//     address, config epoch, s_down flag and last vote). Each node broadcasts
//     its own state every BroadcastInterval and on demand (Broadcast), and the
//     state is also carried by memberlist's periodic TCP push/pull, which
//     brings late joiners and healed partitions up to date.
//   - Message, a direct request or reply (VoteRequest, VoteReply) sent over
//     TCP to one node by id (Send).
//
// Files, by role: cluster.go creates the memberlist, joins seeds, runs the
// background loops and leaves; delegate.go holds the memberlist callbacks,
// the member table and the checks on everything received; inbox.go
// serialises calls into the Handler; messages.go is the wire format.
//
// # Delivery
//
// A state that fits in a UDP packet (about 1.3 KB, a handful of masters) is
// queued on memberlist's gossip queue, where a newer state replaces an
// older one still waiting. Memberlist does not relay user broadcasts, and
// the queue sends each one a limited number of times to random peers, so in
// larger clusters one broadcast may miss some peers; the periodic
// rebroadcast and push/pull make up for it. A larger state is sent instead
// over TCP to every alive member, once per BroadcastInterval at most. States
// may arrive late, twice or out of order: handlers merge them by epoch, not
// by arrival.
//
// # Trust
//
// Memberlist does not tell a delegate which peer sent a message, so the
// From of a received state or message cannot be checked against the
// transport. What is checked: the message decodes strictly (see
// messages.go), From is a member memberlist knows and is not this node, and
// a state's RESPAddr matches the address that member announced in its
// memberlist meta. Anything else is dropped with a rate-limited log line.
// To keep outsiders from speaking at all, set Config.SecretKey or
// Config.SecretKeys (a keyring, for rotation): memberlist then encrypts and
// authenticates all gossip and refuses unencrypted peers.
package cluster
