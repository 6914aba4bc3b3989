package check

import (
	"strings"
	"testing"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/gpu/arch/archtest"
	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/gpu/driver/drivertest"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/report"
)

func testDB(t *testing.T) *compat.DB {
	t.Helper()
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// torchimgImage builds the Info of an image as torchimg labels it: labels
// from the compatibility data, NVIDIA_REQUIRE_CUDA of the nvidia/cuda base.
func torchimgImage(t *testing.T, db *compat.DB, torch, toolkit, archs string, tags ...string) *report.Info {
	t.Helper()
	const pre = "io.torchimg."
	minor := version.MajorMinor(toolkit)
	rel, ok := db.CUDA(minor)
	if !ok {
		t.Fatalf("no CUDA %s in the compatibility data", minor)
	}
	req := db.RequireCUDA(toolkit)
	if !req.Known() {
		t.Fatalf("NVIDIA_REQUIRE_CUDA of %s not known", toolkit)
	}
	variant := "cu" + strings.ReplaceAll(minor, ".", "")
	labels := map[string]string{
		pre + matrix.LabelSchema:       matrix.SchemaVersion,
		pre + matrix.LabelTorchVersion: torch,
		pre + matrix.LabelTorchCUDA:    minor,
		pre + matrix.LabelTorchVariant: variant,
		pre + matrix.LabelCUDAVersion:  toolkit,
		pre + matrix.LabelDriverMin:    db.MinDriver(toolkit).Value,
		pre + matrix.LabelVariant:      torch + "-" + variant,
		matrix.OCITitle:                "pytorch-cuda",
	}
	if rel.CompatFloor.Known() {
		labels[pre+matrix.LabelDriverMinCompat] = rel.CompatFloor.Value
	}
	if archs != "" {
		labels[pre+matrix.LabelCUDAArchs] = archs
	}
	return &report.Info{
		Ref:    "registry.example/acme/pytorch-cuda:" + torch + "-" + variant,
		Digest: "sha256:" + strings.Repeat(variant[2:], 64/len(variant[2:]))[:60] + "0000",
		Labels: labels,
		Env: map[string]string{
			"NVIDIA_REQUIRE_CUDA":        req.Value,
			"CUDA_VERSION":               toolkit,
			driver.EnvCompatPackage:      drivertest.BaseEnv(db, toolkit)[driver.EnvCompatPackage],
			"NVIDIA_VISIBLE_DEVICES":     "all",
			"NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
		},
		Prefix: "io.torchimg",
		Tags:   tags,
	}
}

const (
	archs118 = "5.0;6.0;7.0;7.5;8.0;8.6;3.7;9.0"
	archs126 = "5.0;6.0;7.0;7.5;8.0;8.6;9.0"
	archs128 = "7.0;7.5;8.0;8.6;9.0;10.0;12.0"
	archs130 = "7.5;8.0;8.6;9.0;10.0;12.0+PTX"
)

type images struct{ cu118, cu126, cu128, cu130 *report.Info }

func testImages(t *testing.T, db *compat.DB) images {
	return images{
		cu118: torchimgImage(t, db, "2.7.1", "11.8.0", archs118, "2.7-cu118", "lts", "2.7.1-cuda11.8.0-cudnn9-py3.10-runtime-ubuntu22.04"),
		cu126: torchimgImage(t, db, "2.9.1", "12.6.3", archs126, "2.9-cu126", "2.9.1-cuda12.6.3-cudnn9-py3.12-runtime-ubuntu24.04"),
		cu128: torchimgImage(t, db, "2.9.1", "12.8.1", archs128, "2.9-cu128", "2.9", "latest", "2.9.1-cuda12.8.1-cudnn9-py3.12-runtime-ubuntu24.04"),
		cu130: torchimgImage(t, db, "2.9.1", "13.0.2", archs130, "2.9-cu130", "2.9.1-cuda13.0.2-cudnn9-py3.12-runtime-ubuntu24.04"),
	}
}

func whatIf(t *testing.T, db *compat.DB, w WhatIf) Host {
	t.Helper()
	h, err := w.Host(db)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// nvmlHost is what gpu/host reports through NVML (here via host.Static facts).
func nvmlHost(driver, cuda string, gpus ...host.GPU) Host {
	for i := range gpus {
		gpus[i].Index = i
	}
	return Host{Facts: host.Facts{DriverFound: true, Driver: driver, CUDA: cuda, GPUs: gpus}}
}

var (
	h100     = host.GPU{Name: "NVIDIA H100 80GB HBM3", Brand: "nvidia", Arch: "9.0"}
	v100     = host.GPU{Name: "Tesla V100-SXM2-16GB", Brand: "tesla", Arch: "7.0"}
	rtx4090  = host.GPU{Name: "NVIDIA GeForce RTX 4090", Brand: "geforce", Arch: "8.9"}
	rtx5090  = host.GPU{Name: "NVIDIA GeForce RTX 5090", Brand: "geforce", Arch: "12.0"}
	a100     = host.GPU{Name: "NVIDIA A100-SXM4-80GB", Brand: "nvidia", Arch: "8.0"}
	futureGP = host.GPU{Name: "future GPU", Brand: "nvidia", Arch: "13.0"}
)

func withRuntime(h Host, mode string) Host {
	m, err := ParseRuntime(mode)
	if err != nil {
		panic(err)
	}
	h.Runtime, h.RuntimeSource = m, "test"
	return h
}

func statusOf(r *Result, part string) Status {
	st := Status("")
	for _, rs := range r.Reasons {
		if rs.Part == part {
			if st == "" || rs.Status == Fail {
				st = rs.Status
			}
		}
	}
	return st
}

func allText(r *Result) string {
	var b strings.Builder
	for _, rs := range r.Reasons {
		b.WriteString(rs.Part + ": " + rs.Message + "\n")
	}
	for _, a := range r.Advice {
		b.WriteString("advice: " + a + "\n")
	}
	return b.String()
}

func TestEvaluate(t *testing.T) {
	db := testDB(t)
	im := testImages(t, db)
	noLabels := &report.Info{Ref: "docker.io/library/python:3.12", Labels: map[string]string{}, Env: map[string]string{"PATH": "/usr/bin"}}
	someLabels := &report.Info{Ref: "example/app:1", Labels: map[string]string{"maintainer": "x"}, Env: map[string]string{}}
	nvidiaCUDA := &report.Info{Ref: "nvidia/cuda:12.8.1-runtime-ubuntu24.04", Labels: map[string]string{"maintainer": "NVIDIA CORPORATION <cudatools@nvidia.com>"},
		Env: drivertest.BaseEnv(db, "12.8.1")}
	legacy := &report.Info{Ref: "old/cuda-app:1", Labels: map[string]string{}, Env: map[string]string{"CUDA_VERSION": "12.4.1"}}
	noArchs := torchimgImage(t, db, "2.9.1", "12.8.1", "")
	disabled := torchimgImage(t, db, "2.9.1", "12.8.1", archs128)
	disabled.Env["NVIDIA_DISABLE_REQUIRE"] = "1"
	plain := torchimgImage(t, db, "2.9.1", "12.8.1", archs128)
	plain.Env = map[string]string{"NVIDIA_REQUIRE_CUDA": "cuda>=12.8", "CUDA_VERSION": "12.8.1"}

	tests := []struct {
		name     string
		img      *report.Info
		host     Host
		want     Verdict
		parts    map[string]Status
		contains []string
		lacks    []string
		ptx      bool
	}{
		{
			name: "driver 525 vs cu128: refused despite minor-version compatibility",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "525.147.05"}),
			want:     NotCompatible,
			parts:    map[string]Status{PartDriver: Fail, PartArch: NotChecked},
			contains: []string{"570.124.06", "cuda>=12.8", "unsatisfied condition: cuda>=12.8", "refused at start", "error 803"},
			lacks:    []string{"NVIDIA_DISABLE_REQUIRE=1"},
		},
		{
			name: "pip wheels on a plain base, driver 550, legacy hook: refused, and it could start with NVIDIA_DISABLE_REQUIRE",
			img:  plain, host: withRuntime(nvmlHost("550.54.15", "12.4", a100), "legacy"),
			want:     NotCompatible,
			parts:    map[string]Status{PartDriver: Fail},
			contains: []string{"refused at start", "NVIDIA_DISABLE_REQUIRE=1", "minor-version compatibility"},
		},
		{
			name: "pip wheels on a plain base, driver 550, CDI: starts, minor-version compatibility",
			img:  plain, host: withRuntime(nvmlHost("550.54.15", "12.4", a100), "cdi"),
			want:     Compatible,
			parts:    map[string]Status{PartDriver: Warn},
			contains: []string{"CDI mode evaluates no NVIDIA_REQUIRE_*", "minor-version compatibility", "PTX JIT"},
			lacks:    []string{"refused"},
		},
		{
			name: "pip wheels on a plain base, driver 550, mode not known: says what each mode does",
			img:  plain, host: nvmlHost("550.54.15", "12.4", a100),
			want:     CannotTell,
			parts:    map[string]Status{PartDriver: Unknown},
			contains: []string{"legacy hook", "refused at start", "CDI", "the container starts", "--runtime legacy"},
		},
		{
			name: "GeForce 525 vs a 12.1 image: the brand clause passes, the compat libraries fail with 804",
			img:  torchimgImage(t, db, "2.2.2", "12.1.1", archs128), host: nvmlHost("525.147.05", "12.0", rtx4090),
			want:     NotCompatible,
			parts:    map[string]Status{PartDriver: Fail},
			contains: []string{"error 804", "cuda-compat-12-1", "530.30.02"},
			lacks:    []string{"NVIDIA_DISABLE_REQUIRE=1"},
		},
		{
			name: "what-if 515.65.01 vs an 11.8 image: the driver's CUDA 11.7 comes from the data",
			img:  torchimgImage(t, db, "2.2.2", "11.8.0", archs128), host: whatIf(t, db, WhatIf{Driver: "515.65.01", Brand: "tesla"}),
			want:     NotCompatible,
			parts:    map[string]Status{PartDriver: Fail},
			contains: []string{"supports CUDA 11.7", "refused at start"},
		},
		{
			name: "what-if 570.86.10 vs a 12.8.1 image on an RTX 5090",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "570.86.10", Brand: "geforcertx", CCs: []string{"12.0"}}),
			want:  Compatible,
			parts: map[string]Status{PartDriver: OK, PartArch: OK},
		},
		{
			name: "what-if: a driver newer than the data",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "650.10", Brand: "tesla"}),
			want:     Compatible,
			parts:    map[string]Status{PartDriver: OK},
			contains: []string{"or newer"},
		},
		{
			name: "driver 470 vs cu128: too old, not even minor-version compatible",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "470.256.02", CUDA: "11.4", Brand: "geforce"}),
			want:  NotCompatible,
			parts: map[string]Status{PartDriver: Fail},
		},
		{
			name: "V100 vs cu130: architecture",
			img:  im.cu130, host: nvmlHost("580.95.05", "13.0", v100),
			want:     NotCompatible,
			parts:    map[string]Status{PartGPU: OK, PartDriver: OK, PartArch: Fail},
			contains: []string{"compute capability 7.0", "cu126", "cu128"},
		},
		{
			name: "V100 what-if vs cu130",
			img:  im.cu130, host: whatIf(t, db, WhatIf{Driver: "580.95.05", CCs: []string{"7.0"}}),
			want:  NotCompatible,
			parts: map[string]Status{PartDriver: OK, PartArch: Fail},
		},
		{
			name: "H100 on 580.95.05 vs cu128",
			img:  im.cu128, host: nvmlHost("580.95.05", "13.0", h100),
			want:  Compatible,
			parts: map[string]Status{PartGPU: OK, PartDriver: OK, PartArch: OK},
		},
		{
			name: "H100 on 580.95.05 vs cu130",
			img:  im.cu130, host: nvmlHost("580.95.05", "13.0", h100),
			want:     Compatible,
			parts:    map[string]Status{PartGPU: OK, PartDriver: OK, PartArch: OK},
			contains: []string{"sm_90"},
		},
		{
			name: "Blackwell sm_120 vs cu126 (no PTX)",
			img:  im.cu126, host: nvmlHost("580.95.05", "13.0", rtx5090),
			want:  NotCompatible,
			parts: map[string]Status{PartDriver: OK, PartArch: Fail},
		},
		{
			name: "8.9 GPU vs a list with 8.6: same major",
			img:  im.cu126, host: nvmlHost("580.95.05", "13.0", rtx4090),
			want:     Compatible,
			parts:    map[string]Status{PartArch: OK},
			contains: []string{"sm_86"},
		},
		{
			name: "GPU newer than every sm, +PTX: PTX JIT",
			img:  im.cu130, host: nvmlHost("580.95.05", "13.0", futureGP),
			want:     Compatible,
			parts:    map[string]Status{PartArch: Warn},
			contains: []string{"only through PTX JIT", "compute_120", "CUDA_CACHE_MAXSIZE"},
			ptx:      true,
		},
		{
			name: "Thor 11.0 vs 12.0+PTX: PTX newer than the GPU",
			img:  im.cu130, host: whatIf(t, db, WhatIf{Driver: "580.95.05", CCs: []string{"11.0"}}),
			want:  NotCompatible,
			parts: map[string]Status{PartArch: Fail},
		},
		{
			name: "geforce on 565 vs cu128: no brand clause",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "565.57.01", Brand: "geforce", CCs: []string{"8.9"}}),
			want:     NotCompatible,
			parts:    map[string]Status{PartDriver: Fail, PartArch: OK},
			contains: []string{"brand geforce", "570.124.06"},
		},
		{
			name: "tesla on 565 vs cu128: forward-compatibility clause",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "565.57.01", Brand: "tesla", CCs: []string{"8.0"}}),
			want:     Compatible,
			parts:    map[string]Status{PartDriver: OK, PartArch: OK},
			contains: []string{"brand=tesla,driver>=565,driver<566", "forward compatibility"},
		},
		{
			name: "geforce RTX 4090 via NVML on 565 (CUDA 12.7) vs cu128",
			img:  im.cu128, host: nvmlHost("565.57.01", "12.7", rtx4090),
			want:  NotCompatible,
			parts: map[string]Status{PartDriver: Fail},
		},
		{
			name: "A100 (brand nvidia = unknown at runtime) via NVML on 565 vs cu128",
			img:  im.cu128, host: nvmlHost("565.57.01", "12.7", a100),
			want:     Compatible,
			parts:    map[string]Status{PartDriver: OK},
			contains: []string{"brand=unknown,driver>=565"},
		},
		{
			name: "what-if 565 without brand: depends on the brand",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "565.57.01", CCs: []string{"8.9"}}),
			want:     CannotTell,
			parts:    map[string]Status{PartDriver: Unknown},
			contains: []string{"--brand"},
		},
		{
			name: "unknown archs: cannot tell for the arch part",
			img:  noArchs, host: nvmlHost("580.95.05", "13.0", h100),
			want:  CannotTell,
			parts: map[string]Status{PartDriver: OK, PartArch: Unknown},
		},
		{
			name: "driver but no GPU",
			img:  im.cu128, host: nvmlHost("580.95.05", "13.0"),
			want:     NotCompatible,
			parts:    map[string]Status{PartGPU: Fail},
			contains: []string{"no GPU is visible"},
		},
		{
			name: "no driver at all",
			img:  im.cu128, host: Host{Facts: host.Facts{Reason: "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)"}},
			want:     NotCompatible,
			parts:    map[string]Status{PartGPU: Fail, PartDriver: NotChecked},
			contains: []string{"libnvidia-ml.so.1 not loadable", ">= 570.124.06"},
		},
		{
			name: "image without labels and without env",
			img:  noLabels, host: nvmlHost("580.95.05", "13.0", h100),
			want:     CannotTell,
			parts:    map[string]Status{PartImage: Unknown, PartDriver: Unknown, PartArch: Unknown},
			contains: []string{"no labels", "not built by torchimg"},
		},
		{
			name: "image with foreign labels only",
			img:  someLabels, host: nvmlHost("580.95.05", "13.0", h100),
			want:     CannotTell,
			contains: []string{"labels maintainer"},
		},
		{
			name: "plain nvidia/cuda 12.8.1 on a 550 geforce",
			img:  nvidiaCUDA, host: nvmlHost("550.54.15", "12.4", rtx4090),
			want:     NotCompatible,
			parts:    map[string]Status{PartImage: OK, PartDriver: Fail, PartArch: Unknown},
			contains: []string{"570.124.06"},
		},
		{
			name: "legacy image with CUDA_VERSION only, driver new enough",
			img:  legacy, host: nvmlHost("550.54.15", "12.4", rtx4090),
			want:  CannotTell,
			parts: map[string]Status{PartDriver: OK, PartArch: Unknown},
		},
		{
			name: "driver only, no GPU capability: verdict from the driver",
			img:  im.cu128, host: whatIf(t, db, WhatIf{Driver: "580.95.05"}),
			want:     Compatible,
			parts:    map[string]Status{PartDriver: OK, PartArch: NotChecked},
			contains: []string{"--gpu-cc"},
		},
		{
			name: "GPU capability only: driver cannot tell",
			img:  im.cu128, host: whatIf(t, db, WhatIf{CCs: []string{"9.0"}}),
			want:  CannotTell,
			parts: map[string]Status{PartDriver: Unknown, PartArch: OK},
		},
		{
			name: "two GPUs, one too old for cu130",
			img:  im.cu130, host: whatIf(t, db, WhatIf{Driver: "580.95.05", CCs: []string{"9.0", "7.0"}}),
			want:     NotCompatible,
			parts:    map[string]Status{PartArch: Fail},
			contains: []string{"GPU 1"},
		},
		{
			name: "NVIDIA_DISABLE_REQUIRE image on an older driver: the compat libraries run it on a datacenter GPU",
			img:  disabled, host: nvmlHost("550.54.15", "12.4", a100),
			want:     Compatible,
			parts:    map[string]Status{PartDriver: OK},
			contains: []string{"NVIDIA_DISABLE_REQUIRE", "forward compatibility"},
		},
		{
			name: "NVIDIA_DISABLE_REQUIRE image on GeForce with an older driver: error 804 all the same",
			img:  disabled, host: nvmlHost("550.54.15", "12.4", rtx4090),
			want:     NotCompatible,
			parts:    map[string]Status{PartDriver: Fail},
			contains: []string{"error 804", "NVIDIA_DISABLE_REQUIRE does not help"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(tc.img, tc.host, db)
			text := allText(r)
			if r.Verdict != tc.want {
				t.Errorf("verdict %s, want %s\n%s", r.Verdict, tc.want, text)
			}
			for part, st := range tc.parts {
				if got := statusOf(r, part); got != st {
					t.Errorf("part %s: %q, want %q\n%s", part, got, st, text)
				}
			}
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("output lacks %q:\n%s", s, text)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(text, s) {
					t.Errorf("output has %q:\n%s", s, text)
				}
			}
			if r.PTXJIT != tc.ptx {
				t.Errorf("PTXJIT %v, want %v", r.PTXJIT, tc.ptx)
			}
		})
	}
}

