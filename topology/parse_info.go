package topology

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrMalformedInfo reports INFO text that cannot be read as an instance's
// INFO reply: no role, or a role vigil does not know.
var ErrMalformedInfo = errors.New("malformed INFO reply")

// ParseInfo parses the text of an INFO reply: any sections, "# Section"
// headers, "key:value" lines, CRLF or LF line endings.
//
// Parsing is lenient, as Sentinel's is: unknown keys, lines without a
// colon and values that do not parse are ignored (the field keeps its
// default), and a malformed "slaveN:" line is left out of Replicas. The only
// errors are a reply with no role at all (for example INFO of a single
// section other than replication, or an error message) and an unknown role.
// A Sentinel's INFO has no role line; its redis_mode:sentinel yields
// RoleSentinel.
func ParseInfo(text string) (Info, error) {
	info := Info{
		MasterLastIOSecs: -1,
		SecondReplOffset: -1,
		MinReplicasGood:  -1,
		ReplicaPriority:  100,
		ReplicaAnnounced: true,
	}
	var role string
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line == "# Keyspace" {
			info.KeysKnown = true
		}
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if key == "role" {
			role = value
			continue
		}
		info.apply(key, value)
	}

	switch {
	case role == string(RoleMaster) || role == string(RoleReplica):
		info.Role = Role(role)
	case role != "":
		return Info{}, fmt.Errorf("%w: unknown role %s", ErrMalformedInfo, describe(role))
	case info.Mode == "sentinel":
		info.Role = RoleSentinel
	default:
		return Info{}, fmt.Errorf("%w: no role field", ErrMalformedInfo)
	}
	return info, nil
}

// apply records one "key:value" line other than role.
func (i *Info) apply(key, value string) {
	if strings.HasPrefix(key, "db") && isDigits(key[2:]) {
		i.addKeys(value)
		return
	}
	switch key {
	case "run_id":
		i.RunID = value
	case "redis_version":
		i.RedisVersion = value
	case "tcp_port":
		setInt(&i.TCPPort, value)
	case "redis_mode", "server_mode":
		i.Mode = value
	case "master_replid":
		i.MasterReplID = value
	case "master_replid2":
		i.MasterReplID2 = value
	case "master_repl_offset":
		setInt64(&i.MasterReplOffset, value)
	case "second_repl_offset":
		setInt64(&i.SecondReplOffset, value)
	case "master_failover_state":
		i.MasterFailoverState = value
	case "connected_slaves":
		setInt(&i.ConnectedReplicas, value)
	case "min_slaves_good_slaves":
		setInt(&i.MinReplicasGood, value)
	case "master_host":
		i.MasterHost = value
	case "master_port":
		setInt(&i.MasterPort, value)
	case "master_link_status":
		i.MasterLinkUp = value == "up"
	case "master_link_down_since_seconds":
		setInt64(&i.MasterLinkDownSinceSecs, value)
	case "master_last_io_seconds_ago":
		setInt64(&i.MasterLastIOSecs, value)
	case "slave_repl_offset":
		setInt64(&i.ReplicaReplOffset, value)
	case "slave_priority", "replica_priority":
		setInt(&i.ReplicaPriority, value)
	case "replica_announced":
		setBool(&i.ReplicaAnnounced, value)
	case "slave_read_only", "replica_read_only":
		setBool(&i.ReplicaReadOnly, value)
	case "master_sync_in_progress":
		setBool(&i.MasterSyncInProgress, value)
	default:
		if isReplicaKey(key) {
			if r, ok := parseReplicaLine(value); ok {
				i.Replicas = append(i.Replicas, r)
			}
		}
	}
}

// isReplicaKey reports whether key is "slave" followed by a decimal index,
// as in "slave0" (and not "slave_repl_offset").
func isReplicaKey(key string) bool {
	n, ok := strings.CutPrefix(key, "slave")
	if !ok || n == "" {
		return false
	}
	for _, c := range []byte(n) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseReplicaLine parses the value of a "slaveN:" line in either format:
//
//	ip=127.0.0.1,port=6380,state=online,offset=123,lag=0   (2.8+)
//	127.0.0.1,6380,online                                  (2.6)
//
// It reports false when the host is empty, the port is not a valid TCP port,
// or a numeric field does not parse.
func parseReplicaLine(value string) (ReplicaEntry, bool) {
	r := ReplicaEntry{Lag: -1}
	if !strings.Contains(value, "=") {
		fields := strings.Split(value, ",")
		if len(fields) < 3 {
			return ReplicaEntry{}, false
		}
		port, err := ParsePort(fields[1])
		if err != nil || fields[0] == "" {
			return ReplicaEntry{}, false
		}
		r.Addr = Addr{Host: fields[0], Port: port}
		r.State = fields[2]
		return r, true
	}

	var havePort bool
	for field := range strings.SplitSeq(value, ",") {
		k, v, _ := strings.Cut(field, "=")
		var err error
		switch k {
		case "ip":
			r.Addr.Host = v
		case "port":
			r.Addr.Port, err = ParsePort(v)
			havePort = err == nil
		case "state":
			r.State = v
		case "offset":
			r.Offset, err = strconv.ParseInt(v, 10, 64)
		case "lag":
			r.Lag, err = strconv.ParseInt(v, 10, 64)
		case "type":
			r.Type = v
		}
		if err != nil {
			return ReplicaEntry{}, false
		}
	}
	if r.Addr.Host == "" || !havePort {
		return ReplicaEntry{}, false
	}
	return r, true
}

// setInt stores the decimal value in *dst, leaving *dst alone if it does not
// parse.
func setInt(dst *int, value string) {
	if n, err := strconv.Atoi(value); err == nil {
		*dst = n
	}
}

// setInt64 is setInt for int64 fields.
func setInt64(dst *int64, value string) {
	if n, err := strconv.ParseInt(value, 10, 64); err == nil {
		*dst = n
	}
}

// setBool stores INFO's "1"/"0" in *dst, leaving *dst alone for anything
// else.
func setBool(dst *bool, value string) {
	switch value {
	case "1":
		*dst = true
	case "0":
		*dst = false
	}
}

// addKeys adds the keys= count of one keyspace line
// ("db0:keys=10,expires=0,avg_ttl=0"); a malformed line adds nothing.
func (i *Info) addKeys(value string) {
	for field := range strings.SplitSeq(value, ",") {
		if v, ok := strings.CutPrefix(field, "keys="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				i.Keys += n
			}
			return
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
