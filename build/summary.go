package build

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/torchimg/torchimg/report"
)

// WriteSummary prints the end-of-build table and the errors of failed variants.
func WriteSummary(w io.Writer, results []*report.BuildEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tSTATUS\tDURATION\tDIGEST\tSIZE")
	for _, r := range results {
		dg := r.Digest
		if len(dg) > 19 {
			dg = dg[:19]
		}
		if dg == "" {
			dg = "-"
		}
		size := "-"
		if r.Size > 0 {
			size = humanSize(r.Size)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%s\t%s\n", r.ID, r.Status, r.Timings.Total, dg, size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	passed, unchanged := 0, 0
	for _, r := range results {
		switch r.Status {
		case report.Passed:
			passed++
			continue
		case report.Unchanged:
			unchanged++
			continue
		}
		if r.Error != "" {
			fmt.Fprintf(w, "\n%s %s at %s:\n  %s\n", r.ID, r.Status, r.Stage, strings.ReplaceAll(r.Error, "\n", "\n  "))
		}
	}
	_, err := fmt.Fprintf(w, "\n%d variant(s) passed, %d unchanged (same inputs: not built, not pushed), %d did not\n", passed, unchanged, len(results)-passed-unchanged)
	return err
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
