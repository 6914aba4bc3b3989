package smoke

import (
	"github.com/torchimg/torchimg/internal/jsonfile"
	"time"
)

// ReportSchema identifies the smoke report format.
const ReportSchema = "torchimg.smoke/v1"

// Report is what `torchimg smoke` writes and `torchimg publish --smoke` reads.
type Report struct {
	Schema   string         `json:"schema"`
	Runner   string         `json:"runner"`
	Mode     string         `json:"gpu_mode,omitempty"` // auto, on, off (--gpu)
	Host     any            `json:"host,omitempty"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Variants []VariantSmoke `json:"variants"`
}

// Smoke statuses.
const (
	SmokePassed  = "passed"
	SmokeFailed  = "failed"
	SmokeSkipped = "skipped"
)

// VariantSmoke is the GPU smoke result of one variant.
type VariantSmoke struct {
	ID       string       `json:"id"`
	Digest   string       `json:"digest,omitempty"`
	Ref      string       `json:"ref,omitempty"` // the staged image that was tested
	Status   string       `json:"status"`
	Required bool         `json:"required"`
	Reason   string       `json:"reason,omitempty"`
	GPU      *GPUFindings `json:"gpu,omitempty"`
	Errors   []string     `json:"errors,omitempty"` // the probe's own errors (import torch failed, ...)
	Seconds  float64      `json:"seconds"`
}

// WriteFile writes the report (atomically).
func (r *Report) WriteFile(path string) error { return jsonfile.Write(path, "smoke report", r) }

// ReadReport reads a smoke report.
func ReadReport(path string) (*Report, error) {
	var r Report
	if err := jsonfile.Read(path, "smoke report", ReportSchema, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
