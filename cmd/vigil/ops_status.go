package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/topology"
)

// statusSchemaVersion is bumped whenever a field of the JSON output of
// `vigil status --json` changes meaning or disappears (adding fields does
// not bump it).
const statusSchemaVersion = 1

// statusReport is `vigil status --json`, documented in docs/cli.md. Fields
// are always present; a value the node does not report is null.
type statusReport struct {
	SchemaVersion int            `json:"schema_version"`
	Node          nodeReport     `json:"node"`
	Masters       []masterReport `json:"masters"`
}

type nodeReport struct {
	Addr         string  `json:"addr"`
	ID           string  `json:"id"`
	Server       string  `json:"server"` // "vigil" or "redis-sentinel"
	Version      string  `json:"version"`
	CurrentEpoch *uint64 `json:"current_epoch"`
	Tilt         bool    `json:"tilt"`
}

type masterReport struct {
	Name          string          `json:"name"`
	Addr          string          `json:"addr"`
	Flags         []string        `json:"flags"`
	ConfigEpoch   uint64          `json:"config_epoch"`
	Quorum        int             `json:"quorum"`
	NumReplicas   int             `json:"num_replicas"`
	NumPeers      int             `json:"num_peers"`
	FailoverState string          `json:"failover_state"`
	ReplOffset    *int64          `json:"repl_offset"`
	Replicas      []replicaReport `json:"replicas"`
	Peers         []peerReport    `json:"peers"`
}

type replicaReport struct {
	Addr             string   `json:"addr"`
	Flags            []string `json:"flags"`
	Role             string   `json:"role"`
	MasterLinkStatus string   `json:"master_link_status"`
	Offset           int64    `json:"offset"`
	Lag              *int64   `json:"lag"`
	Priority         int      `json:"priority"`
}

type peerReport struct {
	ID               string   `json:"id"`
	Addr             string   `json:"addr"`
	Flags            []string `json:"flags"`
	VotedLeader      *string  `json:"voted_leader"`
	VotedLeaderEpoch uint64   `json:"voted_leader_epoch"`
}

func newStatusCmd(env []string) *cobra.Command {
	var (
		o       connOptions
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show the masters a node monitors, their replicas and the other nodes",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNode(cmd, env, &o, 0, func(oc *opsClient) error {
				name := ""
				if len(args) == 1 {
					name = args[0]
				}
				st, err := gatherStatus(cmd.Context(), oc, name)
				if err != nil {
					return err
				}
				if jsonOut {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				}
				return writeStatus(cmd.OutOrStdout(), st)
			})
		},
	}
	addConnFlags(cmd, &o)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object (format in docs/cli.md)")
	return cmd
}

// gatherStatus asks the node for everything `vigil status` shows: all
// masters, or only name when it is not empty.
func gatherStatus(ctx context.Context, oc *opsClient, name string) (statusReport, error) {
	st := statusReport{SchemaVersion: statusSchemaVersion, Node: nodeReport{Addr: oc.addr}, Masters: []masterReport{}}
	text, err := oc.do(ctx, "info").Text()
	if err != nil {
		return st, oc.fail("", err)
	}
	st.Node.fromInfo(parseInfoFields(text))
	if id, err := oc.do(ctx, "sentinel", "myid").Text(); err == nil {
		st.Node.ID = id
	} else if !isRedisError(err) {
		return st, oc.fail("", err)
	}

	var masters []map[string]string
	if name == "" {
		cmd := redis.NewMapStringStringSliceCmd(ctx, "sentinel", "masters")
		_ = oc.c.Process(ctx, cmd)
		if masters, err = cmd.Result(); err != nil {
			return st, oc.fail("", err)
		}
	} else {
		m, err := oc.c.Master(ctx, name).Result()
		if err != nil {
			return st, oc.fail(name, err)
		}
		masters = []map[string]string{m}
	}
	for _, fields := range masters {
		m := masterFromFields(fields)
		replicas, err := oc.c.Replicas(ctx, m.Name).Result()
		if err != nil {
			return st, oc.fail(m.Name, err)
		}
		sentinels, err := oc.c.Sentinels(ctx, m.Name).Result()
		if err != nil {
			return st, oc.fail(m.Name, err)
		}
		if off, err := oc.masterOffset(ctx, m.Name); err != nil {
			return st, err
		} else if off >= 0 {
			m.ReplOffset = &off
		}
		for _, r := range replicas {
			m.Replicas = append(m.Replicas, replicaFromFields(r, m.ReplOffset))
		}
		for _, s := range sentinels {
			m.Peers = append(m.Peers, peerFromFields(s))
		}
		sort.Slice(m.Replicas, func(i, j int) bool { return m.Replicas[i].Addr < m.Replicas[j].Addr })
		sort.Slice(m.Peers, func(i, j int) bool { return m.Peers[i].ID < m.Peers[j].ID })
		st.Masters = append(st.Masters, m)
	}
	return st, nil
}

