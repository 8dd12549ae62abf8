package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadYAML feeds arbitrary bytes to Load as a config file. Load must not
// panic, and whatever it accepts must pass Validate.
func FuzzLoadYAML(f *testing.F) {
	seeds := []string{
		"",
		"node:\n  listen: 0.0.0.0:26379\n",
		"masters:\n  m:\n    addr: h:1\n    quorum: 2\n    down-after: 1500ms\n    failover-timeout: 60000\n",
		"masters:\n  m:\n    addr: foo\n    quorum: abc\n    quorom: 1\n",
		"gossip:\n  join: [a:1, b:2]\n  bind: :0\n",
		"x-a: &a {quorum: 1}\nmasters:\n  m:\n    <<: *a\n    addr: h:1\n",
		"masters:\n  m: &m\n    <<: *m\n",
		"a: &a [1,1]\nb: &b [*a,*a]\nc: [*b,*b]\n",
		"- 1\n- 2\n",
		"node: {listen: [}\n",
		"log:\n  level: debug\n  format: json\n---\nx: 1\n",
		"masters:\n  ? [a]\n  : 1\n",
		"masters:\n  \"\\x00\":\n    addr: \"[::1]:1\"\n    quorum: 1\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// One file per fuzzing process: the fuzz function runs serially within a
	// process, and skipping a directory per input keeps executions fast.
	path := filepath.Join(f.TempDir(), "vigil.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, warns, err := Load(LoadOptions{File: path})
		if err != nil {
			if cfg != nil {
				t.Fatalf("Load returned a config and an error: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that fails Validate: %v", err)
		}
		for _, w := range warns {
			_ = w.String()
		}
	})
}
