package matrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix/compat"
)

func db(t testing.TB) *compat.DB {
	t.Helper()
	d, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func planString(t *testing.T, src string) (*Plan, Diagnostics, error) {
	t.Helper()
	f, err := Parse([]byte(src), "m.yaml")
	if err != nil {
		return nil, err.(*InvalidError).Diagnostics, err
	}
	return NewPlan(f, db(t), Options{})
}

// Every bad matrix in testdata/invalid fails with the diagnostics in its .want file
// (LINE:COL: severity: message, one per line).
func TestInvalidMatrices(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 25 {
		t.Fatalf("want at least 25 bad matrices, have %d", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(path, ".yaml") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			_, ds, err := Load(path, db(t), Options{})
			if err == nil {
				t.Fatalf("%s: loaded without error", path)
			}
			var got []string
			for _, d := range ds.Errors() {
				got = append(got, strings.ReplaceAll(strings.TrimPrefix(d.String(), path+":"), path, filepath.Base(path)))
				if !printable(d.String()) {
					t.Errorf("diagnostic with a raw control character: %q", d.String())
				}
			}
			for _, w := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !slices.Contains(got, w) {
					t.Errorf("missing diagnostic\n want: %s\n  got: %s", w, strings.Join(got, "\n       "))
				}
			}
		})
	}
}

func TestProjectMatrix(t *testing.T) {
	p, ds, err := Load("../matrix.yaml", db(t), Options{})
	if err != nil {
		t.Fatalf("matrix.yaml is invalid:\n%v", err)
	}
	if w := ds.Warnings(); len(w) > 0 {
		t.Errorf("matrix.yaml has warnings:\n%s", w.Error())
	}
	owner := map[string]string{}
	for _, v := range p.Variants {
		for _, tag := range v.Tags {
			if prev, dup := owner[tag]; dup {
				t.Errorf("tag %s on %s and %s", tag, prev, v.ID)
			}
			owner[tag] = v.ID
		}
	}
	get := func(tag string) *Variant {
		id, ok := owner[tag]
		if !ok {
			t.Fatalf("no variant has tag %s", tag)
		}
		v, _ := p.Variant(id)
		return v
	}
	if v := get("2.9-cu128"); v.Torch != "2.9.1" || v.CUDA != "12.8" || v.Flavor != "runtime" || v.OS != "ubuntu24.04" {
		t.Errorf("2.9-cu128 went to %s", v.ID)
	}
	if v := get("2.9"); v.Torch != "2.9.1" || v.CUDA != "12.8" {
		t.Errorf("2.9 went to %s, want a cu128 variant of 2.9.1 (its PyPI default)", v.ID)
	}
	if v := get("lts"); v.Torch != "2.7.1" || v.CUDA != "11.8" || v.Flavor != "runtime" {
		t.Errorf("lts went to %s", v.ID)
	}
	if v := get("latest"); v.Torch != "2.13.0" || v.CUDA != "13.0" {
		t.Errorf("latest went to %s", v.ID)
	}
	for _, tv := range []string{"2.9.1", "2.10.0", "2.11.0", "2.12.1", "2.13.0"} {
		rel, _ := db(t).Torch(tv)
		for _, cu := range rel.VariantNames() {
			if _, ok := owner[tv[:strings.LastIndex(tv, ".")]+"-"+cu]; !ok {
				t.Errorf("torch %s %s has no floating tag: the project matrix should build every official variant", tv, cu)
			}
		}
	}
}

func TestUnquotedNumbersKeepTheirText(t *testing.T) {
	// 12.10 must not become 12.1 (viper does that; we decode scalars as text).
	_, ds, err := planString(t, "repository: r.example/x\naxes: {torch: [2.9.1], cuda: [12.10], os: [ubuntu24.04]}\ntags: [{template: x, kind: immutable}]\n")
	if err == nil || !strings.Contains(ds.Error(), "CUDA 12.10 is not in the compatibility data") {
		t.Fatalf("want an error about CUDA 12.10, got %v", ds)
	}
}

