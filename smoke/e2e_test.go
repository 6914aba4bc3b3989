package smoke_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
	"github.com/torchimg/torchimg/templates"

	"github.com/torchimg/torchimg/internal/testfile"
)

// fakeGPUSpec passes "a GPU" into a container: the fixture torch sees an H100 through the
// variable. It is not auto-allowed, so the runner must send the device entitlement.
const fakeGPUSpec = `cdiVersion: "0.6.0"
kind: example.com/gpu
devices:
  - name: all
    containerEdits:
      env:
        - TORCHIMG_FIXTURE_GPUS=NVIDIA H100 80GB HBM3=9.0
`

// fakeDriverSpec injects what the self-check looks at: a driver version file, /dev/nvidia0 and
// libcuda.so.1 (one device per fake driver version).
const fakeDriverSpec = `cdiVersion: "0.6.0"
kind: example.com/driver
devices:
%s`

const fakeDriverDevice = `  - name: %[1]s
    containerEdits:
      env:
        - TORCHIMG_NVIDIA_VERSION_FILE=/run/torchimg-fake/version
      deviceNodes:
        - path: /dev/nvidia0
          hostPath: /dev/null
      mounts:
        - hostPath: %[2]s
          containerPath: /run/torchimg-fake/version
          options: [ro, nosuid, nodev, bind]
        - hostPath: %[3]s
          containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.1
          options: [ro, nosuid, nodev, bind]
`

func nvrm(version string) string {
	return "NVRM version: NVIDIA UNIX x86_64 Kernel Module  " + version + "  Wed Oct 25 20:27:35 UTC 2023\n" +
		"GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"
}

// h100 is a host with one H100 on driver 580.95.05 (CUDA 13.0).
var h100 = host.Facts{DriverFound: true, Driver: "580.95.05", CUDA: "13.0",
	GPUs: []host.GPU{{Index: 0, Name: "NVIDIA H100 80GB HBM3", Brand: "nvidia", Arch: "9.0", UUID: "GPU-fake"}}}

