package sentinel

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/atomicfile"
	"github.com/vigil-ha/vigil/sentinel/cluster"
	"github.com/vigil-ha/vigil/topology"
)

// Runtime configuration: SENTINEL MONITOR, REMOVE, SET and CONFIG SET.
//
// The configuration file stays the operator's source; changes made at
// runtime are kept beside it in <data-dir>/runtime.json and applied on top
// of the file at every start. Per-master changes are also gossiped: every
// master changed at runtime has one cluster.ConfigEntry, a last-writer-wins
// register ordered by (Version, Writer), where Version is a Lamport clock.
// SENTINEL REMOVE leaves a tombstone, so a node that was away cannot bring
// a removed master back. Entries ride in the node's gossiped state (every
// second and in push/pull), so a node that was down catches up when it
// rejoins. Global options (CONFIG SET) are this node's own: they are
// persisted but not gossiped (announce-ip names this node).

// runtimeFile is the name of the runtime configuration inside data-dir.
const runtimeFile = "runtime.json"

// runtimeVersion is bumped when runtime.json's shape changes incompatibly.
const runtimeVersion = 1

// runtimeState is the content of runtime.json.
type runtimeState struct {
	Version int `json:"version"`
	// Clock is the Lamport clock: at least every Version seen.
	Clock uint64 `json:"clock"`
	// Masters holds one entry per master changed at runtime, tombstones
	// included, by name.
	Masters map[string]cluster.ConfigEntry `json:"masters,omitempty"`
	// Global holds the CONFIG SET options set on this node.
	Global map[string]string `json:"global,omitempty"`
}

// runtimeConf is the node's runtime configuration. Guarded by Node.mu.
type runtimeConf struct {
	path  string
	state runtimeState
	// file is the masters section of the configuration file: what the
	// entries apply to.
	file map[string]config.MasterConfig
	// bad remembers the version of an entry that could not be applied
	// here, so it is reported once rather than every second.
	bad map[string]uint64
	// digest summarises the entries (entriesDigest); 0 when there are none.
	digest uint64
	// sendUntil: gossiped states carry the entries until then (after a
	// change, or when a peer's digest differs); resentAt is when they
	// were last sent regardless.
	sendUntil, resentAt time.Time
}

// entriesDigest is a 64-bit FNV-1a hash of the entries in name order; 0
// for none. Two nodes with the same entries have the same digest.
func entriesDigest(m map[string]cluster.ConfigEntry) uint64 {
	if len(m) == 0 {
		return 0
	}
	h := fnv.New64a()
	enc := json.NewEncoder(h)
	for _, name := range slices.Sorted(maps.Keys(m)) {
		_ = enc.Encode(m[name]) // maps encode with sorted keys
	}
	return max(h.Sum64(), 1)
}

// loadRuntime reads runtime.json from dataDir; none means no change. A file
// that cannot be parsed stops the node, like state.json: silently dropping
// it would resurrect removed masters.
func loadRuntime(dataDir string) (*runtimeConf, error) {
	rc := &runtimeConf{
		path:  filepath.Join(dataDir, runtimeFile),
		state: runtimeState{Version: runtimeVersion, Masters: map[string]cluster.ConfigEntry{}, Global: map[string]string{}},
		bad:   map[string]uint64{},
	}
	data, err := os.ReadFile(rc.path)
	if errors.Is(err, fs.ErrNotExist) {
		return rc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read runtime configuration: %w", err)
	}
	st := runtimeState{}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("runtime configuration %s is corrupt (%w); remove it to start from the configuration file alone", rc.path, err)
	}
	if st.Version != runtimeVersion {
		return nil, fmt.Errorf("runtime configuration %s has version %d, this vigil understands %d", rc.path, st.Version, runtimeVersion)
	}
	for name, e := range st.Masters {
		if err := e.Validate(); err != nil || e.Name != name {
			return nil, fmt.Errorf("runtime configuration %s: master %q: invalid entry (%v); remove the file to start from the configuration file alone", rc.path, name, err)
		}
		st.Clock = max(st.Clock, e.Version)
	}
	if st.Masters == nil {
		st.Masters = map[string]cluster.ConfigEntry{}
	}
	if st.Global == nil {
		st.Global = map[string]string{}
	}
	rc.state = st
	rc.digest = entriesDigest(st.Masters)
	return rc, nil
}

