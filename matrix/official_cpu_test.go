package matrix

import (
	"slices"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix/compat"
)

func variantIDs(vs []*Variant) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func mustPlan(t *testing.T, src string) (*Plan, Diagnostics) {
	t.Helper()
	p, ds, err := planString(t, src)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p, ds
}

// cuda: [official] is, per torch release, exactly its CUDA variants in the compatibility data.
func TestOfficialCUDA(t *testing.T) {
	const head = "repository: ghcr.io/example/x\ntags: [{template: \"{{.Torch}}-{{.CUDA.Variant}}-{{.OS}}-{{.Flavor}}\", kind: immutable}]\n"
	p, ds := mustPlan(t, head+`axes:
  torch: ["2.9.1", "2.13.0"]
  cuda: [official]
  os: [ubuntu24.04]
`)
	if len(ds) != 0 {
		t.Errorf("diagnostics: %v", ds)
	}
	var want []string
	for _, tv := range []string{"2.9.1", "2.13.0"} {
		rel, _ := db(t).Torch(tv)
		for _, name := range rel.VariantNames() {
			want = append(want, tv+"-"+name+"-py3.12-runtime-ubuntu24.04")
		}
	}
	if got := variantIDs(p.Variants); !slices.Equal(got, want) {
		t.Errorf("variants\n got %v\nwant %v", got, want)
	}
	if len(p.Expansions) != 2 || p.Expansions[0].At != "m.yaml:5:10" || p.Expansions[1].Torch != "2.13.0" ||
		!slices.Equal(p.Expansions[1].CUDA, []string{"12.6", "13.0", "13.2"}) {
		t.Errorf("expansions %+v", p.Expansions)
	}
	if v := p.Variants[0]; !strings.Contains(v.Origin, "(axes, cuda official)") {
		t.Errorf("origin %q does not say it came from official", v.Origin)
	}

	// Mixed with explicit values (each once), cpu included; exclude sees the expanded values.
	p, _ = mustPlan(t, head+`axes:
  torch: ["2.9.1", "2.12.1"]
  cuda: ["12.8", official, cpu]
  os: [ubuntu24.04]
  flavor: [runtime, devel]
exclude:
  - {cuda: "13.*", flavor: devel}
  - {torch: "2.12.1", cuda: "12.8"}
`)
	want = nil
	for _, s := range []string{"2.9.1-cpu", "2.9.1-cu126", "2.9.1-cu128", "2.9.1-cu130", "2.12.1-cpu", "2.12.1-cu126", "2.12.1-cu130", "2.12.1-cu132"} {
		for _, fl := range []string{"runtime", "devel"} {
			if strings.Contains(s, "cu13") && fl == "devel" {
				continue
			}
			want = append(want, s+"-py3.12-"+fl+"-ubuntu24.04")
		}
	}
	got := variantIDs(p.Variants)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("mixed axis\n got %v\nwant %v", got, want)
	}
	for _, v := range p.Variants {
		if v.CUDA == "12.8" && v.Torch == "2.9.1" && strings.Contains(v.Origin, Official) {
			t.Errorf("%s: an explicit value is not from official: %s", v.ID, v.Origin)
		}
	}
}

func TestOfficialDiagnostics(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown torch", `axes: {torch: ["2.9.1", "2.15.0"], cuda: [official], os: [ubuntu24.04]}`,
			`m.yaml:3:43: error: axes.cuda: official stands for each torch release's own CUDA variants, but torch 2.15.0 is not in the compatibility data (known releases: `},
		{"unreleased torch", `axes: {torch: ["2.14.0"], cuda: [official], os: [ubuntu24.04]}`,
			`but torch 2.14.0 is not in the compatibility data (torch 2.14 is not released yet (expected variants cu126, cu130, cu132;`},
		{"include", "include: [{torch: \"2.9.1\", cuda: official, os: ubuntu24.04}]",
			`m.yaml:3:34: error: include[0].cuda: official is a value of the cuda axis (each torch release's own CUDA variants); an include entry names one variant: a CUDA minor like "12.8", or cpu`},
		{"selector", "axes: {torch: [\"2.9.1\"], cuda: [official], os: [ubuntu24.04]}\noverrides: [{match: {cuda: official}, labels: {a.b: c}}]",
			`m.yaml:4:28: error: overrides[0].match.cuda: selectors match the variants' CUDA after expansion; official is only a value of the cuda axis`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds, err := planString(t, "repository: ghcr.io/example/x\ntags: [{template: \"{{.Torch}}-{{.CUDA.Variant}}\", kind: immutable}]\n"+tc.src+"\n")
			if err == nil || !strings.Contains(ds.Error(), tc.want) {
				t.Errorf("err %v\nwant %s", ds, tc.want)
			}
		})
	}
}

