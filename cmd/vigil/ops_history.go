package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/sentinel"
)

// newHistoryCmd builds `vigil history NAME`: the failover attempts a node
// recorded for a master, newest first (SENTINEL HISTORY).
func newHistoryCmd(env []string) *cobra.Command {
	var (
		o        connOptions
		asJSON   bool
		timeline bool
	)
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "Show the failover attempts a node recorded for a master, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNode(cmd, env, &o, 0, func(oc *opsClient) error {
				text, err := oc.do(cmd.Context(), "sentinel", "history", args[0]).Text()
				if err != nil {
					return oc.fail(args[0], err)
				}
				out := cmd.OutOrStdout()
				if asJSON {
					_, err := io.WriteString(out, text+"\n")
					return err
				}
				var h []sentinel.Attempt
				if err := json.Unmarshal([]byte(text), &h); err != nil {
					return &exitError{exitFailure, fmt.Errorf("decode history: %w", err)}
				}
				printHistory(out, h, timeline)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON document")
	cmd.Flags().BoolVar(&timeline, "timeline", false, "print each attempt's events")
	addConnFlags(cmd, &o)
	return cmd
}

func printHistory(out io.Writer, h []sentinel.Attempt, timeline bool) {
	if len(h) == 0 {
		fmt.Fprintln(out, "no failover recorded")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tKIND\tEPOCH\tOLD MASTER\tNEW MASTER\tDURATION\tOUTCOME")
	for _, a := range h {
		dur := "-"
		if !a.End.IsZero() {
			dur = a.End.Sub(a.Start).Round(time.Millisecond).String()
		}
		newMaster := a.NewMaster
		if newMaster == "" {
			newMaster = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", a.Start.Format(time.RFC3339), a.Kind, a.Epoch, a.OldMaster, newMaster, dur, a.Outcome)
	}
	_ = tw.Flush()
	if !timeline {
		return
	}
	for _, a := range h {
		fmt.Fprintf(out, "\n%s %s epoch %d (%s)\n", a.Start.Format(time.RFC3339Nano), a.Kind, a.Epoch, a.Outcome)
		for _, e := range a.Timeline {
			fmt.Fprintf(out, "  %+9.3fs  %-34s %s\n", e.At.Sub(a.Start).Seconds(), e.Type, e.Payload)
		}
	}
}
