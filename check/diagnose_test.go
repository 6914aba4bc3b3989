package check

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/torchimg/torchimg/gpu/driver/drivertest"
	"github.com/torchimg/torchimg/gpu/host"
)

const procVersion = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"

const ldCache = `812 libs found in cache ` + "`/etc/ld.so.cache'" + `
	libnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1
	libcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12
	libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1
	libcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1
	libc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6
`

// gpuContainer is a container with a GPU passed in by the NVIDIA container toolkit.
func gpuContainer() fstest.MapFS {
	return fstest.MapFS{
		".dockerenv":                                 {},
		"dev/nvidia0":                                {},
		"dev/nvidiactl":                              {},
		"usr/bin/nvidia-smi":                         {Mode: 0o755},
		"proc/driver/nvidia/version":                 {Data: []byte(procVersion)},
		"usr/lib/x86_64-linux-gnu/libcuda.so.1":      {},
		"usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1": {},
		"usr/local/cuda/lib64/libcudart.so.12":       {},
		"usr/local/cuda/lib64/libcudart.so.12.8.90":  {},
		"opt/old/lib/libcudart.so.11.0":              {},
		"usr/local/cuda/lib64/stubs/libcuda.so":      {},
	}
}

func sys(fsys fstest.MapFS, env map[string]string, cache string) System {
	if env["PATH"] == "" {
		env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	return System{FS: fsys, Env: env, GOARCH: "amd64", LDCache: func(context.Context) (string, error) { return cache, nil }}
}

func item(d *Diagnosis, check string) Item {
	for _, it := range d.Checks {
		if it.Check == check {
			return it
		}
	}
	return Item{}
}

func diagText(d *Diagnosis) string {
	var b strings.Builder
	_ = WriteDiagnosis(&b, d)
	return b.String()
}

func TestDiagnose(t *testing.T) {
	db := testDB(t)
	h100Facts := host.Facts{DriverFound: true, Driver: "550.54.15", CUDA: "12.4", GPUs: []host.GPU{{Index: 0, Name: "NVIDIA H100 80GB HBM3", Brand: "nvidia", Arch: "9.0"}}}
	geforce := host.Facts{DriverFound: true, Driver: "550.54.15", CUDA: "12.4", GPUs: []host.GPU{{Index: 0, Name: "NVIDIA GeForce RTX 4090", Brand: "geforce", Arch: "8.9"}}}
	imageEnv := []byte("# Facts\nTORCHIMG_VARIANT='2.9.1-cu128'\nTORCHIMG_REPOSITORY='ghcr.io/acme/pytorch-cuda'\nTORCHIMG_TORCH='2.9.1'\nTORCHIMG_CUDA='12.8'\n" +
		"TORCHIMG_CUDA_TOOLKIT='12.8.1'\nTORCHIMG_DRIVER_MIN='570.124.06'\nTORCHIMG_DRIVER_MIN_COMPAT='525'\nTORCHIMG_CUDA_ARCHS='7.0;7.5;8.0;8.6;9.0;10.0;12.0'\n" +
		"TORCHIMG_ALTERNATIVES='12.6=560.35.05 12.4=550.54.14'\n")

	tests := []struct {
		name    string
		facts   host.Facts
		fs      func() fstest.MapFS
		env     map[string]string
		cache   string
		want    Verdict
		checks  map[string]Status
		texts   []string
		notText []string
	}{
		{
			name: "healthy container", facts: h100Facts, fs: gpuContainer,
			env: map[string]string{"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"}, cache: ldCache,
			want:   Compatible,
			checks: map[string]Status{CheckDriver: OK, CheckGPUs: OK, CheckContainer: OK, CheckMounts: OK, CheckLibraries: OK},
			texts:  []string{"/.dockerenv", "/dev/nvidia0", "/usr/bin/nvidia-smi"},
		},
		{
			name: "second libcudart on LD_LIBRARY_PATH", facts: h100Facts, fs: gpuContainer,
			env: map[string]string{"LD_LIBRARY_PATH": "/usr/local/cuda/lib64:/opt/old/lib"}, cache: ldCache,
			want:   Compatible,
			checks: map[string]Status{CheckLibraries: Warn},
			texts:  []string{"libcudart.so.* in 2 directories", "/usr/local/cuda/lib64", "/opt/old/lib (libcudart.so.11.0, LD_LIBRARY_PATH)"},
		},
		{
			name: "stub libcuda on LD_LIBRARY_PATH", facts: h100Facts, fs: gpuContainer,
			env: map[string]string{"LD_LIBRARY_PATH": "/usr/local/cuda/lib64/stubs"}, cache: ldCache,
			want:   Compatible,
			checks: map[string]Status{CheckLibraries: Warn},
			texts:  []string{"libcuda.so.* in 2 directories", "stub", "remove /usr/local/cuda/lib64/stubs"},
		},
		{
			name: "driver/library version mismatch", facts: func() host.Facts { f := h100Facts; f.Driver = "550.90.07"; return f }(), fs: gpuContainer,
			env: map[string]string{}, cache: ldCache,
			want:   Compatible,
			checks: map[string]Status{CheckDriver: Warn},
			texts:  []string{"550.90.07", "550.54.15", "mismatch"},
		},
		{
			name: "container without the toolkit", facts: host.Facts{Reason: "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)"},
			fs:  func() fstest.MapFS { return fstest.MapFS{"run/.containerenv": {}} },
			env: map[string]string{}, cache: "",
			want:   NotCompatible,
			checks: map[string]Status{CheckDriver: Fail, CheckGPUs: Fail, CheckMounts: Fail},
			texts:  []string{"/run/.containerenv", "--gpus all", "nvidia-ctk", "libnvidia-ml.so.1 not loadable", "libcuda none"},
		},
		{
			name: "bare host without driver", facts: host.Facts{Reason: "no NVIDIA driver found"},
			fs:  func() fstest.MapFS { return fstest.MapFS{"proc/1/cgroup": {Data: []byte("0::/init.scope\n")}} },
			env: map[string]string{}, cache: "",
			want:    NotCompatible,
			checks:  map[string]Status{CheckDriver: Fail, CheckGPUs: Fail},
			texts:   []string{"not inside a container", "install the NVIDIA driver"},
			notText: []string{"nvidia-ctk runtime configure"},
		},
		{
			name: "kubernetes pod, driver loaded but no GPU", facts: host.Facts{DriverFound: true, Driver: "550.54.15", CUDA: "12.4"},
			fs: func() fstest.MapFS {
				f := gpuContainer()
				delete(f, ".dockerenv")
				delete(f, "dev/nvidia0")
				f["proc/1/cgroup"] = &fstest.MapFile{Data: []byte("0::/kubepods/besteffort/pod1234/abc\n")}
				return f
			},
			env: map[string]string{}, cache: ldCache,
			want:   NotCompatible,
			checks: map[string]Status{CheckGPUs: Fail, CheckContainer: OK},
			texts:  []string{"kubepods", "no GPU is visible"},
		},
		{
			name: "inside a torchimg cu128 image on a 550 GeForce", facts: geforce,
			fs: func() fstest.MapFS {
				f := gpuContainer()
				f["etc/torchimg/image.env"] = &fstest.MapFile{Data: imageEnv}
				return f
			},
			env:    drivertest.BaseEnv(db, "12.8.1"),
			cache:  ldCache,
			want:   NotCompatible,
			checks: map[string]Status{CheckImage + " driver": Fail, CheckImage + " arch": OK},
			texts:  []string{"570.124.06", "started although the legacy hook would refuse it", "error 804", "is also built for CUDA 12.4 (driver >= 550.54.14), which run on driver 550.54.15: look for those tags of ghcr.io/acme/pytorch-cuda"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Diagnose(context.Background(), tc.facts, sys(tc.fs(), tc.env, tc.cache), db)
			text := diagText(d)
			if d.Verdict != tc.want {
				t.Errorf("verdict %s, want %s\n%s", d.Verdict, tc.want, text)
			}
			for c, st := range tc.checks {
				if got := item(d, c).Status; got != st {
					t.Errorf("%s: %q, want %q\n%s", c, got, st, text)
				}
			}
			for _, s := range tc.texts {
				if !strings.Contains(text, s) {
					t.Errorf("output lacks %q:\n%s", s, text)
				}
			}
			for _, s := range tc.notText {
				if strings.Contains(text, s) {
					t.Errorf("output has %q:\n%s", s, text)
				}
			}
		})
	}
}

func TestKernelDriverVersion(t *testing.T) {
	for line, want := range map[string]string{
		"NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n":                                       "550.54.15",
		"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16)  Thu Aug 22 2024\n":         "560.35.03",
		"NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  580.95.05  Release Build\nGCC version:  gcc version 12.2.0 (Debian)\n": "580.95.05",
		"nothing here\n": "",
	} {
		sys := System{FS: fstest.MapFS{"proc/driver/nvidia/version": {Data: []byte(line)}}}
		if got := kernelDriverVersion(sys); got != want {
			t.Errorf("%q: got %q, want %q", line, got, want)
		}
	}
}

// No line says a library is there that another line says is missing.
func TestDiagnoseNoContradiction(t *testing.T) {
	db := testDB(t)
	fsys := fstest.MapFS{".dockerenv": {}, "dev/nvidiactl": {}, "usr/local/cuda/lib64/libcudart.so.12": {}}
	d := Diagnose(context.Background(), host.Facts{Reason: "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)"}, sys(fsys, map[string]string{"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"}, ""), db)
	text := diagText(d)
	if !strings.Contains(text, "libcuda.so.1 missing") || strings.Contains(text, "one copy each") || !strings.Contains(text, "libcuda none") || !strings.Contains(text, "libcudart one copy") {
		t.Errorf("contradicting or vague diagnosis:\n%s", text)
	}
}