// A CPU variant: torch's CPU wheels from the CPU index on the OS's own image, with no CUDA facts
// in its labels and no NVIDIA_* environment.
func TestCPUVariant(t *testing.T) {
	p, ds := mustPlan(t, `repository: ghcr.io/example/pytorch
axes:
  torch: ["2.9.1"]
  cuda: [cpu, "12.8"]
  os: [ubuntu22.04, ubuntu24.04, debian12]
  flavor: [runtime, devel]
exclude: [{cuda: "12.8", os: debian12}]
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.Flavor}}-{{.OS}}", kind: immutable}
  - {template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating, prefer: [{flavor: runtime}, {os: ubuntu24.04}]}
  - {template: "{{.Torch.MajorMinor}}-{{.CUDA.Variant}}-{{.Flavor}}", kind: floating, prefer: {os: ubuntu24.04}}
`)
	if len(ds) != 0 {
		t.Errorf("diagnostics: %v", ds)
	}
	for os, base := range map[string]string{"ubuntu22.04": "ubuntu:22.04", "ubuntu24.04": "ubuntu:24.04", "debian12": "debian:12"} {
		py := map[string]string{"ubuntu22.04": "3.10", "ubuntu24.04": "3.12", "debian12": "3.11"}[os]
		for _, fl := range []string{"runtime", "devel"} {
			id := "2.9.1-cpu-py" + py + "-" + fl + "-" + os
			v, ok := p.Variant(id)
			if !ok {
				t.Fatalf("no variant %s in %v", id, variantIDs(p.Variants))
			}
			if !v.CPU() || v.Base != base || v.IndexURL != "https://download.pytorch.org/whl/cpu" || v.TorchVariant != compat.CPU || v.CUDA != compat.CPU {
				t.Errorf("%s: cpu %v base %s index %s variant %s cuda %s", id, v.CPU(), v.Base, v.IndexURL, v.TorchVariant, v.CUDA)
			}
			if len(v.Env) != 0 {
				t.Errorf("%s: env %v, want none (no NVIDIA_*)", id, v.Env)
			}
			if v.BaseCUDA || v.CUDAToolkit != "" || v.DriverMin != "" || v.DriverMinCompat != "" || v.CUDAArchs != "" || v.CUDNN != "" || v.NCCL != "" || v.RunsOn != nil || len(v.Alternatives) != 0 {
				t.Errorf("%s has CUDA facts: %+v", id, v)
			}
			for k := range v.Labels {
				for _, cudaLabel := range []string{LabelTorchCUDA, LabelCUDAVersion, LabelCUDNNVersion, LabelNCCLVersion, LabelDriverMin, LabelDriverMinCompat, LabelCUDAArchs} {
					if k == "io.torchimg."+cudaLabel {
						t.Errorf("%s: label %s=%s", id, k, v.Labels[k])
					}
				}
			}
			if v.Labels["io.torchimg."+LabelTorchVariant] != compat.CPU || v.Labels[OCIBaseName] != base || !CPUImage(v.Labels, "io.torchimg") {
				t.Errorf("%s: labels %v", id, v.Labels)
			}
			if want := "2.9.1-cpu-py" + py + "-" + fl + "-" + os; !slices.Contains(v.Tags, want) {
				t.Errorf("%s: tags %v lack %s", id, v.Tags, want)
			}
		}
	}
	owner := map[string]string{}
	for _, v := range p.Variants {
		for _, tag := range v.Tags {
			owner[tag] = v.ID
		}
	}
	for tag, id := range map[string]string{
		"2.9-cpu":         "2.9.1-cpu-py3.12-runtime-ubuntu24.04",
		"2.9-cpu-devel":   "2.9.1-cpu-py3.12-devel-ubuntu24.04",
		"2.9-cu128":       "2.9.1-cu128-py3.12-runtime-ubuntu24.04",
		"2.9-cu128-devel": "2.9.1-cu128-py3.12-devel-ubuntu24.04",
	} {
		if owner[tag] != id {
			t.Errorf("%s went to %q, want %s", tag, owner[tag], id)
		}
	}
	for tag := range owner {
		if strings.Contains(tag, "cucpu") || strings.Contains(tag, "cudacpu") {
			t.Errorf("tag %s", tag)
		}
	}
	if v, _ := p.Variant("2.9.1-cu128-py3.12-runtime-ubuntu24.04"); CPUImage(v.Labels, "io.torchimg") || v.CPU() {
		t.Error("a CUDA variant is not a CPU image")
	}
}