const base = `repository: ghcr.io/example/pytorch-cuda
axes:
  torch: ["2.9.1", "2.10.0"]
  cuda: ["12.6", "12.8"]
  os: [ubuntu22.04, ubuntu24.04]
  flavor: [runtime, devel]
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.Flavor}}-{{.OS}}", kind: immutable}
`

func TestFloatingPreference(t *testing.T) {
	for _, tc := range []struct {
		name, rule string
		want       string // variant id, or "" for an error
		errSub     string
	}{
		{"prefer mapping keys in order", `{template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating, prefer: {os: ubuntu24.04, flavor: runtime}}`, "2.9.1-cu128-py3.12-runtime-ubuntu24.04", ""},
		{"no prefer", `{template: "{{.Torch.MajorMinor}}", kind: floating}`, "", "is claimed by 8 variants"},
		{"highest torch", `{template: "latest", kind: floating, only: {pypi_default: true}, prefer: [{highest: torch}, {flavor: runtime}, {os: ubuntu24.04}]}`, "2.10.0-cu128-py3.12-runtime-ubuntu24.04", ""},
		{"rule that matches nobody is skipped", `{template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating, prefer: [{os: ubuntu20.04}, {flavor: runtime}, {os: ubuntu22.04}]}`, "2.9.1-cu128-py3.10-runtime-ubuntu22.04", ""},
		{"undecided", `{template: "x", kind: floating, prefer: {flavor: runtime}}`, "", "the prefer rules leave"},
		{"bad highest", `{template: "x", kind: floating, prefer: [{highest: os}]}`, "", "valid fields are torch, cuda, python"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ds, err := planString(t, base+"  - "+tc.rule+"\n")
			if tc.want == "" {
				if err == nil || !strings.Contains(ds.Error(), tc.errSub) {
					t.Fatalf("want error containing %q, got %v / %v", tc.errSub, err, ds)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range p.Variants {
				if len(v.FloatingTags) > 0 {
					got = append(got, v.ID)
				}
			}
			if !slices.Contains(got, tc.want) {
				t.Errorf("floating tag went to %v, want %s", got, tc.want)
			}
		})
	}
}

func TestSettingsLayering(t *testing.T) {
	src := base + `defaults:
  extra_packages: [numpy]
  build_args: {A: "1", B: "1"}
overrides:
  - match: {flavor: devel}
    extra_packages: [ninja]
    build_args: {B: "2"}
    index_url: https://mirror.example/whl/cu128
include:
  - {torch: "2.9.1", cuda: "12.8", os: ubuntu24.04, flavor: devel, build_args: {B: "3"}, labels: {org.example.team: ml}}
`
	p, _, err := planString(t, src)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := p.Variant("2.9.1-cu128-py3.12-devel-ubuntu24.04")
	if !ok {
		t.Fatal("variant missing")
	}
	if !slices.Equal(v.ExtraPackages, []string{"numpy", "ninja"}) || v.BuildArgs["A"] != "1" || v.BuildArgs["B"] != "3" || v.IndexURL != "https://mirror.example/whl/cu128" || v.Labels["org.example.team"] != "ml" {
		t.Errorf("layering wrong: %+v %v %s %v", v.ExtraPackages, v.BuildArgs, v.IndexURL, v.Labels)
	}
	r, _ := p.Variant("2.9.1-cu128-py3.12-runtime-ubuntu24.04")
	if r.BuildArgs["B"] != "1" || r.IndexURL != "https://download.pytorch.org/whl/cu128" || len(r.ExtraPackages) != 1 {
		t.Errorf("runtime variant got devel settings: %v %s", r.BuildArgs, r.IndexURL)
	}
	if len(p.Variants) != 16 {
		t.Errorf("include naming an existing variant must not add one: %d variants", len(p.Variants))
	}
}

func TestAllowUnofficialWarns(t *testing.T) {
	src := `repository: ghcr.io/example/x
include:
  - {torch: "2.9.1", cuda: "11.8", os: ubuntu22.04, allow_unofficial: true, index_url: "https://wheels.example/cu118"}
tags: [{template: "{{.Torch}}-{{.CUDA.Variant}}", kind: immutable}]
`
	p, ds, err := planString(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ds.Warnings().Error(), "torch 2.9.1 has no cu118 wheels") || !p.Variants[0].Unofficial {
		t.Errorf("want a warning and an unofficial variant, got %v", ds)
	}
	if p.Variants[0].CUDNN != "" {
		t.Errorf("an unofficial variant must not claim a cuDNN version: %q", p.Variants[0].CUDNN)
	}
}

// compiler is true unless the matrix says false; later settings win, as for every setting.
func TestCompilerSetting(t *testing.T) {
	src := `repository: ghcr.io/example/x
defaults: {compiler: false}
axes: {torch: ["2.9.1"], cuda: ["12.8"], os: [ubuntu24.04], flavor: [runtime, devel]}
overrides:
  - {match: {flavor: devel}, compiler: true}
tags: [{template: "{{.Torch}}-{{.CUDA.Variant}}-{{.Flavor}}", kind: immutable}]
`
	p, _, err := planString(t, src)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"2.9.1-cu128-py3.12-runtime-ubuntu24.04": false, "2.9.1-cu128-py3.12-devel-ubuntu24.04": true} {
		if v, _ := p.Variant(id); v == nil || v.Compiler != want {
			t.Errorf("%s: compiler %v, want %v", id, v != nil && v.Compiler, want)
		}
	}
	p, _, err = planString(t, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.Variants {
		if !v.Compiler {
			t.Errorf("%s: the compiler is on by default", v.ID)
		}
	}
}

// No diagnostic repeats a credential: userinfo and query values are redacted.
func TestCredentialsNeverEchoed(t *testing.T) {
	_, ds, err := Load("testdata/invalid/credentials-in-urls.yaml", db(t), Options{})
	if err == nil || len(ds.Errors()) < 5 {
		t.Fatalf("want five errors, got %v", ds)
	}
	for _, d := range ds {
		if strings.Contains(d.String(), "hunter2") {
			t.Errorf("diagnostic shows the secret: %s", d)
		}
	}
}

func TestLabelsAndEnv(t *testing.T) {
	p, _, err := planString(t, base)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := p.Variant("2.9.1-cu128-py3.12-runtime-ubuntu24.04")
	want := map[string]string{
		"io.torchimg.torch.version":          "2.9.1",
		"io.torchimg.torch.cuda":             "12.8",
		"io.torchimg.cuda.version":           "12.8.1",
		"io.torchimg.cudnn.version":          "9.10.2.21",
		"io.torchimg.nccl.version":           "2.27.5",
		"io.torchimg.python.version":         "3.12",
		"io.torchimg.driver.minimum":         "570.124.06",
		"io.torchimg.driver.minimum-compat":  "525",
		"io.torchimg.cuda.archs":             "7.0;7.5;8.0;8.6;9.0;10.0;12.0",
		"org.opencontainers.image.base.name": "nvidia/cuda:12.8.1-base-ubuntu24.04",
	}
	for k, w := range want {
		if v.Labels[k] != w {
			t.Errorf("label %s = %q, want %q", k, v.Labels[k], w)
		}
	}
	if !strings.HasPrefix(v.Env["NVIDIA_REQUIRE_CUDA"], "cuda>=12.8 brand=") {
		t.Errorf("NVIDIA_REQUIRE_CUDA = %q", v.Env["NVIDIA_REQUIRE_CUDA"])
	}
	d, _ := p.Variant("2.9.1-cu128-py3.12-devel-ubuntu24.04")
	if d.Base != "nvidia/cuda:12.8.1-devel-ubuntu24.04" {
		t.Errorf("devel base = %s", d.Base)
	}
}

// A maintainer adds a CUDA variant by editing the compatibility data and matrix.yaml only.
func TestAddCUDAVariantByDataOnly(t *testing.T) {
	data, err := os.ReadFile("compat/compat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	s = strings.Replace(s, "\ncuda:\n", `
cuda:
  - version: "13.5"
    image: "13.5.0"
    source: "test"
    compat_floor: {value: "580", source: "test"}
    archs: {value: "7.5;8.0;9.0;10.0;12.0", source: "test"}
    updates:
      - {version: "13.5.0", min_driver: {value: "600.10.01", source: "test"}}
`, 1)
	s = strings.Replace(s, "\nimages:\n", `
images:
  - toolkit: "13.5.0"
    cudnn: cudnn
    complete: true
    source: "test"
    tags:
      - {os: ubuntu24.04, status: exists, flavors: [base, devel], source: "test"}
`, 1)
	s = strings.Replace(s, "\ntorch_upcoming:\n", `
  - series: "2.14"
    releases: ["2.14.0"]
    default: cu135
    python: ["3.12"]
    source: "test"
    variants:
      - name: cu135
        cuda: "13.5"
        source: "test"
        cudnn: {value: "9.24.0.43", source: "test"}
        nccl: {value: "2.30.7", source: "test"}
        archs: {value: "7.5;8.0;9.0;10.0;12.0+PTX", source: "test"}
        toolkit: {value: "13.5.0", source: "test"}

torch_upcoming:
`, 1)
	d, err := compat.Load([]byte(s), "compat.yaml")
	if err != nil {
		t.Fatalf("edited data does not load: %v", err)
	}
	f, err := Parse([]byte(`repository: ghcr.io/example/x
axes: {torch: ["2.14.0"], cuda: ["13.5"], os: [ubuntu24.04]}
tags: [{template: "{{.Torch}}-cuda{{.CUDA.Full}}", kind: immutable}, {template: "{{.Torch.MajorMinor}}", kind: floating, only: {pypi_default: true}}]
`), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := NewPlan(f, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := p.Variants[0]
	if v.Base != "nvidia/cuda:13.5.0-base-ubuntu24.04" || v.DriverMin != "600.10.01" || !slices.Equal(v.Tags, []string{"2.14.0-cuda13.5.0", "2.14"}) {
		t.Errorf("new variant: base %s driver %s tags %v", v.Base, v.DriverMin, v.Tags)
	}
}

func TestFilterAndShard(t *testing.T) {
	p, _, err := planString(t, base)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseOnly("torch=2.9.*,cuda=12.8|cu126,flavor=runtime")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Apply(p.Variants); len(got) != 4 {
		t.Errorf("--only selected %d, want 4", len(got))
	}
	for _, bad := range []string{"torch", "colour=red", "torch=[", "=x"} {
		if _, err := ParseOnly(bad); err == nil {
			t.Errorf("ParseOnly(%q) accepted", bad)
		}
	}
	seen := map[string]int{}
	for k := 1; k <= 3; k++ {
		var sf Filter
		if err := sf.ParseShard(strings.Join([]string{string(rune('0' + k)), "3"}, "/")); err != nil {
			t.Fatal(err)
		}
		for _, v := range sf.Apply(p.Variants) {
			seen[v.ID]++
		}
	}
	if len(seen) != len(p.Variants) {
		t.Errorf("shards cover %d of %d variants", len(seen), len(p.Variants))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s in %d shards", id, n)
		}
	}
	var sf Filter
	for _, bad := range []string{"0/3", "4/3", "1/0", "x/y", "1"} {
		if err := sf.ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}

func TestPlanJSONFields(t *testing.T) {
	p, _, err := planString(t, base+`  - {template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating, prefer: {os: ubuntu24.04, flavor: runtime}}`+"\n")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WritePlan(&b, p, p.Variants, "json"); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Variants []map[string]any `json:"variants"`
	}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "torch", "cuda", "os", "python", "flavor", "base", "tags", "labels", "env", "build_args"} {
		if _, ok := out.Variants[0][k]; !ok {
			t.Errorf("plan JSON lacks %q", k)
		}
	}
	b.Reset()
	if err := WritePlan(&b, p, p.Variants, "github"); err != nil || !strings.HasPrefix(b.String(), `{"include":[{"id":`) {
		t.Errorf("github output: %v %s", err, b.String())
	}
	b.Reset()
	if err := WritePlan(&b, p, p.Variants, "markdown"); err != nil || !strings.Contains(b.String(), "`2.9-cu128`") || !strings.Contains(b.String(), "driver ≥ 570.124.06") {
		t.Errorf("markdown output: %v\n%s", err, b.String())
	}
}

func TestTagTemplateFields(t *testing.T) {
	p, _, err := planString(t, base)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := p.Variant("2.9.1-cu128-py3.12-devel-ubuntu24.04")
	for tmpl, want := range map[string]string{
		"{{.CUDNN}}":                  "9.10.2.21",
		"cudnn{{.CUDNN.Major}}":       "cudnn9",
		"{{.CUDA.Variant}}-{{.CUDA}}": "cu128-12.8",
		"{{.CUDA.Full}}":              "12.8.1",
		"py{{.Python.Short}}":         "py312",
		"{{.Torch.Major}}.{{.Torch.Minor}}.{{.Torch.Patch}}": "2.9.1",
	} {
		if got, err := renderTagText(tmpl, v); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", tmpl, got, err, want)
		}
	}
	v.CUDNN = ""
	if _, err := renderTagText("{{.CUDNN}}", v); err == nil || !strings.Contains(err.Error(), "cuDNN version of this torch variant is not known") {
		t.Errorf("unknown cuDNN must be an error, got %v", err)
	}
}

func TestOtherOSWithOwnBase(t *testing.T) {
	src := `repository: ghcr.io/example/x
include:
  - {torch: "2.9.1", cuda: "12.8", os: rockylinux9, python: "3.12", base: "nvidia/cuda:12.8.1-base-rockylinux9"}
tags: [{template: "{{.Torch}}-{{.OS}}", kind: immutable}]
`
	p, ds, err := planString(t, src)
	if err != nil || len(p.Variants) != 1 || !strings.Contains(ds.Warnings().Error(), `os "rockylinux9" is not in the compatibility data`) {
		t.Fatalf("an OS with its own base and python builds with a warning: %v %v", err, ds)
	}
}

func renderTagText(tmpl string, v *Variant) (string, error) {
	t, err := parseTagTemplate(tmpl)
	if err != nil {
		return "", err
	}
	return renderTag(t, v)
}

// Tags with .Inputs wait for the fingerprint (shown as {inputs}), never collide, and SetInputs
// fills them in everywhere.
func TestInputsTags(t *testing.T) {
	f, err := Parse([]byte(`repository: ghcr.io/example/pytorch-cuda
axes: {torch: ["2.9.1"], cuda: ["12.6", "12.8"], os: [ubuntu24.04]}
tags:
  - {template: "{{.Torch}}-{{.Inputs}}", kind: immutable}
  - {template: "{{.Torch}}-cu{{.CUDA.Short}}", kind: floating}
`), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := NewPlan(f, db(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := p.Variants[0]
	if !v.TagsPending() || v.ImmutableTags[0] != "2.9.1-"+InputsMarker || v.Tags[0] != "2.9.1-"+InputsMarker {
		t.Fatalf("tags before the fingerprint: %v %v", v.ImmutableTags, v.Tags)
	}
	fp := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	if err := p.SetInputs(map[string]string{v.ID: fp}); err != nil {
		t.Fatal(err)
	}
	if v.TagsPending() || v.ImmutableTags[0] != "2.9.1-0123456789ab" || v.Tags[0] != "2.9.1-0123456789ab" || v.Inputs != fp || v.Tags[1] != "2.9.1-cu126" {
		t.Errorf("after SetInputs: %v %v %s", v.ImmutableTags, v.Tags, v.Inputs)
	}
	if !p.Variants[1].TagsPending() {
		t.Error("a variant without a fingerprint lost its marker")
	}
	if err := p.SetInputs(map[string]string{p.Variants[1].ID: "sha256:xyz"}); err == nil {
		t.Error("a malformed fingerprint was accepted")
	}
}

// writeMatrix writes a file of size bytes: a valid matrix padded with a comment, or, when
// sparse, a file of zero bytes that is never meant to be parsed.
func writeMatrix(t testing.TB, size int64, sparse bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "matrix.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sparse {
		err = f.Truncate(size)
	} else {
		pad := size - int64(len(base)) - 3
		_, err = f.WriteString(base + "# " + strings.Repeat("x", int(pad)) + "\n")
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// endless is a reader that never ends, like a pipe someone forgot to close.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	return len(p), nil
}

func TestFileSizeLimit(t *testing.T) {
	limit := "the limit is 1 MiB (1048576 bytes)"
	for _, tc := range []struct {
		name string
		load func(t *testing.T) (string, error)
		want string // "" for a matrix that loads
	}{
		{"10 MB file, refused from its size", func(t *testing.T) (string, error) {
			path := writeMatrix(t, 10<<20, true)
			_, err := LoadFile(path)
			return path, err
		}, "the matrix file is 10 MiB (10485760 bytes); " + limit},
		{"one byte over", func(t *testing.T) (string, error) {
			path := writeMatrix(t, MaxFileSize+1, false)
			_, err := LoadFile(path)
			return path, err
		}, "the matrix file is 1.0 MiB (1048577 bytes); " + limit},
		{"exactly the limit", func(t *testing.T) (string, error) {
			path := writeMatrix(t, MaxFileSize, false)
			_, err := LoadFile(path)
			return path, err
		}, ""},
		{"endless stream, read up to the limit only", func(t *testing.T) (string, error) {
			_, err := read(endless{}, "pipe.yaml")
			return "pipe.yaml", err
		}, "the matrix file is more than 1 MiB (1048576 bytes); " + limit},
		{"Parse of a large buffer", func(t *testing.T) (string, error) {
			_, err := Parse(make([]byte, 3<<20), "big.yaml")
			return "big.yaml", err
		}, "the matrix file is 3 MiB (3145728 bytes); " + limit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, err := tc.load(t)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("a matrix of exactly MaxFileSize bytes was refused: %v", err)
				}
				return
			}
			ie, ok := err.(*InvalidError)
			if !ok || len(ie.Diagnostics) != 1 {
				t.Fatalf("want one diagnostic, got %v", err)
			}
			if got, want := ie.Diagnostics[0].String(), path+":1:1: error: "+tc.want; !strings.HasPrefix(got, want) {
				t.Errorf("got  %s\nwant %s...", got, want)
			}
		})
	}
}

// A 10 MB matrix is refused without being read: far less memory than the file's size.
func TestFileSizeLimitReadsNothing(t *testing.T) {
	path := writeMatrix(t, 10<<20, true)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := LoadFile(path); err == nil {
		t.Fatal("a 10 MB matrix loaded")
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("refusing a 10 MB matrix allocated %d bytes; it should not read the file", n)
	}
}

func TestExtraPackagesNamingTorch(t *testing.T) {
	for _, tc := range []struct {
		req   string
		torch bool
	}{
		{"torch", true},
		{"torch==2.9.1", true},
		{"Torch>=2", true},
		{"torch[extra]", true},
		{"TORCH", true},
		{"torchvision", false},
		{"torch-audio", false},
		{"pytorch-triton", false},
		{"numpy", false},
	} {
		t.Run(tc.req, func(t *testing.T) {
			_, ds, _ := planString(t, base+"defaults: {extra_packages: [\""+tc.req+"\"]}\n")
			got := strings.Contains(ds.Error(), "extras may not replace torch")
			if got != tc.torch {
				t.Errorf("extra_packages [%s]: replaces-torch error %v, want %v\n%s", tc.req, got, tc.torch, ds.Error())
			}
			if got && !strings.Contains(ds.Error(), "m.yaml:9:29: error: defaults.extra_packages: \""+tc.req+"\" names torch") {
				t.Errorf("error not at the item:\n%s", ds.Error())
			}
		})
	}
}

func TestLocalTorchHint(t *testing.T) {
	for _, tc := range []struct{ torch, want string }{
		{"2.9.1+cu128", `; the +cu128 part goes into cuda: write torch: "2.9.1" with cuda: "12.8"`},
		{"2.7.1+cu118", `; the +cu118 part goes into cuda: write torch: "2.7.1" with cuda: "11.8"`},
		{"1.2.0+cu92", `; the +cu92 part goes into cuda: write torch: "1.2.0" with cuda: "9.2"`},
		{"2.9.*+cu130", `; the +cu130 part goes into cuda: write torch: "2.9.*" with cuda: "13.0"`},
		{"2.9.1+cpu", `; the +cpu part goes into cuda: write torch: "2.9.1" with cuda: cpu`},
		{"2.9.1+rocm6.4", `; +rocm6.4 is a local version suffix: write torch: "2.9.1" and choose the CUDA variant with cuda, e.g. cuda: "12.8"`},
		{"2.9.1", ""},
		{"2.9.1+", ""},
	} {
		if got := localTorchHint(tc.torch); got != tc.want {
			t.Errorf("localTorchHint(%q)\n got %s\nwant %s", tc.torch, got, tc.want)
		}
	}
	// The hint turns a variant name back into the matrix's spelling for every known CUDA.
	for _, c := range db(t).CUDAVersions() {
		if h := localTorchHint("2.9.1+" + cudaVariantName(c)); !strings.Contains(h, fmt.Sprintf("cuda: %q", c)) {
			t.Errorf("CUDA %s: hint %q", c, h)
		}
	}
}

func TestBaseDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		base string
		bad  bool
	}{
		{"nvidia/cuda:12.8.1-base-ubuntu24.04@sha256:" + hex64, false},
		{"nvidia/cuda@sha256:" + hex64, false},
		{"nvidia/cuda:12.8.1-base-ubuntu24.04@sha256:abc", true},
		{"nvidia/cuda:12.8.1-base-ubuntu24.04@sha256:" + strings.ToUpper(hex64), true},
		{"nvidia/cuda:12.8.1-base-ubuntu24.04@sha256:" + hex64 + "0", true},
		{"nvidia/cuda:12.8.1-base-ubuntu24.04@sha512:" + hex64 + hex64, true},
		{"nvidia/cuda:12.8.1-base-ubuntu24.04@" + hex64, true},
	} {
		var ds Diagnostics
		checkImageRef(&ds, Str{Value: tc.base, Pos: Pos{File: "m.yaml", Line: 7, Col: 9}, Set: true}, "defaults.base")
		got := strings.Contains(ds.Error(), "a digest is sha256: followed by 64 lowercase hex characters")
		if got != tc.bad || (!tc.bad && len(ds) > 0) {
			t.Errorf("%s: %v", tc.base, ds)
		}
		if got && !strings.HasPrefix(ds.Error(), "m.yaml:7:9: error: defaults.base ") {
			t.Errorf("%s: not at the value: %v", tc.base, ds)
		}
	}
}

func TestDiagnosticsStayOnOneLine(t *testing.T) {
	var ds Diagnostics
	ds.errorf(Pos{File: "m.yaml", Line: 4, Col: 1}, "parser said: %s", "a\tb\nc")
	if got, want := ds.Error(), `m.yaml:4:1: error: parser said: a\tb\nc`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// With an explicit base, the toolkit, the minimum driver and NVIDIA_REQUIRE_CUDA follow that
// base, never torchimg's own choice of toolkit.
func TestExplicitBase(t *testing.T) {
	for _, tc := range []struct {
		name, base, cuda, os string
		errHas, warnHas      string
		toolkit, driverMin   string
		baseCUDA             bool
		requireHas           string // substring of NVIDIA_REQUIRE_CUDA; "=" means exactly "cuda>=" + cuda
	}{
		{name: "nvidia/cuda tag", base: "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04", cuda: "12.6", os: "ubuntu22.04",
			toolkit: "12.6.3", driverMin: "560.35.05", baseCUDA: true, requireHas: "brand=tesla,driver>=470"},
		{name: "mirror of nvidia/cuda with a digest", base: "mirror.example/nvidia/cuda:12.8.1-base-ubuntu24.04@sha256:" + strings.Repeat("a", 64), cuda: "12.8", os: "ubuntu24.04",
			toolkit: "12.8.1", driverMin: "570.124.06", baseCUDA: true, requireHas: "cuda>=12.8 brand="},
		{name: "older CUDA in the base than in the wheels", base: "nvidia/cuda:12.6.3-base-ubuntu24.04", cuda: "12.8", os: "ubuntu24.04",
			warnHas: "labels and NVIDIA_REQUIRE_CUDA follow the base (CUDA 12.6)", toolkit: "12.6.3", driverMin: "560.35.05", baseCUDA: true, requireHas: "cuda>=12.6 "},
		{name: "deleted tag", base: "nvidia/cuda:12.0.0-base-ubuntu22.04", cuda: "12.8", os: "ubuntu22.04", errHas: "was deleted under NVIDIA's support policy"},
		{name: "CUDA 13 on ubuntu20.04", base: "nvidia/cuda:13.0.2-base-ubuntu20.04", cuda: "13.0", os: "ubuntu20.04", errHas: "NVIDIA publishes no CUDA 13.x images for ubuntu20.04"},
		{name: "OS differs from the axis", base: "nvidia/cuda:12.8.1-base-ubuntu22.04", cuda: "12.8", os: "ubuntu24.04", errHas: "is an ubuntu22.04 image, but the variant's os is ubuntu24.04"},
		{name: "plain OS base", base: "ubuntu:24.04", cuda: "12.8", os: "ubuntu24.04",
			toolkit: "12.8.1", driverMin: "570.124.06", baseCUDA: false, requireHas: "="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("repository: ghcr.io/example/x\ndefaults: {base: %q}\naxes: {torch: [\"2.9.1\"], cuda: [%q], os: [%s], python: [\"3.12\"]}\ntags: [{template: \"{{.Torch}}-{{.CUDA.Short}}-{{.OS}}\", kind: immutable}]\n", tc.base, tc.cuda, tc.os)
			p, ds, err := planString(t, src)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err %v, want %q", err, tc.errHas)
				}
				if !strings.Contains(err.Error(), "m.yaml:2:") {
					t.Errorf("the error is not at the base's line: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.warnHas != "" && !strings.Contains(fmt.Sprint(ds), tc.warnHas) {
				t.Errorf("warnings %v lack %q", ds, tc.warnHas)
			}
			v := p.Variants[0]
			if v.CUDAToolkit != tc.toolkit || v.DriverMin != tc.driverMin || v.BaseCUDA != tc.baseCUDA {
				t.Errorf("toolkit %s driver %s base CUDA %v", v.CUDAToolkit, v.DriverMin, v.BaseCUDA)
			}
			label, hasLabel := v.Labels["io.torchimg."+LabelCUDAVersion]
			if hasLabel != tc.baseCUDA || (hasLabel && label != tc.toolkit) {
				t.Errorf("cuda.version label %q (present %v)", label, hasLabel)
			}
			req := v.Env["NVIDIA_REQUIRE_CUDA"]
			if tc.requireHas == "=" {
				if req != "cuda>="+tc.cuda {
					t.Errorf("NVIDIA_REQUIRE_CUDA %q, want cuda>=%s without brand clauses", req, tc.cuda)
				}
			} else if !strings.Contains(req, tc.requireHas) {
				t.Errorf("NVIDIA_REQUIRE_CUDA %q lacks %q", req, tc.requireHas)
			}
		})
	}
}
