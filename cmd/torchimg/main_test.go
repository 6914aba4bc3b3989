package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/gpu/host"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runStdin(t, "", args...)
}

// runStdin runs a command line with stdin.
func runStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runApp(context.Background(), newApp(strings.NewReader(stdin), &out, &errb), args)
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
		{"missing file", []string{"validate", "-f", "nope.yaml"}, 1, "torchimg: nope.yaml: no such file"},
		{"unknown flag", []string{"validate", "--colour"}, 2, "unknown flag: --colour"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"extra argument", []string{"validate", "a.yaml", "b.yaml"}, 2, "validate takes at most one argument, the matrix file; got 2: a.yaml b.yaml"},
		{"version takes no argument", []string{"version", "x"}, 2, "unknown command"},
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

const (
	repoMatrix = "../../matrix.yaml"
	oneVariant = "id=2.9.1-cu128-py3.12-runtime-ubuntu24.04"
	// warnMatrix is valid with one warning (an exclude that matches nothing).
	warnMatrix = `repository: ghcr.io/example/pytorch-cuda
axes:
  torch: ["2.9.1"]
  cuda: ["12.8"]
  os: [ubuntu24.04]
exclude: [{cuda: "12.6"}]
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-{{.Flavor}}-{{.OS}}", kind: immutable}
`
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every command that reads a matrix takes it as -f/--file or as its one argument.
func TestMatrixArgument(t *testing.T) {
	bad := filepath.Join("..", "..", "matrix", "testdata", "invalid", "no-wheels.yaml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		in   string // substring of stdout+stderr
	}{
		{"validate", []string{"validate", repoMatrix}, 0, "../../matrix.yaml: valid: 55 variant(s)"},
		{"validate invalid", []string{"validate", bad}, 1, "no-wheels.yaml:4:10: error: torch 2.9.1 has no cu118 wheels"},
		{"plan", []string{"plan", repoMatrix, "-o", "json", "--only", "torch=2.7.1"}, 0, `"id": "2.7.1-cu118-py3.10-runtime-ubuntu22.04"`},
		{"render", []string{"render", repoMatrix, "--only", oneVariant}, 0, "FROM ${BASE_IMAGE}"},
		{"build", []string{"build", repoMatrix, "--builder", "unix:///nonexistent.sock", "--only", oneVariant}, 1, "no BuildKit daemon answers at unix:///nonexistent.sock"},
		{"release", []string{"release", "nope.yaml", "--stage", "127.0.0.1:1/x"}, 1, "nope.yaml: no such file"},
		{"argument after flags", []string{"plan", "--only", "torch=2.7.1", repoMatrix}, 0, "2.7.1-cu118-py3.10-runtime-ubuntu22.04"},
		{"same file twice", []string{"validate", "-f", repoMatrix, "../torchimg/../../matrix.yaml"}, 0, "valid: 55 variant(s)"},
		{"two different files", []string{"validate", "-f", repoMatrix, bad}, 2,
			"the matrix is given twice, as -f/--file ../../matrix.yaml and as the argument " + bad + "; give one of them (e.g. torchimg validate -f " + bad + ")"},
		{"two arguments", []string{"plan", repoMatrix, bad}, 2, "plan takes at most one argument, the matrix file; got 2"},
		{"empty name", []string{"validate", "-f", ""}, 2, `the matrix file name is empty; give one with -f FILE (e.g. -f matrix.yaml) or as the argument, or "-f -" for stdin`},
		{"usage shows it", []string{"build", "--help"}, 0, "torchimg build [MATRIX] [flags]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.in) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s", code, tc.code, out, errs, tc.in)
			}
		})
	}
	// The argument beats TORCHIMG_FILE, as a flag would.
	t.Setenv("TORCHIMG_FILE", "nope.yaml")
	if code, out, errs := runCmd(t, "validate", repoMatrix); code != 0 || !strings.Contains(out, "../../matrix.yaml: valid") {
		t.Errorf("argument with TORCHIMG_FILE set: exit %d\n%s%s", code, out, errs)
	}
}

