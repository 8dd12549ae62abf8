package config

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzLoadSentinelConf feeds arbitrary bytes to LoadSentinelConf as a
// sentinel.conf. It must not panic; whatever it accepts must pass Validate,
// have a state entry per master, and survive MarshalYAML and Load
// unchanged (or MarshalYAML must refuse it, for strings YAML cannot hold).
// The seed corpus is the test data files (without their comments: the
// fuzzer minimizes every interesting input, which takes long for Debian's
// 14 KB file), the snippets below and testdata/fuzz/FuzzLoadSentinelConf.
//
// An execution takes about a millisecond, mostly the YAML round trip, so
// minimizing new inputs dominates short runs; for a 30 s run use
//
//	go test ./config -run '^$' -fuzz FuzzLoadSentinelConf -fuzztime 30s -fuzzminimizetime 2s
func FuzzLoadSentinelConf(f *testing.F) {
	for _, name := range []string{"debian-7.0.15.conf", "rewritten-7.0.15-a.conf", "rewritten-7.0.15-b.conf"} {
		data, err := os.ReadFile(filepath.Join("testdata", "sentinelconf", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(withoutComments(data))
	}
	for _, s := range []string{
		"",
		monitorLine,
		"sentinel down-after-milliseconds m 1\nsentinel monitor m ::1 1 1\nsentinel auth-pass m \"\\x00\\xff\"\n",
		"bind \"* -::*\"\nport 65535\nsentinel announce-ip 10.0.0.1\nsentinel announce-port 1\n",
		"sentinel myid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nsentinel current-epoch 18446744073709551615\n",
		"include *\n",
		"sentinel monitor m h 1 1\nsentinel known-sentinel m h 2 id\nsentinel known-replica m h 1\n",
		"'a\\'b' \"\\x41\" \"\"\n",
	} {
		f.Add([]byte(s))
	}
	// The input is served from memory as dir/sentinel.conf; the YAML is
	// written to dir/vigil.yaml. One directory per fuzzing process: the
	// fuzz function runs serially within a process.
	dir := f.TempDir()
	path := filepath.Join(dir, "sentinel.conf")
	yamlPath := filepath.Join(dir, "vigil.yaml")
	// Includes stay inside dir: elsewhere a generated "include /*/*" could
	// read /proc/kmsg, which blocks.
	var current []byte
	inside := func(p string) bool {
		abs, err := filepath.Abs(p)
		return err == nil && filepath.Dir(abs) == dir
	}
	files := confFiles{
		read: func(p string) ([]byte, error) {
			switch {
			case p == path:
				return current, nil // not written to disk: faster
			case !inside(p):
				return nil, fs.ErrPermission
			}
			return readConfFile(p)
		},
		glob: func(pattern string) ([]string, error) {
			if !inside(pattern) {
				return nil, nil
			}
			return filepath.Glob(pattern)
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		current = data
		cfg, state, warns, err := loadSentinelConf(path, files)
		for _, w := range warns {
			_ = w.String()
		}
		if err != nil {
			if cfg != nil || state != nil {
				t.Fatalf("returned a config or state with the error: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted a config that fails Validate: %v", err)
		}
		for name := range cfg.Masters {
			if _, ok := state.Masters[name]; !ok {
				t.Fatalf("no state for master %q", name)
			}
		}
		out, err := MarshalYAML(cfg)
		if err != nil {
			return
		}
		if err := os.WriteFile(yamlPath, out, 0o600); err != nil {
			t.Fatal(err)
		}
		back, _, err := Load(LoadOptions{File: yamlPath})
		if err != nil {
			t.Fatalf("Load(MarshalYAML(c)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Fatalf("round trip changed the config:\n got %+v\nwant %+v\n%s", *back, *cfg, out)
		}
	})
}

// withoutComments drops the comment and blank lines of a configuration file.
func withoutComments(data []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
		}
	}
	return out
}
