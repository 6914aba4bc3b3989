package smoke_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/tonistiigi/fsutil"

	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/probe"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
)

// hostHelperEnv makes this test binary the host runner inside an image (TestMain): it runs the
// smoke host runner's code with the image's Python, as `torchimg smoke --runner host` does in a
// CI job that runs inside the image, and writes what it got to hostHelperOut.
const (
	hostHelperEnv = "TORCHIMG_TEST_HOST_RUNNER"
	hostHelperOut = "/torchimg-out/host.json"
	testBinDir    = "/torchimg-test"
)

func TestMain(m *testing.M) {
	if os.Getenv(hostHelperEnv) != "" {
		os.Exit(hostRunnerHelper())
	}
	os.Exit(m.Run())
}

// hostResult is what hostRunnerHelper reports from inside the image.
type hostResult struct {
	CheckErr  string           `json:"check_err,omitempty"`
	Findings  *report.Findings `json:"findings,omitempty"`
	RunErr    string           `json:"run_err,omitempty"`
	VerdictOK bool             `json:"verdict_ok"`
	Verdict   string           `json:"verdict"`
	NVML      *report.Smoke    `json:"nvml"`     // smoke.Run --gpu auto with the real NVML of the container
	Required  *report.Smoke    `json:"required"` // smoke.Run --gpu on with a host that claims an H100
}

func hostRunnerHelper() int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var res hostResult
	h := &smoke.Host{Python: "python3", ImageEnv: "-"}
	if err := h.Check(ctx); err != nil {
		res.CheckErr = err.Error()
	}
	tg := smoke.Target{ID: "debian-torch", Ref: "in-image", BuildStatus: report.Passed, LabelsPrefix: "io.torchimg",
		Labels: map[string]string{"io.torchimg.cuda.archs": "7.0;8.0;9.0"}, Env: map[string]string{"NVIDIA_REQUIRE_CUDA": "cuda>=12.8"}}
	f, err := h.Run(ctx, tg)
	if err != nil {
		res.RunErr = err.Error()
	}
	res.Findings = f
	res.VerdictOK, res.Verdict = smoke.Verdict(f)
	// The real NVML (go-nvml over cgo when the test binary has it): no driver in the container,
	// so Init fails and nothing else may be called.
	if res.NVML, err = smoke.Run(ctx, []smoke.Target{tg}, smoke.Options{Mode: smoke.ModeAuto, Runner: h, Host: host.NVML()}); err != nil {
		res.RunErr += "; smoke.Run auto: " + err.Error()
	}
	if res.Required, err = smoke.Run(ctx, []smoke.Target{tg}, smoke.Options{Mode: smoke.ModeOn, Runner: h, Host: static(h100)}); err != nil {
		res.RunErr += "; smoke.Run on: " + err.Error()
	}
	b, err := json.Marshal(res)
	if err == nil {
		err = os.WriteFile(hostHelperOut, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "host runner helper:", err)
		return 1
	}
	return 0
}

// cudaLabels are the labels of a CUDA 12.8 variant, with the real torch's version and Python, so
// only the CUDA facts can disagree.
var cudaLabels = map[string]string{
	"io.torchimg.python.version":     testenv.RealTorchPython,
	"io.torchimg.torch.version":      testenv.RealTorchVersion,
	"io.torchimg.torch.cuda-variant": "cu128",
	"io.torchimg.torch.cuda":         "12.8",
	"io.torchimg.cudnn.version":      "9.10.2.21",
	"io.torchimg.nccl.version":       "2.27.5",
	"io.torchimg.cuda.archs":         "7.0;7.5;8.0;8.6;9.0;10.0;12.0",
}

