package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SyncTimeout bounds how long StartGroup and WaitReplicasOnline wait for
// replication links to come up.
const SyncTimeout = 20 * time.Second

// Group is a master with its replicas, all on loopback.
type Group struct {
	Master   *Server
	Replicas []*Server
}

// All returns the master followed by the replicas.
func (g *Group) All() []*Server {
	return append([]*Server{g.Master}, g.Replicas...)
}

// StartGroup starts a master and n replicas of it, each configured by opts
// (opts.ReplicaOf is ignored: the master has none and the replicas follow the
// master), and waits until replication is fully up (see
// [WaitReplicasOnline]).
func StartGroup(t testing.TB, replicas int, opts Options) *Group {
	t.Helper()
	if replicas < 0 {
		t.Fatalf("redistest: StartGroup with %d replicas", replicas)
	}
	opts.ReplicaOf = ""
	g := &Group{Master: Start(t, opts)}
	opts.ReplicaOf = g.Master.Addr()
	for range replicas {
		g.Replicas = append(g.Replicas, Start(t, opts))
	}
	WaitReplicasOnline(t, g.Master, g.Replicas...)
	return g
}

// WaitReplicasOnline waits, for at most SyncTimeout, until master's INFO
// replication reports exactly len(replicas) connected replicas, each of the
// given ones with state=online, and each replica reports
// master_link_status:up towards master's port.
func WaitReplicasOnline(t testing.TB, master *Server, replicas ...*Server) {
	t.Helper()
	var why string
	ok := poll(SyncTimeout, func() bool {
		why = replicationProblem(master, replicas)
		return why == ""
	})
	if !ok {
		t.Fatalf("redistest: timed out after %v waiting for %d replicas of %s to be online: %s", SyncTimeout, len(replicas), master.Addr(), why)
	}
}

// replicationProblem returns why replication from master to replicas is not
// fully up yet, or "" if it is.
func replicationProblem(master *Server, replicas []*Server) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := master.Info(ctx, "replication")
	if err != nil {
		return err.Error()
	}
	if got := info["connected_slaves"]; got != strconv.Itoa(len(replicas)) {
		return fmt.Sprintf("master reports connected_slaves:%s", got)
	}
	online := onlineReplicaPorts(info)
	for _, r := range replicas {
		if !online[r.Port] {
			return fmt.Sprintf("master does not list %s as online", r.Addr())
		}
		rinfo, err := r.Info(ctx, "replication")
		if err != nil {
			return err.Error()
		}
		if rinfo["master_port"] != strconv.Itoa(master.Port) || rinfo["master_link_status"] != "up" {
			return fmt.Sprintf("replica %s reports master_port:%s master_link_status:%s",
				r.Addr(), rinfo["master_port"], rinfo["master_link_status"])
		}
	}
	return ""
}

// onlineReplicaPorts returns the ports of the replicas that a master's INFO
// replication lists with state=online ("slave0:ip=...,port=...,state=online,...").
func onlineReplicaPorts(info map[string]string) map[int]bool {
	ports := make(map[int]bool)
	for key, value := range info {
		n, isSlave := strings.CutPrefix(key, "slave")
		if _, err := strconv.Atoi(n); !isSlave || err != nil {
			continue // not a "slaveN" line
		}
		fields := make(map[string]string)
		for kv := range strings.SplitSeq(value, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				fields[k] = v
			}
		}
		port, err := strconv.Atoi(fields["port"])
		if err == nil && fields["state"] == "online" {
			ports[port] = true
		}
	}
	return ports
}
