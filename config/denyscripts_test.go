package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDenyScriptsReconfig: sentinel.conf's deny-scripts-reconfig maps to
// node.deny-scripts-reconfig, whose default (empty) denies, as Sentinel's.
func TestDenyScriptsReconfig(t *testing.T) {
	for body, denied := range map[string]bool{
		"":                                     true,
		"sentinel deny-scripts-reconfig yes\n": true,
		"sentinel deny-scripts-reconfig no\n":  false,
	} {
		path := filepath.Join(t.TempDir(), "sentinel.conf")
		conf := "port 26379\nsentinel monitor mymaster 127.0.0.1 6379 2\n" + body
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, _, err := LoadSentinelConf(path)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got := cfg.Node.ScriptsReconfigDenied(); got != denied {
			t.Errorf("%q: denied %t, want %t", body, got, denied)
		}
	}
	c := Default()
	c.Node.DenyScriptsReconfig = "maybe"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "node.deny-scripts-reconfig: want yes or no") {
		t.Fatalf("Validate = %v", err)
	}
	for _, v := range []string{"no", "NO", "false"} {
		if (NodeConfig{DenyScriptsReconfig: v}).ScriptsReconfigDenied() {
			t.Errorf("%q denies", v)
		}
	}
}
