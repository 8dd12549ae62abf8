package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
	"github.com/vigil-ha/vigil/internal/resp"
	"github.com/vigil-ha/vigil/internal/testpki"
	"github.com/vigil-ha/vigil/sentinel"
	"github.com/vigil-ha/vigil/topology"
)

// cliResult is one in-process run of the vigil command line.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs vigil with args in-process, mapping the error to an exit code
// exactly as run does.
func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(env, &out, &errb)
	root.SetArgs(args)
	code := exitOK
	if err := root.Execute(); err != nil {
		fmt.Fprintln(&errb, "vigil:", err)
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return cliResult{out.String(), errb.String(), code}
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// wantCode fails the test unless the run ended with code.
func (r cliResult) wantCode(t *testing.T, code int) cliResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	return r
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logWriter sends node logs to the test log until the test ends.
type logWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// startNode runs a vigil node monitoring masters until the test ends and
// returns its Sentinel-protocol address. opts adjust the configuration.
func startNode(t *testing.T, masters map[string]config.MasterConfig, opts ...func(*config.Config)) string {
	t.Helper()
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Node.DataDir = t.TempDir()
	cfg.Gossip.Bind = "127.0.0.1:0"
	for name, m := range masters {
		m.Name = name
		cfg.Masters[name] = m
	}
	for _, o := range opts {
		o(&cfg)
	}
	lw := &logWriter{t: t}
	t.Cleanup(func() {
		lw.mu.Lock()
		lw.done = true
		lw.mu.Unlock()
	})
	n, err := sentinel.New(cfg, slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := n.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("node did not stop within 10s of cancel")
		}
	})
	return n.Addr()
}

func monitor(t *testing.T, addr string, quorum int) config.MasterConfig {
	t.Helper()
	a, err := topology.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return config.NewMaster("", a, quorum)
}

// status runs `vigil status --json` and decodes it.
func status(t *testing.T, addr string, args ...string) statusReport {
	t.Helper()
	r := runCLI(t, nil, append([]string{"status", "--json", "-a", addr}, args...)...).wantCode(t, exitOK)
	var st statusReport
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return st
}

// waitReplicasUp waits until the node reports every replica of master with
// a working link.
func waitReplicasUp(t *testing.T, addr, master string, replicas ...*redistest.Server) {
	t.Helper()
	waitFor(t, 20*time.Second, "the node to see "+master+"'s replicas up", func() bool {
		st := status(t, addr, master)
		if len(st.Masters) != 1 || len(st.Masters[0].Replicas) != len(replicas) {
			return false
		}
		for _, r := range st.Masters[0].Replicas {
			if r.MasterLinkStatus != "ok" || r.Role != "slave" || !slices.ContainsFunc(replicas, func(s *redistest.Server) bool { return s.Addr() == r.Addr }) {
				return false
			}
		}
		return true
	})
}