func TestCPUTagFields(t *testing.T) {
	p, _ := mustPlan(t, "repository: ghcr.io/example/x\naxes: {torch: [\"2.9.1\"], cuda: [cpu], os: [ubuntu24.04]}\ntags: [{template: \"{{.Torch}}-{{.CUDA.Variant}}\", kind: immutable}]\n")
	v := p.Variants[0]
	for tmpl, want := range map[string]string{
		"{{.CUDA.Variant}}":                        "cpu",
		"{{.CUDA}}-{{.CUDA.Short}}-{{.CUDA.Full}}": "cpu-cpu-cpu",
		"{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}":  "2.9-cpu",
		"cuda{{.CUDA.Full}}-cu{{ .CUDA }}":         "cpu-cpu",
		"{{if eq .CUDA.Short \"cpu\"}}x{{end}}":    "x",
		"cudnn{{.CUDA.Variant}}":                   "cudnncpu",
	} {
		if got, err := renderTagText(tmpl, v); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", tmpl, got, err, want)
		}
	}
	for tmpl, want := range map[string]string{
		"{{.CUDA.Major}}":       "a CPU variant (cuda: cpu) has no CUDA version; use {{.CUDA.Variant}}",
		"cudnn{{.CUDNN.Major}}": "a CPU variant (cuda: cpu) has no cuDNN; keep this rule to the CUDA variants (only: {cuda: \"[0-9]*\"})",
	} {
		if _, err := renderTagText(tmpl, v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", tmpl, err, want)
		}
	}
	// CUDA variants render the same templates as before.
	p, _ = mustPlan(t, base)
	c, _ := p.Variant("2.9.1-cu128-py3.12-runtime-ubuntu24.04")
	for tmpl, want := range map[string]string{"{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}": "2.9-cu128", "cuda{{.CUDA.Full}}": "cuda12.8.1", "{{.CUDA.Major}}.{{.CUDA.Minor}}": "12.8"} {
		if got, err := renderTagText(tmpl, c); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", tmpl, got, err, want)
		}
	}
}

func TestCPUDiagnostics(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"nvidia base", "defaults: {base: \"nvidia/cuda:12.8.1-base-ubuntu24.04\"}\naxes: {torch: [\"2.9.1\"], cuda: [cpu], os: [ubuntu24.04]}",
			"m.yaml:3:18: error: base nvidia/cuda:12.8.1-base-ubuntu24.04 is an nvidia/cuda image (CUDA 12.8.1): a CPU variant would inherit its NVIDIA_REQUIRE_CUDA and CUDA libraries; use a plain OS image like ubuntu:24.04"},
		{"upper case", "axes: {torch: [\"2.9.1\"], cuda: [CPU], os: [ubuntu24.04]}",
			`cuda "CPU": want the torch CUDA variant as major.minor like 12.8 (the CPU wheels are cuda: cpu, in lower case)`},
		{"unknown torch", "axes: {torch: [\"2.15.0\"], cuda: [cpu], os: [ubuntu24.04]}",
			"torch 2.15.0 is not in the compatibility data"},
		{"python", "axes: {torch: [\"2.9.1\"], cuda: [cpu], os: [ubuntu24.04], python: [\"3.9\"]}",
			"torch 2.9.1 supports Python 3.10, 3.11, 3.12, 3.13, 3.14, 3.14t; not 3.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds, err := planString(t, "repository: ghcr.io/example/x\ntags: [{template: \"{{.Torch}}-{{.CUDA.Variant}}-py{{.Python}}\", kind: immutable}]\n"+tc.src+"\n")
			if err == nil || !strings.Contains(ds.Error(), tc.want) {
				t.Errorf("err %v\nwant %s", ds, tc.want)
			}
		})
	}
	// An explicit base without CUDA is taken as given.
	p, _ := mustPlan(t, "repository: ghcr.io/example/x\ndefaults: {base: \"mirror.example/library/ubuntu:24.04\"}\naxes: {torch: [\"2.9.1\"], cuda: [cpu], os: [ubuntu24.04]}\ntags: [{template: \"{{.Torch}}-{{.CUDA.Variant}}\", kind: immutable}]\n")
	if v := p.Variants[0]; v.Base != "mirror.example/library/ubuntu:24.04" || len(v.Env) != 0 {
		t.Errorf("explicit base: %s %v", v.Base, v.Env)
	}
}

// Every torch release of the data has CPU wheels, for the Pythons of its CUDA variants, and every
// OS of the data a plain image for them.
func TestCPUData(t *testing.T) {
	d := db(t)
	for _, tv := range d.TorchVersions() {
		rel, _ := d.Torch(tv)
		if !rel.HasCPU() || rel.CPU.Source == "" {
			t.Errorf("torch %s: no sourced CPU variant", tv)
		}
		if cpu, ok := rel.Variant(compat.CPU); !ok || cpu.Name != compat.CPU || cpu.CUDA != "" {
			t.Errorf("torch %s: Variant(cpu) = %+v %v", tv, cpu, ok)
		}
		if slices.Contains(rel.VariantNames(), compat.CPU) {
			t.Errorf("torch %s: cpu among the CUDA variants", tv)
		}
	}
	for _, name := range d.OSNames() {
		o, _ := d.OS(name)
		if o.PlainImage() == "" {
			t.Errorf("os %s: no plain image", name)
		}
	}
}
