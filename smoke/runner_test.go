package smoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/gpu/arch/archtest"
	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/gpu/driver/drivertest"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"

	"github.com/torchimg/torchimg/internal/testfile"
)

// The NVIDIA_REQUIRE_CUDA of nvidia/cuda:12.8.1 images (amd64).
const require128 = "cuda>=12.8 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=vapps,driver>=470,driver<471 brand=vpc,driver>=470,driver<471 brand=vcs,driver>=470,driver<471 brand=vws,driver>=470,driver<471 brand=cloudgaming,driver>=470,driver<471 brand=unknown,driver>=535,driver<536 brand=grid,driver>=535,driver<536 brand=tesla,driver>=535,driver<536"

func target(archs string) smoke.Target {
	return smoke.Target{
		ID: "2.9.1-cu128", Ref: "127.0.0.1:5000/stage@sha256:aa", Digest: "sha256:aa", BuildStatus: report.Passed,
		LabelsPrefix: "io.torchimg", Labels: map[string]string{"io.torchimg.cuda.archs": archs},
		Env: map[string]string{"NVIDIA_REQUIRE_CUDA": require128, "PATH": "/usr/bin"},
	}
}

// static is a host.Source that reports fixed facts.
type static host.Facts

func (s static) Facts(ctx context.Context) (host.Facts, error) { return host.Facts(s), ctx.Err() }

func facts(driver, cuda string, gpus ...host.GPU) host.Facts {
	return host.Facts{DriverFound: true, Driver: driver, CUDA: cuda, GPUs: gpus}
}

var (
	h100GPU = host.GPU{Index: 0, Name: "NVIDIA H100 80GB HBM3", Brand: "nvidia", Arch: "9.0"}
	b200    = host.GPU{Index: 0, Name: "NVIDIA B200", Brand: "nvidia", Arch: "10.0"}
	a10g    = host.GPU{Index: 0, Name: "NVIDIA A10G", Brand: "nvidia", Arch: "8.6"}
	noGPU   = host.Facts{Reason: "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)"}
	good    = facts("580.95.05", "13.0", h100GPU)
	old     = facts("550.54.15", "12.4", h100GPU)
	archs   = "7.0;7.5;8.0;8.6;9.0;10.0;12.0"
	noB200  = "7.0;8.0;9.0"
)

