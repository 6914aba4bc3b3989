package build_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/buildkit/client"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/internal/buildkit"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/templates"
)

// blobGets counts blob downloads from the registry while enabled.
type blobGets struct {
	on atomic.Bool
	n  atomic.Int64
}

func (c *blobGets) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.on.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			c.n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

func requests(t *testing.T, p *matrix.Plan, out build.Output) []build.Request {
	t.Helper()
	var reqs []build.Request
	for _, v := range p.Variants {
		c, err := templates.Render(p, v)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, build.Request{Plan: p, Variant: v, Context: c, Output: out, Epoch: 1700000000})
	}
	return reqs
}

// TestBuildEndToEnd builds five variants concurrently on a real buildkitd: three good ones, one
// whose torch reports another CUDA than its label, one with a failing Dockerfile step.
func TestBuildEndToEnd(t *testing.T) {
	counter := &blobGets{}
	env := testenv.New(t, testenv.Options{Middleware: counter.wrap})
	ix := env.Index
	for _, w := range []testenv.TorchWheel{
		testenv.Torch291("12.6"),
		testenv.Torch291("12.8"),
		{Version: "2.10.0+cu128", CUDA: "12.8", CUDNN: "9.10.2.21", NCCL: "2.27.5", Archs: "7.0;7.5;8.0;8.6;9.0;10.0;12.0"},
		// The lie: a cu128 wheel whose torch.version.cuda says 12.6.
		{Version: "2.11.0+cu128", CUDA: "12.6", CUDNN: "9.17.1.4", NCCL: "2.28.9", Archs: "7.5;8.0;8.6;9.0;10.0;12.0"},
	} {
		if err := ix.AddTorch(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.AddPackage("torchimg-e2e-extra", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "Dockerfile.tmpl"), []byte("FROM {{.V.Base}}\nRUN echo about to fail && exit 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testenv.LoadPlan(t, dir, fmt.Sprintf(`repository: %[1]s/e2e/pytorch
# compiler: false: the test base has no apt-get to install gcc (see pip_e2e_test.go)
defaults: {base: "%[2]s", index_url: "%[3]s", pip_index_url: "%[3]s", extra_packages: [torchimg-e2e-extra], compiler: false}
include:
  - {torch: "2.9.1", cuda: "12.6", os: debian12, python: "3.11"}
  - {torch: "2.9.1", cuda: "12.8", os: debian12, python: "3.11"}
  - {torch: "2.10.0", cuda: "12.8", os: debian12, python: "3.11"}
  - {torch: "2.11.0", cuda: "12.8", os: debian12, python: "3.11"}
  - {torch: "2.10.0", cuda: "12.6", os: debian12, python: "3.11", template_dir: broken}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: immutable}
`, env.RegistryHost, env.BaseImage, env.IndexURL))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	d := env.Daemon(ctx, t)
	rc, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bk := build.NewBuildKit(d, t.TempDir(), rc)
	stage := env.RegistryHost + "/e2e/staging"
	reqs := requests(t, p, build.Output{StageRepo: stage})
	results := build.All(ctx, build.NewLimiter(bk, 5), reqs)
	if len(results) != 5 {
		t.Fatalf("%d results for 5 builds", len(results))
	}
	byID := map[string]*report.BuildEntry{}
	for _, r := range results {
		byID[r.ID] = r
		t.Logf("%s: %s %s %s", r.ID, r.Status, r.Digest, r.Error)
	}
	good := []string{"2.9.1-cu126-py3.11-runtime-debian12", "2.9.1-cu128-py3.11-runtime-debian12", "2.10.0-cu128-py3.11-runtime-debian12"}
	for _, id := range good {
		r := byID[id]
		if r.Status != report.Passed || !strings.HasPrefix(r.Digest, "sha256:") || r.StagedRef != stage+"@"+r.Digest {
			t.Fatalf("%s: %+v", id, r)
		}
		if r.Probe == nil || r.Probe.Status != report.Passed || r.Size == 0 {
			t.Errorf("%s: probe %+v size %d", id, r.Probe, r.Size)
		}
	}

	// The lying label: failed at the probe, with a diff, and never pushed.
	liar := byID["2.11.0-cu128-py3.11-runtime-debian12"]
	if liar.Status != report.Failed || liar.Stage != report.StageProbe || !strings.Contains(liar.Error, `io.torchimg.torch.cuda: label says "12.8", image has "12.6"`) {
		t.Errorf("lying variant: %+v", liar)
	}
	assertNotPushed(t, stage+":"+liar.ID)
	// The failing step: failed at solve with the step's error, not pushed; the others were not stopped.
	brk := byID["2.10.0-cu126-py3.11-runtime-debian12"]
	if brk.Status != report.Failed || brk.Stage != report.StageSolve || !strings.Contains(brk.Error, "exit code: 3") {
		t.Errorf("broken variant: %+v", brk)
	}
	assertNotPushed(t, stage+":"+brk.ID)

	// Labels and annotations read back from the registry: manifests and the config blob only.
	counter.n.Store(0)
	counter.on.Store(true)
	r := byID["2.9.1-cu128-py3.11-runtime-debian12"]
	ref, _ := name.ParseReference(r.StagedRef)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if im.Annotations["io.torchimg.torch.version"] != "2.9.1" || im.Annotations["io.torchimg.inputs"] != r.Inputs || !strings.HasPrefix(r.Inputs, "sha256:") {
		t.Errorf("index annotations: %v", im.Annotations)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	counter.on.Store(false)
	want := map[string]string{
		"io.torchimg.torch.version":            "2.9.1",
		"io.torchimg.torch.cuda":               "12.8",
		"io.torchimg.cudnn.version":            "9.10.2.21",
		"io.torchimg.nccl.version":             "2.27.5",
		"io.torchimg.python.version":           "3.11",
		"io.torchimg.cuda.archs":               "7.0;7.5;8.0;8.6;9.0;10.0;12.0",
		"org.opencontainers.image.created":     "2023-11-14T22:13:20Z",
		"io.torchimg.inputs":                   r.Inputs,
		"org.opencontainers.image.base.name":   env.BaseImage,
		"org.opencontainers.image.base.digest": r.BaseDigest,
	}
	for k, w := range want {
		if cf.Config.Labels[k] != w {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], w)
		}
		if m.Annotations[k] != w {
			t.Errorf("manifest annotation %s = %q, want %q", k, m.Annotations[k], w)
		}
	}
	if _, ok := cf.Config.Labels["org.opencontainers.image.revision"]; ok {
		t.Error("the image carries a source revision: it would change with every commit")
	}
	if r.BaseDigest == "" || !strings.HasPrefix(cf.Created.UTC().Format(time.RFC3339), "2023-11-14") {
		t.Errorf("base digest %q, created %v", r.BaseDigest, cf.Created)
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("reading labels fetched %d blobs, want only the config", n)
	}
	envs := strings.Join(cf.Config.Env, " ")
	if !strings.Contains(envs, "NVIDIA_REQUIRE_CUDA=cuda>=12.8 ") {
		t.Errorf("env: %s", envs)
	}

	// A second run of the good variants is served from the daemon's cache: every install step
	// (Python, torch, the extra package) completes as cached.
	var mu sync.Mutex
	uncached := map[string]bool{}
	steps := map[string]int{} // variant → install steps seen completed
	var second []build.Request
	for _, rq := range reqs {
		if !slices.Contains(good, rq.Variant.ID) {
			continue
		}
		id := rq.Variant.ID
		rq.Progress = func(s *client.SolveStatus) {
			for _, v := range s.Vertexes {
				if v.Completed == nil || !(strings.Contains(v.Name, "pip install") || strings.Contains(v.Name, "install-python")) {
					continue
				}
				mu.Lock()
				steps[id]++
				if !v.Cached {
					uncached[v.Name] = true
				}
				mu.Unlock()
			}
		}
		second = append(second, rq)
	}
	again := build.All(ctx, build.NewLimiter(bk, 3), second)
	for _, r2 := range again {
		if r2.Status != report.Passed {
			t.Fatalf("second run %s: %s", r2.ID, r2.Error)
		}
		first := byID[r2.ID]
		if img1, img2 := platformDigest(t, first.StagedRef), platformDigest(t, r2.StagedRef); img1 != img2 {
			t.Errorf("%s: the image manifest changed between identical builds: %s vs %s", r2.ID, img1, img2)
		}
	}
	mu.Lock()
	if len(uncached) > 0 {
		t.Errorf("second run re-ran steps instead of using the cache: %v", uncached)
	}
	for _, id := range good {
		if steps[id] < 3 {
			t.Errorf("%s: saw %d completed install steps in the second run, want 3 (python, torch, extras): the cache check saw nothing", id, steps[id])
		}
	}
	mu.Unlock()

	// The same variant into an OCI layout directory: no registry involved.
	ociDir := t.TempDir()
	one := requests(t, p, build.Output{OCIDir: ociDir})[1]
	res, err := bk.Build(ctx, one)
	if err != nil {
		t.Fatalf("OCI layout build: %v", err)
	}
	lp, err := layout.FromPath(filepath.Join(ociDir, one.Variant.ID))
	if err != nil {
		t.Fatal(err)
	}
	lidx, _ := lp.ImageIndex()
	lim, _ := lidx.IndexManifest()
	if len(lim.Manifests) != 1 || lim.Manifests[0].Digest.String() != res.Digest {
		t.Fatalf("layout index: %+v, digest %s", lim.Manifests, res.Digest)
	}
	inner, err := lidx.ImageIndex(lim.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	iim, _ := inner.IndexManifest()
	limg, err := inner.Image(iim.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	lcf, _ := limg.ConfigFile()
	if lcf.Config.Labels["io.torchimg.variant"] != one.Variant.ID || res.OCIDir == "" {
		t.Errorf("layout image labels: %v", lcf.Config.Labels)
	}
}

func platformDigest(t *testing.T, ref string) string {
	t.Helper()
	r, _ := name.ParseReference(ref)
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func assertNotPushed(t *testing.T, ref string) {
	t.Helper()
	r, _ := name.ParseReference(ref)
	_, err := remote.Head(r)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Errorf("%s should not exist in the registry, HEAD gave %v", ref, err)
	}
}

func TestNoDaemon(t *testing.T) {
	_, err := buildkit.Connect(context.Background(), "unix:///nonexistent/buildkitd.sock", buildkit.TLS{})
	var nd *buildkit.NoDaemonError
	if !errors.As(err, &nd) || !strings.Contains(err.Error(), "no BuildKit daemon answers at unix:///nonexistent/buildkitd.sock") || !strings.Contains(err.Error(), "buildkitd --addr") {
		t.Fatalf("want a NoDaemonError saying how to start one, got %v", err)
	}
}
