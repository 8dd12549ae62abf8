// Package harness holds what the benchmark (bench/) and the fault suite
// (chaos/) both need around their measurements: a description of the
// machine, versions of the programs involved, results files in JSON, and a
// quiet go-redis. It measures nothing itself.
package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// Machine describes where a run happened.
type Machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemTotalMiB int64  `json:"mem_total_mib,omitempty"`
	Kernel      string `json:"kernel,omitempty"`
	Platform    string `json:"platform"`
	// LoadAvgStart, LoadAvgBefore (before the bench's cost section) and
	// LoadAvgAfter are /proc/loadavg's 1, 5 and 15 minute averages: other
	// work on the machine shows up there.
	LoadAvgStart  string `json:"loadavg_start,omitempty"`
	LoadAvgBefore string `json:"loadavg_before_cost,omitempty"`
	LoadAvgAfter  string `json:"loadavg_after,omitempty"`
}

// ReadMachine describes this machine now (LoadAvgStart set).
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Platform: runtime.GOOS + "/" + runtime.GOARCH, LoadAvgStart: LoadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kib, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.MemTotalMiB = kib / 1024
	}
	return m
}

// Versions of what was run and what ran it, common to bench and chaos
// (each embeds it and adds its own).
type Versions struct {
	Vigil string `json:"vigil"`
	// VigilBuilt is the modification time of the vigil binary, and Commit
	// `git describe --always --dirty` of the working tree it was run from.
	VigilBuilt    time.Time `json:"vigil_built"`
	Commit        string    `json:"commit"`
	RedisServer   string    `json:"redis_server"`
	RedisSentinel string    `json:"redis_sentinel"`
	Go            string    `json:"go"`
	GoRedis       string    `json:"go_redis"`
}

// ReadVersions asks the vigil binary at vigil, redis-server, redis-sentinel
// and git for their versions.
func ReadVersions(ctx context.Context, vigil string) Versions {
	v := Versions{
		Vigil:         CommandOutput(ctx, vigil, "version"),
		RedisServer:   CommandOutput(ctx, testbed.DefaultRedisServer, "--version"),
		RedisSentinel: CommandOutput(ctx, testbed.DefaultRedisSentinel, "--version"),
		Go:            runtime.Version(),
		GoRedis:       ModuleVersion("github.com/redis/go-redis/v9"),
		Commit:        CommandOutput(ctx, "git", "describe", "--always", "--dirty"),
	}
	if fi, err := os.Stat(vigil); err == nil {
		v.VigilBuilt = fi.ModTime()
	}
	return v
}

// LoadAvg returns the first three fields of /proc/loadavg, or "".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// CommandOutput runs a short command and returns its first output line, or
// "unavailable (reason)".
func CommandOutput(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return fmt.Sprintf("unavailable (%v)", err)
	}
	return FirstLine(strings.TrimSpace(string(out)))
}

// FirstLine returns s up to its first newline.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ModuleVersion returns the version of the module at path this program was
// built with, or "unknown".
func ModuleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// WriteJSON writes v to path (directories created), indented.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// ReadJSON loads into v what WriteJSON wrote to path.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read results %s: %w", path, err)
	}
	return nil
}

// NewLogger returns the harness's text logger on w (debug level when
// verbose) and silences go-redis, which logs every failed discovery
// attempt: faults make many.
func NewLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	redis.SetLogger(DiscardLogger{})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// DiscardLogger silences go-redis's internal logger (redis.SetLogger):
// it logs every failed discovery attempt, and faults make many.
type DiscardLogger struct{}

// Printf discards.
func (DiscardLogger) Printf(context.Context, string, ...any) {}
