package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/gpu/host"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// runOnHost runs a command line as on a host with these GPU facts.
func runOnHost(t *testing.T, facts host.Facts, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb)
	a.hostSource = func() host.Source { return staticHost(facts) }
	code := runApp(context.Background(), a, args)
	return code, out.String(), errb.String()
}

type staticHost host.Facts

func (s staticHost) Facts(ctx context.Context) (host.Facts, error) { return host.Facts(s), ctx.Err() }

func TestExitCodes(t *testing.T) {
	bad := filepath.Join("..", "..", "matrix", "testdata", "invalid", "no-wheels.yaml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		in   string // substring of stdout+stderr
	}{
		{"valid", []string{"validate", "-f", "../../matrix.yaml"}, 0, "valid: 55 variant(s)"},
		{"invalid", []string{"validate", "-f", bad}, 1, "no-wheels.yaml:4:10: error: torch 2.9.1 has no cu118 wheels; it has cu126, cu128, cu130"},
		{"missing file", []string{"validate", "-f", "nope.yaml"}, 1, "read matrix: open nope.yaml"},
		{"unknown flag", []string{"validate", "--colour"}, 2, "unknown flag: --colour"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"extra argument", []string{"validate", "x"}, 2, "unknown command"},
		{"bad output", []string{"plan", "-f", "../../matrix.yaml", "-o", "xml"}, 2, "valid formats are table, json, github, markdown"},
		{"bad only", []string{"plan", "-f", "../../matrix.yaml", "--only", "colour=red"}, 2, "unknown field \"colour\""},
		{"bad shard", []string{"plan", "-f", "../../matrix.yaml", "--shard", "3/2"}, 2, "want K/N"},
		{"render needs one", []string{"render", "-f", "../../matrix.yaml", "--only", "torch=2.9.1"}, 2, "selects 11 variants"},
		{"no builder", []string{"build", "-f", "../../matrix.yaml", "--builder", "unix:///nonexistent.sock", "--only", "id=2.9.1-cu128-py3.12-runtime-ubuntu24.04"}, 1, "no BuildKit daemon answers at unix:///nonexistent.sock"},
		{"publish without report", []string{"publish"}, 2, "at least one --report"},
		{"inspect needs an image", []string{"inspect"}, 2, "accepts 1 arg"},
		{"release needs stage", []string{"release", "-f", "../../matrix.yaml"}, 2, "release needs --stage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.in) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s", code, tc.code, out, errs, tc.in)
			}
		})
	}
}

func TestPlanOutputs(t *testing.T) {
	code, out, errs := runCmd(t, "plan", "-f", "../../matrix.yaml", "-o", "json", "--only", "torch=2.9.*,cuda=12.8")
	if code != 0 {
		t.Fatal(errs)
	}
	var p struct {
		Variants []struct {
			ID   string   `json:"id"`
			Tags []string `json:"tags"`
		} `json:"variants"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Variants) != 4 {
		t.Errorf("--only selected %d variants", len(p.Variants))
	}
	code, out, _ = runCmd(t, "plan", "-f", "../../matrix.yaml", "-o", "github", "--shard", "1/4")
	var gh struct {
		Include []map[string]string `json:"include"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &gh) != nil || len(gh.Include) != 14 {
		t.Errorf("github shard: %d entries, exit %d", len(gh.Include), code)
	}
	code, out, _ = runCmd(t, "render", "-f", "../../matrix.yaml", "--only", "id=2.9.1-cu128-py3.12-runtime-ubuntu24.04")
	if code != 0 || !strings.Contains(out, "FROM ${BASE_IMAGE}") || !strings.Contains(out, "ARG BASE_IMAGE=\"nvidia/cuda:12.8.1-base-ubuntu24.04\"") {
		t.Errorf("render: %d %s", code, out)
	}
	dir := t.TempDir()
	code, _, errs = runCmd(t, "render", "-f", "../../matrix.yaml", "--only", "torch=2.13.0", "--out", dir)
	entries, _ := os.ReadDir(dir)
	if code != 0 || len(entries) != 10 {
		t.Errorf("render --out wrote %d contexts: %s", len(entries), errs)
	}
}

func TestSettingsFromEnvironment(t *testing.T) {
	t.Setenv("TORCHIMG_FILE", "../../matrix.yaml")
	t.Setenv("TORCHIMG_ONLY", "torch=2.7.1")
	code, out, errs := runCmd(t, "plan", "-o", "json")
	if code != 0 || strings.Count(out, `"id":`) != 2 {
		t.Errorf("env settings ignored: %d %s %s", code, out, errs)
	}
}

func TestCacheSpecsKeepCommas(t *testing.T) {
	a := newApp(strings.NewReader(""), io.Discard, io.Discard)
	cmd := a.buildCmd()
	if err := cmd.ParseFlags([]string{"--cache-to", "type=registry,ref=r.example/c:{id},mode=max", "--cache-from", "r.example/c:{id}"}); err != nil {
		t.Fatal(err)
	}
	if err := a.v.BindPFlags(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	to := cacheSpecs(a.v.GetStringSlice("cache-to"))
	from := cacheSpecs(a.v.GetStringSlice("cache-from"))
	if len(to) != 1 || to[0] != "type=registry,ref=r.example/c:{id},mode=max" || len(from) != 1 {
		t.Errorf("cache specs: to %q from %q", to, from)
	}
}

func TestCheckFlagsGPUsAndRuntime(t *testing.T) {
	two := host.Facts{DriverFound: true, Driver: "570.124.06", CUDA: "12.8", GPUs: []host.GPU{
		{Index: 0, Name: "NVIDIA H100 80GB HBM3", Brand: "nvidia", Arch: "9.0", UUID: "GPU-aaaa"},
		{Index: 1, Name: "NVIDIA GeForce RTX 4090", Brand: "geforce", Arch: "8.9", UUID: "GPU-bbbb"},
	}}
	code, out, errs := runOnHost(t, two, "check", "--gpus", "5")
	if code != exitUsage || !strings.Contains(errs, "--gpus \"5\": no GPU 5 (this host has 2: indices 0 to 1)") {
		t.Errorf("--gpus 5: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runOnHost(t, two, "check", "--runtime", "docker")
	if code != exitUsage || !strings.Contains(errs, "valid modes are legacy") {
		t.Errorf("--runtime docker: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runOnHost(t, two, "check", "-o", "json", "--gpus", "GPU-bbbb")
	if !strings.Contains(out, `"gpus_selected": "1 of 2 GPU(s) selected by --gpus=GPU-bbbb"`) || strings.Contains(out, "H100") {
		t.Errorf("--gpus GPU-bbbb: exit %d\n%s%s", code, out, errs)
	}
}