// save writes the runtime configuration atomically (mode 0600: it may hold
// passwords).
func (rc *runtimeConf) save() error {
	rc.state.Version = runtimeVersion
	data, err := json.MarshalIndent(&rc.state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode runtime configuration: %w", err)
	}
	return atomicfile.WriteFile(rc.path, append(data, '\n'), 0o600)
}

// entryNewer reports whether a supersedes b: the higher version wins, the
// higher writer id breaks a tie.
func entryNewer(a, b cluster.ConfigEntry) bool {
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return a.Writer > b.Writer
}

// mergeEntries folds received entries into have (last writer wins per
// master) and returns the names whose entry changed and the highest version
// seen. It is the whole conflict rule: merging is commutative, associative
// and idempotent, so every node that has seen the same entries holds the
// same ones, whatever the order.
func mergeEntries(have map[string]cluster.ConfigEntry, in []cluster.ConfigEntry) (changed []string, maxVersion uint64) {
	for _, e := range in {
		maxVersion = max(maxVersion, e.Version)
		if old, ok := have[e.Name]; ok && !entryNewer(e, old) {
			continue
		}
		have[e.Name] = cloneEntry(e)
		changed = append(changed, e.Name)
	}
	slices.Sort(changed)
	return slices.Compact(changed), maxVersion
}

func cloneEntry(e cluster.ConfigEntry) cluster.ConfigEntry {
	e.Options = maps.Clone(e.Options)
	return e
}

// effectiveMaster is the configuration of master name given the file's
// masters and the runtime entry: ok is false when the master is not
// monitored (removed, or changed with SET but not in this node's file).
// The result is validated with the configuration file's rules; an entry
// that breaks them is an error.
func effectiveMaster(file map[string]config.MasterConfig, name string, e *cluster.ConfigEntry) (mc config.MasterConfig, ok bool, err error) {
	fm, inFile := file[name]
	switch {
	case e == nil:
		return fm, inFile, nil
	case e.Removed:
		return config.MasterConfig{}, false, nil
	case !e.Monitor && !inFile:
		// Settings of a master of some node's file, not of ours: it is
		// monitored here only if added with MONITOR.
		return config.MasterConfig{}, false, nil
	case !e.Monitor:
		mc = fm
	default:
		addr, err := topology.ParseAddr(e.Addr)
		if err != nil {
			return config.MasterConfig{}, false, fmt.Errorf("address %q: %w", e.Addr, err)
		}
		mc = config.NewMaster(name, addr, 0)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Options)) {
		if err := applyOption(&mc, k, e.Options[k]); err != nil {
			return config.MasterConfig{}, false, err
		}
	}
	if err := mc.Validate(); err != nil {
		return config.MasterConfig{}, false, err
	}
	return mc, true, nil
}

// Options of SENTINEL SET beyond Sentinel's own: vigil's per-master
// settings, durations in milliseconds like Sentinel's.
const (
	optWriteGuard             = "write-guard"
	optWriteGuardMaxLag       = "write-guard-max-lag"
	optIsolationFence         = "isolation-fence"
	optAntiFlap               = "anti-flap"
	optPreFailoverHook        = "pre-failover-hook"
	optPreFailoverHookTimeout = "pre-failover-hook-timeout"
	optRenamePrefix           = "rename-command "
)

