package probe

import (
	"github.com/torchimg/torchimg/report"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sp(s string) *string { return &s }

func TestCompare(t *testing.T) {
	labels := map[string]string{
		"io.torchimg.python.version":     "3.12",
		"io.torchimg.torch.version":      "2.9.1",
		"io.torchimg.torch.cuda-variant": "cu128",
		"io.torchimg.torch.cuda":         "12.8",
		"io.torchimg.cudnn.version":      "9.10.2.21",
		"io.torchimg.nccl.version":       "2.27.5",
		"io.torchimg.cuda.archs":         "7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX",
		"io.torchimg.cuda.version":       "12.8.1",
	}
	good := func() *report.Findings {
		return &report.Findings{Python: "3.12", Torch: "2.9.1+cu128", TorchCUDA: sp("12.8"), CUDNN: sp("9.10.2"), NCCL: sp("2.27.5"),
			ArchFlags: sp("sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 compute_120"), CUDAToolkitEnv: sp("12.8.1"),
			Packages: map[string]report.PackageCheck{"numpy": {OK: true, Version: "2.1.0"}}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*report.Findings)
		fail   string // label that must mismatch; "" = pass
	}{
		{"all true", func(*report.Findings) {}, ""},
		{"wrong cuda", func(f *report.Findings) { f.TorchCUDA = sp("12.6") }, "io.torchimg.torch.cuda"},
		{"wrong local version", func(f *report.Findings) { f.Torch = "2.9.1+cu126" }, "io.torchimg.torch.cuda-variant"},
		{"wrong torch", func(f *report.Findings) { f.Torch = "2.9.0+cu128" }, "io.torchimg.torch.version"},
		{"wrong python", func(f *report.Findings) { f.Python = "3.11" }, "io.torchimg.python.version"},
		{"wrong cudnn", func(f *report.Findings) { f.CUDNN = sp("9.1.0") }, "io.torchimg.cudnn.version"},
		{"no nccl", func(f *report.Findings) { f.NCCL = nil }, "io.torchimg.nccl.version"},
		{"missing PTX", func(f *report.Findings) { f.ArchFlags = sp("sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120") }, "io.torchimg.cuda.archs"},
		{"other toolkit", func(f *report.Findings) { f.CUDAToolkitEnv = sp("12.8.0") }, "io.torchimg.cuda.version"},
		{"package broken", func(f *report.Findings) { f.Packages["numpy"] = report.PackageCheck{Error: "import numpy: boom"} }, "package numpy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			tc.mutate(f)
			r := Compare(labels, "io.torchimg", []string{"numpy>=2"}, f)
			if tc.fail == "" {
				if r.Status != "passed" {
					t.Fatalf("failed: %s", r.Diff())
				}
				return
			}
			if r.Status != report.Failed || len(r.Mismatches()) != 1 || r.Mismatches()[0].Label != tc.fail {
				t.Fatalf("want exactly %s to mismatch, got %+v", tc.fail, r.Mismatches())
			}
			if !strings.Contains(r.Diff(), tc.fail) {
				t.Errorf("diff does not name the label: %s", r.Diff())
			}
		})
	}
	f := good()
	f.CUDAToolkitEnv = nil
	if r := Compare(labels, "io.torchimg", nil, f); r.Status != "passed" || r.Checks[len(r.Checks)-1].Status != "unchecked" {
		t.Errorf("a base without CUDA_VERSION leaves the toolkit label unchecked, not failed: %+v", r.Checks)
	}
}

// The probe runs under the machine's python3 without torch and reports that, never crashing.
func TestProbeWithoutTorch(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed: %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "probe.py")
	if err := os.WriteFile(script, Script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-I", script, "--package", "definitely-not-installed-pkg")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe exited with %v: %s", err, out)
	}
	f, err := ParseFindings(out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Python == "" || len(f.Errors) == 0 || !strings.Contains(f.Errors[0], "import torch") {
		t.Errorf("findings: %+v", f)
	}
}

// On a base torchimg takes to bring no CUDA (no cuda.version label), a CUDA_VERSION found in it
// must not be older than the wheels' CUDA.
func TestCompareBaseWithUnexpectedCUDA(t *testing.T) {
	labels := map[string]string{"io.torchimg.torch.version": "2.9.1", "io.torchimg.torch.cuda": "12.8", "io.torchimg.python.version": "3.12"}
	for env, want := range map[string]report.Status{"": report.Passed, "12.8.1": report.Passed, "13.0.2": report.Passed, "12.6.3": report.Failed} {
		f := &report.Findings{Python: "3.12", Torch: "2.9.1+cu128", TorchCUDA: sp("12.8")}
		if env != "" {
			f.CUDAToolkitEnv = sp(env)
		}
		r := Compare(labels, "io.torchimg", nil, f)
		if r.Status != want {
			t.Errorf("base CUDA_VERSION %q: %s, want %s (%s)", env, r.Status, want, r.Diff())
		}
	}
}

