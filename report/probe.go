package report

import (
	"fmt"
	"strings"
)

// Findings is the probe's JSON output: what it found inside an image (and, with --gpu, on the
// GPUs passed in).
type Findings struct {
	// SelfCheck are the lines the image's own self-check printed before the probe ran (a runner
	// that starts the image through its entrypoint sets it; not part of the probe's output).
	SelfCheck      []string                `json:"-"`
	ProbeVersion   int                     `json:"probe_version"`
	Python         string                  `json:"python"`
	PythonFull     string                  `json:"python_full"`
	CUDAToolkitEnv *string                 `json:"cuda_toolkit_env"`
	Torch          string                  `json:"torch"`
	TorchCUDA      *string                 `json:"torch_cuda"`
	CUDNN          *string                 `json:"cudnn"`
	NCCL           *string                 `json:"nccl"`
	ArchFlags      *string                 `json:"arch_flags"`
	Packages       map[string]PackageCheck `json:"packages"`
	GPU            *GPUFindings            `json:"gpu,omitempty"`
	Errors         []string                `json:"errors"`
	Notes          []string                `json:"notes"`
}

// PackageCheck says whether an extra package is installed and importable.
type PackageCheck struct {
	OK      bool   `json:"ok"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// GPUFindings is what the probe found with a GPU.
type GPUFindings struct {
	Available   bool                `json:"available"`
	DeviceCount int                 `json:"device_count"`
	Devices     []GPUDevice         `json:"devices"`
	Checks      map[string]GPUCheck `json:"checks"`
	Error       string              `json:"error,omitempty"`
	Seconds     float64             `json:"seconds"`
}

// GPUDevice is one device torch sees.
type GPUDevice struct {
	Index      int    `json:"index"`
	Name       string `json:"name"`
	Capability string `json:"capability"`
}

// GPUCheck is one GPU test (matmul, cudnn_conv, nccl, bf16).
type GPUCheck struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// CheckStatus is the outcome of comparing one label with the image.
type CheckStatus string

// Check statuses.
const (
	CheckOK        CheckStatus = "ok"
	CheckMismatch  CheckStatus = "mismatch"
	CheckUnchecked CheckStatus = "unchecked"
)

// Check is one label compared with the image.
type Check struct {
	Label    string      `json:"label"`
	Expected string      `json:"expected"`
	Found    string      `json:"found"`
	Status   CheckStatus `json:"status"`
	Note     string      `json:"note,omitempty"`
}

// Probe is the outcome of a probe run: passed when every label matched and the probe had no error.
type Probe struct {
	Status   Status    `json:"status"` // passed, failed
	Checks   []Check   `json:"checks"`
	Errors   []string  `json:"errors,omitempty"`
	Findings *Findings `json:"findings,omitempty"`
}

// Mismatches returns the checks that did not match.
func (r *Probe) Mismatches() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == CheckMismatch {
			out = append(out, c)
		}
	}
	return out
}

// Diff renders the mismatches and errors as one line: "label: label says X, image has Y; ...".
func (r *Probe) Diff() string {
	var lines []string
	for _, c := range r.Mismatches() {
		lines = append(lines, fmt.Sprintf("%s: label says %q, image has %q", c.Label, c.Expected, c.Found))
	}
	lines = append(lines, r.Errors...)
	return strings.Join(lines, "; ")
}
