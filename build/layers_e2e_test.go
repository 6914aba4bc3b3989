package build_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/report"
)

// Two variants that differ only in torch (same base, Python, flavor) share every layer below
// torch's: the venv is built once and pushed once.
func TestVariantsShareLayersBelowTorch(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	env.AddTorch(t, testenv.Torch291("12.6"), testenv.Torch291("12.8"))
	p := testenv.LoadPlan(t, t.TempDir(), fmt.Sprintf(`repository: %[1]s/e2e/pytorch
defaults: {base: "%[2]s", index_url: "%[3]s", compiler: false}  # no apt-get in the test base
axes: {torch: ["2.9.1"], cuda: ["12.6", "12.8"], os: [debian12], python: ["3.11"]}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: immutable}
`, env.RegistryHost, env.BaseImage, env.IndexURL))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bk := connect(t, ctx, env)
	results := build.All(ctx, build.NewLimiter(bk, 1), requests(t, p, build.Output{StageRepo: env.RegistryHost + "/e2e/staging"}))
	var layers [][]string
	var torchAt []int
	for _, r := range results {
		if r.Status != report.Passed {
			t.Fatalf("%s: %s", r.ID, r.Error)
		}
		ls, at := layersAndTorch(t, r.StagedRef)
		layers, torchAt = append(layers, ls), append(torchAt, at)
	}
	if torchAt[0] != torchAt[1] || torchAt[0] < 2 {
		t.Fatalf("the torch layer is at %v (want the same place, after the base and the venv)", torchAt)
	}
	for i := 0; i < torchAt[0]; i++ {
		if layers[0][i] != layers[1][i] {
			t.Errorf("layer %d (below torch) differs: %s vs %s", i, layers[0][i], layers[1][i])
		}
	}
	if layers[0][torchAt[0]] == layers[1][torchAt[1]] {
		t.Error("the two torch layers are the same: the variants did not install different torch wheels")
	}
	t.Logf("%d layer(s) shared below torch", torchAt[0])
}

// remoteImage reads the image at ref.
func remoteImage(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layersAndTorch lists an image's layer digests and the index of the layer torch's install wrote.
func layersAndTorch(t *testing.T, ref string) ([]string, int) {
	t.Helper()
	img := remoteImage(t, ref)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	i, at := 0, -1
	for _, h := range cf.History {
		if h.EmptyLayer {
			continue
		}
		if at < 0 && strings.Contains(h.CreatedBy, "pip install --index-url") && strings.Contains(h.CreatedBy, "torch==") {
			at = i
		}
		i++
	}
	if at < 0 {
		t.Fatalf("%s: no torch install in its history", ref)
	}
	return out, at
}
