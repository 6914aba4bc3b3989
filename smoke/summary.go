package smoke

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/torchimg/torchimg/report"
)

// WriteSummary prints one line per variant: status, GPU seen, time, and the reason.
func WriteSummary(w io.Writer, r *report.Smoke) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tGPU SMOKE\tDEVICE\tDURATION\tREASON")
	counts := map[report.Status]int{}
	for _, v := range r.Variants {
		counts[v.Status]++
		dev := "-"
		if v.GPU != nil && len(v.GPU.Devices) > 0 {
			dev = v.GPU.Devices[0].Name
			if n := len(v.GPU.Devices); n > 1 {
				dev += fmt.Sprintf(" (+%d)", n-1)
			}
		}
		reason := v.Reason
		if i := strings.IndexByte(reason, '\n'); i >= 0 {
			reason = reason[:i] + " ..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\n", v.ID, v.Status, dev, v.Seconds, reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nGPU smoke (%s runner, --gpu %s): %d passed, %d failed, %d skipped\n",
		r.Runner, r.Mode, counts[report.Passed], counts[report.Failed], counts[report.Skipped])
	return err
}
