package templates

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/templates/imageenv"
)

// The self-check script, run with sh on this machine against fake driver files, device nodes and
// nvidia-smi (whatever GPU this host has): it must read the driver version from both
// kernel-module spellings, judge the driver and the GPU architecture from the rendered facts,
// and never fail the command.
func TestSelfCheckScript(t *testing.T) {
	dir := t.TempDir()
	script, err := embedded.ReadFile("default/selfcheck.sh")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`TORCHIMG_FACTS_FILE:-([^}]+)}`).FindSubmatch(script); m == nil || string(m[1]) != imageenv.Path {
		t.Fatalf("selfcheck.sh reads its facts from %q, not from imageenv.Path %s", m, imageenv.Path)
	}
	write := func(name, s string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sc := write("selfcheck.sh", string(script), 0o644)
	facts := write("image.env", string(imageenv.Facts{CUDA: "12.8", DriverMin: "570.124.06", DriverMinCompat: "525",
		ForwardCompat: []string{"535", "550"}, CUDAArchs: "7.0;8.0;9.0", GPUNative: []string{"7.0", "8.0", "8.6", "9.0"},
		GPUPTX: nil, GPUNone: []string{"7.5", "12.0"}}.Marshal()), 0o644)
	noDevices := filepath.Join(dir, "dev-empty")
	if err := os.MkdirAll(noDevices, 0o755); err != nil {
		t.Fatal(err)
	}
	withGPU := filepath.Dir(write("dev-gpu/nvidia0", "", 0o644))
	smiDir := filepath.Dir(write("smi/nvidia-smi", "#!/bin/sh\necho 12.0\n", 0o755))
	const v550 = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
	for name, tc := range map[string]struct {
		version, dev, path string
		want, not          []string
	}{
		"proprietary": {v550, noDevices, "", []string{"the host has NVIDIA driver 550.54.15 but no GPU was passed"}, nil},
		"open": {"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16)  Thu Aug 22 2024\n", noDevices, "",
			[]string{"the host has NVIDIA driver 560.35.03 but no GPU was passed"}, nil},
		"no driver": {"", noDevices, "", []string{"no NVIDIA GPU in this container"}, nil},
		"old driver": {v550, withGPU, "", []string{"driver 550.54.15 is older than CUDA 12.8's (570.124.06) but runs it through CUDA minor-version compatibility (>= 525)"},
			[]string{"no kernels"}},
		"too old": {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.256.02  Thu May  2 2024\n", withGPU, "",
			[]string{"driver 470.256.02 is too old for CUDA 12.8", "Datacenter GPUs on driver branch 535/550 also run it"}, nil},
		"wrong GPU": {v550, withGPU, smiDir, []string{"no kernels for GPU compute capability 12.0 (built for 7.0;8.0;9.0)"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			vf := filepath.Join(dir, "missing")
			if tc.version != "" {
				vf = write("version-"+name, tc.version, 0o644)
			}
			cmd := exec.Command("sh", sc)
			cmd.Env = append(os.Environ(), "TORCHIMG_FACTS_FILE="+facts, "TORCHIMG_NVIDIA_VERSION_FILE="+vf, "TORCHIMG_DEV_DIR="+tc.dev,
				"PATH="+tc.path+":/usr/bin:/bin")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("self-check exited with %v: %s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output %q, want %q", out, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(out), n) {
					t.Errorf("output %q has %q", out, n)
				}
			}
		})
	}
}
