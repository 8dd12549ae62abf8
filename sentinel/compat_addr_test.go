package sentinel

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/redistest"
)

// Addresses as redis-sentinel prints them: a master configured by host name
// (resolve-hostnames yes) is shown by its IP with announce-hostnames no and
// by its name with yes; IPv6 addresses are bare in ip fields, INFO and
// events, bracketed only in replica names. Each test runs redis-sentinel and
// vigil from the same sentinel.conf and compares their replies, then lets
// vigil alone fail the group over (redis-sentinel is shut down first, so
// that two uncoordinated controllers do not both promote) and checks the
// +switch-master payload in redis-sentinel's format.

// addrView is what a sentinel tells about the group's addresses.
type addrView struct {
	getAddr, masterIP, info string
	replicas                []string // name ip, sorted
}

func viewAddrs(t *testing.T, addr string) addrView {
	t.Helper()
	v := addrView{
		getAddr:  strings.ReplaceAll(redisCLI(t, addr, "SENTINEL", "get-master-addr-by-name", "mymaster"), "\n", " "),
		masterIP: fieldMap(redisCLI(t, addr, "SENTINEL", "master", "mymaster"))["ip"],
	}
	for _, l := range strings.Split(redisCLI(t, addr, "INFO", "sentinel"), "\n") {
		if strings.HasPrefix(l, "master0:") {
			v.info = strings.TrimSpace(l)
		}
	}
	for _, b := range splitInstances(redisCLI(t, addr, "SENTINEL", "replicas", "mymaster")) {
		f := fieldMap(b)
		v.replicas = append(v.replicas, f["name"]+" "+f["ip"])
	}
	slices.Sort(v.replicas)
	return v
}

// compareAddrs waits until both list the replicas, then compares what they
// say about the group's addresses.
func compareAddrs(t *testing.T, sAddr, vAddr string, replicas int) addrView {
	t.Helper()
	waitBothKnowReplicas(t, sAddr, vAddr, replicas)
	s, v := viewAddrs(t, sAddr), viewAddrs(t, vAddr)
	if fmt.Sprint(s) != fmt.Sprint(v) {
		t.Errorf("addresses differ:\nredis-sentinel %+v\nvigil          %+v", s, v)
	}
	return v
}

// failOverAlone shuts redis-sentinel down, kills the master and waits for
// vigil's +switch-master; it returns the payload.
func failOverAlone(t *testing.T, sAddr string, v *Node, master *redistest.Server) string {
	t.Helper()
	redisCLI(t, sAddr, "SHUTDOWN", "NOSAVE")
	ch, cancel := v.Subscribe("+switch-master")
	defer cancel()
	master.Kill()
	select {
	case ev := <-ch:
		return ev.Payload
	case <-time.After(30 * time.Second):
		t.Fatal("no +switch-master within 30s of kill -9")
	}
	return ""
}

func hostnameConf(announce string, port int) string {
	return fmt.Sprintf("sentinel resolve-hostnames yes\nsentinel announce-hostnames %s\n"+
		"sentinel monitor mymaster localhost %d 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n", announce, port)
}

// TestHostnamesSideBySide: master configured as localhost, replicas
// replicating from 127.0.0.1.
func TestHostnamesSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, announce := range []string{"no", "yes"} {
		t.Run("announce-hostnames "+announce, func(t *testing.T) {
			grp := redistest.StartGroup(t, 2, redistest.Options{})
			sAddr, v := startBothConf(t, hostnameConf(announce, grp.Master.Port))
			mPort := strconv.Itoa(grp.Master.Port)
			host := "127.0.0.1"
			if announce == "yes" {
				host = "localhost"
			}
			view := compareAddrs(t, sAddr, v.Addr(), 2)
			if view.getAddr != host+" "+mPort || view.masterIP != host || !strings.Contains(view.info, "address="+host+":"+mPort) {
				t.Errorf("master shown as %+v, want host %s", view, host)
			}
			// The replicas report master_host 127.0.0.1: no spurious
			// +fix-slave-config or duplicate instance for localhost.
			payload := failOverAlone(t, sAddr, v, grp.Master)
			var newPort string
			for _, r := range grp.Replicas {
				if strings.HasSuffix(payload, " 127.0.0.1 "+strconv.Itoa(r.Port)) {
					newPort = strconv.Itoa(r.Port)
				}
			}
			if want := "mymaster " + host + " " + mPort + " 127.0.0.1 " + newPort; newPort == "" || payload != want {
				t.Fatalf("+switch-master %q, want %q (redis-sentinel's format)", payload, want)
			}
			if out := redisCLI(t, v.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"); out != "127.0.0.1\n"+newPort {
				t.Errorf("after the failover: %q", out)
			}
			for _, r := range grp.Replicas {
				if strconv.Itoa(r.Port) == newPort {
					continue
				}
				redistest.WaitFor(t, 30*time.Second, "the other replica to follow the new master", func() bool {
					info, err := r.Info(context.Background(), "replication")
					return err == nil && info["master_port"] == newPort && info["master_link_status"] == "up"
				})
			}
		})
	}
}

// TestIPv6SideBySide: a group on [::1]; vigil monitors it and fails it
// over, printing addresses as redis-sentinel does.
func TestIPv6SideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bind := redistest.Options{Args: []string{"--bind", "127.0.0.1", "::1"}}
	m := redistest.Start(t, bind)
	var replicas []*redistest.Server
	for range 2 {
		o := bind
		o.ReplicaOf = "[::1]:" + strconv.Itoa(m.Port)
		replicas = append(replicas, redistest.Start(t, o))
	}
	redistest.WaitReplicasOnline(t, m, replicas...)
	mPort := strconv.Itoa(m.Port)
	sAddr, v := startBothConf(t, fmt.Sprintf("sentinel monitor mymaster ::1 %d 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n", m.Port))

	view := compareAddrs(t, sAddr, v.Addr(), 2)
	if view.getAddr != "::1 "+mPort || view.masterIP != "::1" || !strings.Contains(view.info, "address=::1:"+mPort+",") {
		t.Errorf("master shown as %+v", view)
	}
	for _, r := range view.replicas {
		if !strings.HasPrefix(r, "[::1]:") || !strings.HasSuffix(r, " ::1") {
			t.Errorf("replica shown as %q, want \"[::1]:port ::1\"", r)
		}
	}

	payload := failOverAlone(t, sAddr, v, m)
	var promoted, other *redistest.Server
	for _, r := range replicas {
		if strings.HasSuffix(payload, " ::1 "+strconv.Itoa(r.Port)) {
			promoted = r
		} else {
			other = r
		}
	}
	if want := "mymaster ::1 " + mPort + " ::1 "; promoted == nil || !strings.HasPrefix(payload, want) {
		t.Fatalf("+switch-master %q, want %q<port>", payload, want)
	}
	pPort := strconv.Itoa(promoted.Port)
	if out := redisCLI(t, v.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"); out != "::1\n"+pPort {
		t.Errorf("after the failover: %q", out)
	}
	if out := redisCLI(t, v.Addr(), "INFO", "sentinel"); !strings.Contains(out, "address=::1:"+pPort+",") {
		t.Errorf("INFO sentinel after the failover: %q", out)
	}
	redistest.WaitFor(t, 30*time.Second, "the other replica to follow the new master over IPv6", func() bool {
		info, err := other.Info(context.Background(), "replication")
		return err == nil && info["master_host"] == "::1" && info["master_port"] == pPort && info["master_link_status"] == "up"
	})
}
