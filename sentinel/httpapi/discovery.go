package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/vigil-ha/vigil/sentinel"
)

// Load-balancer discovery, for HAProxy/Envoy health checks and clients
// that do not speak the Sentinel protocol.
//
// GET /v1/masters/{name}/primary answers 200 with the current master's
// address while it is healthy and no failover or switchover is moving it;
// 503 otherwise, so that a load balancer sends nothing to a master that is
// down or about to be demoted.
//
// GET /v1/masters/{name}/replica?max-lag=SECONDS answers 200 with a
// healthy replica (following the current master, link up, acknowledged
// within max-lag seconds, default 10), preferring the least lag; 503 when
// none qualifies.

type addrReply struct {
	Addr string `json:"addr"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

func (s *Server) handlePrimary(w http.ResponseWriter, r *http.Request) {
	m, ok := s.master(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such master: "+r.PathValue("name"))
		return
	}
	switch {
	case m.SDown:
		writeError(w, http.StatusServiceUnavailable, "master "+m.Addr+" is down")
	case m.FailoverState != "":
		writeError(w, http.StatusServiceUnavailable, "failover in progress ("+m.FailoverState+")")
	case m.Decision.Reason == sentinel.ReasonSwitchoverRunning:
		writeError(w, http.StatusServiceUnavailable, "switchover in progress")
	case m.RunID == "":
		writeError(w, http.StatusServiceUnavailable, "master not polled yet")
	default:
		writeJSON(w, http.StatusOK, splitAddrReply(m.Addr))
	}
}

func (s *Server) handleReplica(w http.ResponseWriter, r *http.Request) {
	m, ok := s.master(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such master: "+r.PathValue("name"))
		return
	}
	maxLag := int64(10)
	if v := r.URL.Query().Get("max-lag"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "max-lag must be a number of seconds >= 0")
			return
		}
		maxLag = n
	}
	var best *sentinel.ReplicaStatus
	for i := range m.Replicas {
		rs := &m.Replicas[i]
		if rs.SDown || !rs.Connected || rs.Role != "slave" || !rs.LinkUp ||
			net.JoinHostPort(rs.MasterHost, strconv.Itoa(rs.MasterPort)) != m.Addr ||
			rs.LagSeconds < 0 || rs.LagSeconds > maxLag {
			continue
		}
		if best == nil || rs.LagSeconds < best.LagSeconds || (rs.LagSeconds == best.LagSeconds && rs.Lag < best.Lag) {
			best = rs
		}
	}
	if best == nil {
		writeError(w, http.StatusServiceUnavailable, "no healthy replica within "+strconv.FormatInt(maxLag, 10)+"s of lag")
		return
	}
	writeJSON(w, http.StatusOK, splitAddrReply(best.Addr))
}

func splitAddrReply(addr string) addrReply {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addrReply{Addr: addr, Host: addr}
	}
	port, _ := strconv.Atoi(addr[i+1:])
	host := strings.TrimSuffix(strings.TrimPrefix(addr[:i], "["), "]")
	return addrReply{Addr: addr, Host: host, Port: port}
}