func TestWhatIfHost(t *testing.T) {
	db := testDB(t)
	h := whatIf(t, db, WhatIf{Driver: "535.104.05", CCs: []string{"7.0", "sm_90"}, Brand: "Tesla"})
	if h.Facts.CUDA != "12.2" || !h.CUDADerived || len(h.Facts.GPUs) != 2 || h.Facts.GPUs[1].Arch != "9.0" || h.Facts.GPUs[0].Brand != "tesla" {
		t.Errorf("host %+v", h)
	}
	if s := h.String(); !strings.Contains(s, "derived") {
		t.Errorf("String() does not say the CUDA version was derived: %s", s)
	}
	h = whatIf(t, db, WhatIf{Driver: "535.104.05", CUDA: "12.2"})
	if h.CUDADerived {
		t.Error("--cuda given but CUDADerived")
	}
	for _, bad := range []WhatIf{{Driver: "535.x"}, {CUDA: "twelve"}, {Brand: "radeon"}, {CCs: []string{"nine"}}, {CCs: []string{"9.0+PTX"}}} {
		if _, err := bad.Host(db); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestSuggest(t *testing.T) {
	db := testDB(t)
	im := testImages(t, db)
	all := []*report.Info{im.cu128, im.cu126, im.cu118, im.cu130}

	// Driver 525 runs only the cu118 (LTS) image; the checked image itself is skipped.
	r := Evaluate(im.cu128, whatIf(t, db, WhatIf{Driver: "525.147.05"}), db)
	if r.Verdict != NotCompatible {
		t.Fatalf("cu128 on 525: %s", r.Verdict)
	}
	got := Suggest(all, whatIf(t, db, WhatIf{Driver: "525.147.05"}), db, im.cu128.Digest)
	var tags []string
	for _, s := range got {
		tags = append(tags, s.Tag)
	}
	want := []string{"lts", "2.7-cu118", "2.7.1-cuda11.8.0-cudnn9-py3.10-runtime-ubuntu22.04"}
	if strings.Join(tags, " ") != strings.Join(want, " ") {
		t.Errorf("suggested %v, want %v", tags, want)
	}
	if len(got) > 0 && (got[0].Torch != "2.7.1" || got[0].DriverMin != "520.61.05" || !strings.Contains(got[0].CUDA, "11.8")) {
		t.Errorf("suggestion %+v", got[0])
	}

	// H100 on 580 runs everything: floating tags first, newest torch first, shorter first.
	got = Suggest(all, nvmlHost("580.95.05", "13.0", h100), db, "")
	tags = nil
	for _, s := range got {
		tags = append(tags, s.Tag)
	}
	wantPrefix := []string{"2.9", "latest", "2.9-cu126", "2.9-cu128", "2.9-cu130", "lts", "2.7-cu118"}
	if len(tags) < len(wantPrefix) || strings.Join(tags[:len(wantPrefix)], " ") != strings.Join(wantPrefix, " ") {
		t.Errorf("order %v, want it to start with %v", tags, wantPrefix)
	}
	if len(tags) != 11 {
		t.Errorf("%d suggestions, want 11 (every tag)", len(tags))
	}

	// V100 on 580: cu130 has no sm_70, and is not suggested.
	got = Suggest(all, nvmlHost("580.95.05", "13.0", v100), db, "")
	for _, s := range got {
		if s.Tag == "2.9-cu130" {
			t.Errorf("cu130 suggested for a V100: %+v", got)
		}
	}
}

// check's arch part follows gpu/arch on every shared case.
func TestArchitectures(t *testing.T) {
	db := testDB(t)
	want := map[arch.Support]Status{arch.Native: OK, arch.PTX: Warn, arch.None: Fail, arch.Unknown: Unknown}
	for _, tc := range archtest.Cases {
		im := torchimgImage(t, db, "2.9.1", "12.8.1", tc.List)
		if tc.List == "" {
			delete(im.Labels, "io.torchimg."+matrix.LabelCUDAArchs)
		}
		r := Evaluate(im, whatIf(t, db, WhatIf{Driver: "580.95.05", Brand: "nvidia", CCs: []string{tc.CC}}), db)
		if got := statusOf(r, PartArch); got != want[tc.Want] {
			t.Errorf("%q on %s: arch %s, want %s\n%s", tc.List, tc.CC, got, want[tc.Want], allText(r))
		}
	}
}

// check's driver part follows gpu/driver on every shared case.
func TestDriverCases(t *testing.T) {
	db := testDB(t)
	for _, tc := range drivertest.Cases {
		im := torchimgImage(t, db, "2.9.1", tc.Toolkit, archs128)
		im.Env = tc.Env(db)
		h := nvmlHost(tc.Driver, tc.CUDA, host.GPU{Name: "GPU", Brand: tc.Brand, Arch: "9.0"})
		h.Runtime = tc.Mode
		r := Evaluate(im, h, db)
		if got := statusOf(r, PartDriver); got != tc.Want {
			t.Errorf("%s: driver %s, want %s\n%s", tc.Name, got, tc.Want, allText(r))
		}
	}
}

func TestUnreadableHostCannotTell(t *testing.T) {
	db := testDB(t)
	im := testImages(t, db)
	r := Evaluate(im.cu128, Host{Facts: host.Facts{Unavailable: true, Reason: "built without cgo: NVML unavailable"}}, db)
	if r.Verdict != CannotTell || !strings.Contains(allText(r), "--driver and --gpu-cc") {
		t.Errorf("a host that cannot be read: %s\n%s", r.Verdict, allText(r))
	}
}

// A CPU image (cuda: cpu in the matrix) needs no driver and no GPU: compatible on every host,
// whatever its driver, GPUs or runtime mode, or when the host cannot be read at all.
func TestCPUImage(t *testing.T) {
	db := testDB(t)
	f, err := matrix.Parse([]byte(`repository: registry.example/acme/pytorch
axes: {torch: ["2.9.1"], cuda: [cpu], os: [ubuntu24.04]}
tags: [{template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: immutable}]
`), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := matrix.NewPlan(f, db, matrix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := p.Variants[0]
	if v.Tags[0] != "2.9-cpu" {
		t.Fatalf("tag %s, want 2.9-cpu", v.Tags[0])
	}
	cpu := &report.Info{Ref: p.Repository + ":" + v.Tags[0], Labels: v.Labels, Env: v.Env, Prefix: "io.torchimg", Tags: v.Tags}
	// Inside the image, torchimg check reads image.env: no CUDA facts, so no torch.cuda label.
	inside := &report.Info{Ref: "this container", Labels: map[string]string{
		"io.torchimg." + matrix.LabelSchema: matrix.SchemaVersion, "io.torchimg." + matrix.LabelTorchVersion: "2.9.1"}, Env: map[string]string{}, Prefix: "io.torchimg"}
	onNvidiaBase := &report.Info{Ref: cpu.Ref, Labels: v.Labels, Env: drivertest.BaseEnv(db, "12.8.1"), Prefix: "io.torchimg"}
	for _, tc := range []struct {
		name string
		im   *report.Info
		h    Host
		warn bool
	}{
		{"what-if old driver", cpu, whatIf(t, db, WhatIf{Driver: "470.256.02", CCs: []string{"7.0"}, Brand: "geforce"}), false},
		{"no driver", cpu, Host{Facts: host.Facts{Reason: "no NVIDIA driver found"}}, false},
		{"NVML unavailable", cpu, Host{Facts: host.Facts{Unavailable: true, Reason: "built without cgo"}}, false},
		{"H100 under CDI", cpu, withRuntime(nvmlHost("580.95.05", "13.0", h100), "cdi"), false},
		{"image.env without CUDA", inside, nvmlHost("535.104.05", "12.2", v100), false},
		{"NVIDIA_REQUIRE_CUDA from the base", onNvidiaBase, whatIf(t, db, WhatIf{Driver: "535.104.05"}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(tc.im, tc.h, db)
			if r.Verdict != Compatible || !r.CPU || !strings.Contains(allText(r), "CPU image: runs anywhere, uses no GPU") {
				t.Errorf("verdict %s, cpu %v\n%s", r.Verdict, r.CPU, allText(r))
			}
			if statusOf(r, PartGPU) != "" || statusOf(r, PartArch) != "" {
				t.Errorf("a CPU image judged for GPUs:\n%s", allText(r))
			}
			if got := statusOf(r, PartDriver) == Warn; got != tc.warn {
				t.Errorf("driver warning %v, want %v:\n%s", got, tc.warn, allText(r))
			}
			if len(r.Advice) != 0 {
				t.Errorf("advice for a CPU image: %v", r.Advice)
			}
		})
	}
	if r := Evaluate(testImages(t, db).cu128, whatIf(t, db, WhatIf{Driver: "570.124.06"}), db); r.CPU {
		t.Error("a CUDA image judged as a CPU image")
	}

	// A GPU image that fails here is not offered the repository's CPU tag: it would run, but on
	// no GPU. The GPU tag that runs is still offered.
	im := testImages(t, db)
	cpu.Digest = "sha256:c9"
	got := Suggest([]*report.Info{cpu, im.cu118, im.cu128}, whatIf(t, db, WhatIf{Driver: "525.147.05"}), db, im.cu128.Digest)
	var tags []string
	for _, s := range got {
		tags = append(tags, s.Tag)
	}
	if strings.Contains(strings.Join(tags, " "), "cpu") || len(tags) != 3 {
		t.Errorf("suggested %v, want the three cu118 tags and no CPU tag", tags)
	}
}
