package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/canary-dev/canary/client"
	"github.com/spf13/cobra"
)

// getServices prints canary serve's front doors (canary get services).
func (x *ctl) getServices(c *cobra.Command, f *ctlFlags, output string) error {
	cl, err := x.client(f)
	if err != nil {
		return err
	}
	svcs, err := cl.Services(c.Context())
	if err != nil {
		return err
	}
	if dataFormat(output) {
		return printData(x.stdout, output, struct {
			Items []client.Service `json:"items"`
		}{append([]client.Service{}, svcs...)})
	}
	if len(svcs) == 0 {
		fmt.Fprintln(x.stderr, "no services")
		return nil
	}
	tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tHOLDER\tSTABLE\tCANARY\tSPLIT\tLIVE ROLLOUT\tSTABLE REQ/S\tSTABLE ERR\tCANARY REQ/S\tCANARY ERR")
	for _, s := range svcs {
		live := "-"
		if r := s.LiveRollout; r != nil {
			live = fmt.Sprintf("%s %s (%s)", r.Name, r.Version, r.Phase)
		}
		if !s.Open {
			live += " [not listening]"
		}
		st, ca := s.Tracks["stable"], s.Tracks["canary"]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%.1f\t%.2f%%\t%.1f\t%.2f%%\n", s.Address, s.Holder, s.Stable, s.Canary,
			100-s.Weight, s.Weight, live, st.RequestsPerSecond, 100*st.ErrorRate, ca.RequestsPerSecond, 100*ca.ErrorRate)
	}
	return tw.Flush()
}

// deleteService removes a front door (canary delete service ADDRESS).
func (x *ctl) deleteService(c *cobra.Command, f *ctlFlags, address string) error {
	cl, err := x.client(f)
	if err != nil {
		return err
	}
	if err := cl.DeleteService(c.Context(), address); err != nil {
		return err
	}
	fmt.Fprintf(x.stdout, "service %s deleted\n", address)
	return nil
}
