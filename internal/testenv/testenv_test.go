package testenv

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/tonistiigi/fsutil"

	"github.com/torchimg/torchimg/internal/testfile"
)

// TestIndex checks the PEP 503 pages and the wheels without BuildKit.
func TestIndex(t *testing.T) {
	srv := httptest.NewServer(nil)
	defer srv.Close()
	ix := newIndex(srv.URL)
	srv.Config.Handler = ix
	if err := ix.AddTorch(Torch291("12.8")); err != nil {
		t.Fatal(err)
	}
	if err := ix.AddTorch(TorchWheel{Version: "2.9.1+cpu"}); err != nil {
		t.Fatal(err)
	}
	if err := ix.AddPackage("Tiny.Fixture_pkg", "1.0.2"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []TorchWheel{{Version: "2.9.1\nRUN x"}, {Version: "2.9.1", CUDA: "12.x"}, {Version: "2.9.1", CUDA: "12.8", Archs: "sm_90"}} {
		if err := ix.AddTorch(bad); err == nil {
			t.Errorf("AddTorch(%+v): no error", bad)
		}
	}
	if err := ix.AddPackage("bad name", "1"); err == nil {
		t.Error("AddPackage(bad name): no error")
	}

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/simple/"); code != 200 || !strings.Contains(body, `href="torch/"`) || !strings.Contains(body, `href="tiny-fixture-pkg/"`) {
		t.Errorf("/simple/: %d %s", code, body)
	}
	code, body := get("/simple/torch/")
	if code != 200 || !strings.Contains(body, "torch-2.9.1%2Bcu128-py3-none-any.whl#sha256=") || !strings.Contains(body, "torch-2.9.1+cpu-py3-none-any.whl<") {
		t.Fatalf("/simple/torch/: %d %s", code, body)
	}
	if code, body := get("/cpu/simple/torch/"); code != 200 || strings.Contains(body, "cu128") || !strings.Contains(body, "cpu") {
		t.Errorf("/cpu/simple/torch/: %d %s", code, body)
	}
	if code, _ := get("/simple/Tiny_Fixture.PKG/"); code != 200 {
		t.Errorf("non-normalized project name: %d", code)
	}
	if code, _ := get("/simple/numpy/"); code != 404 {
		t.Errorf("unknown project: %d, want 404", code)
	}
	if ix.Requests() != 0 {
		t.Fatalf("Requests before any download = %d", ix.Requests())
	}

	// The wheel: its sha256 matches the link, and it holds the facts and a consistent RECORD.
	href := body[strings.Index(body, "/files/torch-2.9.1%2Bcu128"):]
	href = href[:strings.Index(href, `"`)]
	path, frag, _ := strings.Cut(href, "#sha256=")
	code, data := get(path)
	if code != 200 {
		t.Fatalf("GET %s: %d", path, code)
	}
	sum := sha256.Sum256([]byte(data))
	if hex.EncodeToString(sum[:]) != frag {
		t.Errorf("wheel sha256 %x, link says %s", sum, frag)
	}
	if ix.Requests() != 1 {
		t.Errorf("Requests = %d, want 1", ix.Requests())
	}
	zr, err := zip.NewReader(bytes.NewReader([]byte(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	for _, want := range []string{"torch/__init__.py", "torch/cuda/__init__.py", "torch/_fixture.json",
		"torch-2.9.1+cu128.dist-info/METADATA", "torch-2.9.1+cu128.dist-info/WHEEL", "torch-2.9.1+cu128.dist-info/RECORD"} {
		if _, ok := files[want]; !ok {
			t.Errorf("wheel lacks %s (has %d files)", want, len(files))
		}
	}
	if !strings.Contains(files["torch/_fixture.json"], `"cudnn": "9.10.2.21"`) {
		t.Errorf("_fixture.json = %s", files["torch/_fixture.json"])
	}
	if n := strings.Count(files["torch-2.9.1+cu128.dist-info/RECORD"], "\n"); n != len(files) {
		t.Errorf("RECORD has %d lines for %d files", n, len(files))
	}
}

// TestEndToEnd starts the real environment, installs the fixture wheels with pip inside a BuildKit
// build from the base image, probes them, pushes the image, and checks that Close cleans up.
func TestEndToEnd(t *testing.T) {
	var regRequests atomic.Int64
	started := time.Now()
	env := New(t, Options{
		Middleware: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				regRequests.Add(1)
				h.ServeHTTP(w, r)
			})
		},
		CDISpecs: map[string]string{"fake-gpu.yaml": fakeCDISpec},
	})
	t.Logf("environment up in %s: builder %s, registry %s, index %s", time.Since(started).Round(time.Millisecond),
		env.BuilderAddr, env.RegistryHost, env.IndexURL)
	if regRequests.Load() != 0 {
		t.Errorf("the base image push went through Middleware (%d requests)", regRequests.Load())
	}

	for _, w := range []TorchWheel{
		Torch291("12.8"),
		{Version: "2.9.1+cpu"},
		{Version: "2.5.1+cu118", CUDA: "11.8", CUDNN: "8.7.0.84", Archs: "3.7;5.0;6.0;7.0;7.5;8.0;8.6;9.0+PTX"},
	} {
		if err := env.Index.AddTorch(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Index.AddPackage("tiny-fixture-pkg", "1.0.2"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := client.New(ctx, env.BuilderAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cdi := false
	for _, d := range ws[0].CDIDevices {
		cdi = cdi || d.Name == "example.com/gpu=fake0"
	}
	if !cdi {
		t.Errorf("buildkitd did not load the CDI spec from %s: %+v", env.CDIDir, ws[0].CDIDevices)
	}

	dir := t.TempDir()
	dockerfile := fmt.Sprintf(`FROM %s
ARG INDEX_URL
ARG CPU_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --index-url "$INDEX_URL" torch==2.9.1 tiny-fixture-pkg
RUN /opt/venv/bin/pip install --quiet --target /opt/cpu --index-url "$CPU_INDEX_URL" torch==2.9.1 \
 && /opt/venv/bin/pip install --quiet --target /opt/old --index-url "$INDEX_URL" torch==2.5.1
COPY probe.py /probe.py
RUN --device=example.com/gpu=fake0 /opt/venv/bin/python /probe.py
`, env.BaseImage)
	testfile.Write(t, filepath.Join(dir, "Dockerfile"), dockerfile)
	testfile.Write(t, filepath.Join(dir, "probe.py"), probePy)
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	target := env.RegistryHost + "/torchimg-test/e2e:probe"
	status := make(chan *client.SolveStatus)
	logs := collectLogs(status)
	solveStart := time.Now()
	resp, err := c.Solve(ctx, nil, client.SolveOpt{
		Frontend: "dockerfile.v0",
		FrontendAttrs: map[string]string{
			"filename":                "Dockerfile",
			"build-arg:INDEX_URL":     env.IndexURL,
			"build-arg:CPU_INDEX_URL": env.Index.VariantURL("cpu"),
		},
		LocalMounts: map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Exports: []client.ExportEntry{{Type: client.ExporterImage, Attrs: map[string]string{
			"name": target, "push": "true", "registry.insecure": "true",
		}}},
	}, status)
	out := <-logs
	if err != nil {
		t.Fatalf("solve: %v\nbuild output (tail):\n%s", err, tail(out, 60))
	}
	t.Logf("solve + push in %s", time.Since(solveStart).Round(time.Millisecond))
	if testing.Verbose() {
		t.Logf("build output (tail):\n%s", tail(out, 40))
	}
	if !strings.Contains(out, "PROBE OK") {
		t.Errorf("probe did not report PROBE OK; output:\n%s", tail(out, 40))
	}
	if !strings.Contains(out, "Successfully installed tiny-fixture-pkg-1.0.2 torch-2.9.1+cu128") {
		t.Errorf("pip output does not show the expected install:\n%s", tail(out, 40))
	}
	if got := env.Index.Requests(); got != 4 {
		t.Errorf("index served %d wheel downloads, want 4", got)
	}

	ref, err := name.ParseReference(target)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pushed tag %s: %v", target, err)
	}
	if want := resp.ExporterResponse[exptypes.ExporterImageDigestKey]; desc.Digest.String() != want {
		t.Errorf("registry has %s for %s, exporter pushed %s", desc.Digest, target, want)
	}
	if regRequests.Load() == 0 {
		t.Error("Middleware saw no registry requests from buildkitd")
	}

	// Stop and restart the builder; it comes back on the same address.
	if err := env.StopBuilder(); err != nil {
		t.Fatal(err)
	}
	ictx, icancel := context.WithTimeout(ctx, 5*time.Second)
	if _, err := c.Info(ictx); err == nil {
		t.Error("Info answered after StopBuilder")
	}
	icancel()
	if err := env.RestartBuilder(ctx); err != nil {
		t.Fatal(err)
	}
	c2, err := client.New(ctx, env.BuilderAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Info(ctx); err != nil {
		t.Fatalf("Info after RestartBuilder: %v", err)
	}

	// Close stops our buildkitd, unmounts and removes the state dir.
	pid, envDir := env.BuilderPID(), env.Dir()
	if pid == 0 {
		t.Fatal("BuilderPID = 0 while running")
	}
	if err := env.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("buildkitd pid %d still exists after Close (kill 0: %v)", pid, err)
	}
	if procs := processesMentioning(envDir); len(procs) > 0 {
		t.Errorf("processes still refer to %s after Close: %v", envDir, procs)
	}
	if mps, _ := mountsUnder(envDir); len(mps) > 0 {
		t.Errorf("mounts left under %s: %v", envDir, mps)
	}
	if _, err := os.Stat(envDir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Close (%v)", envDir, err)
	}
}

// fakeCDISpec is a CDI device that "passes a GPU in": it sets the variable the fixture torch reads.
const fakeCDISpec = `cdiVersion: "0.6.0"
kind: example.com/gpu
annotations:
  org.mobyproject.buildkit.device.autoallow: "true"
devices:
  - name: fake0
    containerEdits:
      env:
        - TORCHIMG_FIXTURE_GPUS=NVIDIA H100 80GB HBM3=9.0
`

const probePy = `import json, os, subprocess, sys
import torch, tiny_fixture_pkg

def check(what, got, want):
    if got != want:
        sys.exit("PROBE FAIL %s: got %r, want %r" % (what, got, want))

check("fixture", torch.__fixture__, True)
check("__version__", torch.__version__, "2.9.1+cu128")
check("version.__version__", torch.version.__version__, "2.9.1+cu128")
check("version.cuda", torch.version.cuda, "12.8")
check("cudnn.is_available", torch.backends.cudnn.is_available(), True)
check("cudnn.version", torch.backends.cudnn.version(), 91002)
check("nccl.version", torch.cuda.nccl.version(), (2, 27, 5))
check("arch flags", torch._C._cuda_getArchFlags(), "sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120")
check("tiny_fixture_pkg", tiny_fixture_pkg.__version__, "1.0.2")

# The CDI device set TORCHIMG_FIXTURE_GPUS: one H100.
check("is_available (CDI)", torch.cuda.is_available(), True)
check("device_count (CDI)", torch.cuda.device_count(), 1)
check("device name", torch.cuda.get_device_name(0), "NVIDIA H100 80GB HBM3")
check("capability", torch.cuda.get_device_capability(0), (9, 0))
check("arch list", torch.cuda.get_arch_list(), ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"])

def sub(path, code, gpus=None):
    env = dict(os.environ)
    env.pop("TORCHIMG_FIXTURE_GPUS", None)
    if gpus is not None:
        env["TORCHIMG_FIXTURE_GPUS"] = gpus
    if path:
        env["PYTHONPATH"] = path
    r = subprocess.run([sys.executable, "-c", "import json, torch\n" + code], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("PROBE FAIL %s: %s" % (path, r.stderr))
    return json.loads(r.stdout)

# No GPU without the variable.
check("no GPU", sub(None, "print(json.dumps([torch.cuda.is_available(), torch.cuda.device_count(), torch.cuda.get_arch_list()]))"), [False, 0, []])
check("two GPUs", sub(None, "print(json.dumps([torch.cuda.device_count(), torch.cuda.get_device_name(1), list(torch.cuda.get_device_capability(1))]))",
                     "NVIDIA H100 80GB HBM3=9.0;NVIDIA A100-SXM4-40GB=8.0"), [2, "NVIDIA A100-SXM4-40GB", [8, 0]])

# CPU wheel from the cpu variant index.
check("cpu wheel", sub("/opt/cpu", """
try:
    torch.cuda.nccl.version(); nccl = "no error"
except AttributeError as e:
    nccl = "AttributeError"
print(json.dumps([torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), nccl,
                  torch._C._cuda_getArchFlags(), torch.cuda.is_available()]))""", "NVIDIA H100 80GB HBM3=9.0"),
      ["2.9.1+cpu", None, None, "AttributeError", None, False])

# cuDNN 8 encoding and +PTX.
check("cu118 wheel", sub("/opt/old", "print(json.dumps([torch.__version__, torch.backends.cudnn.version(), torch._C._cuda_getArchFlags()]))"),
      ["2.5.1+cu118", 8700, "sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90 compute_90"])
print("PROBE OK")
`

// collectLogs drains the status channel (until Solve closes it) and returns the build's output.
func collectLogs(ch chan *client.SolveStatus) <-chan string {
	out := make(chan string, 1)
	go func() {
		var b strings.Builder
		for s := range ch {
			for _, l := range s.Logs {
				b.Write(l.Data)
			}
			for _, v := range s.Vertexes {
				if v.Error != "" {
					fmt.Fprintf(&b, "ERROR %s: %s\n", v.Name, v.Error)
				}
			}
		}
		out <- b.String()
	}()
	return out
}

// processesMentioning lists processes whose command line mentions s (read-only scan of /proc).
func processesMentioning(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// The cache file names and package lists of hack/prereqs.sh are the ones cache.go expects.
func TestPrereqsScriptInStep(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := string(testfile.Read(t, filepath.Join(root, "hack", "prereqs.sh")))
	for _, want := range []string{
		`rootfs="$cache/` + rootfsName + `"`,
		`torch_rootfs="$cache/` + torchRootfsName + `"`,
		"\nrootfs_packages=" + rootfsPackages + "\n",
		"\ntorch_rootfs_packages=" + torchRootfsPackages + "\n",
		"\nrootfs_suite=" + rootfsSuite + "\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("hack/prereqs.sh lacks %q (internal/testenv/cache.go and the script must agree)", strings.TrimSpace(want))
		}
	}
}

// An unknown step is refused before anything is touched.
func TestPrereqsUnknownStep(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	cmd := exec.Command("bash", filepath.Join(root, "hack", "prereqs.sh"), "base", "dockr")
	cmd.Env = append(os.Environ(), "TORCHIMG_CACHE="+cache)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown step 'dockr' (steps: tools docker buildkitd base torch)") {
		t.Errorf("prereqs.sh base dockr: %v: %s", err, out)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("the cache dir was made for a refused call (%v)", err)
	}
}

// The stand-in for the NVIDIA Container Toolkit's hook reads the container state runc gives it
// and logs the container's NVIDIA_* variables.
func TestFakeNVIDIAHook(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "hook.log")
	bin, err := FakeNVIDIAHook(dir, logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, state, config, want string
	}{
		{"compact state", `{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":42,"bundle":"%s"}`,
			`{"process":{"env":["PATH=/usr/bin","NVIDIA_VISIBLE_DEVICES=all","NVIDIA_DRIVER_CAPABILITIES=compute,utility"]}}`,
			"prestart NVIDIA_DRIVER_CAPABILITIES=compute,utility NVIDIA_VISIBLE_DEVICES=all \n"},
		{"indented state, no variables", "{\n  \"id\": \"c2\",\n  \"bundle\": \"%s\"\n}", `{"process":{"env":["PATH=/usr/bin"]}}`, "prestart \n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bundle := t.TempDir()
			testfile.Write(t, filepath.Join(bundle, "config.json"), tc.config)
			_ = os.Remove(logFile)
			cmd := exec.Command(filepath.Join(bin, NVIDIAHook), "prestart")
			cmd.Stdin = strings.NewReader(fmt.Sprintf(tc.state, bundle))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("hook: %v: %s", err, out)
			}
			if got := string(testfile.Read(t, logFile)); got != tc.want {
				t.Errorf("hook log %q, want %q", got, tc.want)
			}
		})
	}
}