func TestDecide(t *testing.T) {
	failedBuild := target(archs)
	failedBuild.BuildStatus = "failed"
	cpu := smoke.Target{ID: "2.9.1-cpu", Ref: "127.0.0.1:5000/stage@sha256:bb", Digest: "sha256:bb", BuildStatus: report.Passed,
		LabelsPrefix: "io.torchimg", Labels: map[string]string{"io.torchimg.schema-version": "1", "io.torchimg.torch.cuda-variant": "cpu"},
		Env: map[string]string{"PATH": "/usr/bin"}}
	cpuFailed := cpu
	cpuFailed.BuildStatus = "failed"
	for _, tc := range []struct {
		name     string
		mode     smoke.Mode
		facts    host.Facts
		t        smoke.Target
		blocked  string
		run      bool
		status   report.Status // when !run
		reason   string        // substring
		required bool
	}{
		{"auto ok", smoke.ModeAuto, good, target(archs), "", true, "", "", false},
		{"on ok", smoke.ModeOn, good, target(archs), "", true, "", "", true},
		{"off", smoke.ModeOff, good, target(archs), "", false, "skipped", smoke.ReasonOff, false},
		{"off no GPU", smoke.ModeOff, noGPU, target(archs), "", false, "skipped", smoke.ReasonOff, false},

		{"auto no GPU", smoke.ModeAuto, noGPU, target(archs), "", false, "skipped", "no GPU on this host (no NVIDIA driver found", false},
		{"on no GPU", smoke.ModeOn, noGPU, target(archs), "", false, "failed", "--gpu on requires it: no GPU on this host", true},
		{"auto driver, no GPUs", smoke.ModeAuto, facts("580.95.05", "13.0"), target(archs), "", false, "skipped", "no GPU on this host (NVIDIA driver 580.95.05 sees no GPU)", false},

		{"auto requirement unmet", smoke.ModeAuto, old, target(archs), "", false, "skipped", "this host: driver 550.54.15 supports CUDA 12.4", false},
		{"on requirement unmet", smoke.ModeOn, old, target(archs), "", false, "failed", "cannot use this host's driver", true},
		{"requirement met by branch 535", smoke.ModeOn, facts("535.247.01", "12.2", host.GPU{Name: "Tesla T4", Brand: "tesla", Arch: "7.5"}), target(archs), "", true, "", "", true},

		{"auto arch unsupported", smoke.ModeAuto, facts("580.95.05", "13.0", b200), target(noB200), "", false, "skipped", "GPU 0 (NVIDIA B200) has compute capability 10.0", false},
		{"on arch unsupported", smoke.ModeOn, facts("580.95.05", "13.0", b200), target(noB200), "", false, "failed", "does not support", true},
		{"same-major binary", smoke.ModeOn, facts("580.95.05", "13.0", a10g), target("7.0;8.0;9.0"), "", true, "", "", true},
		{"PTX", smoke.ModeOn, facts("580.95.05", "13.0", b200), target("7.0;8.0;9.0+PTX"), "", true, "", "", true},

		{"auto build failed", smoke.ModeAuto, good, failedBuild, "", false, "skipped", "build failed (failed)", false},
		{"on build failed", smoke.ModeOn, good, failedBuild, "", false, "skipped", "build failed", true},
		{"build failed no GPU", smoke.ModeAuto, noGPU, failedBuild, "", false, "skipped", "build failed", false},

		{"auto runner blocked", smoke.ModeAuto, good, target(archs), "the docker CLI is not installed", false, "skipped", "the docker CLI is not installed", false},
		{"on runner blocked", smoke.ModeOn, good, target(archs), "the docker CLI is not installed", false, "failed", "the docker CLI is not installed", true},
		{"no GPU wins over runner", smoke.ModeAuto, noGPU, target(archs), "the docker CLI is not installed", false, "skipped", "no GPU on this host", false},
		{"CPU image auto", smoke.ModeAuto, good, cpu, "", false, "skipped", smoke.ReasonCPU, false},
		{"CPU image on: skipped, not required", smoke.ModeOn, good, cpu, "", false, "skipped", smoke.ReasonCPU, false},
		{"CPU image on, no GPU", smoke.ModeOn, noGPU, cpu, "", false, "skipped", smoke.ReasonCPU, false},
		{"CPU image off", smoke.ModeOff, good, cpu, "", false, "skipped", smoke.ReasonOff, false},
		{"CPU image build failed", smoke.ModeOn, good, cpuFailed, "", false, "skipped", "build failed", true},
		{"disabled requirements", smoke.ModeOn, old, func() smoke.Target {
			x := target(archs)
			x.Env["NVIDIA_DISABLE_REQUIRE"] = "true"
			return x
		}(), "", true, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, run := smoke.Decide(tc.mode, tc.facts, tc.t, tc.blocked)
			if run != tc.run || v.Required != tc.required || v.ID != tc.t.ID || v.Digest != tc.t.Digest {
				t.Fatalf("Decide = %+v, run %v; want run %v required %v", v, run, tc.run, tc.required)
			}
			if !run && (v.Status != tc.status || !strings.Contains(v.Reason, tc.reason)) {
				t.Errorf("status %q reason %q; want %q containing %q", v.Status, v.Reason, tc.status, tc.reason)
			}
		})
	}
}

// The preflight tests a variant unless gpu/arch says its code cannot run on the GPU.
func TestPreflightArchitectures(t *testing.T) {
	for _, tc := range archtest.Cases {
		gpu := host.GPU{Name: "GPU", Brand: "nvidia", Arch: tc.CC}
		tg := target(tc.List)
		tg.Env = nil
		v, run := smoke.Decide(smoke.ModeAuto, facts("580.95.05", "13.0", gpu), tg, "")
		if run == (tc.Want == arch.None) {
			t.Errorf("%q on %s: run %v (%s), want run %v", tc.List, tc.CC, run, v.Reason, tc.Want != arch.None)
		}
	}
}