// TestOpsAgainstNode runs the read-only commands and the refusals against a
// real node watching a real master with two replicas ("mymaster", quorum 1)
// and a master that is not running ("other", quorum 2: no quorum on a
// single node, and no replica to promote).
func TestOpsAgainstNode(t *testing.T) {
	g := redistest.StartGroup(t, 2, redistest.Options{})
	downAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	addr := startNode(t, map[string]config.MasterConfig{
		"mymaster": monitor(t, g.Master.Addr(), 1),
		"other":    monitor(t, downAddr, 2),
	})
	waitReplicasUp(t, addr, "mymaster", g.Replicas...)

	t.Run("status json", func(t *testing.T) {
		r := runCLI(t, nil, "status", "--json", "--addr", addr).wantCode(t, exitOK)
		var raw map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			t.Fatal(err)
		}
		node := raw["node"].(map[string]any)
		if _, ok := node["current_epoch"]; !ok {
			t.Errorf("node.current_epoch missing (must be present, possibly null):\n%s", r.stdout)
		}
		st := status(t, addr)
		if st.SchemaVersion != statusSchemaVersion || st.Node.Server != "vigil" || st.Node.Version != sentinel.Version ||
			st.Node.Addr != addr || st.Node.ID == "" {
			t.Errorf("node = %+v", st.Node)
		}
		if len(st.Masters) != 2 || st.Masters[0].Name != "mymaster" || st.Masters[1].Name != "other" {
			t.Fatalf("masters = %+v", st.Masters)
		}
		m := st.Masters[0]
		if m.Addr != g.Master.Addr() || !slices.Equal(m.Flags, []string{"master"}) || m.Quorum != 1 ||
			m.NumReplicas != 2 || m.NumPeers != 0 || m.FailoverState != "none" {
			t.Errorf("mymaster = %+v", m)
		}
		for _, rep := range m.Replicas {
			if rep.Priority != 100 || rep.Offset < 0 || !slices.Equal(rep.Flags, []string{"slave"}) {
				t.Errorf("replica = %+v", rep)
			}
		}
		if len(m.Peers) != 0 {
			t.Errorf("peers = %+v, want none", m.Peers)
		}
		if o := st.Masters[1]; o.Addr != downAddr || o.Quorum != 2 || len(o.Replicas) != 0 || o.Replicas == nil {
			t.Errorf("other = %+v", o)
		}
	})

	t.Run("status human", func(t *testing.T) {
		out := runCLI(t, nil, "status", "-a", addr).wantCode(t, exitOK).stdout
		want := []string{
			"node " + addr + "  vigil " + sentinel.Version,
			"MASTER    ADDRESS",
			"mymaster replicas",
			"mymaster peers\n  (none)",
			"other replicas\n  (none)",
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("status output lacks %q:\n%s", w, out)
			}
		}
		for _, rep := range g.Replicas {
			row := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(rep.Addr()) + `\s+slave\s+slave\s+ok\s+\d+\s+(-|\d+)\s+100$`)
			if !row.MatchString(out) {
				t.Errorf("status output lacks replica row for %s:\n%s", rep.Addr(), out)
			}
		}
		// The header and the rows of a table line up.
		lines := strings.Split(out, "\n")
		hdr := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "MASTER") })
		col := strings.Index(lines[hdr], "ADDRESS")
		for _, l := range lines[hdr+1 : hdr+3] {
			if !strings.HasPrefix(l[col:], g.Master.Addr()) && !strings.HasPrefix(l[col:], downAddr) {
				t.Errorf("ADDRESS column not aligned at %d in %q", col, l)
			}
		}
	})

	t.Run("status of one master", func(t *testing.T) {
		st := status(t, addr, "other")
		if len(st.Masters) != 1 || st.Masters[0].Name != "other" {
			t.Errorf("masters = %+v", st.Masters)
		}
		r := runCLI(t, nil, "status", "-a", addr, "nosuch").wantCode(t, exitUnknownMaster)
		if !strings.Contains(r.stderr, `"nosuch"`) {
			t.Errorf("stderr does not name the master: %s", r)
		}
	})

	t.Run("get-master-addr", func(t *testing.T) {
		r := runCLI(t, nil, "get-master-addr", "-a", addr, "mymaster").wantCode(t, exitOK)
		if r.stdout != g.Master.Addr()+"\n" {
			t.Errorf("stdout = %q, want %q", r.stdout, g.Master.Addr()+"\n")
		}
		runCLI(t, nil, "get-master-addr", "-a", addr, "nosuch").wantCode(t, exitUnknownMaster)
	})

	t.Run("ckquorum", func(t *testing.T) {
		r := runCLI(t, nil, "ckquorum", "-a", addr, "mymaster").wantCode(t, exitOK)
		if r.stdout != "OK 1 usable Sentinels. Quorum and failover authorization can be reached\n" {
			t.Errorf("stdout = %q", r.stdout)
		}
		r = runCLI(t, nil, "ckquorum", "-a", addr, "other").wantCode(t, exitFailure)
		if !strings.HasPrefix(r.stdout, "NOQUORUM 1 usable Sentinels.") {
			t.Errorf("stdout = %q", r.stdout)
		}
		runCLI(t, nil, "ckquorum", "-a", addr, "nosuch").wantCode(t, exitUnknownMaster)
	})

	t.Run("failover refused", func(t *testing.T) {
		r := runCLI(t, nil, "failover", "-a", addr, "other").wantCode(t, exitFailure)
		if !strings.Contains(r.stderr, "NOGOODSLAVE") || r.stdout != "" {
			t.Errorf("want NOGOODSLAVE on stderr only: %s", r)
		}
		runCLI(t, nil, "failover", "-a", addr, "nosuch").wantCode(t, exitUnknownMaster)
	})

	t.Run("switchover refused", func(t *testing.T) {
		// Whatever the node answers for a master with no replica, it is a
		// refusal, not success.
		r := runCLI(t, nil, "switchover", "-a", addr, "other")
		if r.code != exitFailure {
			t.Errorf("want exit %d: %s", exitFailure, r)
		}
	})

	t.Run("address from the environment", func(t *testing.T) {
		r := runCLI(t, []string{"VIGIL_ADDR=" + addr}, "get-master-addr", "mymaster").wantCode(t, exitOK)
		if r.stdout != g.Master.Addr()+"\n" {
			t.Errorf("stdout = %q", r.stdout)
		}
		// The flag wins over the environment.
		dead := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
		runCLI(t, []string{"VIGIL_ADDR=" + dead}, "get-master-addr", "-a", addr, "mymaster").wantCode(t, exitOK)
		runCLI(t, []string{"VIGIL_ADDR=" + addr}, "get-master-addr", "-a", dead, "mymaster").wantCode(t, exitUnreachable)
	})
}

