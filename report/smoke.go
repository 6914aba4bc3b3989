package report

import (
	"time"

	"github.com/torchimg/torchimg/internal/jsonfile"
)

// SmokeSchema identifies the smoke report format.
const SmokeSchema = "torchimg.smoke/v1"

// Smoke is what `torchimg smoke` writes and `torchimg publish --smoke` reads.
type Smoke struct {
	Schema   string         `json:"schema"`
	Runner   string         `json:"runner"`
	Mode     string         `json:"gpu_mode,omitempty"` // auto, on, off (--gpu)
	Host     *SmokeHost     `json:"host,omitempty"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Variants []SmokeVariant `json:"variants"`
}

// SmokeHost is the host the smoke tests ran on.
type SmokeHost struct {
	DriverFound bool       `json:"driver_found"`
	Reason      string     `json:"reason,omitempty"`
	Driver      string     `json:"driver,omitempty"`
	CUDA        string     `json:"cuda,omitempty"`
	GPUs        []SmokeGPU `json:"gpus,omitempty"`
}

// SmokeGPU is one GPU of the host.
type SmokeGPU struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Brand string `json:"brand,omitempty"`
	Arch  string `json:"arch,omitempty"`
}

// SmokeVariant is the GPU smoke result of one variant: passed, failed or skipped.
type SmokeVariant struct {
	ID       string       `json:"id"`
	Digest   string       `json:"digest,omitempty"`
	Ref      string       `json:"ref,omitempty"` // the staged image that was tested
	Status   Status       `json:"status"`
	Required bool         `json:"required"`
	Reason   string       `json:"reason,omitempty"`
	GPU      *GPUFindings `json:"gpu,omitempty"`
	Errors   []string     `json:"errors,omitempty"` // the probe's own errors (import torch failed, ...)
	// SelfCheck is what the image's own self-check said on this host (the docker runner starts
	// the image through its entrypoint, as users do).
	SelfCheck []string `json:"self_check,omitempty"`
	Seconds   float64  `json:"seconds"`
}

// Failed returns the variants whose GPU smoke test failed (required ones that could not be
// tested included).
func (r *Smoke) Failed() []SmokeVariant {
	var out []SmokeVariant
	for _, v := range r.Variants {
		if v.Status == Failed {
			out = append(out, v)
		}
	}
	return out
}

// WriteFile writes the report (atomically).
func (r *Smoke) WriteFile(path string) error { return jsonfile.Write(path, "smoke report", r) }

// ReadSmoke reads a smoke report.
func ReadSmoke(path string) (*Smoke, error) {
	var r Smoke
	if err := jsonfile.Read(path, "smoke report", SmokeSchema, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
