package sentinel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
	"github.com/vigil-ha/vigil/internal/testpki"
)

// Security: gossip encryption, authentication and TLS on the Sentinel
// port, AUTH and TLS towards Redis, and secrets kept out of every output.
// Real sockets throughout; real redis-server where Redis is involved. The
// certificates are generated per test and never written outside its
// temporary directory.

func gossipKey(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

// members returns the ids of the gossip members n sees alive.
func members(n *Node) map[string]bool {
	out := map[string]bool{}
	for _, m := range n.cluster.Members() {
		if m.Alive {
			out[m.ID] = true
		}
	}
	return out
}

func TestGossipSecretKeys(t *testing.T) {
	keyed := func(keys ...string) config.Config {
		cfg := testConfig(t, nil)
		cfg.Gossip.SecretKeys = keys
		return cfg
	}
	a := startNode(t, keyed(gossipKey(1)))
	bcfg := keyed(gossipKey(1))
	bcfg.Gossip.Join = []string{a.GossipAddr()}
	b := startNode(t, bcfg)
	redistest.WaitFor(t, 10*time.Second, "nodes with the same key see each other", func() bool {
		return members(a)[b.ID()] && members(b)[a.ID()]
	})

	for name, cfg := range map[string]config.Config{
		"another key": keyed(gossipKey(2)),
		"no key":      keyed(),
	} {
		t.Run(name, func(t *testing.T) {
			c := startNode(t, cfg)
			if n, err := c.cluster.Join([]string{a.GossipAddr()}); err == nil || n != 0 {
				t.Fatalf("join: %d nodes answered, err %v; want a refusal", n, err)
			}
			if members(a)[c.ID()] || members(c)[a.ID()] {
				t.Fatal("the refused node is listed as a member")
			}
		})
	}

	// Rotation, step 1 (the new key installed as a secondary) talks to the
	// nodes that do not have it yet.
	rcfg := keyed(gossipKey(1), gossipKey(3))
	rcfg.Gossip.Join = []string{a.GossipAddr()}
	r := startNode(t, rcfg)
	redistest.WaitFor(t, 10*time.Second, "a rotating node joins", func() bool {
		return members(a)[r.ID()] && members(r)[b.ID()]
	})
}

// authNode runs a node with requirepass "s3cret" and the user alice
// (password "alice-pw"), monitoring an unreachable master.
func authNode(t *testing.T, mutate ...func(*config.Config)) *Node {
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)})
	cfg.Node.RequirePass = "s3cret"
	cfg.Node.Users = []config.UserConfig{{Name: "alice", Password: "alice-pw"}}
	for _, m := range mutate {
		m(&cfg)
	}
	return startNode(t, cfg)
}

