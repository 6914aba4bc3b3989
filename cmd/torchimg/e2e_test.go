package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/internal/testenv"
	reportpkg "github.com/torchimg/torchimg/report"

	"github.com/torchimg/torchimg/internal/testfile"
)

// TestPipelineEndToEnd drives the CLI as a release job would: build two variants on a real
// buildkitd into staging, publish them, publish again (nothing to do), inspect a floating tag.
func TestPipelineEndToEnd(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	env.AddTorch(t, testenv.Torch291("12.6"), testenv.Torch291("12.8"))
	dir := t.TempDir()
	m := filepath.Join(dir, "matrix.yaml")
	repo := env.RegistryHost + "/cli/pytorch"
	testfile.Write(t, m, fmt.Sprintf(`repository: %s
defaults: {base: "%s", index_url: "%s", compiler: false} # the test base has no apt-get
axes: {torch: ["2.9.1"], cuda: ["12.6", "12.8"], os: [debian12], python: ["3.11"]}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: immutable}
  - {template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating}
  - {template: "{{.Torch.MajorMinor}}", kind: floating, only: {pypi_default: true}}
`, repo, env.BaseImage, env.IndexURL))
	report := filepath.Join(dir, "build.json")
	code, out, errs := runCmd(t, "build", "-f", m, "--builder", env.BuilderAddr, "--stage", env.RegistryHost+"/cli/staging",
		"--progress", "quiet", "--report", report, "--source-date-epoch", "1700000000", "--revision", "cafe")
	if code != 0 {
		t.Fatalf("build exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "2 variant(s) passed, 0 unchanged (same inputs: not built, not pushed), 0 did not") {
		t.Errorf("summary: %s", errs)
	}
	record := filepath.Join(dir, "release.json")
	code, out, errs = runCmd(t, "publish", "--report", report, "--matrix", m, "--record", record, "--retries", "3")
	if code != 0 {
		t.Fatalf("publish exit %d\n%s\n%s", code, out, errs)
	}
	var rec struct {
		Status   string `json:"status"`
		Variants []struct {
			ID       string   `json:"id"`
			Tags     []string `json:"tags"`
			Verified bool     `json:"labels_verified"`
		} `json:"variants"`
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Status != "published" || len(rec.Variants) != 2 || !rec.Variants[1].Verified {
		t.Fatalf("record: %v %s", err, b)
	}
	code, out, _ = runCmd(t, "publish", "--report", report, "--matrix", m)
	if code != 0 || !strings.Contains(out, "0 created, 0 moved, 5 unchanged") {
		t.Errorf("second publish: %d %s", code, out)
	}
	code, out, errs = runCmd(t, "inspect", repo+":2.9")
	if code != 0 || !strings.Contains(out, "torch        2.9.1 (cu128)") || !strings.Contains(out, "Tags         2.9 2.9-cu128 2.9.1-cuda12.8.1-py3.11-debian12") {
		t.Errorf("inspect: %d\n%s\n%s", code, out, errs)
	}
	// Will it run here? What-if hosts against the published floating tag 2.9 (cu128).
	// The demo base has no CUDA: the legacy hook refuses driver 560 (CUDA 12.6) for the cu128
	// image; under CDI it starts and runs through minor-version compatibility.
	code, out, errs = runCmd(t, "check", repo+":2.9", "--driver", "560.35.05", "--gpu-cc", "8.9", "--brand", "geforce", "--runtime", "legacy")
	if code != exitIncompatible || !strings.Contains(out, "2.9-cu126") || !strings.Contains(out, "refused at start") {
		t.Errorf("check with driver 560, legacy hook: exit %d, want 3 and the cu126 tag suggested\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "check", repo+":2.9", "--driver", "560.35.05", "--gpu-cc", "8.9", "--brand", "geforce", "--runtime", "cdi")
	if code != exitOK || !strings.Contains(out, "minor-version compatibility") || strings.Contains(out, "forward-compatibility libraries (") {
		t.Errorf("check with driver 560, CDI: exit %d, want 0 (minor-version compatibility, no compat libraries in a base without CUDA)\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "check", repo+":2.9", "--driver", "560.35.05", "--gpu-cc", "8.9", "--brand", "geforce")
	if code != exitUnknown || !strings.Contains(out, "legacy hook") || !strings.Contains(out, "CDI") || !strings.Contains(out, "--runtime legacy") {
		t.Errorf("check with driver 560, mode not given: exit %d, want 4 and what each mode does\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "check", repo+":2.9", "--driver", "580.95.05", "--gpu-cc", "9.0", "--brand", "tesla")
	if code != exitOK {
		t.Errorf("check with driver 580: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "check", repo+":2.9-cu126", "--driver", "580.95.05", "--gpu-cc", "12.0", "--brand", "geforce")
	if code != exitIncompatible || !strings.Contains(out, "FAIL  arch") || !strings.Contains(out, "the image's torch has no kernels for compute capability 12.0") {
		t.Errorf("check Blackwell vs cu126: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCmd(t, "plan", "-f", m, "--diff", "--source-date-epoch", "1700000000")
	if code != 0 || !strings.Contains(out, "0 to create, 0 to move, 5 unchanged") {
		t.Errorf("plan --diff after publish: %d %s", code, out)
	}

	// GPU smoke on a host without a GPU: skipped with the reason (auto), failed when required (on).
	noGPU := host.Facts{Reason: "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)"}
	smokeOut := filepath.Join(dir, "smoke.json")
	code, out, errs = runOnHost(t, noGPU, "smoke", "--report", report, "--builder", env.BuilderAddr, "--out", smokeOut)
	sr, rerr := reportpkg.ReadSmoke(smokeOut)
	if code != 0 || rerr != nil || len(sr.Variants) != 2 || sr.Variants[0].Status != reportpkg.Skipped || !strings.Contains(sr.Variants[0].Reason, "no GPU on this host") || !strings.Contains(out, "0 passed, 0 failed, 2 skipped") {
		t.Errorf("smoke --gpu auto: exit %d, %v %+v\n%s\n%s", code, rerr, sr, out, errs)
	}
	code, out, errs = runOnHost(t, noGPU, "smoke", "--report", report, "--gpu", "on", "--out", smokeOut)
	if sr, rerr = reportpkg.ReadSmoke(smokeOut); code != 1 || rerr != nil || len(sr.Failed()) != 2 || !sr.Variants[1].Required || !strings.Contains(errs, "GPU smoke: 2 of 2 variant(s) failed") {
		t.Errorf("smoke --gpu on: exit %d, %v %+v\n%s\n%s", code, rerr, sr, out, errs)
	}
	// publish --smoke holds the variants whose required GPU test failed: nothing moves.
	code, out, errs = runCmd(t, "publish", "--report", report, "--smoke", smokeOut, "--matrix", m)
	if code != 1 || !strings.Contains(errs, "floating tags not moved") {
		t.Errorf("publish with failed smoke tests: exit %d\n%s\n%s", code, out, errs)
	}

	// torchimg release: build, (GPU smoke), publish in one command; a shard leaves floating tags alone.
	m2 := filepath.Join(dir, "release.yaml")
	repo2 := env.RegistryHost + "/cli/released"
	testfile.Write(t, m2, strings.Replace(string(testfile.Read(t, m)), repo, repo2, 1))
	code, out, errs = runOnHost(t, noGPU, "release", "-f", m2, "--builder", env.BuilderAddr, "--stage", env.RegistryHost+"/cli/staging",
		"--progress", "quiet", "--source-date-epoch", "1700000000", "--shard", "1/2", "--report", filepath.Join(dir, "shard1.json"))
	if code != 0 || !strings.Contains(errs, "floating tags left alone: a partial release") || !strings.Contains(out, "1 created, 0 moved") {
		t.Errorf("release --shard 1/2: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runOnHost(t, noGPU, "release", "-f", m2, "--builder", env.BuilderAddr, "--stage", env.RegistryHost+"/cli/staging",
		"--progress", "quiet", "--source-date-epoch", "1700000000", "--gpu", "auto")
	if code != 0 || !strings.Contains(errs, "published 2 variant(s) to "+repo2) || !strings.Contains(out, "0 passed, 0 failed, 2 skipped") {
		t.Errorf("release: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCmd(t, "inspect", repo2+":2.9-cu126")
	if code != 0 || !strings.Contains(out, "torch        2.9.1 (cu126)") {
		t.Errorf("inspect after release: %d %s", code, out)
	}
}
