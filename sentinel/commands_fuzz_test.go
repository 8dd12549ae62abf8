package sentinel

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
)

// FuzzCommands sends arbitrary arguments to every command of a running
// node and checks that it still answers: no input may panic a handler or
// wedge the node. The input is split on NUL bytes into arguments; the
// first byte picks the command, so the fuzzer spends its time on the
// arguments rather than on finding command names.
//
// The master is on a closed loopback port with quorum 2 (this single node
// never fails it over), and nothing the fuzzer writes can make the node
// connect elsewhere than a closed loopback port or run a program: MONITOR's
// address is forced to 127.0.0.1:1, script and hook options are not sent, and commands
// that stop the node or leave the connection unusable for plain requests
// (SHUTDOWN, SIMULATE-FAILURE, SUBSCRIBE, ...) are skipped.
func FuzzCommands(f *testing.F) {
	cfg := testConfig(f, map[string]config.MasterConfig{"mymaster": master(f, "127.0.0.1:1", 2, 5*time.Second)})
	n := startNodeLogging(f, cfg, slog.New(slog.DiscardHandler))
	c := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2, MaxRetries: -1, DisableIdentity: true, ReadTimeout: 5 * time.Second})
	f.Cleanup(func() { _ = c.Close() })

	for _, seed := range []string{
		"\x00masters",
		"\x00master\x00mymaster",
		"\x00set\x00mymaster\x00down-after-milliseconds\x001000",
		"\x00set\x00mymaster\x00quorum\x00-1\x00parallel-syncs\x00x",
		"\x00monitor\x00other\x00127.0.0.1\x006390\x002",
		"\x00remove\x00other",
		"\x00config\x00set\x00announce-port\x0099999",
		"\x00config\x00get\x00*",
		"\x00is-master-down-by-addr\x00127.0.0.1\x001\x000\x00*",
		"\x00ckquorum\x00mymaster",
		"\x00reset\x00*",
		"\x00debug\x00ping-period\x00100",
		"\x00pause\x00mymaster\x0010",
		"\x00explain\x00mymaster",
		"\x01kill\x00id\x00-5",
		"\x01list\x00type\x00pubsub",
		"\x02getuser\x00default",
		"\x03server",
		"\x04info\x00sentinel",
		"\x05",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 512 {
			return
		}
		args := fuzzArgs(data)
		if args == nil {
			return
		}
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		err := c.Do(rctx, args...).Err()
		var rerr redis.Error
		if err != nil && !errors.As(err, &rerr) && !errors.Is(err, redis.Nil) {
			// A connection closed by CLIENT KILL or QUIT is fine; the
			// next request redials. Anything else is checked by PING.
			t.Logf("%q: %v", args, err)
		}
		if err := c.Ping(rctx).Err(); err != nil {
			// One retry: the previous command may have closed this
			// connection on purpose.
			if err := c.Ping(rctx).Err(); err != nil {
				t.Fatalf("after %q the node no longer answers PING: %v", args, err)
			}
		}
	})
}

// fuzzCommands are the commands FuzzCommands drives, by the first input
// byte. SENTINEL comes first and most often.
var fuzzCommands = []string{"sentinel", "client", "acl", "info", "command", "role", "ping", "auth", "config"}

// fuzzArgs turns fuzz data into a command, or nil for one that is skipped.
func fuzzArgs(data []byte) []any {
	cmd := fuzzCommands[int(data[0])%len(fuzzCommands)]
	parts := bytes.Split(data[1:], []byte{0})
	if len(parts) > 0 && len(parts[0]) == 0 {
		parts = parts[1:]
	}
	if len(parts) > 12 {
		parts = parts[:12]
	}
	args := []any{cmd}
	for _, p := range parts {
		args = append(args, string(p))
	}
	sub := ""
	if len(args) > 1 {
		sub = strings.ToLower(args[1].(string))
	}
	switch cmd {
	case "sentinel":
		switch sub {
		case "simulate-failure", "failover", "switchover", "flushconfig":
			return nil
		case "monitor":
			// A closed loopback port only: never another address, and
			// never a port where another test's Redis may listen.
			if len(args) > 3 {
				args[3] = "127.0.0.1"
			}
			if len(args) > 4 {
				args[4] = "1"
			}
		case "set":
			for _, a := range args[2:] {
				if s := strings.ToLower(a.(string)); strings.Contains(s, "script") || strings.Contains(s, "hook") {
					return nil
				}
			}
		}
	case "client":
		if sub == "pause" || sub == "reply" {
			return nil
		}
	}
	return args
}