func TestRESPAuth(t *testing.T) {
	n := authNode(t)
	c := dialRaw(t, n.Addr())
	steps := []struct{ cmd, want string }{
		{"PING\r\n", "-" + errNoAuth + "\r\n"},
		{"SENTINEL get-master-addr-by-name mymaster\r\n", "-" + errNoAuth + "\r\n"},
		{"CLIENT SETNAME x\r\n", "-" + errNoAuth + "\r\n"},
		{"FOO\r\n", "-ERR unknown command 'FOO', with args beginning with: \r\n"},
		{"AUTH\r\n", "-ERR wrong number of arguments for 'auth' command\r\n"},
		{"AUTH a b c\r\n", "-ERR syntax error\r\n"},
		{"HELLO 3\r\n", "-" + errHelloNoAuth + "\r\n"},
		{"HELLO 3 AUTH alice\r\n", "-ERR Syntax error in HELLO option 'AUTH'\r\n"},
		{"AUTH wrong\r\n", "-" + errWrongPass + "\r\n"},
		{"AUTH alice s3cret\r\n", "-" + errWrongPass + "\r\n"}, // a password, but not alice's
		{"AUTH default alice-pw\r\n", "-" + errWrongPass + "\r\n"},
		{"AUTH nobody s3cret\r\n", "-" + errWrongPass + "\r\n"},
		{"PING\r\n", "-" + errNoAuth + "\r\n"},
		{"AUTH s3cret\r\n", "+OK\r\n"},
		{"PING\r\n", "+PONG\r\n"},
		{"SENTINEL get-master-addr-by-name mymaster\r\n", "*2\r\n$9\r\n127.0.0.1\r\n$1\r\n1\r\n"},
		{"AUTH wrong\r\n", "-" + errWrongPass + "\r\n"},
		{"PING\r\n", "+PONG\r\n"}, // a failed AUTH does not log out
		{"RESET\r\n", "+RESET\r\n"},
		{"PING\r\n", "-" + errNoAuth + "\r\n"}, // RESET does
		{"AUTH alice alice-pw\r\n", "+OK\r\n"},
		{"PING\r\n", "+PONG\r\n"},
		{"QUIT\r\n", "+OK\r\n"},
	}
	for _, s := range steps {
		if got := c.roundTrip(s.cmd); got != s.want {
			t.Errorf("%q:\n got %q\nwant %q", s.cmd, got, s.want)
		}
	}

	// HELLO AUTH authenticates and switches protocol in one step.
	h := dialRaw(t, n.Addr())
	if got := h.roundTrip("HELLO 3 AUTH alice wrong\r\n"); got != "-"+errWrongPass+"\r\n" {
		t.Errorf("HELLO with a wrong password: %q", got)
	}
	if got := h.roundTrip("HELLO 3 AUTH alice alice-pw SETNAME app\r\n"); !strings.HasPrefix(got, "%6\r\n$6\r\nserver\r\n") {
		t.Errorf("HELLO 3 AUTH alice: %q", got)
	}
	if got := h.roundTrip("CLIENT GETNAME\r\n"); got != "$3\r\napp\r\n" {
		t.Errorf("CLIENT GETNAME after HELLO: %q", got)
	}
	if got := h.roundTrip("HELLO 2\r\n"); !strings.HasPrefix(got, "*12\r\n") {
		t.Errorf("HELLO 2 once authenticated: %q", got)
	}
	d := dialRaw(t, n.Addr())
	if got := d.roundTrip("HELLO 2 AUTH default s3cret\r\n"); !strings.HasPrefix(got, "*12\r\n") {
		t.Errorf("HELLO 2 AUTH default: %q", got)
	}
}

// TestRESPAuthMatchesRedis sends the same commands, unauthenticated and
// with wrong passwords, to redis-server with requirepass and to vigil, and
// expects the same error replies.
func TestRESPAuthMatchesRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	srv := redistest.Start(t, redistest.Options{})
	if err := srv.Client().ConfigSet(context.Background(), "requirepass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	n := authNode(t)
	r, v := dialRaw(t, srv.Addr()), dialRaw(t, n.Addr())
	for _, cmd := range []string{
		"PING\r\n", "INFO\r\n", "CLIENT SETNAME x\r\n", "FOO bar\r\n", "AUTH\r\n", "AUTH a b c\r\n", "AUTH wrong\r\n",
		"AUTH default wrong\r\n", "AUTH nobody s3cret\r\n", "HELLO\r\n", "HELLO 3\r\n", "HELLO 4\r\n", "HELLO x\r\n",
		"HELLO 3 AUTH default\r\n", "HELLO 3 AUTH default wrong\r\n", "HELLO 3 SETNAME x\r\n", "RESET\r\n", "PING\r\n",
	} {
		if rg, vg := r.roundTrip(cmd), v.roundTrip(cmd); rg != vg {
			t.Errorf("%q:\nredis-server %q\n       vigil %q", cmd, rg, vg)
		}
	}
}

func TestFailoverClientWithSentinelPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, srv.Addr(), 1, 5*time.Second)})
	cfg.Node.RequirePass = "s3cret"
	cfg.Node.Users = []config.UserConfig{{Name: "alice", Password: "alice-pw"}}
	n := startNode(t, cfg)
	ctx := context.Background()

	for _, tc := range []struct{ user, pass string }{{"", "s3cret"}, {"alice", "alice-pw"}} {
		fc := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       "mymaster",
			SentinelAddrs:    []string{n.Addr()},
			SentinelUsername: tc.user,
			SentinelPassword: tc.pass,
			MaxRetries:       -1,
		})
		key := "k-" + tc.pass
		if err := fc.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatalf("SET through the failover client (user %q): %v", tc.user, err)
		}
		if got, err := fc.Get(ctx, key).Result(); err != nil || got != "v" {
			t.Fatalf("GET = %q, %v", got, err)
		}
		_ = fc.Close()
	}

	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:       "mymaster",
		SentinelAddrs:    []string{n.Addr()},
		SentinelPassword: "wrong",
		MaxRetries:       -1,
	})
	defer func() { _ = fc.Close() }()
	if err := fc.Ping(ctx).Err(); err == nil {
		t.Fatal("the failover client worked with a wrong sentinel password")
	}

	sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
	defer func() { _ = sc.Close() }()
	if err := sc.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("PING without a password: %v, want NOAUTH", err)
	}
}