// TestRealTorch runs the real probe, the host runner and the BuildKit runner against a real torch:
// Debian 12's python3-torch 1.13.1 (a CPU build) in an image pushed to the test registry. The
// findings must be those of a CPU build, labels that expect CUDA must fail with "this torch is a
// CPU build", and the GPU checks must be reported unavailable, never crash.
func TestRealTorch(t *testing.T) {
	started := time.Now()
	env := testenv.New(t, testenv.Options{CDISpecs: map[string]string{"fake-gpu.yaml": fakeGPUSpec}})
	ref := env.RealTorch(t)
	t.Logf("environment and real-torch image %s up in %s", ref, time.Since(started).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	d := env.Daemon(ctx, t)

	t.Run("Probe", func(t *testing.T) {
		// The CPU probe, as the build runs it before export: smoke.Probe on the image, the
		// findings read back from the out mount.
		start := time.Now()
		var f *report.Findings
		solve(ctx, t, d.Client, nil, func(ctx context.Context, gc gateway.Client) error {
			r, err := gc.Solve(ctx, gateway.SolveRequest{Definition: marshal(ctx, t, smoke.Probe(image(ref, gc), nil,
				llb.IgnoreCache, llb.WithCustomName("probe the real torch")))})
			if err != nil {
				return err
			}
			f, err = smoke.ReadFindings(ctx, r)
			return err
		})
		t.Logf("probe in %s: %s", time.Since(start).Round(time.Millisecond), jsonString(f))
		checkCPUFindings(t, f)
		// The image holds Debian's python3-torch 1.13.1, which calls itself 1.13.0a0.
		var pkg []byte
		solve(ctx, t, d.Client, nil, func(ctx context.Context, gc gateway.Client) error {
			st := smoke.InImage(image(ref, gc), []string{"/bin/sh", "-c", `dpkg-query -W -f '${Version}' python3-torch >/torchimg-out/version`}, nil,
				llb.IgnoreCache, llb.WithCustomName("dpkg-query python3-torch"))
			r, err := gc.Solve(ctx, gateway.SolveRequest{Definition: marshal(ctx, t, st)})
			if err != nil {
				return err
			}
			rr, err := r.SingleRef()
			if err != nil {
				return err
			}
			pkg, err = rr.ReadFile(ctx, gateway.ReadRequest{Filename: "version"})
			return err
		})
		if string(pkg) != testenv.RealTorchPackage {
			t.Errorf("python3-torch package %q, want %s", pkg, testenv.RealTorchPackage)
		}

		r := probe.Compare(cudaLabels, "io.torchimg", nil, f)
		if r.Status != report.Failed || !strings.Contains(r.Diff(), "this torch is a CPU build (torch "+testenv.RealTorchVersion+": torch.version.cuda is None") ||
			!strings.Contains(r.Diff(), "the labels expect CUDA 12.8") {
			t.Errorf("CUDA labels on a CPU torch: status %s, diff %q; want failed with 'this torch is a CPU build'", r.Status, r.Diff())
		}
		for _, c := range r.Mismatches() {
			if !strings.HasPrefix(c.Note, "this torch is a CPU build") {
				t.Errorf("mismatch %s: note %q, want the CPU-build reason", c.Label, c.Note)
			}
		}
		if len(r.Mismatches()) != 5 {
			t.Errorf("want the 5 CUDA labels to mismatch, got %+v", r.Mismatches())
		}
		cpuLabels := map[string]string{"io.torchimg.python.version": testenv.RealTorchPython, "io.torchimg.torch.version": testenv.RealTorchVersion}
		if r := probe.Compare(cpuLabels, "io.torchimg", nil, f); r.Status != report.Passed {
			t.Errorf("CPU labels on a CPU torch: %s", r.Diff())
		}
	})

	t.Run("HostRunner", func(t *testing.T) {
		// This test binary, mounted into the image, runs the host runner's code there with the
		// image's python3 (TestMain, hostRunnerHelper).
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		bin := t.TempDir()
		copyFile(t, self, filepath.Join(bin, "smoke.test"))
		fs, err := fsutil.NewFS(bin)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var out []byte
		solve(ctx, t, d.Client, map[string]fsutil.FS{"testbin": fs}, func(ctx context.Context, gc gateway.Client) error {
			st := smoke.InImage(image(ref, gc), []string{testBinDir + "/smoke.test"}, map[string]string{hostHelperEnv: "1"},
				llb.AddMount(testBinDir, llb.Local("testbin", llb.SharedKeyHint("torchimg-smoke-test-bin")), llb.Readonly),
				llb.IgnoreCache, llb.WithCustomName("smoke host runner in the real-torch image"))
			r, err := gc.Solve(ctx, gateway.SolveRequest{Definition: marshal(ctx, t, st)})
			if err != nil {
				return fmt.Errorf("%w (the test binary runs inside the Debian 12 image: it needs a glibc no newer than Debian 12's)", err)
			}
			rr, err := r.SingleRef()
			if err != nil {
				return err
			}
			out, err = rr.ReadFile(ctx, gateway.ReadRequest{Filename: filepath.Base(hostHelperOut)})
			return err
		})
		t.Logf("host runner in the image in %s: %s", time.Since(start).Round(time.Millisecond), out)
		var res hostResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("host runner result: %v: %s", err, out)
		}
		if res.CheckErr != "" || res.RunErr != "" {
			t.Fatalf("host runner: check %q, run %q", res.CheckErr, res.RunErr)
		}
		checkCPUFindings(t, res.Findings)
		checkNoGPU(t, res.Findings)
		if res.VerdictOK || res.Verdict != "torch sees no GPU (torch.cuda.is_available() is False)" {
			t.Errorf("verdict %v %q, want not ok: torch sees no GPU", res.VerdictOK, res.Verdict)
		}
		// The real NVML in a container without a driver: the host has no GPU, the variant is
		// skipped with the reason, and the process lived to tell.
		if v := onlyVariant(t, res.NVML); v.Status != report.Skipped || !strings.HasPrefix(v.Reason, "no GPU on this host") || res.NVML.Host == nil || res.NVML.Host.DriverFound {
			t.Errorf("--gpu auto with the container's NVML: %+v host %+v", v, res.NVML.Host)
		}
		// A host that claims a GPU: the probe runs and the smoke report says torch sees none.
		if v := onlyVariant(t, res.Required); v.Status != report.Failed || v.Reason != "torch sees no GPU (torch.cuda.is_available() is False)" || v.GPU == nil || v.GPU.Available {
			t.Errorf("--gpu on: %+v", v)
		}
	})

	t.Run("BuildKitRunner", func(t *testing.T) {
		// The BuildKit runner with a (fake) CDI GPU: the CPU torch sees no GPU either.
		start := time.Now()
		sr, err := smoke.Run(ctx, []smoke.Target{{ID: "debian-torch", Ref: ref, BuildStatus: report.Passed, LabelsPrefix: "io.torchimg",
			Labels: cudaLabels, Env: map[string]string{"NVIDIA_REQUIRE_CUDA": "cuda>=12.8"}}},
			smoke.Options{Mode: smoke.ModeOn, Runner: &smoke.BuildKit{Client: d.Client, Device: "example.com/gpu=all"}, Host: static(h100)})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("BuildKit runner in %s", time.Since(start).Round(time.Millisecond))
		v := onlyVariant(t, sr)
		if v.Status != report.Failed || v.Reason != "torch sees no GPU (torch.cuda.is_available() is False)" || v.GPU == nil || v.GPU.Available || len(v.Errors) != 0 {
			t.Errorf("BuildKit runner: %+v", v)
		}
	})
}

