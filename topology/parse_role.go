package topology

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrMalformedRole reports a ROLE reply whose shape is not one Redis or
// Sentinel sends.
var ErrMalformedRole = errors.New("malformed ROLE reply")

// ParseRole parses a ROLE reply decoded into a generic RESP array, as a Redis
// client returns it. Strings may arrive as string or []byte and numbers as
// int64, int, uint64 or their decimal text, since Redis itself mixes bulk
// strings and integers in this reply:
//
//	master:   ["master", offset, [[ip, port, offset], ...]]
//	replica:  ["slave", ip, port, state, offset]
//	sentinel: ["sentinel", [master-name, ...]]
//
// Elements after these are ignored. A malformed entry in a master's replica
// list is left out, as ParseInfo leaves out a malformed slaveN line; any other
// deviation is an error wrapping ErrMalformedRole.
func ParseRole(reply []any) (RoleReply, error) {
	if len(reply) == 0 {
		return RoleReply{}, fmt.Errorf("%w: empty reply", ErrMalformedRole)
	}
	name, ok := asString(reply[0])
	if !ok {
		return RoleReply{}, fmt.Errorf("%w: role is a %T, not a string", ErrMalformedRole, reply[0])
	}
	switch Role(name) {
	case RoleMaster:
		return parseMasterRole(reply)
	case RoleReplica:
		return parseReplicaRole(reply)
	case RoleSentinel:
		return parseSentinelRole(reply)
	default:
		return RoleReply{}, fmt.Errorf("%w: unknown role %s", ErrMalformedRole, describe(name))
	}
}

// parseMasterRole parses ["master", offset, [[ip, port, offset], ...]].
func parseMasterRole(reply []any) (RoleReply, error) {
	if len(reply) < 3 {
		return RoleReply{}, fmt.Errorf("%w: master reply has %d elements, want 3", ErrMalformedRole, len(reply))
	}
	offset, ok := asInt64(reply[1])
	if !ok {
		return RoleReply{}, fmt.Errorf("%w: master offset %s is not a number", ErrMalformedRole, describe(reply[1]))
	}
	var entries []any
	if reply[2] != nil {
		if entries, ok = reply[2].([]any); !ok {
			return RoleReply{}, fmt.Errorf("%w: master replica list is a %T, not an array", ErrMalformedRole, reply[2])
		}
	}
	rr := RoleReply{Role: RoleMaster, MasterOffset: offset}
	for _, e := range entries {
		if r, ok := parseRoleReplica(e); ok {
			rr.Replicas = append(rr.Replicas, r)
		}
	}
	return rr, nil
}

// parseRoleReplica parses one [ip, port, offset] element of a master's ROLE
// reply.
func parseRoleReplica(e any) (ReplicaEntry, bool) {
	fields, ok := e.([]any)
	if !ok || len(fields) < 3 {
		return ReplicaEntry{}, false
	}
	host, ok := asString(fields[0])
	if !ok || host == "" {
		return ReplicaEntry{}, false
	}
	port, ok := asPort(fields[1])
	if !ok {
		return ReplicaEntry{}, false
	}
	offset, ok := asInt64(fields[2])
	if !ok {
		return ReplicaEntry{}, false
	}
	return ReplicaEntry{Addr: Addr{Host: host, Port: port}, Offset: offset, Lag: -1}, true
}

// parseReplicaRole parses ["slave", ip, port, state, offset].
func parseReplicaRole(reply []any) (RoleReply, error) {
	if len(reply) < 5 {
		return RoleReply{}, fmt.Errorf("%w: replica reply has %d elements, want 5", ErrMalformedRole, len(reply))
	}
	host, ok := asString(reply[1])
	if !ok || host == "" {
		return RoleReply{}, fmt.Errorf("%w: replica's master host %s is not a host", ErrMalformedRole, describe(reply[1]))
	}
	port, ok := asPort(reply[2])
	if !ok {
		return RoleReply{}, fmt.Errorf("%w: replica's master port %s is not a port", ErrMalformedRole, describe(reply[2]))
	}
	state, ok := asString(reply[3])
	if !ok {
		return RoleReply{}, fmt.Errorf("%w: replica link state is a %T, not a string", ErrMalformedRole, reply[3])
	}
	offset, ok := asInt64(reply[4])
	if !ok {
		return RoleReply{}, fmt.Errorf("%w: replica offset %s is not a number", ErrMalformedRole, describe(reply[4]))
	}
	return RoleReply{
		Role:          RoleReplica,
		MasterAddr:    Addr{Host: host, Port: port},
		LinkState:     state,
		ReplicaOffset: offset,
	}, nil
}

// parseSentinelRole parses ["sentinel", [master-name, ...]].
func parseSentinelRole(reply []any) (RoleReply, error) {
	if len(reply) < 2 {
		return RoleReply{}, fmt.Errorf("%w: sentinel reply has %d elements, want 2", ErrMalformedRole, len(reply))
	}
	var names []any
	if reply[1] != nil {
		var ok bool
		if names, ok = reply[1].([]any); !ok {
			return RoleReply{}, fmt.Errorf("%w: sentinel master list is a %T, not an array", ErrMalformedRole, reply[1])
		}
	}
	rr := RoleReply{Role: RoleSentinel}
	for _, n := range names {
		name, ok := asString(n)
		if !ok {
			return RoleReply{}, fmt.Errorf("%w: sentinel master name is a %T, not a string", ErrMalformedRole, n)
		}
		rr.MasterNames = append(rr.MasterNames, name)
	}
	return rr, nil
}

// asString accepts the two forms a RESP string takes once decoded.
func asString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	default:
		return "", false
	}
}

// asInt64 accepts a RESP integer or a bulk string holding a decimal integer.
func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	case []byte:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	default:
		return 0, false
	}
}

// asPort accepts what asInt64 does, limited to a TCP port in 1..65535.
func asPort(v any) (int, bool) {
	n, ok := asInt64(v)
	if !ok || n < 1 || n > 65535 {
		return 0, false
	}
	return int(n), true
}

// describe renders a reply element for an error message: strings quoted and
// cut short, numbers as they are, anything else by type.
func describe(v any) string {
	if s, ok := asString(v); ok {
		const max = 40
		if len(s) > max {
			s = s[:max] + "..."
		}
		return strconv.Quote(s)
	}
	switch v.(type) {
	case int64, int, uint64:
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("a %T", v)
}