// A CPU build of torch (torch.version.cuda None) where the labels expect CUDA fails with one plain
// sentence, and every CUDA label is marked with the same reason; with CPU labels it passes.
func TestCompareCPUBuild(t *testing.T) {
	cpu := func() *report.Findings {
		// What Debian 12's python3-torch 1.13.1 reports (see smoke/realtorch_e2e_test.go).
		return &report.Findings{Python: "3.11", Torch: "1.13.0a0", Notes: []string{"arch flags: module 'torch._C' has no attribute '_cuda_getArchFlags'"}}
	}
	cudaLabels := map[string]string{
		"io.torchimg.python.version":     "3.11",
		"io.torchimg.torch.version":      "1.13.0a0",
		"io.torchimg.torch.cuda-variant": "cu128",
		"io.torchimg.torch.cuda":         "12.8",
		"io.torchimg.cudnn.version":      "9.10.2.21",
		"io.torchimg.nccl.version":       "2.27.5",
		"io.torchimg.cuda.archs":         "7.0;8.0;9.0",
	}
	for _, tc := range []struct {
		name       string
		labels     map[string]string
		findings   *report.Findings
		status     report.Status
		mismatches []string // labels that must mismatch, in order
		diff       string   // substring of Diff
	}{
		{"CUDA labels", cudaLabels, cpu(), report.Failed,
			[]string{"io.torchimg.torch.cuda-variant", "io.torchimg.torch.cuda", "io.torchimg.cudnn.version", "io.torchimg.nccl.version", "io.torchimg.cuda.archs"},
			"this torch is a CPU build (torch 1.13.0a0: torch.version.cuda is None, no cuDNN, no CUDA architectures), but the labels expect CUDA 12.8"},
		{"only torch.cuda", map[string]string{"io.torchimg.torch.version": "1.13.0a0", "io.torchimg.torch.cuda": "12.8"}, cpu(), report.Failed,
			[]string{"io.torchimg.torch.cuda"}, "this torch is a CPU build"},
		{"CPU labels", map[string]string{"io.torchimg.python.version": "3.11", "io.torchimg.torch.version": "1.13.0a0"}, cpu(), report.Passed, nil, ""},
		{"CPU wheel with local label", map[string]string{"io.torchimg.torch.version": "2.9.1", "io.torchimg.torch.cuda-variant": "cu128", "io.torchimg.torch.cuda": "12.8"},
			&report.Findings{Torch: "2.9.1+cpu"}, report.Failed,
			[]string{"io.torchimg.torch.cuda-variant", "io.torchimg.torch.cuda"}, "this torch is a CPU build (torch 2.9.1+cpu"},
		// No torch at all is not a CPU build: the import error says what happened.
		{"no torch", map[string]string{"io.torchimg.torch.version": "1.13.1", "io.torchimg.torch.cuda": "12.8"},
			&report.Findings{Errors: []string{"import torch: ModuleNotFoundError: No module named 'torch'"}}, report.Failed,
			[]string{"io.torchimg.torch.version", "io.torchimg.torch.cuda"}, "import torch: ModuleNotFoundError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.labels, "io.torchimg", nil, tc.findings)
			if r.Status != tc.status {
				t.Fatalf("status %s, want %s: %s", r.Status, tc.status, r.Diff())
			}
			var got []string
			for _, c := range r.Mismatches() {
				got = append(got, c.Label)
				if tc.name != "no torch" && c.Note != "this torch is a CPU build" && !strings.HasPrefix(c.Note, "this torch is a CPU build (") {
					t.Errorf("%s: note %q, want the CPU-build reason", c.Label, c.Note)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.mismatches, ",") {
				t.Errorf("mismatches %v, want %v", got, tc.mismatches)
			}
			if !strings.Contains(r.Diff(), tc.diff) {
				t.Errorf("Diff = %q, want it to contain %q", r.Diff(), tc.diff)
			}
			if tc.name == "no torch" && strings.Contains(r.Diff(), "CPU build") {
				t.Errorf("no torch reported as a CPU build: %s", r.Diff())
			}
		})
	}
}