// applyOption sets one stored option on mc. Values were checked by
// parseSet on the node that accepted the command; this checks them again,
// as they may come from a peer.
func applyOption(mc *config.MasterConfig, key, val string) error {
	ms := func(min int64) (time.Duration, error) {
		n, ok := parseStrictInt(val)
		if !ok || n < min || n > int64(time.Duration(1<<62)/time.Millisecond) {
			return 0, fmt.Errorf("invalid value %q for %s", val, key)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	count := func() (int, error) {
		n, ok := parseStrictInt(val)
		if !ok || n < 1 || n > 1<<31-1 {
			return 0, fmt.Errorf("invalid value %q for %s", val, key)
		}
		return int(n), nil
	}
	var err error
	switch key {
	case "quorum":
		mc.Quorum, err = count()
	case "parallel-syncs":
		mc.ParallelSyncs, err = count()
	case "down-after-milliseconds":
		mc.DownAfter, err = ms(1)
	case "failover-timeout":
		mc.FailoverTimeout, err = ms(1)
	case "master-reboot-down-after-period":
		_, err = ms(0) // accepted, no effect (docs/compatibility.md)
	case "notification-script":
		mc.NotificationScript = val
	case "client-reconfig-script":
		mc.ClientReconfigScript = val
	case "auth-pass":
		mc.AuthPass = val
	case "auth-user":
		mc.AuthUser = val
	case optWriteGuard:
		switch strings.ToLower(val) {
		case "yes":
			mc.WriteGuard = true
		case "no":
			mc.WriteGuard = false
		default:
			err = fmt.Errorf("invalid value %q for %s", val, key)
		}
	case optIsolationFence:
		switch strings.ToLower(val) {
		case "yes":
			mc.DisableIsolationFence = false
		case "no":
			mc.DisableIsolationFence = true
		default:
			err = fmt.Errorf("invalid value %q for %s", val, key)
		}
	case optWriteGuardMaxLag:
		mc.WriteGuardMaxLag, err = ms(0)
	case optAntiFlap:
		mc.AntiFlap, err = ms(0)
	case optPreFailoverHook:
		mc.PreFailoverHook = val
	case optPreFailoverHookTimeout:
		mc.PreFailoverHookTimeout, err = ms(0)
	default:
		if old, ok := strings.CutPrefix(key, optRenamePrefix); ok && old != "" && val != "" {
			return nil // accepted, no effect (docs/compatibility.md)
		}
		err = fmt.Errorf("unknown option %q", key)
	}
	return err
}

// parseStrictInt parses a decimal int64 the way Redis's string2ll does: an
// optional minus sign, no plus sign, no spaces, no leading zeros.
func parseStrictInt(s string) (int64, bool) {
	if s == "" || len(s) > 20 || s[0] == '+' || (len(s) > 1 && s[0] == '0') || strings.HasPrefix(s, "-0") {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// setError is a SENTINEL SET refusal, with Sentinel's reply text.
type setError string

func (e setError) Error() string { return string(e) }

func setBadArg(val, opt string) error {
	return setError(fmt.Sprintf("ERR Invalid argument '%s' for SENTINEL SET '%s'", val, opt))
}

const errScriptsDenied = "ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"

// parseSet checks SENTINEL SET's option/value pairs (args after the master
// name) as Sentinel does, in order, and returns them as stored options
// (key, value, key, value, ...). Nothing is applied here.
func parseSet(args []string, denyScripts bool) ([]string, error) {
	var out []string
	for j := 0; j < len(args); j++ {
		opt := args[j]
		more := len(args) - 1 - j
		key := strings.ToLower(opt)
		switch key {
		case "down-after-milliseconds", "failover-timeout", "parallel-syncs", "quorum":
			if more < 1 {
				break
			}
			j++
			if n, ok := parseStrictInt(args[j]); !ok || n <= 0 {
				return nil, setBadArg(args[j], opt)
			}
			out = append(out, key, args[j])
			continue
		case "master-reboot-down-after-period", optWriteGuardMaxLag, optAntiFlap, optPreFailoverHookTimeout:
			if more < 1 {
				break
			}
			j++
			if n, ok := parseStrictInt(args[j]); !ok || n < 0 {
				return nil, setBadArg(args[j], opt)
			}
			out = append(out, key, args[j])
			continue
		case optWriteGuard, optIsolationFence:
			if more < 1 {
				break
			}
			j++
			v := strings.ToLower(args[j])
			if v != "yes" && v != "no" {
				return nil, setBadArg(args[j], opt)
			}
			out = append(out, key, v)
			continue
		case "notification-script", "client-reconfig-script", optPreFailoverHook:
			if more < 1 {
				break
			}
			j++
			if denyScripts {
				return nil, setError(errScriptsDenied)
			}
			if v := args[j]; v != "" && !executableFile(v) {
				switch key {
				case "notification-script":
					return nil, setError("ERR Notification script seems non existing or non executable")
				case "client-reconfig-script":
					return nil, setError("ERR Client reconfiguration script seems non existing or non executable")
				default:
					return nil, setError("ERR Pre-failover hook seems non existing or non executable")
				}
			}
			out = append(out, key, args[j])
			continue
		case "auth-pass", "auth-user":
			if more < 1 {
				break
			}
			j++
			out = append(out, key, args[j])
			continue
		case "rename-command":
			if more < 2 {
				break
			}
			from, to := args[j+1], args[j+2]
			j += 2
			if from == "" || to == "" {
				return nil, setBadArg("", opt)
			}
			if len(from) > 128 || strings.ContainsFunc(from, func(r rune) bool { return r <= ' ' || r > '~' }) {
				return nil, setBadArg(from, opt)
			}
			out = append(out, optRenamePrefix+strings.ToLower(from), to)
			continue
		}
		return nil, setError(fmt.Sprintf("ERR Unknown option or number of arguments for SENTINEL SET '%s'", opt))
	}
	for i := 1; i < len(out); i += 2 {
		if len(out[i]) > 4096 || strings.IndexByte(out[i], 0) >= 0 || !utf8.ValidString(out[i]) {
			return nil, setBadArg(out[i], out[i-1])
		}
	}
	return out, nil
}

// executableFile is access(path, X_OK) for a regular file.
func executableFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// optionValue is how a setting of mc is shown in logs and +set events.
type optionValue struct {
	key, val string
	secret   bool
}

// optionValues lists mc's runtime-settable values under their SET names.
func optionValues(mc config.MasterConfig) []optionValue {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	yesNo := map[bool]string{true: "yes", false: "no"}
	return []optionValue{
		{key: "quorum", val: strconv.Itoa(mc.Quorum)},
		{key: "down-after-milliseconds", val: ms(mc.DownAfter)},
		{key: "failover-timeout", val: ms(mc.FailoverTimeout)},
		{key: "parallel-syncs", val: strconv.Itoa(mc.ParallelSyncs)},
		{key: "notification-script", val: mc.NotificationScript},
		{key: "client-reconfig-script", val: mc.ClientReconfigScript},
		{key: "auth-user", val: mc.AuthUser},
		{key: "auth-pass", val: mc.AuthPass, secret: true},
		{key: optWriteGuard, val: yesNo[mc.WriteGuard]},
		{key: optWriteGuardMaxLag, val: ms(mc.WriteGuardMaxLag)},
		{key: optIsolationFence, val: yesNo[!mc.DisableIsolationFence]},
		{key: optAntiFlap, val: ms(mc.AntiFlap)},
		{key: optPreFailoverHook, val: mc.PreFailoverHook},
		{key: optPreFailoverHookTimeout, val: ms(mc.PreFailoverHookTimeout)},
	}
}

// redact hides a secret value in logs and events, as Sentinel does.
func redact(v optionValue) string {
	if v.secret && v.val != "" {
		return "******"
	}
	return v.val
}
