package topology

// Role is the replication role an instance reports.
type Role string

// Roles as Redis reports them in INFO ("master"/"slave") and ROLE
// ("master"/"slave"/"sentinel").
const (
	RoleUnknown  Role = ""
	RoleMaster   Role = "master"
	RoleReplica  Role = "slave"
	RoleSentinel Role = "sentinel"
)

// ReplicaEntry is one replica as a master reports it: a "slaveN:" line of
// INFO's replication section, or one element of a master's ROLE reply.
type ReplicaEntry struct {
	Addr   Addr
	State  string // online, wait_bgsave, send_bulk, ...; empty from ROLE
	Offset int64  // replication offset the replica last acknowledged; 0 when not reported
	Lag    int64  // seconds since the last acknowledgement; -1 when not reported

	// Type is the connection type Valkey 8+ appends ("replica", and during
	// dual-channel sync "rdb-channel" / "main-channel", in which case the
	// same replica address is listed twice). Empty on Redis.
	Type string
}

// Info is the subset of an INFO reply vigil uses. Fields absent from the
// reply keep their zero value unless documented otherwise.
type Info struct {
	// Server section.
	RunID        string
	RedisVersion string
	TCPPort      int
	Mode         string // redis_mode (server_mode on Valkey 8.1+): standalone, cluster or sentinel

	// Replication section, both roles.
	Role                Role
	MasterReplID        string
	MasterReplID2       string // replication ID inherited from a former master; all zeros when none
	MasterReplOffset    int64
	SecondReplOffset    int64  // offset up to which MasterReplID2 is valid; -1 when none or absent
	MasterFailoverState string // master_failover_state (6.2+): no-failover, waiting-for-sync, failover-in-progress

	// Keyspace section: the total of every dbN's keys=, and whether the
	// reply had a "# Keyspace" section at all (INFO without it says
	// nothing about keys).
	Keys      int64
	KeysKnown bool

	// Master side.
	ConnectedReplicas int
	Replicas          []ReplicaEntry // in slaveN order; malformed lines are left out
	MinReplicasGood   int            // min_slaves_good_slaves; -1 when absent

	// Replica side.
	MasterHost   string
	MasterPort   int
	MasterLinkUp bool // master_link_status:up
	// MasterLinkDownSinceSecs is master_link_down_since_seconds, 0 when absent
	// (the link is up). Redis 7.0+ reports -1 when the replica never
	// connected; older versions report seconds since the Unix epoch then.
	MasterLinkDownSinceSecs int64
	// MasterLastIOSecs is master_last_io_seconds_ago: seconds since the
	// replica last received anything from its master; -1 when absent.
	MasterLastIOSecs     int64
	ReplicaReplOffset    int64 // slave_repl_offset
	ReplicaPriority      int   // slave_priority / replica_priority; 100 when absent
	ReplicaAnnounced     bool  // replica_announced (6.2.2+); true when absent
	ReplicaReadOnly      bool  // slave_read_only
	MasterSyncInProgress bool  // master_sync_in_progress
}

// ReplicaOf returns the address of the master a replica replicates from. It
// reports false when the instance is not a replica or the reply carried no
// usable master_host/master_port.
func (i Info) ReplicaOf() (Addr, bool) {
	if i.Role != RoleReplica || i.MasterHost == "" || i.MasterPort < 1 || i.MasterPort > 65535 {
		return Addr{}, false
	}
	return Addr{Host: i.MasterHost, Port: i.MasterPort}, true
}

// RoleReply is a parsed ROLE reply.
type RoleReply struct {
	Role Role

	// Master: its replication offset and the replicas it knows. Only replicas
	// whose sync is complete are listed.
	MasterOffset int64
	Replicas     []ReplicaEntry // State and Lag are not carried by ROLE; Lag is -1

	// Replica: who it replicates from, the link state
	// ("connect", "connecting", "sync", "connected", "handshake", "none")
	// and the offset it has processed. ReplicaOffset is -1 while the link is
	// down, so rank replicas by INFO's slave_repl_offset instead.
	MasterAddr    Addr
	LinkState     string
	ReplicaOffset int64

	// Sentinel: the names of the masters it monitors.
	MasterNames []string
}
