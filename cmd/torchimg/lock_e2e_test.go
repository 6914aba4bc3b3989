package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/internal/testfile"
	"github.com/torchimg/torchimg/lock"
)

// TestLockEndToEnd: lock a matrix (pip resolves on the daemon: torch, its dependency, an extra),
// build from the lock, then see drift: a wheel replaced on the index (and the build's pip hash
// error), and a base image rebuilt under its tag (lock --check, plan --diff).
func TestLockEndToEnd(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	if err := env.Index.AddPackage("torchimg-fixture-dep", "1.0"); err != nil {
		t.Fatal(err)
	}
	if err := env.Index.AddPackage("torchimg-lock-extra", "2.0"); err != nil {
		t.Fatal(err)
	}
	withDep := testenv.Torch291("12.8")
	withDep.Requires = []string{"torchimg-fixture-dep==1.0"}
	env.AddTorch(t, withDep)
	// A base of its own: this test pushes a new image under its tag.
	base := env.RegistryHost + "/locktest/base:1"
	src, _ := name.ParseReference(env.BaseImage)
	dst, _ := name.ParseReference(base)
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	m := filepath.Join(dir, "matrix.yaml")
	testfile.Write(t, m, fmt.Sprintf(`repository: %s/locktest/pytorch
defaults: {base: "%s", index_url: "%s", pip_index_url: "%s", extra_packages: [torchimg-lock-extra], compiler: false} # the test base has no apt-get
axes: {torch: ["2.9.1"], cuda: ["12.8"], os: [debian12], python: ["3.11"]}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-{{.Inputs}}", kind: immutable}
`, env.RegistryHost, base, env.IndexURL, env.IndexURL))
	lockFile := filepath.Join(dir, "matrix.lock")

	// Lock.
	code, out, errs := runCmd(t, "lock", "-f", m, "--builder", env.BuilderAddr)
	if code != 0 || !strings.Contains(errs, "locked 1 variant(s), 3 wheel(s)") {
		t.Fatalf("lock: exit %d\n%s\n%s", code, out, errs)
	}
	f, err := lock.Read(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	e := f.Variants[0]
	steps := map[string]string{}
	var torchFile string
	for _, w := range e.Wheels {
		steps[w.Name] = w.Step
		if w.Name == "torch" {
			torchFile = w.Filename()
		}
	}
	if steps["torch"] != lock.StepTorch || steps["torchimg-fixture-dep"] != lock.StepTorch || steps["torchimg-lock-extra"] != lock.StepExtras || !strings.HasPrefix(e.Base.Digest, "sha256:") {
		t.Fatalf("lock entry: %+v", e)
	}
	if code, out, errs := runCmd(t, "lock", "-f", m, "--check"); code != 0 || !strings.Contains(out, "is current") {
		t.Fatalf("lock --check of a fresh lock: exit %d\n%s\n%s", code, out, errs)
	}
	// Locking again changes nothing: the file is stable.
	before := testfile.Read(t, lockFile)
	if code, _, errs := runCmd(t, "lock", "-f", m, "--builder", env.BuilderAddr); code != 0 || !strings.Contains(errs, "(unchanged)") {
		t.Errorf("second lock: exit %d\n%s", code, errs)
	}
	if string(testfile.Read(t, lockFile)) != string(before) {
		t.Errorf("the lock changed on a second run")
	}

	// The Dockerfile builds FROM the locked digest and installs exactly the locked files.
	code, out, errs = runCmd(t, "render", "-f", m)
	if code != 0 || !strings.Contains(out, "@"+e.Base.Digest) || !strings.Contains(out, "pip install --require-hashes --no-deps -r /run/torchimg/torch.lock.txt") {
		t.Fatalf("render from the lock: exit %d\n%s\n%s", code, out, errs)
	}
	report := filepath.Join(dir, "build.json")
	code, out, errs = runCmd(t, "build", "-f", m, "--builder", env.BuilderAddr, "--oci-dir", filepath.Join(dir, "oci"), "--progress", "quiet", "--report", report)
	if code != 0 {
		t.Fatalf("build from the lock: exit %d\n%s\n%s", code, out, errs)
	}

	// A wheel replaced on its index (same name, other bytes).
	if err := env.Index.Replace(torchFile, []byte("not the locked torch")); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCmd(t, "lock", "-f", m, "--check")
	if code != 1 || !strings.Contains(out, "wheel "+torchFile+" changed") {
		t.Errorf("lock --check after a replaced wheel: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "build", "-f", m, "--builder", env.BuilderAddr, "--oci-dir", filepath.Join(dir, "oci"), "--progress", "quiet", "--no-cache", "--rebuild", "--report", report)
	if code != 1 || !strings.Contains(errs, e.ID) || !strings.Contains(strings.ToLower(errs+out), "hash") {
		t.Errorf("build with a replaced wheel: exit %d, want 1 with pip's hash error and the variant\n%s\n%s", code, out, errs)
	}

	// A new base image under the same tag.
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Labels = map[string]string{"rebuilt": "yes"}
	img2, err := mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img2); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCmd(t, "lock", "-f", m, "--check", "-o", "json")
	if code != 1 || !strings.Contains(out, `"kind": "base"`) || !strings.Contains(out, e.ID) {
		t.Errorf("lock --check after a new base: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "plan", "-f", m, "--diff")
	if code != 0 || !strings.Contains(out, "base "+base+" moved") || !strings.Contains(out, "1 variant(s) will rebuild: "+e.ID) {
		t.Errorf("plan --diff after a new base: exit %d\n%s\n%s", code, out, errs)
	}

	// Bad input: a lock that is not YAML, one that names a variant the matrix does not have.
	testfile.Write(t, lockFile, "version: 1\nvariants: [\n")
	if code, _, errs := runCmd(t, "render", "-f", m); code != 1 || !strings.Contains(errs, "matrix.lock: not a valid lock file") {
		t.Errorf("a broken lock: exit %d\n%s", code, errs)
	}
	bad := strings.Replace(string(before), "id: "+e.ID, "id: 9.9.9-cu999-py3.11-runtime-debian12", 1)
	testfile.Write(t, lockFile, bad)
	if code, _, errs := runCmd(t, "build", "-f", m, "--builder", env.BuilderAddr, "--oci-dir", filepath.Join(dir, "oci")); code != 1 || !strings.Contains(errs, "matrix.lock:") || !strings.Contains(errs, "which the matrix does not") || !strings.Contains(errs, "torchimg lock") {
		t.Errorf("a lock for another matrix: exit %d\n%s", code, errs)
	}
}
