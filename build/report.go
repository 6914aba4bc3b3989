package build

import (
	"fmt"
	"github.com/torchimg/torchimg/internal/jsonfile"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportSchema identifies the build report format (documented in README.md).
const ReportSchema = "torchimg.build/v1"

// Report is what `torchimg build --report` writes and `smoke` and `publish` read.
type Report struct {
	Schema          string `json:"schema"`
	Repository      string `json:"repository"`
	LabelsPrefix    string `json:"labels_prefix"`
	MatrixRevision  string `json:"matrix_revision"`
	Revision        string `json:"revision,omitempty"`
	SourceDateEpoch int64  `json:"source_date_epoch"`
	StageRepo       string `json:"stage_repo,omitempty"`
	OCIDir          string `json:"oci_dir,omitempty"`
	// PlanVariants are the ids of every variant of the full plan (not only this shard's), so
	// that publish can tell when a release is incomplete.
	PlanVariants []string      `json:"plan_variants"`
	Builders     []BuilderInfo `json:"builders"`
	Started      time.Time     `json:"started"`
	Finished     time.Time     `json:"finished"`
	Variants     []*Result     `json:"variants"`
}

// BuilderInfo names a daemon used.
type BuilderInfo struct {
	Addr    string `json:"addr"`
	Version string `json:"version"`
}

// Failed returns the variants that did not pass.
func (r *Report) Failed() []*Result {
	var out []*Result
	for _, v := range r.Variants {
		if v.Status != StatusPassed {
			out = append(out, v)
		}
	}
	return out
}

// WriteFile writes the report as indented JSON (atomically).
func (r *Report) WriteFile(path string) error { return jsonfile.Write(path, "build report", r) }

// ReadReport reads a build report.
func ReadReport(path string) (*Report, error) {
	var r Report
	if err := jsonfile.Read(path, "build report", ReportSchema, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// WriteSummary prints the end-of-build table and the errors of failed variants.
func WriteSummary(w io.Writer, results []*Result) error {
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
	passed := 0
	for _, r := range results {
		if r.Status == StatusPassed {
			passed++
			continue
		}
		if r.Error != "" {
			fmt.Fprintf(w, "\n%s %s at %s:\n  %s\n", r.ID, r.Status, r.Stage, strings.ReplaceAll(r.Error, "\n", "\n  "))
		}
	}
	_, err := fmt.Fprintf(w, "\n%d variant(s) passed, %d did not\n", passed, len(results)-passed)
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