// publish: -f/--file and --matrix are one setting; publish's matrix is optional.
func TestPublishMatrixFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // the matrix publish reads ("file" and "matrix" agree)
		err  string
	}{
		{"none", nil, nil, "", ""},
		{"--matrix", []string{"--matrix", "m.yaml"}, nil, "m.yaml", ""},
		{"-f", []string{"-f", "m.yaml"}, nil, "m.yaml", ""},
		{"--file", []string{"--file", "m.yaml"}, nil, "m.yaml", ""},
		{"argument", []string{"m.yaml"}, nil, "m.yaml", ""},
		{"both, same", []string{"-f", "m.yaml", "--matrix", "./m.yaml"}, nil, "m.yaml", ""},
		{"TORCHIMG_MATRIX", nil, map[string]string{"TORCHIMG_MATRIX": "env.yaml"}, "env.yaml", ""},
		{"TORCHIMG_FILE", nil, map[string]string{"TORCHIMG_FILE": "env.yaml"}, "env.yaml", ""},
		{"flag beats env", []string{"--matrix", "m.yaml"}, map[string]string{"TORCHIMG_FILE": "env.yaml"}, "m.yaml", ""},
		{"both, different", []string{"-f", "a.yaml", "--matrix", "b.yaml"}, nil, "",
			"-f/--file a.yaml and --matrix b.yaml name different matrices; give one (--matrix is another name for -f/--file)"},
		{"flag and argument", []string{"--matrix", "a.yaml", "b.yaml"}, nil, "",
			"the matrix is given twice, as --matrix a.yaml and as the argument b.yaml; give one of them (e.g. torchimg publish -f b.yaml)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			a := newApp(strings.NewReader(""), io.Discard, io.Discard)
			cmd := a.publishCmd()
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := a.v.BindPFlags(cmd.Flags()); err != nil {
				t.Fatal(err)
			}
			err := a.resolveMatrix(cmd, cmd.Flags().Args())
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v\nwant %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, alias := a.v.GetString("file"), a.v.GetString("matrix"); got != tc.want || alias != tc.want {
				t.Errorf("file %q, matrix %q; want %q", got, alias, tc.want)
			}
		})
	}
}

