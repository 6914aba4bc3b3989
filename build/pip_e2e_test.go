package build_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/report"
)

// The test base is Debian's essential variant: it has Python but no apt-get (and no network to
// use one), so these matrices set compiler: false; the default template would otherwise stop
// with "there is no apt-get to install them".

// pushBase pushes the test base image again as repo:tag with /etc/pip.conf trusting the local
// index and one environment variable of its own. pip caches downloads only from https origins
// and trusted hosts; download.pytorch.org and PyPI are https, the test index is plain http. The
// variable gives each tag its own digest, as nvidia/cuda's base and devel images have: variants on
// different bases share no layers, so each runs its own pip install.
func pushBase(t *testing.T, env *testenv.Env, tag string) string {
	t.Helper()
	src, err := name.ParseReference(env.BaseImage)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := crane.Layer(map[string][]byte{"etc/pip.conf": []byte("[global]\ntrusted-host = 127.0.0.1\n")})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "torchimg e2e: pip.conf", Created: v1.Time{Time: time.Unix(0, 0).UTC()}}}); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = append(cf.Config.Env, "TORCHIMG_E2E_BASE="+tag)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := env.RegistryHost + "/" + testenv.BaseImageRepo + ":" + tag
	dst, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

func connect(t *testing.T, ctx context.Context, env *testenv.Env) *build.BuildKit {
	t.Helper()
	d := env.Daemon(ctx, t)
	rc, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return build.NewBuildKit(d, t.TempDir(), rc)
}

