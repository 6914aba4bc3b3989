package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/internal/testenv"
)

// TestPipelineEndToEnd drives the CLI as a release job would: build two variants on a real
// buildkitd into staging, publish them, publish again (nothing to do), inspect a floating tag.
func TestPipelineEndToEnd(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	for _, w := range []testenv.TorchWheel{
		{Version: "2.9.1+cu126", CUDA: "12.6", CUDNN: "9.10.2.21", NCCL: "2.27.5", Archs: "5.0;6.0;7.0;7.5;8.0;8.6;9.0"},
		{Version: "2.9.1+cu128", CUDA: "12.8", CUDNN: "9.10.2.21", NCCL: "2.27.5", Archs: "7.0;7.5;8.0;8.6;9.0;10.0;12.0"},
	} {
		if err := env.Index.AddTorch(w); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	m := filepath.Join(dir, "matrix.yaml")
	repo := env.RegistryHost + "/cli/pytorch"
	os.WriteFile(m, []byte(fmt.Sprintf(`repository: %s
defaults: {base: "%s", index_url: "%s"}
axes: {torch: ["2.9.1"], cuda: ["12.6", "12.8"], os: [debian12], python: ["3.11"]}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: immutable}
  - {template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating}
  - {template: "{{.Torch.MajorMinor}}", kind: floating, only: {pypi_default: true}}
`, repo, env.BaseImage, env.IndexURL)), 0o644)
	report := filepath.Join(dir, "build.json")
	code, out, errs := runCmd(t, "build", "-f", m, "--builder", env.BuilderAddr, "--stage", env.RegistryHost+"/cli/staging",
		"--progress", "quiet", "--report", report, "--source-date-epoch", "1700000000", "--revision", "cafe")
	if code != 0 {
		t.Fatalf("build exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "2 variant(s) passed, 0 did not") {
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
	b, _ := os.ReadFile(record)
	if err := json.Unmarshal(b, &rec); err != nil || rec.Status != "published" || len(rec.Variants) != 2 || !rec.Variants[1].Verified {
		t.Fatalf("record: %v %s", err, b)
	}
	code, out, _ = runCmd(t, "publish", "--report", report, "--matrix", m)
	if code != 0 || !strings.Contains(out, "0 to create, 0 to move, 5 unchanged") {
		t.Errorf("second publish: %d %s", code, out)
	}
	code, out, errs = runCmd(t, "inspect", repo+":2.9")
	if code != 0 || !strings.Contains(out, "torch        2.9.1 (cu128)") || !strings.Contains(out, "Tags         2.9 2.9-cu128 2.9.1-cuda12.8.1-py3.11-debian12") {
		t.Errorf("inspect: %d\n%s\n%s", code, out, errs)
	}
	// Will it run here? What-if hosts against the published floating tag 2.9 (cu128).
	code, out, errs = runCmd(t, "check", repo+":2.9", "--driver", "560.35.05", "--gpu-cc", "8.9", "--brand", "geforce")
	if code != exitIncompatible || !strings.Contains(out, "2.9-cu126") {
		t.Errorf("check with driver 560: exit %d, want 3 and the cu126 tag suggested\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "check", repo+":2.9", "--driver", "580.95.05", "--gpu-cc", "9.0", "--brand", "tesla")
	if code != exitOK {
		t.Errorf("check with driver 580: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "check", repo+":2.9-cu126", "--driver", "580.95.05", "--gpu-cc", "12.0", "--brand", "geforce")
	if code != exitIncompatible || !strings.Contains(strings.ToLower(out), "arch") {
		t.Errorf("check Blackwell vs cu126: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCmd(t, "plan", "-f", m, "--diff")
	if code != 0 || !strings.Contains(out, "0 to create, 0 to move, 5 unchanged") {
		t.Errorf("plan --diff after publish: %d %s", code, out)
	}
}