func TestTLSRESPPort(t *testing.T) {
	pki := testpki.New(t, "", "")
	n := authNode(t, func(c *config.Config) {
		c.Node.TLS = config.NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile}
	})
	ctx := context.Background()

	sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), Password: "s3cret", TLSConfig: pki.ClientTLS(false), MaxRetries: -1})
	defer func() { _ = sc.Close() }()
	addr, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
	if err != nil || len(addr) != 2 || addr[1] != "1" {
		t.Fatalf("GET-MASTER-ADDR-BY-NAME over TLS = %v, %v", addr, err)
	}

	// A plain-text client is told in RESP, then the connection is closed.
	c := dialRaw(t, n.Addr())
	c.send("*1\r\n$4\r\nPING\r\n")
	if got := c.reply(); got != plainTextRefusal {
		t.Fatalf("plain client got %q, want %q", got, plainTextRefusal)
	}
	if _, err := c.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the refusal: %v, want EOF", err)
	}
	// go-redis reads the refusal as an answer to HELLO, falls back to AUTH
	// on the closed connection and reports EOF.
	pc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), Password: "s3cret", MaxRetries: -1})
	defer func() { _ = pc.Close() }()
	if err := pc.Ping(ctx).Err(); err == nil {
		t.Fatal("go-redis without TLS got an answer")
	}
	if out, _ := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", portOf(n.Addr()), "PING").CombinedOutput(); !strings.Contains(string(out), "requires TLS") {
		t.Errorf("redis-cli without --tls printed %q", out)
	}

	// A client that does not trust the server's CA gives up.
	other := testpki.New(t, "", "")
	bad := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), TLSConfig: other.ClientTLS(false), MaxRetries: -1})
	defer func() { _ = bad.Close() }()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("client with another CA: %v, want a certificate error", err)
	}
	// The node keeps serving.
	if err := sc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestTLSRESPPortClientCertificates(t *testing.T) {
	pki := testpki.New(t, "", "")
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)})
	cfg.Node.TLS = config.NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile}
	n := startNode(t, cfg)
	ctx := context.Background()

	with := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), TLSConfig: pki.ClientTLS(true), MaxRetries: -1})
	defer func() { _ = with.Close() }()
	if err := with.Ping(ctx).Err(); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}
	without := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), TLSConfig: pki.ClientTLS(false), MaxRetries: -1})
	defer func() { _ = without.Close() }()
	if err := without.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("client without a certificate: %v, want a refusal", err)
	}
}

// redisHasTLS reports whether the installed redis-server was built with
// TLS: it then accepts tls-port, and exits because nothing is to listen.
func redisHasTLS(t *testing.T) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, redistest.Binary, "--port", "0", "--tls-port", "0").CombinedOutput()
	return strings.Contains(string(out), "Configured to not listen anywhere")
}

// startTLSRedis runs a redis-server that also listens with TLS (requiring
// client certificates signed by pki's CA, and replicating over TLS) and
// returns it with its TLS port. extra are more redis-server arguments.
func startTLSRedis(t *testing.T, pki testpki.PKI, ports *redistest.Ports, extra ...string) (*redistest.Server, int) {
	t.Helper()
	if !redisHasTLS(t) {
		t.Skip("redis-server is built without TLS (BUILD_TLS=no); TLS towards Redis is not tested")
	}
	tlsPort := ports.Free(t)
	srv := redistest.Start(t, redistest.Options{Ports: ports, Args: append([]string{
		"--tls-port", strconv.Itoa(tlsPort), "--tls-replication", "yes",
		"--tls-cert-file", pki.CertFile, "--tls-key-file", pki.KeyFile, "--tls-ca-cert-file", pki.CAFile,
	}, extra...)})
	return srv, tlsPort
}