// The preflight tests a variant unless gpu/driver says the driver fails it.
func TestPreflightDrivers(t *testing.T) {
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range drivertest.Cases {
		if tc.Mode != driver.Legacy && (tc.Mode != driver.AnyMode || tc.Want == driver.Unknown) {
			continue // the preflight judges under the legacy hook
		}
		tg := target(archs)
		for k, v := range tc.Env(db) {
			tg.Env[k] = v
		}
		tg.Labels["io.torchimg.cuda.version"] = tc.Toolkit
		v, run := smoke.Decide(smoke.ModeAuto, facts(tc.Driver, tc.CUDA, host.GPU{Name: "GPU", Brand: tc.Brand, Arch: "9.0"}), tg, "")
		if run == (tc.Want == driver.Fail) {
			t.Errorf("%s: run %v (%s), want run %v", tc.Name, run, v.Reason, tc.Want != driver.Fail)
		}
	}
}

func TestCDIDeviceMatches(t *testing.T) {
	for _, tc := range []struct {
		req, listed string
		want        bool
	}{
		{"nvidia.com/gpu=all", "nvidia.com/gpu=all", true},
		{"nvidia.com/gpu=all", "nvidia.com/gpu=0", false},
		{"nvidia.com/gpu", "nvidia.com/gpu=0", true},
		{"nvidia.com/gpu=*", "nvidia.com/gpu=GPU-1234", true},
		{"nvidia.com/gpu", "example.com/gpu=all", false},
	} {
		if got := smoke.CDIDeviceMatches(tc.req, tc.listed); got != tc.want {
			t.Errorf("CDIDeviceMatches(%q, %q) = %v", tc.req, tc.listed, got)
		}
	}
}

func gpuFindings(checks map[string]report.GPUCheck) *report.Findings {
	return &report.Findings{GPU: &report.GPUFindings{Available: true, DeviceCount: 1,
		Devices: []report.GPUDevice{{Name: "NVIDIA H100 80GB HBM3", Capability: "9.0"}}, Checks: checks}}
}

var allOK = map[string]report.GPUCheck{"matmul": {OK: true}, "cudnn_conv": {OK: true}, "nccl": {OK: true}, "bf16": {OK: true}}

func TestVerdict(t *testing.T) {
	if ok, why := smoke.Verdict(gpuFindings(allOK)); !ok {
		t.Errorf("all ok: %s", why)
	}
	bad := gpuFindings(map[string]report.GPUCheck{"matmul": {OK: true}, "nccl": {OK: false, Detail: "RuntimeError: NCCL error"}})
	if ok, why := smoke.Verdict(bad); ok || why != "GPU checks failed: nccl: RuntimeError: NCCL error" {
		t.Errorf("nccl failed: %v %q", ok, why)
	}
	if ok, why := smoke.Verdict(&report.Findings{GPU: &report.GPUFindings{Error: "torch.cuda.is_available() is False"}}); ok || !strings.Contains(why, "torch sees no GPU (torch.cuda.is_available() is False)") {
		t.Errorf("unavailable: %v %q", ok, why)
	}
	if ok, why := smoke.Verdict(&report.Findings{Errors: []string{"import torch: ModuleNotFoundError"}}); ok || !strings.Contains(why, "import torch") {
		t.Errorf("no torch: %v %q", ok, why)
	}
}

// fakeRunner records what it ran.
type fakeRunner struct {
	findings *report.Findings
	err      error
	check    error
	ran      []string
	checks   int
}

func (f *fakeRunner) Name() string { return "fake" }
func (f *fakeRunner) Check(context.Context) error {
	f.checks++
	return f.check
}
func (f *fakeRunner) Run(_ context.Context, t smoke.Target) (*report.Findings, error) {
	f.ran = append(f.ran, t.ID)
	return f.findings, f.err
}