// checkCPUFindings checks what the probe says about Debian's python3-torch.
func checkCPUFindings(t *testing.T, f *report.Findings) {
	t.Helper()
	if f == nil {
		t.Fatal("no findings")
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	if f.Python != testenv.RealTorchPython || f.Torch != testenv.RealTorchVersion {
		t.Errorf("python %q torch %q, want %s and %s", f.Python, f.Torch, testenv.RealTorchPython, testenv.RealTorchVersion)
	}
	if f.TorchCUDA != nil || f.CUDNN != nil || f.NCCL != nil {
		t.Errorf("torch.version.cuda %s, cudnn %s, nccl %s; a CPU build has none", str(f.TorchCUDA), str(f.CUDNN), str(f.NCCL))
	}
	if f.ArchFlags != nil && *f.ArchFlags != "" {
		t.Errorf("arch flags %q; a CPU build has none", *f.ArchFlags)
	}
	if f.CUDAToolkitEnv != nil {
		t.Errorf("CUDA_VERSION %q in a Debian image", *f.CUDAToolkitEnv)
	}
	if len(f.Errors) != 0 {
		t.Errorf("probe errors: %q", f.Errors)
	}
}

func checkNoGPU(t *testing.T, f *report.Findings) {
	t.Helper()
	if f == nil || f.GPU == nil {
		t.Fatalf("no GPU findings: %+v", f)
	}
	if g := f.GPU; g.Available || g.Error != "torch.cuda.is_available() is False" || len(g.Checks) != 0 || g.DeviceCount != 0 {
		t.Errorf("GPU findings %+v, want unavailable with the reason", g)
	}
}

func onlyVariant(t *testing.T, r *report.Smoke) report.SmokeVariant {
	t.Helper()
	if r == nil || len(r.Variants) != 1 {
		t.Fatalf("smoke report: %+v, want one variant", r)
	}
	return r.Variants[0]
}

// image is ref with its config (ENV, WORKDIR, USER) applied, as the smoke runners use it.
func image(ref string, gc gateway.Client) llb.State { return llb.Image(ref, llb.WithMetaResolver(gc)) }

func marshal(ctx context.Context, t *testing.T, st llb.State) *pb.Definition {
	t.Helper()
	def, err := st.Marshal(ctx, llb.LinuxAmd64)
	if err != nil {
		t.Fatal(err)
	}
	return def.ToPB()
}

// solve runs one gateway build on the daemon (nothing exported) and fails the test with the
// build's output when it fails.
func solve(ctx context.Context, t *testing.T, c *client.Client, locals map[string]fsutil.FS, fn func(context.Context, gateway.Client) error) {
	t.Helper()
	status := make(chan *client.SolveStatus)
	logs := make(chan string, 1)
	go func() {
		var sb strings.Builder
		for s := range status {
			for _, l := range s.Logs {
				sb.Write(l.Data)
			}
		}
		logs <- sb.String()
	}()
	_, err := c.Build(ctx, client.SolveOpt{LocalMounts: locals}, "torchimg-test", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		return gateway.NewResult(), fn(ctx, gc)
	}, status)
	out := <-logs
	if err != nil {
		t.Fatalf("solve: %v\noutput:\n%s", err, out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
