package build

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

func TestSkipUnchanged(t *testing.T) {
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	rc, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := fingerprint.New(map[string][]byte{"Dockerfile": []byte("FROM x\n")}, nil, "sha256:"+strings.Repeat("b", 64), 1)
	push := func(ref string, labels map[string]string) {
		img, _ := random.Image(64, 1)
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.Config.Labels = labels
		img, _ = mutate.ConfigFile(img, cf)
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	p := &matrix.Plan{Repository: host + "/release/pytorch", LabelsPrefix: "io.torchimg"}
	v := &matrix.Variant{ID: "v1", ImmutableTags: []string{"v1-full"}}
	req := Request{Plan: p, Variant: v, Inputs: &in, Output: Output{StageRepo: host + "/stage"}}
	inner := &fake{}
	s := &Skip{Inner: inner, Registry: rc, Release: p.Repository}

	// Nothing there yet: built.
	if r, _ := s.Build(context.Background(), req); r.Status != report.Passed || len(inner.seen) != 1 {
		t.Fatalf("first build: %+v, inner saw %v", r, inner.seen)
	}
	// An image of the variant with other inputs in staging: not trusted, built.
	push(host+"/stage:v1", map[string]string{"io.torchimg.variant": "v1", "io.torchimg.inputs": "sha256:" + strings.Repeat("0", 64)})
	if r, _ := s.Build(context.Background(), req); r.Status != report.Passed || len(inner.seen) != 2 {
		t.Fatalf("other inputs: %+v", r)
	}
	// The same inputs in the release repository: unchanged, not built, with that digest.
	push(host+"/release/pytorch:v1-full", map[string]string{"io.torchimg.variant": "v1", "io.torchimg.inputs": in.Digest()})
	r, _ := s.Build(context.Background(), req)
	if r.Status != report.Unchanged || len(inner.seen) != 2 || !strings.HasPrefix(r.StagedRef, host+"/release/pytorch@sha256:") || r.Inputs != in.Digest() || r.Digest == "" {
		t.Fatalf("same inputs: %+v, inner saw %v", r, inner.seen)
	}
	// The same inputs but another variant's label: built.
	push(host+"/release/pytorch:v1-full", map[string]string{"io.torchimg.variant": "v2", "io.torchimg.inputs": in.Digest()})
	if r, _ := s.Build(context.Background(), req); r.Status != report.Passed || len(inner.seen) != 3 {
		t.Fatalf("another variant's image: %+v", r)
	}
	// Without resolved inputs there is nothing to compare: built.
	req.Inputs = nil
	if r, _ := s.Build(context.Background(), req); r.Status != report.Passed || len(inner.seen) != 4 {
		t.Fatalf("no inputs: %+v", r)
	}
}