// TestSmokeEndToEnd builds one variant into the staging repository of a real buildkitd, then
// runs the GPU smoke test on it with the BuildKit runner and a fake CDI GPU, and runs the
// image's entrypoint with a fake old driver to see the self-check's advice.
func TestSmokeEndToEnd(t *testing.T) {
	files := t.TempDir()
	var devices strings.Builder
	libcuda := filepath.Join(files, "libcuda.so.1")
	testfile.Write(t, libcuda, "")
	for name, ver := range map[string]string{"r525": "525.147.05", "r470": "470.256.02", "r580": "580.95.05"} {
		vf := filepath.Join(files, "version-"+name)
		testfile.Write(t, vf, nvrm(ver))
		fmt.Fprintf(&devices, fakeDriverDevice, name, vf, libcuda)
	}
	started := time.Now()
	env := testenv.New(t, testenv.Options{CDISpecs: map[string]string{
		"fake-gpu.yaml":    fakeGPUSpec,
		"fake-driver.yaml": fmt.Sprintf(fakeDriverSpec, devices.String()),
	}})
	t.Logf("environment up in %s", time.Since(started).Round(time.Millisecond))
	env.AddTorch(t, testenv.Torch291("12.8"))

	// Build the variant with the production template into the staging repository.
	dir := t.TempDir()
	p := testenv.LoadPlan(t, dir, fmt.Sprintf(`repository: %[1]s/e2e/pytorch
defaults: {base: "%[2]s", index_url: "%[3]s", pip_index_url: "%[3]s", compiler: false} # the test base has no apt-get
include:
  - {torch: "2.9.1", cuda: "12.8", os: debian12, python: "3.11"}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: immutable}
`, env.RegistryHost, env.BaseImage, env.IndexURL))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	d := env.Daemon(ctx, t)
	regc, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bk := build.NewBuildKit(d, t.TempDir(), regc)
	v := p.Variants[0]
	rc, err := templates.Render(p, v)
	if err != nil {
		t.Fatal(err)
	}
	buildStart := time.Now()
	res, err := bk.Build(ctx, build.Request{Plan: p, Variant: v, Context: rc, Epoch: 1700000000,
		Output: build.Output{StageRepo: env.RegistryHost + "/e2e/staging"}})
	if err != nil || res.Status != report.Passed {
		t.Fatalf("build: %v %+v", err, res)
	}
	t.Logf("built %s as %s in %s", v.ID, res.StagedRef, time.Since(buildStart).Round(time.Millisecond))
	rep := &report.Build{LabelsPrefix: p.LabelsPrefix, Variants: []*report.BuildEntry{res,
		{ID: "2.9.1-cu126-broken", Status: report.Failed, Error: "exit code: 3"}}}
	targets := smoke.Targets(rep)
	imageEnv := smoke.RegistryEnv(regc)

	t.Run("GPUProbe", func(t *testing.T) {
		start := time.Now()
		sr, err := smoke.Run(ctx, targets, smoke.Options{
			Mode:     smoke.ModeOn,
			Runner:   &smoke.BuildKit{Client: d.Client, Device: "example.com/gpu=all"},
			Host:     static(h100),
			ImageEnv: imageEnv,
			Logf:     t.Logf,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("GPU smoke in %s", time.Since(start).Round(time.Millisecond))
		if len(sr.Variants) != 2 || sr.Runner != "buildkit" || sr.Mode != "on" {
			t.Fatalf("report: %+v", sr)
		}
		got := sr.Variants[0]
		if got.ID != v.ID || got.Digest != res.Digest || got.Ref != res.StagedRef || !got.Required {
			t.Errorf("variant entry: %+v", got)
		}
		g := got.GPU
		if g == nil {
			t.Fatalf("no GPU findings: %+v", got)
		}
		// The device plumbing: the CDI device's variable reached torch inside the staged image.
		if !g.Available || g.DeviceCount != 1 || len(g.Devices) != 1 || g.Devices[0].Name != "NVIDIA H100 80GB HBM3" || g.Devices[0].Capability != "9.0" {
			t.Errorf("the GPU did not reach the probe: %+v", g)
		}
		// The fixture torch has no tensors: every check ran and failed, with the Python error
		// (AttributeError; torch.distributed does not exist at all).
		for name, errType := range map[string]string{"matmul": "AttributeError", "cudnn_conv": "AttributeError", "bf16": "AttributeError", "nccl": "ModuleNotFoundError"} {
			c, ok := g.Checks[name]
			if !ok || c.OK || !strings.HasPrefix(c.Detail, errType+": ") {
				t.Errorf("check %s: %+v (present %v), want failed with %s", name, c, ok, errType)
			}
		}
		if got.Status != report.Failed || !strings.Contains(got.Reason, "GPU checks failed: ") || !strings.Contains(got.Reason, "matmul: AttributeError") {
			t.Errorf("status %s, reason %q", got.Status, got.Reason)
		}
		if b := sr.Variants[1]; b.Status != report.Skipped || !strings.HasPrefix(b.Reason, smoke.ReasonBuildFailed) || b.GPU != nil {
			t.Errorf("failed build: %+v", b)
		}
		// The report round-trips through the file publish reads.
		path := filepath.Join(t.TempDir(), "smoke.json")
		if err := sr.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		back, err := report.ReadSmoke(path)
		if err != nil || back.Variants[0].GPU == nil || back.Variants[0].GPU.Devices[0].Name != "NVIDIA H100 80GB HBM3" {
			t.Fatalf("read back: %v %+v", err, back)
		}
		var sb strings.Builder
		smoke.WriteSummary(&sb, sr)
		t.Logf("summary:\n%s", sb.String())
	})

	t.Run("Preflight", func(t *testing.T) {
		// The daemon lacks the requested device: nothing runs; auto skips with the reason.
		sr, err := smoke.Run(ctx, targets[:1], smoke.Options{
			Mode: smoke.ModeAuto, Runner: &smoke.BuildKit{Client: d.Client}, Host: static(h100), ImageEnv: imageEnv,
		})
		if err != nil {
			t.Fatal(err)
		}
		if v := sr.Variants[0]; v.Status != report.Skipped || !strings.Contains(v.Reason, "no CDI device nvidia.com/gpu=all") ||
			!strings.Contains(v.Reason, "example.com/gpu=all") || !strings.Contains(v.Reason, "nvidia-ctk cdi generate") {
			t.Errorf("missing CDI device: %+v", v)
		}
		// Driver 525 (CUDA 12.0): the image's NVIDIA_REQUIRE_CUDA (read from its config in the
		// registry) is not met; --gpu on fails it without running anything.
		old := h100
		old.Driver, old.CUDA = "525.147.05", "12.0"
		sr, err = smoke.Run(ctx, targets[:1], smoke.Options{
			Mode: smoke.ModeOn, Runner: &smoke.BuildKit{Client: d.Client, Device: "example.com/gpu=all"}, Host: static(old), ImageEnv: imageEnv,
		})
		if err != nil {
			t.Fatal(err)
		}
		if v := sr.Variants[0]; v.Status != report.Failed || !v.Required || v.GPU != nil || !strings.Contains(v.Reason, "this host: driver 525.147.05 supports CUDA 12.0") {
			t.Errorf("requirement unmet: %+v", v)
		}
	})

	t.Run("SelfCheck", func(t *testing.T) {
		run := func(device string) string {
			t.Helper()
			r := &smoke.BuildKit{Client: d.Client, Device: "example.com/driver=" + device}
			start := time.Now()
			out, code, err := r.Exec(ctx, res.StagedRef, "/usr/local/lib/torchimg/torchimg-entrypoint.sh", "echo", "command-ran")
			if err != nil {
				t.Fatalf("%s: %v", device, err)
			}
			t.Logf("%s (%s, exit %d):\n%s", device, time.Since(start).Round(time.Millisecond), code, out)
			if code != 0 || !strings.Contains(string(out), "command-ran") {
				t.Errorf("%s: the command did not run after the self-check (exit %d)", device, code)
			}
			return string(out)
		}
		// 525.147.05 is older than CUDA 12.8's minimum (570.124.06) but above the 12.x
		// minor-version compatibility floor (525): the self-check says so and names both.
		out := run("r525")
		for _, want := range []string{"driver 525.147.05 is older than CUDA 12.8's (570.124.06)", "minor-version compatibility (>= 525)"} {
			if !strings.Contains(out, want) {
				t.Errorf("r525: output lacks %q", want)
			}
		}
		// 470: too old for CUDA 12.8 even with minor-version compatibility.
		out = run("r470")
		for _, want := range []string{"driver 470.256.02 is too old for CUDA 12.8", "needs driver >= 570.124.06 (or >= 525 with minor-version compatibility)", "install an NVIDIA driver >= 570.124.06"} {
			if !strings.Contains(out, want) {
				t.Errorf("r470: output lacks %q", want)
			}
		}
		if strings.Contains(out, "libcuda.so.1 is not") {
			t.Errorf("r470: the CDI mount of libcuda.so.1 was not seen")
		}
		// 580: new enough; the self-check is silent.
		if out := run("r580"); strings.Contains(out, "torchimg:") {
			t.Errorf("r580: the self-check complained: %s", out)
		}
	})
}