func TestMatrixFromStdin(t *testing.T) {
	good, err := os.ReadFile(repoMatrix)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(filepath.Join("..", "..", "matrix", "testdata", "invalid", "no-wheels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("#", 1<<20+1)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		in    string
	}{
		{"validate", string(good), []string{"validate", "-f", "-"}, 0, "<stdin>: valid: 55 variant(s), 165 tag(s)"},
		{"as the argument", string(good), []string{"validate", "-"}, 0, "<stdin>: valid: 55 variant(s)"},
		{"invalid", string(bad), []string{"validate", "-f", "-"}, 1, "<stdin>:4:10: error: torch 2.9.1 has no cu118 wheels"},
		{"invalid summary", string(bad), []string{"validate", "-f", "-"}, 1, "torchimg: <stdin>: 1 error(s)"},
		{"empty", "", []string{"validate", "-f", "-"}, 1, "<stdin>:1:1: error: the matrix file is empty"},
		{"over the limit", huge, []string{"validate", "-f", "-"}, 1, "<stdin>:1:1: error: the matrix file is more than 1 MiB (1048576 bytes); the limit is 1 MiB"},
		{"plan", string(good), []string{"plan", "-f", "-", "-o", "json", "--only", "torch=2.7.1"}, 0, `"id": "2.7.1-cu118-py3.10-runtime-ubuntu22.04"`},
		{"render", string(good), []string{"render", "-", "--only", oneVariant}, 0, "FROM ${BASE_IMAGE}"},
		{"json", string(bad), []string{"validate", "-f", "-", "-o", "json"}, 1, `"file": "<stdin>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runStdin(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.in) {
				t.Errorf("exit %d (want %d)\nstdout: %.2000s\nstderr: %.2000s\nwant: %s", code, tc.code, out, errs, tc.in)
			}
		})
	}
}

func TestMatrixPathErrors(t *testing.T) {
	empty := t.TempDir()
	nested := t.TempDir()
	writeFile(t, filepath.Join(nested, "a", "matrix.yaml"), warnMatrix)
	writeFile(t, filepath.Join(nested, "b", "matrix.yml"), warnMatrix)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // the whole stderr
	}{
		{"missing", []string{"validate", "nope.yaml"}, 1,
			`torchimg: nope.yaml: no such file (give the matrix with -f FILE or as the argument, or "-f -" to read it from stdin)`},
		{"missing, a matrix beside it", []string{"validate", "-f", "../../matrix.yml"}, 1,
			"torchimg: ../../matrix.yml: no such file (did you mean ../../matrix.yaml?)"},
		{"directory", []string{"validate", "../../examples/"}, 1,
			"torchimg: ../../examples/: is a directory, not a matrix file (did you mean ../../examples/offline/matrix.yaml?)"},
		{"directory with two", []string{"plan", "-f", nested}, 1,
			"torchimg: " + nested + ": is a directory, not a matrix file (did you mean " + filepath.Join(nested, "a", "matrix.yaml") + " or " + filepath.Join(nested, "b", "matrix.yml") + "?)"},
		{"directory without one", []string{"build", empty}, 1,
			"torchimg: " + empty + ": is a directory, not a matrix file (it has no matrix.yaml or matrix.yml, nor do its subdirectories; give the file with -f FILE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.args...)
			if code != tc.code || strings.TrimSpace(errs) != tc.want {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant:   %s", code, tc.code, out, errs, tc.want)
			}
		})
	}
}

func TestValidateOutputs(t *testing.T) {
	dir := t.TempDir()
	warn := writeFile(t, filepath.Join(dir, "warn.yaml"), warnMatrix)
	// A file name with , and :, a value with %: escaped in the annotation.
	odd := writeFile(t, filepath.Join(dir, "a,b:c.yaml"), strings.Replace(warnMatrix, "ghcr.io/example/pytorch-cuda", `"ghcr.io/ex%ample"`, 1))
	oddProp := strings.NewReplacer(",", "%2C", ":", "%3A").Replace(odd)
	bad := filepath.Join("..", "..", "matrix", "testdata", "invalid", "no-wheels.yaml")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // the whole stdout
		stderr string // substring
	}{
		{"text", []string{"validate", warn}, 0, warn + ": valid: 1 variant(s), 1 tag(s)\n",
			warn + ":6:11: warning: exclude[0] matches no variant of the axes; check its values"},
		{"github valid", []string{"validate", warn, "-o", "github"}, 0,
			"::warning file=" + warn + ",line=6,col=11::exclude[0] matches no variant of the axes; check its values\n", warn + ": valid: 1 variant(s), 1 tag(s)"},
		{"github invalid", []string{"validate", bad, "-o", "github"}, 1,
			"::error file=" + bad + ",line=4,col=10::torch 2.9.1 has no cu118 wheels; it has cu126, cu128, cu130; set allow_unofficial: true on the variant to build it anyway\n",
			"torchimg: " + bad + ": 1 error(s)"},
		{"github escapes", []string{"validate", odd, "-o", "github"}, 1,
			"::error file=" + oddProp + ",line=1,col=13::repository \"ghcr.io/ex%25ample\": want a repository like ghcr.io/example/pytorch-cuda\n" +
				"::warning file=" + oddProp + ",line=6,col=11::exclude[0] matches no variant of the axes; check its values\n", "1 error(s)"},
		{"github no such file", []string{"validate", "nope.yaml", "-o", "github"}, 1,
			"::error file=nope.yaml::no such file (give the matrix with -f FILE or as the argument, or \"-f -\" to read it from stdin)\n", "torchimg: nope.yaml: no such file"},
		{"bad format", []string{"validate", "-o", "xml"}, 2, "", "--output \"xml\": valid formats are text, json, github"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.args...)
			if code != tc.code || out != tc.stdout || !strings.Contains(errs, tc.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %q\nwant:   %q\nstderr: %s\nwant: %s", code, tc.code, out, tc.stdout, errs, tc.stderr)
			}
		})
	}

	type result struct {
		File        string `json:"file"`
		Valid       bool   `json:"valid"`
		Variants    int    `json:"variants"`
		Tags        int    `json:"tags"`
		Diagnostics []struct {
			File     string `json:"file"`
			Line     int    `json:"line"`
			Col      int    `json:"col"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
		} `json:"diagnostics"`
	}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		want  string // the result, compact: file valid variants tags [file:line:col:severity:message ...]
		empty bool   // stderr is empty
	}{
		{"valid", []string{"validate", repoMatrix, "-o", "json"}, 0, "../../matrix.yaml true 55 165 []", true},
		{"warning", []string{"validate", "-f", warn, "-o", "json"}, 0,
			warn + " true 1 1 [" + warn + ":6:11:warning:exclude[0] matches no variant of the axes; check its values]", true},
		{"invalid", []string{"validate", bad, "-o", "json"}, 1,
			bad + " false 0 0 [" + bad + ":4:10:error:torch 2.9.1 has no cu118 wheels; it has cu126, cu128, cu130; set allow_unofficial: true on the variant to build it anyway]", false},
		{"no such file", []string{"validate", "nope.yaml", "-o", "json"}, 1,
			`nope.yaml false 0 0 [nope.yaml:0:0:error:no such file (give the matrix with -f FILE or as the argument, or "-f -" to read it from stdin)]`, false},
		{"directory", []string{"validate", "../../examples", "-o", "json"}, 1,
			"../../examples false 0 0 [../../examples:0:0:error:is a directory, not a matrix file (did you mean ../../examples/offline/matrix.yaml?)]", false},
	} {
		t.Run("json "+tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.args...)
			var r result
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s\n%s", err, out, errs)
			}
			if r.Diagnostics == nil {
				t.Errorf("diagnostics is null, want a list: %s", out)
			}
			var ds []string
			for _, d := range r.Diagnostics {
				ds = append(ds, fmt.Sprintf("%s:%d:%d:%s:%s", d.File, d.Line, d.Col, d.Severity, d.Message))
			}
			got := fmt.Sprintf("%s %v %d %d [%s]", r.File, r.Valid, r.Variants, r.Tags, strings.Join(ds, " | "))
			if code != tc.code || got != tc.want || (errs == "") != tc.empty {
				t.Errorf("exit %d (want %d)\n got %s\nwant %s\nstderr: %s", code, tc.code, got, tc.want, errs)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	a := func(bi *debug.BuildInfo) (*app, *bytes.Buffer, *bytes.Buffer) {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb)
		a.buildInfo = func() (*debug.BuildInfo, bool) { return bi, bi != nil }
		return a, &out, &errb
	}
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/torchimg/torchimg", Version: "v0.4.0"},
		Deps:      []*debug.Module{{Path: "github.com/spf13/cobra", Version: "v1.10.2"}, {Path: "github.com/moby/buildkit", Version: "v0.34.2"}},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "aba7b063aa92b36cf7bf3e9a299ab91ba0cdea3c"},
			{Key: "vcs.time", Value: "2026-12-02T07:11:04Z"}, {Key: "vcs.modified", Value: "true"}},
	}
	replaced := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Deps: []*debug.Module{{Path: "github.com/moby/buildkit", Version: "v0.34.2", Replace: &debug.Module{Path: "example.com/fork/buildkit", Version: "v0.34.3"}}}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		args []string
		want string
	}{
		{"stamped", stamped, []string{"version"}, "torchimg         v0.4.0\n" +
			"commit           aba7b063aa92b36cf7bf3e9a299ab91ba0cdea3c (modified: built with uncommitted changes)\n" +
			"commit time      2026-12-02T07:11:04Z\n" +
			"go               go1.26.8 " + platform + "\n" +
			"buildkit client  v0.34.2\n" +
			"compat data      2026-08-21 (the facts of matrix/compat/compat.yaml as of that day)\n"},
		{"json", stamped, []string{"version", "-o", "json"}, `{
  "version": "v0.4.0",
  "revision": "aba7b063aa92b36cf7bf3e9a299ab91ba0cdea3c",
  "time": "2026-12-02T07:11:04Z",
  "modified": true,
  "go": "go1.26.8",
  "platform": "` + platform + `",
  "buildkit": "v0.34.2",
  "compat_data_date": "2026-08-21"
}
`},
		{"not stamped", replaced, []string{"version"}, "torchimg         (devel)\n" +
			"commit           unknown (built without VCS information: go run, go test or -buildvcs=false)\n" +
			"commit time      unknown\n" +
			"go               go1.26.8 " + platform + "\n" +
			"buildkit client  v0.34.2 (replaced by example.com/fork/buildkit v0.34.3)\n" +
			"compat data      2026-08-21 (the facts of matrix/compat/compat.yaml as of that day)\n"},
		{"no build info", nil, []string{"version", "-o", "json"}, `"revision": ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, out, errb := a(tc.bi)
			code := runApp(context.Background(), app, tc.args)
			if code != 0 || (out.String() != tc.want && !strings.Contains(out.String(), tc.want)) {
				t.Errorf("exit %d\n got:\n%s\nwant:\n%s\nstderr: %s", code, out, tc.want, errb)
			}
		})
	}
	// This test binary's own build information names its BuildKit client.
	code, out, errs := runCmd(t, "version", "-o", "json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !strings.HasPrefix(v.BuildKit, "v0.") || v.CompatDataDate != "2026-08-21" || v.Go != runtime.Version() {
		t.Errorf("version of the test binary: exit %d %+v\n%s%s", code, v, out, errs)
	}
	if code, _, errs := runCmd(t, "version", "-o", "yaml"); code != exitUsage || !strings.Contains(errs, `--output "yaml": valid formats are table, json`) {
		t.Errorf("version -o yaml: exit %d %s", code, errs)
	}
}

func TestInspectLocalPaths(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "dist", "oci", "2.9.1-cu128", "index.json"), "{}")
	if err := os.MkdirAll(filepath.Join(dir, "dist", "oci", "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "image.tar"), "")
	t.Chdir(dir)
	const hint = "(an OCI layout is a directory with index.json; a registry reference looks like host/repo:tag)"
	for _, tc := range []struct {
		ref  string
		want string // the whole stderr
	}{
		{"/nonexistent/dir", "torchimg: no such OCI layout: /nonexistent/dir " + hint},
		{"./dist/oci/x", "torchimg: no such OCI layout: ./dist/oci/x " + hint},
		{"../nonexistent", "torchimg: no such OCI layout: ../nonexistent " + hint},
		{"dist/oci/x", "torchimg: no such OCI layout: dist/oci/x " + hint},
		{"oci:/nonexistent/dir", "torchimg: no such OCI layout: /nonexistent/dir " + hint},
		{"dist/oci", "torchimg: dist/oci: a directory without index.json, not an OCI layout (did you mean dist/oci/2.9.1-cu128?)"},
		{"dist/oci/partial", "torchimg: dist/oci/partial: a directory without index.json, not an OCI layout " + hint},
		{"image.tar", "torchimg: image.tar: a file, not an OCI layout (an OCI layout is a directory with index.json; a registry reference looks like host/repo:tag; unpack an OCI archive with tar -xf first)"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			code, out, errs := runCmd(t, "inspect", tc.ref)
			if code != exitFailed || strings.TrimSpace(errs) != tc.want {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant:   %s", code, out, errs, tc.want)
			}
		})
	}
	// Registry references stay registry references (nothing here is contacted).
	for ref, want := range map[string]bool{
		"localhost:5000/repo:tag": false, "127.0.0.1:5055/x:y": false, "ghcr.io/torchimg/pytorch-cuda:2.9-cu128": false,
		"nvidia/cuda:12.8.1-base-ubuntu24.04": false, "ubuntu:24.04": false, "localhost/repo": false,
		"/abs/path": true, "./rel": true, "../up": true, ".": true, "dist/oci/x": true, "image.tar": true, "dist": true,
	} {
		if got := pathLike(ref); got != want {
			t.Errorf("pathLike(%q) = %v, want %v", ref, got, want)
		}
	}
}