// TestPipCacheOneDownload builds the runtime and the devel image of one torch, CUDA and Python at
// once, on different bases, so each runs its own pip install of the same torch wheel: pip's
// cache mount (shared by the daemon's builds, locked while one pip uses it) makes that one
// download, installing from the cache writes the same layer as from the download, and nothing
// of the cache reaches the images.
func TestPipCacheOneDownload(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	ix := env.Index
	env.AddTorch(t, testenv.Torch291("12.8"))
	for _, p := range [][2]string{{"torchimg-e2e-extra", "1.0.0"}, {"ninja", "1.13.0"}} {
		if err := ix.AddPackage(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	runtimeBase, develBase := pushBase(t, env, "runtime"), pushBase(t, env, "devel")
	p := testenv.LoadPlan(t, t.TempDir(), fmt.Sprintf(`repository: %[1]s/e2e/pytorch
defaults:
  index_url: "%[2]s"
  pip_index_url: "%[2]s"
  extra_packages: [torchimg-e2e-extra]
  compiler: false  # no apt-get in the test base (see the top of this file)
include:
  - {torch: "2.9.1", cuda: "12.8", os: debian12, python: "3.11", flavor: runtime, base: "%[3]s"}
  - {torch: "2.9.1", cuda: "12.8", os: debian12, python: "3.11", flavor: devel, base: "%[4]s"}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.Flavor}}-{{.OS}}", kind: immutable}
`, env.RegistryHost, env.IndexURL, runtimeBase, develBase))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bk := connect(t, ctx, env)
	stage := env.RegistryHost + "/e2e/staging"
	var mu sync.Mutex
	ran := map[string]bool{} // variant → its torch install ran (was not a cache hit)
	reqs := requests(t, p, build.Output{StageRepo: stage})
	for i := range reqs {
		id := reqs[i].Variant.ID
		reqs[i].Progress = func(s *client.SolveStatus) {
			for _, v := range s.Vertexes {
				if v.Completed != nil && !v.Cached && v.Error == "" && strings.Contains(v.Name, `pip install --index-url`) && strings.Contains(v.Name, `"torch==2.9.1+cu128"`) {
					mu.Lock()
					ran[id] = true
					mu.Unlock()
				}
			}
		}
	}
	results := build.All(ctx, build.NewLimiter(bk, 2), reqs)
	for _, r := range results {
		if r.Status != report.Passed {
			t.Fatalf("%s: %s", r.ID, r.Error)
		}
		if !ran[r.ID] {
			t.Errorf("%s: its torch install did not run; the variants must not share that layer for this test to mean anything", r.ID)
		}
	}
	wheel := "torch-2.9.1+cu128-py3-none-any.whl"
	n := ix.Downloads(wheel)
	t.Logf("%s: %d download(s) for %d builds; all wheel downloads: %d", wheel, n, len(results), ix.Requests())
	if n != 1 {
		t.Errorf("%s was downloaded %d times by %d builds, want once (pip's cache mount)", wheel, n, len(results))
	}
	// One of the two installed torch from the download, the other from pip's cache; on the same
	// /opt/venv they wrote the same layer.
	if a, b := torchLayer(t, results[0].StagedRef), torchLayer(t, results[1].StagedRef); a != b {
		t.Errorf("the torch install from pip's cache wrote another layer than the one from the download: %s vs %s", a, b)
	}
	for _, r := range results {
		for _, path := range layerPaths(t, r.StagedRef) {
			if strings.HasPrefix(path, "root/.cache") || strings.HasPrefix(path, "run/torchimg") || strings.HasPrefix(path, "root/.netrc") {
				t.Errorf("%s: a mount reached the image: %s", r.ID, path)
			}
		}
	}
}

// TestPrivateIndexSecret builds from an index that wants basic auth: without credentials pip is
// turned away; with --secret id=netrc the build installs from it, and the password is nowhere
// in the image: not in its config (labels, env), its history, its layers, its provenance, nor in
// the build's log.
func TestPrivateIndexSecret(t *testing.T) {
	const password = "s3cret-t0ken-9f27c1"
	env := testenv.New(t, testenv.Options{})
	ix := env.Index
	env.AddTorch(t, testenv.Torch291("12.8"))
	if err := ix.AddPackage("torchimg-e2e-extra", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	ix.RequireBasicAuth("ci-bot", password)
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine 127.0.0.1 login ci-bot password "+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets, err := build.ParseSecrets([]string{"id=netrc,src=" + netrc})
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.LoadPlan(t, t.TempDir(), fmt.Sprintf(`repository: %[1]s/e2e/pytorch
defaults:
  base: "%[2]s"
  index_url: "%[3]s"
  pip_index_url: "%[3]s"
  extra_packages: [torchimg-e2e-extra]
  compiler: false  # no apt-get in the test base (see the top of this file)
include:
  - {torch: "2.9.1", cuda: "12.8", os: debian12, python: "3.11"}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: immutable}
`, env.RegistryHost, env.BaseImage, env.IndexURL))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bk := connect(t, ctx, env)
	stage := env.RegistryHost + "/e2e/staging"

	// Without the secret: the index turns pip away.
	req := requests(t, p, build.Output{StageRepo: stage})[0]
	r, err := bk.Build(ctx, req)
	if err == nil || r.Stage != report.StageSolve || ix.Refused() == 0 {
		t.Fatalf("without credentials: %v (stage %s, %d requests refused); want the torch install to fail", err, r.Stage, ix.Refused())
	}
	t.Logf("without credentials: %d requests refused; %s", ix.Refused(), r.Error[max(0, len(r.Error)-300):])

	// With it: the build passes, and the password is nowhere.
	var mu sync.Mutex
	var logs bytes.Buffer
	req.Secrets = secrets
	req.Progress = func(s *client.SolveStatus) {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range s.Logs {
			logs.Write(l.Data)
		}
		for _, v := range s.Vertexes {
			logs.WriteString(v.Name + "\n" + v.Error + "\n")
		}
	}
	r, err = bk.Build(ctx, req)
	if err != nil {
		t.Fatalf("with --secret id=netrc: %v", err)
	}
	if ix.Downloads("torch-2.9.1+cu128-py3-none-any.whl") != 1 {
		t.Errorf("torch downloads from the private index: %d, want 1", ix.Downloads("torch-2.9.1+cu128-py3-none-any.whl"))
	}
	mu.Lock()
	if strings.Contains(logs.String(), password) {
		t.Error("the build log shows the password")
	}
	mu.Unlock()
	ref, _ := name.ParseReference(r.StagedRef)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	blobs := 0
	for _, desc := range im.Manifests { // the image and its provenance attestation
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(cfg, []byte(password)) {
			t.Errorf("the config of %s (labels, env, history) holds the password", desc.Digest)
		}
		if desc.Annotations["vnd.docker.reference.type"] == "" && !bytes.Contains(cfg, []byte("pip install --index-url")) {
			t.Errorf("the image history does not show the torch install; is this the image?\n%s", cfg)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			blobs++
			if bytes.Contains(b, []byte(password)) {
				d, _ := l.Digest()
				t.Errorf("layer %s of %s holds the password", d, desc.Digest)
			}
		}
	}
	t.Logf("password absent from %d manifests' configs and %d layers, and from the build log", len(im.Manifests), blobs)
	for _, path := range layerPaths(t, r.StagedRef) {
		if strings.HasPrefix(path, "root/.netrc") {
			t.Errorf("the netrc mount left %s in the image", path)
		}
	}
}

// layerPaths lists every path in the layers torchimg added to the image at ref (the layers after
// its base's).
func layerPaths(t *testing.T, ref string) []string {
	t.Helper()
	layers, err := remoteImage(t, ref).Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range layers[1:] { // the test base's rootfs is layer 0
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.TrimPrefix(h.Name, "./"))
		}
		rc.Close()
	}
	return out
}

// torchLayer is the digest of the layer of the image at ref that the torch install wrote.
func torchLayer(t *testing.T, ref string) string {
	t.Helper()
	ls, at := layersAndTorch(t, ref)
	return ls[at]
}