// TestOpsFailoverAgainstNode forces a failover and follows it with
// get-master-addr until a replica is the master.
func TestOpsFailoverAgainstNode(t *testing.T) {
	g := redistest.StartGroup(t, 2, redistest.Options{})
	addr := startNode(t, map[string]config.MasterConfig{"mymaster": monitor(t, g.Master.Addr(), 1)})
	waitReplicasUp(t, addr, "mymaster", g.Replicas...)

	r := runCLI(t, nil, "failover", "-a", addr, "mymaster").wantCode(t, exitOK)
	if r.stdout != "failover of mymaster started\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	waitFor(t, 30*time.Second, "a replica to become the master", func() bool {
		out := strings.TrimSpace(runCLI(t, nil, "get-master-addr", "-a", addr, "mymaster").wantCode(t, exitOK).stdout)
		return out == g.Replicas[0].Addr() || out == g.Replicas[1].Addr()
	})
}

func TestOpsUnreachable(t *testing.T) {
	dead := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	for _, args := range [][]string{
		{"status"}, {"status", "--json", "mymaster"}, {"failover", "mymaster"}, {"switchover", "mymaster"},
		{"get-master-addr", "mymaster"}, {"ckquorum", "mymaster"},
	} {
		r := runCLI(t, nil, append(args, "--addr", dead)...).wantCode(t, exitUnreachable)
		if !strings.Contains(r.stderr, "cannot reach node "+dead) {
			t.Errorf("%v: stderr = %q", args, r.stderr)
		}
	}

	// A port that accepts connections but never answers times out.
	silent := fakeNode(t, func(args []string, w *resp.Writer) bool { return true })
	start := time.Now()
	runCLI(t, nil, "status", "--addr", silent.addr, "--timeout", "200ms").wantCode(t, exitUnreachable)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("status against a silent port took %v with --timeout 200ms", d)
	}
}

func TestOpsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"get-master-addr"},
		{"get-master-addr", "a", "b"},
		{"status", "--addr", "localhost"},
		{"status", "--addr", "localhost:0"},
		{"status", "--addr", ":26379"},
		{"status", "--timeout", "0s"},
		{"switchover", "mymaster", "--to", "nonsense"},
		{"switchover", "mymaster", "--wait", "-1s"},
		{"failover", "--bogus", "mymaster"},
	} {
		runCLI(t, nil, args...).wantCode(t, exitUsage)
	}
	runCLI(t, []string{"VIGIL_ADDR=nonsense"}, "status").wantCode(t, exitUsage)
}

// fake is a scripted Sentinel-protocol server for replies a real node does
// not give on demand.
type fake struct {
	addr string
	mu   sync.Mutex
	cmds [][]string // every command received, lower-cased name first
}

// commands returns the commands received so far.
func (f *fake) commands() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