// Environ points the docker CLI at the test's engine, whatever the machine's settings.
func TestDockerEnviron(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://example.com:2376")
	t.Setenv("DOCKER_CONTEXT", "prod")
	t.Setenv("DOCKER_TLS_VERIFY", "1")
	t.Setenv("DOCKER_CERT_PATH", "/etc/certs")
	d := &Docker{Host: "unix:///tmp/x/docker.sock", ConfigDir: "/tmp/x/cli"}
	got := map[string][]string{}
	for _, kv := range d.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	for k, want := range map[string][]string{
		"DOCKER_HOST": {d.Host}, "DOCKER_CONFIG": {d.ConfigDir}, "DOCKER_CONTEXT": nil, "DOCKER_TLS_VERIFY": nil, "DOCKER_CERT_PATH": nil,
	} {
		if strings.Join(got[k], "|") != strings.Join(want, "|") {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if len(got["PATH"]) != 1 {
		t.Errorf("PATH = %q", got["PATH"])
	}
}

// Without docker.io the error names what is missing and how to install it.
func TestDockerNotInstalled(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	saved := binDirs
	binDirs = []string{empty}
	defer func() { binDirs = saved }()
	testfile.WriteMode(t, filepath.Join(empty, "containerd"), "#!/bin/sh\n", 0o755)
	ok, why := DockerInstalled()
	if ok || why != "dockerd not installed: the docker end-to-end tests start a Docker engine of their own (Debian's docker.io); run hack/prereqs.sh docker as root, or apt-get install docker.io" {
		t.Errorf("DockerInstalled = %v, %q", ok, why)
	}
	if _, err := StartDocker(context.Background(), t.TempDir(), DockerOptions{}); err == nil || err.Error() != why {
		t.Errorf("StartDocker: %v", err)
	}
}
