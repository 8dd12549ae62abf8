package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// newPauseCmd builds `vigil pause NAME` and `vigil resume NAME`:
// maintenance mode on every node (SENTINEL PAUSE / RESUME).
func newPauseCmd(env []string, pause bool) *cobra.Command {
	var o connOptions
	verb, sub, short := "pause", "pause", "Stop automatic failovers of a master on every node (maintenance mode)"
	if !pause {
		verb, sub, short = "resume", "resume", "End maintenance mode: automatic failovers of the master are allowed again"
	}
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNode(cmd, env, &o, 0, func(oc *opsClient) error {
				if err := oc.do(cmd.Context(), "sentinel", sub, args[0]).Err(); err != nil {
					return oc.fail(args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %sd\n", args[0], verb)
				return nil
			})
		},
	}
	addConnFlags(cmd, &o)
	return cmd
}

// newExplainCmd builds `vigil explain NAME`: why the node is or is not
// failing the master over right now (SENTINEL EXPLAIN).
func newExplainCmd(env []string) *cobra.Command {
	var (
		o      connOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "explain NAME",
		Short: "Say why a master is or is not being failed over right now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNode(cmd, env, &o, 0, func(oc *opsClient) error {
				v, err := oc.do(cmd.Context(), "sentinel", "explain", args[0]).Result()
				if err != nil {
					return oc.fail(args[0], err)
				}
				d := decodeExplain(v)
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(d)
				}
				fmt.Fprintf(out, "%s: %s\n", args[0], d.Reason)
				for _, line := range d.Details {
					fmt.Fprintf(out, "  %s\n", line)
				}
				if d.LastAbort != "" {
					fmt.Fprintf(out, "  last attempt ended: %s\n", d.LastAbort)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	addConnFlags(cmd, &o)
	return cmd
}

type explainReply struct {
	Reason    string   `json:"reason"`
	Details   []string `json:"details"`
	LastAbort string   `json:"last_abort,omitempty"`
}

// decodeExplain reads SENTINEL EXPLAIN's map (a flat array in RESP2).
func decodeExplain(v any) explainReply {
	var d explainReply
	arr, _ := v.([]any)
	for i := 0; i+1 < len(arr); i += 2 {
		key, _ := arr[i].(string)
		switch key {
		case "reason":
			d.Reason, _ = arr[i+1].(string)
		case "last-abort":
			d.LastAbort, _ = arr[i+1].(string)
		case "details":
			lines, _ := arr[i+1].([]any)
			for _, l := range lines {
				if s, ok := l.(string); ok {
					d.Details = append(d.Details, s)
				}
			}
		}
	}
	if d.Details == nil {
		d.Details = []string{}
	}
	return d
}
