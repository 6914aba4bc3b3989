// Package probe holds the probe (probe.py), which runs inside an image and reports what it
// contains, and the comparison of its findings with the image's labels: labels are facts, and a
// label the image contradicts fails the build. build runs it in every image before export;
// smoke runs it with --gpu on a host's GPUs.
package probe

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Script is the probe, a Python file run inside the image (no dependencies but torch).
//
//go:embed probe.py
var Script []byte

// ParseFindings decodes the probe's output (the last JSON line of it).
func ParseFindings(b []byte) (*report.Findings, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	var f report.Findings
	if err := json.Unmarshal([]byte(last), &f); err != nil {
		return nil, fmt.Errorf("probe output is not JSON (%q): %w", clip(last), err)
	}
	return &f, nil
}

// Args returns the probe's arguments for a variant (the extra packages to check).
func Args(v *matrix.Variant) []string {
	var args []string
	for _, p := range v.ExtraPackages {
		args = append(args, "--package", PackageName(p))
	}
	return args
}

var reqName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*`)

// PackageName is the distribution name of a pip requirement ("triton>=3,<4" -> "triton").
func PackageName(req string) string { return reqName.FindString(req) }

// Compare checks the probe's findings against the labels (prefix = the plan's labels prefix)
// and the variant's extra packages.
func Compare(labels map[string]string, prefix string, packages []string, f *report.Findings) *report.Probe {
	r := &report.Probe{Findings: f}
	get := func(name string) (string, bool) {
		v, ok := labels[prefix+"."+name]
		return v, ok && v != ""
	}
	add := func(name, expected, found string, status report.CheckStatus, note string) {
		r.Checks = append(r.Checks, report.Check{Label: prefix + "." + name, Expected: expected, Found: found, Status: status, Note: note})
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	// A CPU build of torch (torch.version.cuda is None) where the labels expect CUDA: every CUDA
	// label is contradicted for the same reason, said once in plain words (Diff shows it).
	cudaLabel, wantCUDA := get(matrix.LabelTorchCUDA)
	cpuBuild := wantCUDA && f.Torch != "" && str(f.TorchCUDA) == ""
	if cpuBuild {
		r.Errors = append(r.Errors, fmt.Sprintf("this torch is a CPU build (torch %s: torch.version.cuda is None, no cuDNN, no CUDA architectures), "+
			"but the labels expect CUDA %s: a CPU wheel or a distribution's torch was installed instead of the CUDA wheel from the variant's index", f.Torch, cudaLabel))
	}
	missing := func(name string) string {
		if cpuBuild && name != matrix.LabelPythonVersion && name != matrix.LabelTorchVersion {
			return "this torch is a CPU build"
		}
		return "the image does not report it"
	}
	eq := func(name, found string, same func(exp, found string) bool) {
		exp, ok := get(name)
		if !ok {
			return
		}
		switch {
		case found == "":
			add(name, exp, "", report.CheckMismatch, missing(name))
		case same(exp, found):
			add(name, exp, found, report.CheckOK, "")
		default:
			add(name, exp, found, report.CheckMismatch, "")
		}
	}
	exact := func(a, b string) bool { return a == b }

	eq(matrix.LabelPythonVersion, f.Python, exact)
	torchBase, torchLocal, _ := strings.Cut(f.Torch, "+")
	eq(matrix.LabelTorchVersion, torchBase, exact)
	if exp, ok := get(matrix.LabelTorchVariant); ok {
		if torchLocal == exp {
			add(matrix.LabelTorchVariant, exp, torchLocal, report.CheckOK, "")
		} else {
			note := "from the local version of torch.__version__ " + f.Torch
			if cpuBuild {
				note = "this torch is a CPU build (torch.__version__ " + f.Torch + ")"
			}
			add(matrix.LabelTorchVariant, exp, torchLocal, report.CheckMismatch, note)
		}
	}
	eq(matrix.LabelTorchCUDA, version.MajorMinor(str(f.TorchCUDA)), exact)
	// cuDNN: torch reports major.minor.patch; the label may carry a fourth number.
	eq(matrix.LabelCUDNNVersion, str(f.CUDNN), func(exp, found string) bool { return version.HasPrefix(exp, found) })
	eq(matrix.LabelNCCLVersion, str(f.NCCL), func(exp, found string) bool { return version.HasPrefix(exp, found) || version.HasPrefix(found, exp) })
	eq(matrix.LabelCUDAArchs, str(f.ArchFlags), func(exp, found string) bool { return arch.ParseList(exp).SameFlags(found) })
	if exp, ok := get(matrix.LabelCUDAVersion); ok {
		if env := str(f.CUDAToolkitEnv); env == "" {
			add(matrix.LabelCUDAVersion, exp, "", report.CheckUnchecked, "the base image sets no CUDA_VERSION (not an nvidia/cuda image)")
		} else if env == exp {
			add(matrix.LabelCUDAVersion, exp, env, report.CheckOK, "")
		} else {
			add(matrix.LabelCUDAVersion, exp, env, report.CheckMismatch, "CUDA_VERSION of the base image")
		}
	} else if env := str(f.CUDAToolkitEnv); env != "" {
		// A base torchimg did not know as an nvidia/cuda image brings CUDA after all: its CUDA must
		// not be older than the wheels' (the image's NVIDIA_REQUIRE_CUDA follows the wheels).
		if exp, ok := get(matrix.LabelTorchCUDA); ok && version.Valid(env) {
			if version.Compare(version.MajorMinor(env), exp) < 0 {
				add(matrix.LabelTorchCUDA, exp, env, report.CheckMismatch, "the base image's CUDA_VERSION is older than the torch wheels' CUDA")
			} else {
				add(matrix.LabelTorchCUDA, exp, env, report.CheckOK, "the base image brings CUDA "+env+" (CUDA_VERSION)")
			}
		}
	}
	for _, p := range packages {
		name := PackageName(p)
		pc, ok := f.Packages[name]
		switch {
		case !ok:
			r.Checks = append(r.Checks, report.Check{Label: "package " + name, Expected: p, Status: report.CheckMismatch, Note: "not probed"})
		case pc.OK:
			r.Checks = append(r.Checks, report.Check{Label: "package " + name, Expected: p, Found: pc.Version, Status: report.CheckOK})
		default:
			r.Checks = append(r.Checks, report.Check{Label: "package " + name, Expected: p, Found: pc.Version, Status: report.CheckMismatch, Note: pc.Error})
		}
	}
	r.Errors = append(r.Errors, f.Errors...)
	r.Status = report.Passed
	if len(r.Mismatches()) > 0 || len(r.Errors) > 0 {
		r.Status = report.Failed
	}
	return r
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
