package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/publish"
	"github.com/torchimg/torchimg/report"

	"github.com/torchimg/torchimg/internal/testfile"
)

// writes counts what changes a registry: blob uploads and manifest PUTs.
type writes struct{ uploads, puts atomic.Int64 }

func (w *writes) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads"):
			w.uploads.Add(1)
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && !strings.HasSuffix(r.URL.Path, "/manifests/"+publish.LeaseTag):
			w.puts.Add(1) // the release's manifests, not the publish lease
		}
		h.ServeHTTP(rw, r)
	})
}

func (w *writes) reset() { w.uploads.Store(0); w.puts.Store(0) }

// TestSecondRelease is a release team's week: release 1; then a comment and a new variant; then
// nothing changed; then a new base image under the same tag; then a rebuild on a fresh daemon.
// Immutable tags never move, unchanged variants are neither built nor pushed, changed inputs get
// new immutable tags, and floating tags follow.
func TestSecondRelease(t *testing.T) {
	w := &writes{}
	env := testenv.New(t, testenv.Options{Middleware: w.wrap})
	env.AddTorch(t, testenv.Torch291("12.6"), testenv.Torch291("12.8"))
	// A second base tag with the same image, so that a new base can reach one variant only.
	baseB := env.RegistryHost + "/" + testenv.BaseImageRepo + ":bookworm-b"
	copyImage(t, env.BaseImage, baseB)

	dir := t.TempDir()
	m := filepath.Join(dir, "matrix.yaml")
	repo := env.RegistryHost + "/weekly/pytorch"
	stage := env.RegistryHost + "/weekly/staging"
	matrix := func(cudas, comment string) string {
		return fmt.Sprintf(`%srepository: %s
defaults: {base: "%s", index_url: "%s", compiler: false} # the test base has no apt-get
axes: {torch: ["2.9.1"], cuda: [%s], os: [debian12], python: ["3.11"]}
overrides:
  - {match: {cuda: "12.8"}, base: "%s"}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}-{{.Inputs}}", kind: immutable}
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: floating}
  - {template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating}
  - {template: latest, kind: floating, prefer: [{highest: cuda}]}
`, comment, repo, env.BaseImage, env.IndexURL, cudas, baseB)
	}
	buildReport := filepath.Join(dir, "build.json")
	build := func(t *testing.T, extra ...string) *report.Build {
		t.Helper()
		args := append([]string{"build", "-f", m, "--builder", env.BuilderAddr, "--stage", stage, "--progress", "quiet", "--report", buildReport}, extra...)
		code, out, errs := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("build %v: exit %d\n%s\n%s", extra, code, out, errs)
		}
		rep, err := report.ReadBuild(buildReport)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	status := func(rep *report.Build) map[string]report.Status {
		out := map[string]report.Status{}
		for _, v := range rep.Variants {
			out[strings.SplitN(v.ID, "-", 3)[1]] = v.Status
		}
		return out
	}
	publish := func(t *testing.T, extra ...string) (int, string, string) {
		t.Helper()
		return runCmd(t, append([]string{"publish", "--report", buildReport, "--matrix", m}, extra...)...)
	}

	// Release 1: cu126 only.
	testfile.Write(t, m, matrix(`"12.6"`, ""))
	rep1 := build(t)
	if st := status(rep1); st["cu126"] != report.Passed {
		t.Fatalf("release 1 build: %v", st)
	}
	if code, out, errs := publish(t); code != 0 {
		t.Fatalf("release 1 publish: exit %d\n%s\n%s", code, out, errs)
	}
	state1 := tagState(t, repo)
	imm126 := rep1.Variants[0].ImmutableTags[0]
	if !strings.HasPrefix(imm126, "2.9.1-cuda12.6.3-py3.11-debian12-") || len(imm126) != len("2.9.1-cuda12.6.3-py3.11-debian12-")+12 {
		t.Fatalf("the immutable tag names no input fingerprint: %s", imm126)
	}

	t.Run("EditThenRelease", func(t *testing.T) {
		// A comment and a new CUDA variant: cu126 is unchanged, cu128 is new.
		testfile.Write(t, m, matrix(`"12.6", "12.8"`, "# weekly release, now with cu128\n"))
		code, out, errs := runCmd(t, "plan", "-f", m, "--diff")
		if code != 0 || !strings.Contains(out, "1 new, 0 rebuilt, 1 unchanged") || !hasRow(out, "MOVE", "floating", "latest") {
			t.Fatalf("plan --diff: exit %d\n%s\n%s", code, out, errs)
		}
		rep := build(t)
		if st := status(rep); st["cu126"] != report.Unchanged || st["cu128"] != report.Passed {
			t.Fatalf("statuses %v", st)
		}
		code, out, errs = publish(t)
		if code != 0 {
			t.Fatalf("release 2 without --force: exit %d\n%s\n%s", code, out, errs)
		}
		st := tagState(t, repo)
		for tag, d := range state1 {
			if strings.HasPrefix(tag, "2.9.1-cuda12.6.3") && st[tag] != d {
				t.Errorf("%s moved: %s → %s", tag, d, st[tag])
			}
		}
		cu128 := rep.Variants[1]
		if st[cu128.ImmutableTags[0]] != cu128.Digest || st["2.9-cu128"] != cu128.Digest || st["latest"] != cu128.Digest {
			t.Errorf("cu128 not published, or latest did not move to it: %v", st)
		}
		if st["latest"] == state1["latest"] || !hasRow(out, "MOVED", "floating", "latest") {
			t.Errorf("latest should move from cu126 to cu128, as plan --diff said:\n%s", out)
		}
	})

	t.Run("NoChange", func(t *testing.T) {
		before := tagState(t, repo)
		w.reset()
		rep := build(t)
		if st := status(rep); st["cu126"] != report.Unchanged || st["cu128"] != report.Unchanged {
			t.Fatalf("statuses %v", st)
		}
		if u, p := w.uploads.Load(), w.puts.Load(); u != 0 || p != 0 {
			t.Errorf("the no-change build uploaded %d blobs and put %d manifests", u, p)
		}
		code, out, errs := publish(t)
		if code != 0 || !strings.Contains(out, "0 created, 0 moved") {
			t.Fatalf("no-change publish: exit %d\n%s\n%s", code, out, errs)
		}
		if u, p := w.uploads.Load(), w.puts.Load(); u != 0 || p != 0 {
			t.Errorf("the no-change release uploaded %d blobs and put %d manifests, want none", u, p)
		}
		if after := tagState(t, repo); !maps.Equal(before, after) {
			t.Errorf("tags changed: %v → %v", before, after)
		}
	})

	t.Run("NewBase", func(t *testing.T) {
		before := tagState(t, repo)
		// A security update of the cu126 base: same tag, new digest.
		pushNewBase(t, env.BaseImage)
		code, out, _ := runCmd(t, "plan", "-f", m, "--diff")
		if code != 0 || !strings.Contains(out, "0 new, 1 rebuilt, 1 unchanged") || !strings.Contains(out, "the base image (") {
			t.Errorf("plan --diff after a new base:\n%s", out)
		}
		rep := build(t)
		if st := status(rep); st["cu126"] != report.Passed || st["cu128"] != report.Unchanged {
			t.Fatalf("statuses %v", st)
		}
		if code, out, errs := publish(t); code != 0 {
			t.Fatalf("publish: exit %d\n%s\n%s", code, out, errs)
		}
		after := tagState(t, repo)
		for tag, d := range before {
			if strings.HasPrefix(tag, "2.9.1-cuda") && strings.Count(tag, "-") == 4 && after[tag] != d {
				t.Errorf("immutable tag %s moved", tag)
			}
		}
		cu126 := rep.Variants[0]
		if _, old := before[cu126.ImmutableTags[0]]; old || after[cu126.ImmutableTags[0]] != cu126.Digest {
			t.Errorf("the rebuilt cu126 has no new immutable tag %s: %v", cu126.ImmutableTags[0], after)
		}
		if after["2.9-cu126"] != cu126.Digest || after["2.9.1-cuda12.6.3-py3.11-debian12"] != cu126.Digest || after["latest"] != before["latest"] {
			t.Errorf("floating tags: %v (before %v)", after, before)
		}
	})

	t.Run("TwoDaemons", func(t *testing.T) {
		// The same inputs on a fresh daemon (no cache) give the same images.
		first := build(t, "--rebuild")
		ctx := context.Background()
		if err := env.ResetBuilder(ctx); err != nil {
			t.Fatal(err)
		}
		second := build(t, "--rebuild")
		for i, a := range first.Variants {
			b := second.Variants[i]
			if a.Status != report.Passed || b.Status != report.Passed || a.ImageDigest == "" {
				t.Fatalf("builds: %+v\n%+v", a, b)
			}
			if a.ImageDigest != b.ImageDigest || a.Inputs != b.Inputs {
				t.Errorf("%s on two daemons, inputs %s / %s: images %s and %s", a.ID, a.Inputs, b.Inputs, a.ImageDigest, b.ImageDigest)
			}
		}
		// And the release is still right: the rebuild holds the same image as the tag.
		if code, out, errs := publish(t); code != 0 || !strings.Contains(out, "0 created, 0 moved") {
			t.Errorf("publish after a rebuild of the same inputs: exit %d\n%s\n%s", code, out, errs)
		}
	})

	t.Run("BadReport", func(t *testing.T) {
		rep := build(t)
		v := rep.Variants[0]
		v.Status, v.Digest, v.StagedRef = report.Unchanged, "sha256:"+strings.Repeat("ab", 32), stage+"@sha256:"+strings.Repeat("ab", 32)
		if err := rep.WriteFile(buildReport); err != nil {
			t.Fatal(err)
		}
		w.reset()
		code, out, errs := publish(t)
		if code != 1 || !strings.Contains(errs, v.ID) || !strings.Contains(errs, v.Digest) {
			t.Errorf("a report claiming an image that is not there: exit %d\n%s\n%s", code, out, errs)
		}
		if p := w.puts.Load(); p != 0 {
			t.Errorf("%d manifest PUTs for a refused release", p)
		}
	})
}

// hasRow reports whether a table has a row whose first fields are these.
func hasRow(table string, fields ...string) bool {
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}

func copyImage(t *testing.T, from, to string) {
	t.Helper()
	src, err := name.ParseReference(from)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.ParseReference(to)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
}

// pushNewBase pushes a changed image under the base's tag (a new label, as a rebuild of the
// base would bring).
func pushNewBase(t *testing.T, base string) {
	t.Helper()
	ref, err := name.ParseReference(base)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	cf.Config.Labels["org.example.security-update"] = "1"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
}

// tagState is tag → digest of a repository.
func tagState(t *testing.T, repo string) map[string]string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tg := range tags {
		if tg == publish.LeaseTag {
			continue // the publish lease changes with every publish
		}
		d, err := remote.Head(r.Tag(tg))
		if err != nil {
			t.Fatal(err)
		}
		out[tg] = d.Digest.String()
	}
	return out
}