func TestRun(t *testing.T) {
	withEnv := target(archs)
	noEnv := target(archs)
	noEnv.ID, noEnv.Env = "from-registry", nil
	broken := target(archs)
	broken.ID, broken.BuildStatus = "broken", "failed"
	envReads := 0
	imageEnv := func(_ context.Context, ref string) (map[string]string, error) {
		envReads++
		if ref != noEnv.Ref {
			t.Errorf("ImageEnv(%q)", ref)
		}
		return map[string]string{"NVIDIA_REQUIRE_CUDA": "cuda>=12.8"}, nil
	}

	r := &fakeRunner{findings: gpuFindings(allOK)}
	rep, err := smoke.Run(context.Background(), []smoke.Target{withEnv, noEnv, broken}, smoke.Options{
		Mode: smoke.ModeOn, Runner: r, Host: static(good), ImageEnv: imageEnv})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Schema != report.SmokeSchema || rep.Runner != "fake" || rep.Mode != "on" || rep.Finished.IsZero() {
		t.Errorf("report header: %+v", rep)
	}
	if h := rep.Host; h == nil || h.Driver != "580.95.05" || len(h.GPUs) != 1 {
		t.Errorf("host: %#v", rep.Host)
	}
	if strings.Join(r.ran, ",") != "2.9.1-cu128,from-registry" || envReads != 1 || r.checks != 1 {
		t.Errorf("ran %v, env reads %d, checks %d", r.ran, envReads, r.checks)
	}
	for i, want := range []report.Status{report.Passed, report.Passed, report.Skipped} {
		if rep.Variants[i].Status != want || !rep.Variants[i].Required {
			t.Errorf("variant %d: %+v, want %s", i, rep.Variants[i], want)
		}
	}
	if len(rep.Failed()) != 0 {
		t.Errorf("Failed: %+v", rep.Failed())
	}

	// No GPU: the runner is never asked, not even to check itself, and no registry read.
	r = &fakeRunner{findings: gpuFindings(allOK)}
	envReads = 0
	rep, _ = smoke.Run(context.Background(), []smoke.Target{withEnv, noEnv}, smoke.Options{
		Mode: smoke.ModeAuto, Runner: r, Host: static(noGPU), ImageEnv: imageEnv})
	if len(r.ran) != 0 || r.checks != 0 || envReads != 0 {
		t.Errorf("no GPU: ran %v checks %d env reads %d", r.ran, r.checks, envReads)
	}
	for _, v := range rep.Variants {
		if v.Status != "skipped" || !strings.HasPrefix(v.Reason, "no GPU on this host") || v.Required {
			t.Errorf("no GPU: %+v", v)
		}
	}

	// Off: nothing runs, the host is not even read.
	rep, _ = smoke.Run(context.Background(), []smoke.Target{withEnv}, smoke.Options{
		Mode: smoke.ModeOff, Runner: r, Host: static(good)})
	if rep.Host != nil || rep.Variants[0].Status != "skipped" || rep.Variants[0].Reason != smoke.ReasonOff {
		t.Errorf("off: %+v", rep)
	}

	// A runner that cannot work here: checked once; failed under on.
	r = &fakeRunner{check: errors.New("the Docker daemon is not running")}
	rep, _ = smoke.Run(context.Background(), []smoke.Target{withEnv, withEnv}, smoke.Options{
		Mode: smoke.ModeOn, Runner: r, Host: static(good)})
	if r.checks != 1 || len(r.ran) != 0 || len(rep.Failed()) != 2 || !strings.Contains(rep.Variants[1].Reason, "Docker daemon is not running") {
		t.Errorf("blocked runner: checks %d ran %v report %+v", r.checks, r.ran, rep.Variants)
	}

	// A run error and failing checks are failures (also under auto); findings are kept.
	r = &fakeRunner{err: errors.New("NVIDIA Container Toolkit is not installed")}
	rep, _ = smoke.Run(context.Background(), []smoke.Target{withEnv}, smoke.Options{Mode: smoke.ModeAuto, Runner: r, Host: static(good)})
	if v := rep.Variants[0]; v.Status != "failed" || v.Required || v.Reason != "NVIDIA Container Toolkit is not installed" {
		t.Errorf("run error: %+v", v)
	}
	r = &fakeRunner{findings: gpuFindings(map[string]report.GPUCheck{"matmul": {OK: false, Detail: "AttributeError: no randn"}})}
	rep, _ = smoke.Run(context.Background(), []smoke.Target{withEnv}, smoke.Options{Mode: smoke.ModeAuto, Runner: r, Host: static(good)})
	if v := rep.Variants[0]; v.Status != "failed" || v.GPU == nil || !strings.Contains(v.Reason, "matmul: AttributeError") {
		t.Errorf("failed check: %+v", v)
	}

	if _, err := smoke.Run(context.Background(), nil, smoke.Options{Mode: "sometimes", Runner: r}); err == nil {
		t.Error("bad mode accepted")
	}
}

