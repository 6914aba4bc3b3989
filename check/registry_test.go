package check

import (
	"context"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/report"
)

// TestSuggestFromRegistry pushes labelled images to an in-process registry
// and checks that each image is read once with all its tags, and that the
// cu118 LTS image is what a 525 driver is offered.
func TestSuggestFromRegistry(t *testing.T) {
	db := testDB(t)
	im := testImages(t, db)
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/pytorch-cuda"
	c, err := registry.New(registry.Options{Keychain: authn.NewMultiKeychain(), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}

	for _, src := range []*report.Info{im.cu118, im.cu126, im.cu128, im.cu130} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.Labels = src.Labels
		for k, v := range src.Env {
			cf.Config.Env = append(cf.Config.Env, k+"="+v)
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		for _, tag := range src.Tags {
			ref, err := name.NewTag(repo+":"+tag, name.WeakValidation)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
		}
	}

	ctx := context.Background()
	cands, err := inspect.Repository(ctx, c, repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 4 {
		t.Fatalf("%d images, want 4 (one per digest)", len(cands))
	}
	var groups []string
	for _, c := range cands {
		if !c.Torchimg() {
			t.Errorf("%s: labels not read", c.Ref)
		}
		groups = append(groups, strings.Join(c.Tags, ","))
	}
	sort.Strings(groups)
	want := "2.7-cu118,2.7.1-cuda11.8.0-cudnn9-py3.10-runtime-ubuntu22.04,lts"
	if !slices.Contains(groups, want) {
		t.Errorf("tag groups %q lack %q", groups, want)
	}

	// The cap keeps only MaxTags tags.
	small, err := registry.New(registry.Options{Keychain: authn.NewMultiKeychain(), Retries: 1, MaxTags: 2})
	if err != nil {
		t.Fatal(err)
	}
	capped, err := inspect.Repository(ctx, small, repo)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range capped {
		n += len(c.Tags)
	}
	if n != 2 {
		t.Errorf("cap 2: %d tags read", n)
	}

	h := whatIf(t, db, WhatIf{Driver: "525.147.05"})
	checked, err := inspect.Image(ctx, c, repo+":2.9-cu128", false)
	if err != nil {
		t.Fatal(err)
	}
	r := Evaluate(checked, h, db)
	if r.Verdict != NotCompatible {
		t.Fatalf("verdict %s", r.Verdict)
	}
	sug := Suggest(cands, h, db, checked.Digest)
	if len(sug) == 0 || sug[0].Tag != "lts" {
		t.Errorf("suggestions %+v, want lts first", sug)
	}
}