// fakeNode serves handle on a loopback port until the test ends. handle
// writes the reply for args and returns true, or returns false to leave the
// command unanswered. HELLO is refused (the client falls back to RESP2 and
// AUTH), PING answered, unless handle answers them itself.
func fakeNode(t *testing.T, handle func(args []string, w *resp.Writer) bool) *fake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				r, w := resp.NewReader(c), resp.NewWriter(c)
				for {
					raw, err := r.ReadCommand()
					if err != nil {
						return
					}
					args := make([]string, len(raw))
					for i, a := range raw {
						args[i] = string(a)
					}
					args[0] = strings.ToLower(args[0])
					f.mu.Lock()
					f.cmds = append(f.cmds, args)
					f.mu.Unlock()
					if !handle(args, w) {
						switch args[0] {
						case "hello":
							w.Error("ERR unknown command 'HELLO'")
						case "ping":
							w.Simple("PONG")
						default:
							continue
						}
					}
					if w.Flush() != nil {
						return
					}
				}
			})
		}
	})
	return f
}

// isSentinel reports whether args is SENTINEL sub (case-insensitive).
func isSentinel(args []string, sub string) bool {
	return len(args) >= 2 && args[0] == "sentinel" && strings.EqualFold(args[1], sub)
}

func TestOpsSwitchover(t *testing.T) {
	t.Run("done", func(t *testing.T) {
		f := fakeNode(t, func(args []string, w *resp.Writer) bool {
			switch {
			case isSentinel(args, "switchover"):
				w.Simple("OK")
			case isSentinel(args, "get-master-addr-by-name"):
				w.BulkStrings([]string{"10.0.0.2", "6380"})
			default:
				return false
			}
			return true
		})
		r := runCLI(t, nil, "switchover", "-a", f.addr, "mymaster", "--to", "10.0.0.2:6380").wantCode(t, exitOK)
		if r.stdout != "switchover of mymaster done: new master 10.0.0.2:6380\n" {
			t.Errorf("stdout = %q", r.stdout)
		}
		cmds := f.commands()
		i := slices.IndexFunc(cmds, func(c []string) bool { return isSentinel(c, "switchover") })
		if i < 0 || !slices.Equal(cmds[i], []string{"sentinel", "switchover", "mymaster", "10.0.0.2", "6380"}) {
			t.Errorf("commands = %q", cmds)
		}
		runCLI(t, nil, "switchover", "-a", f.addr, "mymaster").wantCode(t, exitOK)
		cmds = f.commands()
		if last := cmds[len(cmds)-2]; !slices.Equal(last, []string{"sentinel", "switchover", "mymaster"}) {
			t.Errorf("switchover without --to sent %q", last)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for reply, code := range map[string]int{
			"NOGOODSLAVE No suitable replica to promote": exitFailure,
			"INPROG Failover already in progress":        exitFailure,
			"ERR No such master with that name":          exitUnknownMaster,
		} {
			f := fakeNode(t, func(args []string, w *resp.Writer) bool {
				if isSentinel(args, "switchover") {
					w.Error(reply)
					return true
				}
				return false
			})
			r := runCLI(t, nil, "switchover", "-a", f.addr, "mymaster").wantCode(t, code)
			if !strings.Contains(r.stderr, reply) || r.stdout != "" {
				t.Errorf("reply %q: %s", reply, r)
			}
		}
	})

	t.Run("no answer within --wait", func(t *testing.T) {
		f := fakeNode(t, func(args []string, w *resp.Writer) bool { return false })
		r := runCLI(t, nil, "switchover", "-a", f.addr, "mymaster", "--wait", "300ms").wantCode(t, exitFailure)
		if !strings.Contains(r.stderr, "may still be in progress") {
			t.Errorf("stderr = %q", r.stderr)
		}
	})
}

func TestOpsGetMasterAddrIPv6(t *testing.T) {
	f := fakeNode(t, func(args []string, w *resp.Writer) bool {
		if isSentinel(args, "get-master-addr-by-name") {
			w.BulkStrings([]string{"::1", "6379"})
			return true
		}
		return false
	})
	r := runCLI(t, nil, "get-master-addr", "-a", f.addr, "mymaster").wantCode(t, exitOK)
	if r.stdout != "[::1]:6379\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestOpsPassword(t *testing.T) {
	f := fakeNode(t, func(args []string, w *resp.Writer) bool {
		if args[0] == "auth" {
			if args[len(args)-1] == "secret" {
				w.Simple("OK")
			} else {
				w.Error("WRONGPASS invalid username-password pair or user is disabled.")
			}
			return true
		}
		if isSentinel(args, "get-master-addr-by-name") {
			w.BulkStrings([]string{"10.0.0.1", "6379"})
			return true
		}
		return false
	})
	sentAuth := func() bool {
		for _, c := range f.commands() {
			if c[0] == "auth" || (c[0] == "hello" && slices.ContainsFunc(c, func(a string) bool { return strings.EqualFold(a, "auth") })) {
				return true
			}
		}
		return false
	}

	runCLI(t, nil, "get-master-addr", "-a", f.addr, "mymaster").wantCode(t, exitOK)
	if sentAuth() {
		t.Errorf("AUTH sent without a password: %q", f.commands())
	}
	runCLI(t, nil, "get-master-addr", "-a", f.addr, "--password", "secret", "mymaster").wantCode(t, exitOK)
	if !sentAuth() {
		t.Errorf("no AUTH sent with --password: %q", f.commands())
	}
	runCLI(t, []string{"VIGIL_PASSWORD=secret"}, "get-master-addr", "-a", f.addr, "mymaster").wantCode(t, exitOK)
	r := runCLI(t, []string{"VIGIL_PASSWORD=wrong"}, "get-master-addr", "-a", f.addr, "mymaster").wantCode(t, exitUsage)
	if !strings.Contains(r.stderr, "WRONGPASS") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

// TestOpsTLSAndUser runs the operator commands against a node that serves
// TLS only, requires client certificates and knows a user: the TLS flags,
// --user and their refusals.
func TestOpsTLSAndUser(t *testing.T) {
	g := redistest.StartGroup(t, 0, redistest.Options{})
	pki := testpki.New(t, "", "")
	addr := startNode(t, map[string]config.MasterConfig{"mymaster": monitor(t, g.Master.Addr(), 1)}, func(c *config.Config) {
		c.Node.TLS = config.NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile}
		c.Node.Users = []config.UserConfig{{Name: "ops", Password: "opspass"}}
	})
	tlsArgs := []string{"--tls", "--cacert", pki.CAFile, "--cert", pki.CertFile, "--key", pki.KeyFile}
	args := func(extra ...string) []string {
		return append(append([]string{"get-master-addr", "-a", addr}, extra...), "mymaster")
	}

	r := runCLI(t, nil, args(append(tlsArgs, "--user", "ops", "--password", "opspass")...)...).wantCode(t, exitOK)
	if r.stdout != g.Master.Addr()+"\n" {
		t.Errorf("stdout = %q, want %s", r.stdout, g.Master.Addr())
	}
	runCLI(t, []string{"VIGIL_USER=ops", "VIGIL_PASSWORD=opspass"}, args(tlsArgs...)...).wantCode(t, exitOK)
	status(t, addr, append(tlsArgs, "--user", "ops", "--password", "opspass")...)

	r = runCLI(t, nil, args(append(tlsArgs, "--user", "ops", "--password", "wrong")...)...).wantCode(t, exitUsage)
	if !strings.Contains(r.stderr, "WRONGPASS") {
		t.Errorf("wrong password: stderr = %q", r.stderr)
	}
	r = runCLI(t, nil, args("--password", "opspass")...).wantCode(t, exitUnreachable)
	if !strings.Contains(r.stderr, "cannot reach node") {
		t.Errorf("plain text to a TLS port: stderr = %q", r.stderr)
	}
	other := testpki.New(t, "", "")
	r = runCLI(t, nil, args("--tls", "--cacert", other.CAFile, "--user", "ops", "--password", "opspass")...).wantCode(t, exitUnreachable)
	if !strings.Contains(r.stderr, "certificate") {
		t.Errorf("untrusted server certificate: stderr = %q", r.stderr)
	}
	runCLI(t, nil, args("--tls", "--insecure", "--cert", pki.CertFile, "--key", pki.KeyFile, "--user", "ops", "--password", "opspass")...).wantCode(t, exitOK)

	for _, bad := range [][]string{
		{"--cacert", pki.CAFile},
		{"--tls", "--cert", pki.CertFile},
		{"--tls", "--cacert", "/nonexistent/ca.pem"},
		{"--user", "ops"},
	} {
		r := runCLI(t, nil, args(bad...)...).wantCode(t, exitUsage)
		if r.stderr == "" {
			t.Errorf("%q: no message", bad)
		}
	}
}

// TestOpsStatusLag checks the fields read from redis-sentinel-shaped
// replies, including the lag computed from SENTINEL INFO-CACHE and the
// current epoch from INFO.
func TestOpsStatusLag(t *testing.T) {
	f := fakeNode(t, func(args []string, w *resp.Writer) bool {
		switch {
		case args[0] == "info":
			w.Bulk("# Server\r\nredis_version:7.0.15\r\nredis_mode:sentinel\r\nrun_id:abc\r\n\r\n# Sentinel\r\nsentinel_masters:1\r\nsentinel_tilt:1\r\nsentinel_current_epoch:7\r\n")
		case isSentinel(args, "myid"):
			w.Bulk("0123456789012345678901234567890123456789")
		case isSentinel(args, "masters"):
			w.Array(1)
			w.StringMap([]string{"name", "mymaster", "ip", "10.0.0.1", "port", "6379", "runid", "r1",
				"flags", "master,failover_in_progress", "failover-state", "wait_promotion", "config-epoch", "6",
				"num-slaves", "2", "num-other-sentinels", "1", "quorum", "2"})
		case isSentinel(args, "replicas"):
			w.Array(2)
			w.StringMap([]string{"name", "10.0.0.3:6379", "ip", "10.0.0.3", "port", "6379", "flags", "s_down,slave",
				"role-reported", "slave", "master-link-status", "err", "slave-priority", "0", "slave-repl-offset", "900"})
			w.StringMap([]string{"name", "10.0.0.2:6379", "ip", "10.0.0.2", "port", "6379", "flags", "slave,promoted",
				"role-reported", "slave", "master-link-status", "ok", "slave-priority", "100", "slave-repl-offset", "1000"})
		case isSentinel(args, "sentinels"):
			w.Array(1)
			w.StringMap([]string{"name", "peer1", "ip", "10.0.0.9", "port", "26379", "runid", "peer1",
				"flags", "sentinel", "voted-leader", "0123456789012345678901234567890123456789", "voted-leader-epoch", "7"})
		case isSentinel(args, "info-cache"):
			w.Array(2)
			w.Bulk("mymaster")
			w.Array(2)
			w.Array(2)
			w.Int(120)
			w.Bulk("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:1200\r\n")
			w.Array(2)
			w.Int(130)
			w.NullBulk()
		default:
			return false
		}
		return true
	})
	st := status(t, f.addr)
	want := statusReport{
		SchemaVersion: statusSchemaVersion,
		Node:          nodeReport{Addr: f.addr, ID: "0123456789012345678901234567890123456789", Server: "redis-sentinel", Version: "7.0.15", CurrentEpoch: ptr(uint64(7)), Tilt: true},
		Masters: []masterReport{{
			Name: "mymaster", Addr: "10.0.0.1:6379", Flags: []string{"master", "failover_in_progress"}, ConfigEpoch: 6, Quorum: 2,
			NumReplicas: 2, NumPeers: 1, FailoverState: "wait_promotion", ReplOffset: ptr(int64(1200)),
			Replicas: []replicaReport{
				{Addr: "10.0.0.2:6379", Flags: []string{"slave", "promoted"}, Role: "slave", MasterLinkStatus: "ok", Offset: 1000, Lag: ptr(int64(200)), Priority: 100},
				{Addr: "10.0.0.3:6379", Flags: []string{"s_down", "slave"}, Role: "slave", MasterLinkStatus: "err", Offset: 900, Lag: ptr(int64(300)), Priority: 0},
			},
			Peers: []peerReport{{ID: "peer1", Addr: "10.0.0.9:26379", Flags: []string{"sentinel"}, VotedLeader: ptr("0123456789012345678901234567890123456789"), VotedLeaderEpoch: 7}},
		}},
	}
	got, _ := json.Marshal(st)
	exp, _ := json.Marshal(want)
	if !bytes.Equal(got, exp) {
		t.Errorf("status\n got %s\nwant %s", got, exp)
	}

	out := runCLI(t, nil, "status", "-a", f.addr).wantCode(t, exitOK).stdout
	wantOut := "node " + f.addr + `  redis-sentinel 7.0.15  id 0123456789012345678901234567890123456789  current-epoch 7
TILT: the node saw its clock or scheduler jump and takes no failover action until tilt ends

MASTER    ADDRESS        FLAGS                        CONFIG-EPOCH  QUORUM  REPLICAS  PEERS  FAILOVER
mymaster  10.0.0.1:6379  master,failover_in_progress  6             2       2         1      wait_promotion

mymaster replicas (master offset 1200)
  ADDRESS        FLAGS           ROLE   LINK  OFFSET  LAG  PRIORITY
  10.0.0.2:6379  slave,promoted  slave  ok    1000    200  100
  10.0.0.3:6379  s_down,slave    slave  err   900     300  0

mymaster peers
  ID     ADDRESS         FLAGS     VOTED-LEADER                              VOTE-EPOCH
  peer1  10.0.0.9:26379  sentinel  0123456789012345678901234567890123456789  7
`
	if out != wantOut {
		t.Errorf("status output\n got:\n%s\nwant:\n%s", out, wantOut)
	}
}

func ptr[T any](v T) *T { return &v }

// TestOpsAgainstRedisSentinel runs the read-only commands against the real
// redis-sentinel: the commands speak the Sentinel protocol, so they work
// there too, and redis-sentinel answers SENTINEL INFO-CACHE, which gives
// replica lag.
func TestOpsAgainstRedisSentinel(t *testing.T) {
	bin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		t.Skip("redis-sentinel not installed")
	}
	g := redistest.StartGroup(t, 2, redistest.Options{})
	port := redistest.FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor mymaster 127.0.0.1 %d 1\n",
		port, dir, filepath.Join(dir, "sentinel.log"), g.Master.Port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(bin, conf)
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = proc.Process.Kill()
		_ = proc.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	var st statusReport
	waitFor(t, 20*time.Second, "redis-sentinel to report both replicas with their lag", func() bool {
		r := runCLI(t, nil, "status", "--json", "-a", addr)
		if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &st) != nil || len(st.Masters) != 1 {
			return false
		}
		m := st.Masters[0]
		if m.ReplOffset == nil || len(m.Replicas) != 2 {
			return false
		}
		for _, rep := range m.Replicas {
			if rep.Lag == nil || rep.MasterLinkStatus != "ok" {
				return false
			}
		}
		return true
	})
	if st.Node.Server != "redis-sentinel" || len(st.Node.ID) != 40 || st.Masters[0].Addr != g.Master.Addr() {
		t.Errorf("status = %+v", st)
	}
	r := runCLI(t, nil, "get-master-addr", "-a", addr, "mymaster").wantCode(t, exitOK)
	if r.stdout != g.Master.Addr()+"\n" {
		t.Errorf("get-master-addr = %q", r.stdout)
	}
	runCLI(t, nil, "get-master-addr", "-a", addr, "nosuch").wantCode(t, exitUnknownMaster)
	runCLI(t, nil, "ckquorum", "-a", addr, "mymaster").wantCode(t, exitOK)
	runCLI(t, nil, "ckquorum", "-a", addr, "nosuch").wantCode(t, exitUnknownMaster)
	runCLI(t, nil, "status", "-a", addr, "nosuch").wantCode(t, exitUnknownMaster)
}

// TestOpsSwitchoverAgainstNode hands mymaster to a chosen replica and checks
// the command reports it as the new master.
func TestOpsSwitchoverAgainstNode(t *testing.T) {
	g := redistest.StartGroup(t, 2, redistest.Options{})
	addr := startNode(t, map[string]config.MasterConfig{"mymaster": monitor(t, g.Master.Addr(), 1)})
	waitReplicasUp(t, addr, "mymaster", g.Replicas...)

	target := g.Replicas[1].Addr()
	r := runCLI(t, nil, "switchover", "-a", addr, "mymaster", "--to", target, "--wait", "30s").wantCode(t, exitOK)
	if r.stdout != "switchover of mymaster done: new master "+target+"\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	r = runCLI(t, nil, "get-master-addr", "-a", addr, "mymaster").wantCode(t, exitOK)
	if r.stdout != target+"\n" {
		t.Errorf("get-master-addr after switchover = %q, want %s", r.stdout, target)
	}
}