const probeJSON = `{"probe_version": 1, "python": "3.11", "torch": "2.9.1+cu128", "errors": [], "notes": [], "gpu": {"available": true, "device_count": 1, "devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0"}], "checks": {"matmul": {"ok": true, "detail": "max abs diff 1e-06"}, "cudnn_conv": {"ok": true, "detail": "cudnn 9.10.2"}, "nccl": {"ok": true, "detail": "nccl 2.27.5"}, "bf16": {"ok": true, "detail": "ok"}}, "seconds": 1.5}}`

// fakeBin writes an executable shell script named name into a new directory on PATH.
func fakeBin(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func TestDockerRunner(t *testing.T) {
	argsFile := filepath.Join(t.TempDir(), "args")
	// The fake docker records its arguments (one per line) and checks that the probe it was
	// given is readable where the -v flag points.
	fakeBin(t, "docker", `
case "$1" in
version) echo 28.5.1; exit 0 ;;
esac
printf '%s\n' "$@" > `+argsFile+`
for a in "$@"; do
	case "$a" in
	*:/torchimg-probe:ro) src=${a%%:*}; grep -q "torchimg probe" "$src/probe.py" || { echo "probe.py missing in $src" >&2; exit 99; } ;;
	esac
done
case "$FAKE_DOCKER" in
notoolkit) echo 'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].' >&2; exit 125 ;;
nodaemon) echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1 ;;
requirement) echo 'docker: Error response from daemon: failed to create task for container: OCI runtime create failed: nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container: unknown.' >&2; exit 125 ;;
garbage) echo 'Traceback: oops'; exit 0 ;;
esac
echo "pulling..." >&2
echo '`+probeJSON+`'
`)
	d := &smoke.Docker{}
	tg := target(archs)
	tg.ProbeArgs = []string{"--package", "triton"}
	if err := d.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	f, err := d.Run(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := smoke.Verdict(f); !ok || f.GPU.Devices[0].Name != "NVIDIA H100 80GB HBM3" {
		t.Errorf("findings: %v %s %+v", ok, why, f.GPU)
	}
	b := testfile.Read(t, argsFile)
	args := strings.Split(strings.TrimSpace(string(b)), "\n")
	// A torchimg image starts through its entrypoint (the self-check, then the probe).
	want := []string{"run", "--rm", "--gpus", "all", "--network", "none", "-v", "", "-e", "TORCHIMG_SELFCHECK=1", tg.Ref,
		"/bin/sh", "-c", `p=$(command -v python || command -v python3) && exec "$p" /torchimg-probe/probe.py "$@"`, "probe", "--gpu", "--package", "triton"}
	if len(args) != len(want) {
		t.Fatalf("docker %q\nwant   %q", args, want)
	}
	for i := range want {
		if i == 7 {
			if !strings.HasSuffix(args[i], ":/torchimg-probe:ro") {
				t.Errorf("-v %q", args[i])
			}
			if dir, _, _ := strings.Cut(args[i], ":"); dirExists(dir) {
				t.Errorf("the probe dir %s was not removed", dir)
			}
			continue
		}
		if args[i] != want[i] {
			t.Errorf("arg %d = %q, want %q", i, args[i], want[i])
		}
	}

	for _, tc := range []struct{ mode, want string }{
		{"notoolkit", "NVIDIA Container Toolkit is not installed or not configured (install it and run nvidia-ctk runtime configure)"},
		{"nodaemon", "the Docker daemon is not running or not reachable"},
		{"requirement", "the host's driver does not meet its NVIDIA_REQUIRE_CUDA: nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8"},
		{"garbage", "probe output is not JSON"},
	} {
		t.Setenv("FAKE_DOCKER", tc.mode)
		_, err := d.Run(context.Background(), tg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.mode, err, tc.want)
		}
		if tc.mode == "notoolkit" && !errors.Is(err, smoke.ErrNoToolkit) {
			t.Errorf("notoolkit: not ErrNoToolkit: %v", err)
		}
	}

	// The daemon is down: Check says so before any variant.
	fakeBin(t, "docker", `echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1`)
	if err := d.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "Docker daemon is not running") {
		t.Errorf("Check without daemon: %v", err)
	}
	// No CLI at all.
	nd := &smoke.Docker{Binary: "torchimg-no-such-docker"}
	if err := nd.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "is not installed or not on PATH") {
		t.Errorf("Check without CLI: %v", err)
	}
	if _, err := nd.Run(context.Background(), tg); err == nil || !strings.Contains(err.Error(), "is not installed or not on PATH") {
		t.Errorf("Run without CLI: %v", err)
	}
	if ok, why := d.Selects(smoke.Target{ID: "x"}); ok || !strings.Contains(why, "--stage") {
		t.Errorf("Selects without ref: %v %s", ok, why)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func TestHostRunner(t *testing.T) {
	argsFile := filepath.Join(t.TempDir(), "args")
	dir := fakeBin(t, "fakepython", `printf '%s\n' "$@" > `+argsFile+`
grep -q "torchimg probe" "$1" || { echo "not the probe: $1" >&2; exit 3; }
echo "a warning on stdout first"
echo '`+probeJSON+`'
`)
	h := &smoke.Host{Python: "fakepython", ImageEnv: "-"}
	if err := h.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	tg := target(archs)
	f, err := h.Run(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := smoke.Verdict(f); !ok || f.Torch != "2.9.1+cu128" {
		t.Errorf("findings: %v %s %+v", ok, why, f)
	}
	b := testfile.Read(t, argsFile)
	if args := strings.Fields(string(b)); len(args) != 2 || filepath.Base(args[0]) != "probe.py" || args[1] != "--gpu" {
		t.Errorf("python args %q", args)
	}

	// A failing interpreter: the error carries its stderr.
	testfile.WriteMode(t, filepath.Join(dir, "fakepython"), "#!/bin/sh\necho 'ModuleNotFoundError: json' >&2; exit 1\n", 0o755)
	if _, err := h.Run(context.Background(), tg); err == nil || !strings.Contains(err.Error(), "ModuleNotFoundError: json") {
		t.Errorf("failing python: %v", err)
	}
	if err := (&smoke.Host{Python: "torchimg-no-such-python"}).Check(context.Background()); err == nil {
		t.Error("missing python: no error")
	}

	// Inside a torchimg image, only its own variant.
	envFile := filepath.Join(t.TempDir(), "image.env")
	testfile.WriteMode(t, envFile, "# facts\nTORCHIMG_VARIANT='2.9.1-cu128'\nTORCHIMG_CUDA='12.8'\n", 0o644)
	h = &smoke.Host{Python: "fakepython", ImageEnv: envFile}
	if ok, _ := h.Selects(tg); !ok {
		t.Error("own variant not selected")
	}
	other := tg
	other.ID = "2.9.1-cu126"
	if ok, why := h.Selects(other); ok || !strings.Contains(why, "only the image it runs in (2.9.1-cu128)") {
		t.Errorf("other variant: %v %s", ok, why)
	}
}

func TestReportJSON(t *testing.T) {
	r := &fakeRunner{findings: gpuFindings(allOK)}
	rep, _ := smoke.Run(context.Background(), []smoke.Target{target(archs)}, smoke.Options{Mode: smoke.ModeAuto, Runner: r, Host: static(good)})
	path := filepath.Join(t.TempDir(), "smoke.json")
	if err := rep.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	raw := testfile.Read(t, path)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m["gpu_mode"] != "auto" || m["host"].(map[string]any)["driver"] != "580.95.05" {
		t.Errorf("json: %v %s", err, raw)
	}
	back, err := report.ReadSmoke(path)
	if err != nil || back.Variants[0].Status != "passed" || back.Variants[0].Ref != target(archs).Ref {
		t.Errorf("read back: %v %+v", err, back)
	}
	var sb strings.Builder
	if err := smoke.WriteSummary(&sb, back); err != nil || !strings.Contains(sb.String(), "1 passed, 0 failed, 0 skipped") || !strings.Contains(sb.String(), "NVIDIA H100 80GB HBM3") {
		t.Errorf("summary: %v\n%s", err, sb.String())
	}
}