func isRedisError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// masterOffset returns the master's replication offset from the node's
// cached INFO of it (SENTINEL INFO-CACHE, which redis-sentinel answers), or
// -1 when the node does not offer it.
func (oc *opsClient) masterOffset(ctx context.Context, name string) (int64, error) {
	reply, err := oc.do(ctx, "sentinel", "info-cache", name).Slice()
	if isRedisError(err) {
		return -1, nil
	}
	if err != nil {
		return -1, oc.fail(name, err)
	}
	// [name, [[age-ms, info-or-nil], ...]]: the master's entry comes first.
	for i := 0; i+1 < len(reply); i += 2 {
		if n, _ := reply[i].(string); n != name {
			continue
		}
		entries, _ := reply[i+1].([]any)
		if len(entries) == 0 {
			return -1, nil
		}
		entry, _ := entries[0].([]any)
		if len(entry) != 2 {
			return -1, nil
		}
		text, ok := entry[1].(string)
		if !ok {
			return -1, nil
		}
		info, err := topology.ParseInfo(text)
		if err != nil || info.Role != topology.RoleMaster {
			return -1, nil
		}
		return info.MasterReplOffset, nil
	}
	return -1, nil
}

// parseInfoFields splits INFO text into its field:value pairs.
func parseInfoFields(text string) map[string]string {
	f := map[string]string{}
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			f[k] = v
		}
	}
	return f
}

// fromInfo takes the server kind, version, tilt and current epoch from the
// node's INFO. The current epoch is vigil's sentinel_current_epoch field;
// redis-sentinel does not report it.
func (n *nodeReport) fromInfo(f map[string]string) {
	if v, ok := f["vigil_version"]; ok {
		n.Server, n.Version = "vigil", v
	} else {
		n.Server, n.Version = "redis-sentinel", f["redis_version"]
	}
	if n.ID == "" {
		n.ID = f["run_id"]
	}
	n.Tilt = f["sentinel_tilt"] == "1"
	if v, err := strconv.ParseUint(f["sentinel_current_epoch"], 10, 64); err == nil {
		n.CurrentEpoch = &v
	}
}

func masterFromFields(f map[string]string) masterReport {
	state := f["failover-state"]
	if state == "" {
		state = "none"
	}
	return masterReport{
		Name:          f["name"],
		Addr:          joinHostPort(f["ip"], f["port"]),
		Flags:         splitFlags(f["flags"]),
		ConfigEpoch:   atou(f["config-epoch"]),
		Quorum:        atoi(f["quorum"]),
		NumReplicas:   atoi(f["num-slaves"]),
		NumPeers:      atoi(f["num-other-sentinels"]),
		FailoverState: state,
		Replicas:      []replicaReport{},
		Peers:         []peerReport{},
	}
}