// masterStatus returns the node's view of master name.
func masterStatus(n *Node, name string) MasterStatus {
	for _, m := range n.Status().Masters {
		if m.Name == name {
			return m
		}
	}
	return MasterStatus{}
}

func TestTLSTowardsRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	pki := testpki.New(t, "", "")
	_, port := startTLSRedis(t, pki, &redistest.Ports{})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	other := testpki.New(t, "", "")
	const downAfter = 500 * time.Millisecond

	tests := []struct {
		name string
		tls  config.MasterTLSConfig
		ok   bool
	}{
		{"CA and client certificate", config.MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}, true},
		{"server name checked", config.MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile, ServerName: "localhost"}, true},
		{"wrong server name", config.MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile, ServerName: "redis.example"}, false},
		{"another CA", config.MasterTLSConfig{Enabled: true, CAFile: other.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}, false},
		{"no client certificate", config.MasterTLSConfig{Enabled: true, CAFile: pki.CAFile}, false},
		{"no TLS", config.MasterTLSConfig{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := master(t, addr, 1, downAfter)
			m.TLS = tt.tls
			n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": m}))
			if tt.ok {
				redistest.WaitFor(t, 10*time.Second, "INFO read over TLS", func() bool {
					s := masterStatus(n, "mymaster")
					return s.RunID != "" && !s.SDown
				})
				return
			}
			redistest.WaitFor(t, 10*time.Second, "master subjectively down", func() bool {
				return masterStatus(n, "mymaster").SDown
			})
			if s := masterStatus(n, "mymaster"); s.RunID != "" {
				t.Fatalf("INFO was read (run id %s) although the connection should fail", s.RunID)
			}
		})
	}
}

// TestFailoverOverTLS: the reconfiguration commands of a failover go over
// TLS too. The replica replicates over TLS, so its master lists it at its
// TLS port.
func TestFailoverOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	pki := testpki.New(t, "", "")
	ports := &redistest.Ports{}
	oldMaster, masterPort := startTLSRedis(t, pki, ports)
	replica, replicaPort := startTLSRedis(t, pki, ports, "--replicaof", "127.0.0.1", strconv.Itoa(masterPort))
	replicaAddr := "127.0.0.1:" + strconv.Itoa(replicaPort)

	m := master(t, "127.0.0.1:"+strconv.Itoa(masterPort), 1, 2*time.Second)
	m.FailoverTimeout = 20 * time.Second
	m.TLS = config.MasterTLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": m}))
	redistest.WaitFor(t, 15*time.Second, "the replica found at its TLS port, in sync", func() bool {
		rs := masterStatus(n, "mymaster").Replicas
		return len(rs) == 1 && rs[0].Addr == replicaAddr && rs[0].LinkUp && rs[0].RunID != ""
	})
	if err := n.Failover("mymaster"); err != nil {
		t.Fatal(err)
	}
	redistest.WaitFor(t, 15*time.Second, "the replica promoted", func() bool {
		return masterStatus(n, "mymaster").Addr == replicaAddr
	})
	ctx := context.Background()
	redistest.WaitFor(t, 15*time.Second, "roles swapped by commands sent over TLS", func() bool {
		ri, err1 := replica.Info(ctx, "replication")
		oi, err2 := oldMaster.Info(ctx, "replication")
		return err1 == nil && err2 == nil && ri["role"] == "master" &&
			oi["role"] == "slave" && oi["master_port"] == strconv.Itoa(replicaPort)
	})
}

func TestAuthPassTowardsRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	admin := srv.Client()
	if err := admin.Do(ctx, "ACL", "SETUSER", "vigil", "on", ">vigil-pw", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "requirepass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	const downAfter = 500 * time.Millisecond
	for _, tc := range []struct {
		name, user, pass string
		ok               bool
	}{
		{"requirepass", "", "s3cret", true},
		{"ACL user", "vigil", "vigil-pw", true},
		{"wrong password", "", "wrong", false},
		{"no password", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := master(t, srv.Addr(), 1, downAfter)
			m.AuthUser, m.AuthPass = tc.user, tc.pass
			n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": m}))
			if tc.ok {
				redistest.WaitFor(t, 10*time.Second, "INFO read with AUTH", func() bool {
					s := masterStatus(n, "mymaster")
					return s.RunID != "" && !s.SDown
				})
				return
			}
			redistest.WaitFor(t, 10*time.Second, "master subjectively down", func() bool {
				return masterStatus(n, "mymaster").SDown
			})
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverPrinted runs a node with every kind of secret, exercises
// the outputs an operator or a client sees (INFO, SENTINEL MASTER,
// SENTINEL MASTERS, CLIENT LIST, Status as JSON) and failed logins, and
// looks for the secrets in all of them and in the debug log.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := []string{"requirepass-secret", "user-secret", "auth-pass-secret", gossipKey(9)}
	m := master(t, "127.0.0.1:1", 2, 5*time.Second)
	m.AuthUser, m.AuthPass = "vigil", "auth-pass-secret"
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": m})
	cfg.Node.RequirePass = "requirepass-secret"
	cfg.Node.Users = []config.UserConfig{{Name: "alice", Password: "user-secret"}}
	cfg.Gossip.SecretKeys = []string{gossipKey(9)}

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n := startNodeLogging(t, cfg, log)
	log.Info("configuration", "config", cfg)

	var out strings.Builder
	c := dialRaw(t, n.Addr())
	for _, cmd := range []string{"AUTH alice wrong-pass\r\n", "HELLO 3 AUTH alice wrong-pass\r\n", "AUTH requirepass-secret\r\n",
		"INFO\r\n", "INFO all\r\n", "SENTINEL MASTER mymaster\r\n", "SENTINEL MASTERS\r\n", "SENTINEL REPLICAS mymaster\r\n",
		"CLIENT LIST\r\n", "CLIENT INFO\r\n", "SENTINEL INFO-CACHE mymaster\r\n"} {
		out.WriteString(c.roundTrip(cmd))
	}
	status, err := json.Marshal(n.Status())
	if err != nil {
		t.Fatal(err)
	}
	out.Write(status)
	// The failed logins are in the debug log, without the password tried.
	redistest.WaitFor(t, 5*time.Second, "the failed AUTH logged", func() bool { return strings.Contains(logs.String(), "AUTH failed") })
	all := out.String() + logs.String()
	for _, s := range append(secrets, "wrong-pass") {
		if strings.Contains(all, s) {
			t.Errorf("%q printed:\n%s", s, all)
		}
	}
	if !strings.Contains(logs.String(), "config.node.requirepass=******") {
		t.Errorf("the configuration's log line lacks the redacted requirepass:\n%s", logs.String())
	}
}

// TestTLSRefusalsAreRateLimited: a burst of plain-text clients on the TLS
// port produces one warning, and each refusal a debug line.
func TestTLSRefusalsAreRateLimited(t *testing.T) {
	pki := testpki.New(t, "", "")
	cfg := testConfig(t, nil)
	cfg.Node.TLS = config.NodeTLSConfig{CertFile: pki.CertFile, KeyFile: pki.KeyFile}
	var logs syncBuffer
	n := startNodeLogging(t, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	const clients = 5
	for range clients {
		conn, err := net.Dial("tcp", n.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Write([]byte("PING\r\n"))
		line, _ := bufio.NewReader(conn).ReadString('\n')
		_ = conn.Close()
		if line != plainTextRefusal {
			t.Fatalf("plain client read %q", line)
		}
	}
	redistest.WaitFor(t, 5*time.Second, "every refusal logged at debug level, and a warning", func() bool {
		out := logs.String()
		return strings.Count(out, "level=DEBUG msg=\"TLS handshake failed") == clients &&
			strings.Contains(out, "level=WARN msg=\"TLS handshake failed")
	})
	if got := strings.Count(logs.String(), "level=WARN msg=\"TLS handshake failed"); got != 1 {
		t.Fatalf("%d warnings for %d refusals within %v, want 1:\n%s", got, clients, refusalLogEvery, logs.String())
	}
	if !strings.Contains(logs.String(), "plain-text client on the TLS port") {
		t.Errorf("the log does not say what happened:\n%s", logs.String())
	}
}