// replicaFromFields reads one SENTINEL REPLICAS entry; lag is computed when
// the master's offset is known.
func replicaFromFields(f map[string]string, masterOffset *int64) replicaReport {
	r := replicaReport{
		Addr:             joinHostPort(f["ip"], f["port"]),
		Flags:            splitFlags(f["flags"]),
		Role:             f["role-reported"],
		MasterLinkStatus: f["master-link-status"],
		Offset:           atoi64(f["slave-repl-offset"]),
		Priority:         atoi(f["slave-priority"]),
	}
	if masterOffset != nil {
		lag := max(*masterOffset-r.Offset, 0)
		r.Lag = &lag
	}
	return r
}

func peerFromFields(f map[string]string) peerReport {
	s := peerReport{
		ID:               f["runid"],
		Addr:             joinHostPort(f["ip"], f["port"]),
		Flags:            splitFlags(f["flags"]),
		VotedLeaderEpoch: atou(f["voted-leader-epoch"]),
	}
	if s.ID == "" {
		s.ID = f["name"]
	}
	if v := f["voted-leader"]; v != "" && v != "?" && v != "*" {
		s.VotedLeader = &v
	}
	return s
}

func joinHostPort(host, port string) string {
	if host == "" && port == "" {
		return ""
	}
	return net.JoinHostPort(host, port)
}

func splitFlags(s string) []string {
	out := []string{}
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// atoi and atou read a numeric field leniently: a missing or malformed
// value reads as 0 rather than failing the whole report.
func atoi(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}

func atoi64(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

func atou(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// writeStatus prints the report as aligned tables.
func writeStatus(w io.Writer, st statusReport) error {
	epoch := "?"
	if st.Node.CurrentEpoch != nil {
		epoch = strconv.FormatUint(*st.Node.CurrentEpoch, 10)
	}
	fmt.Fprintf(w, "node %s  %s %s  id %s  current-epoch %s\n", st.Node.Addr, st.Node.Server, dash(st.Node.Version), dash(st.Node.ID), epoch)
	if st.Node.Tilt {
		fmt.Fprintln(w, "TILT: the node saw its clock or scheduler jump and takes no failover action until tilt ends")
	}
	fmt.Fprintln(w)
	if len(st.Masters) == 0 {
		fmt.Fprintln(w, "no masters monitored")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MASTER\tADDRESS\tFLAGS\tCONFIG-EPOCH\tQUORUM\tREPLICAS\tPEERS\tFAILOVER")
	for _, m := range st.Masters {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", m.Name, m.Addr, flagString(m.Flags),
			m.ConfigEpoch, m.Quorum, m.NumReplicas, m.NumPeers, m.FailoverState)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range st.Masters {
		fmt.Fprintf(w, "\n%s replicas", m.Name)
		if m.ReplOffset != nil {
			fmt.Fprintf(w, " (master offset %d)", *m.ReplOffset)
		}
		fmt.Fprintln(w)
		if len(m.Replicas) == 0 {
			fmt.Fprintln(w, "  (none)")
		} else {
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  ADDRESS\tFLAGS\tROLE\tLINK\tOFFSET\tLAG\tPRIORITY")
			for _, r := range m.Replicas {
				lag := "-"
				if r.Lag != nil {
					lag = strconv.FormatInt(*r.Lag, 10)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%d\n", r.Addr, flagString(r.Flags), dash(r.Role),
					dash(r.MasterLinkStatus), r.Offset, lag, r.Priority)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "\n%s peers\n", m.Name)
		if len(m.Peers) == 0 {
			fmt.Fprintln(w, "  (none)")
			continue
		}
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tADDRESS\tFLAGS\tVOTED-LEADER\tVOTE-EPOCH")
		for _, s := range m.Peers {
			leader := "-"
			if s.VotedLeader != nil {
				leader = *s.VotedLeader
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", s.ID, s.Addr, flagString(s.Flags), leader, s.VotedLeaderEpoch)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func flagString(flags []string) string { return dash(strings.Join(flags, ",")) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
