//go:build cgo

package host

import (
	"context"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/torchimg/torchimg/gpu/require"
)

// GPUs the go-nvml mock presets lack (they only have A100, A30, H100, H200, B200).
var (
	v100 = gpus.Config{Name: "Tesla V100-SXM2-16GB", Architecture: nvml.DEVICE_ARCH_VOLTA, Brand: nvml.BRAND_TESLA, MemoryMB: 16384, CudaMajor: 7, CudaMinor: 0, PciDeviceId: 0x1DB110DE}
	// Blackwell consumer card, compute capability 12.0 (sm_120). Real GeForce
	// RTX boards report NVML_BRAND_GEFORCE (BRAND_GEFORCE_RTX is unused).
	rtx5090 = gpus.Config{Name: "NVIDIA GeForce RTX 5090", Architecture: nvml.DEVICE_ARCH_BLACKWELL, Brand: nvml.BRAND_GEFORCE, MemoryMB: 32607, CudaMajor: 12, CudaMinor: 0, PciDeviceId: 0x2B8510DE}
)

func newServer(t *testing.T, driver string, cuda int, g ...gpus.Config) *server.Server {
	t.Helper()
	s, err := server.New(server.WithGPUs(g...), server.WithDriverVersion(driver), server.WithCUDADriverVersion(cuda))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The 12.8.1 nvidia/cuda base image requirement (compat-facts.md §3d).
func req1281() string {
	parts := []string{"cuda>=12.8"}
	for _, br := range []string{"470", "535", "550", "560", "565"} {
		next := map[string]string{"470": "471", "535": "536", "550": "551", "560": "561", "565": "566"}[br]
		for _, b := range []string{"unknown", "grid", "tesla", "nvidia", "quadro", "quadrortx", "nvidiartx", "vapps", "vpc", "vcs", "vws", "cloudgaming"} {
			parts = append(parts, "brand="+b+",driver>="+br+",driver<"+next)
		}
	}
	return strings.Join(parts, " ")
}

func TestNVMLSources(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lib       nvml.Interface
		driver    string
		cuda      string
		n         int
		gpu0      GPU // UUID not compared
		reqs      []string
		satisfied bool
	}{
		{"dgxh100", dgxh100.New(), "550.54.15", "12.4", 8,
			GPU{Index: 0, Name: "NVIDIA H100 80GB HBM3", Brand: "nvidia", Arch: "9.0", MemoryMiB: 81920},
			// H100 is NVML brand NVIDIA, "unknown" to libnvidia-container: the 550 branch clause holds.
			[]string{req1281()}, true},
		{"old driver 525", newServer(t, "525.147.05", 12000, gpus.A100_SXM4_80GB), "525.147.05", "12.0", 1,
			GPU{Index: 0, Name: "NVIDIA A100-SXM4-80GB", Brand: "nvidia", Arch: "8.0", MemoryMiB: 81920},
			[]string{req1281()}, false},
		{"V100", newServer(t, "535.183.01", 12020, v100, v100), "535.183.01", "12.2", 2,
			GPU{Index: 0, Name: "Tesla V100-SXM2-16GB", Brand: "tesla", Arch: "7.0", MemoryMiB: 16384},
			[]string{"arch>=7.5"}, false},
		{"Blackwell sm_120 on 570", newServer(t, "570.124.06", 12080, rtx5090), "570.124.06", "12.8", 1,
			GPU{Index: 0, Name: "NVIDIA GeForce RTX 5090", Brand: "geforce", Arch: "12.0", MemoryMiB: 32607},
			[]string{req1281(), "arch>=7.5"}, true},
		{"Blackwell sm_120 on 565", newServer(t, "565.57.01", 12070, rtx5090), "565.57.01", "12.7", 1,
			GPU{Index: 0, Name: "NVIDIA GeForce RTX 5090", Brand: "geforce", Arch: "12.0", MemoryMiB: 32607},
			[]string{req1281()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := FromNVML(tc.lib).Facts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !f.DriverFound || f.Reason != "" || f.Driver != tc.driver || f.CUDA != tc.cuda || len(f.GPUs) != tc.n {
				t.Fatalf("Facts = %+v", f)
			}
			for i, g := range f.GPUs {
				if g.Index != i || !strings.HasPrefix(g.UUID, "GPU-") {
					t.Errorf("GPU %d: %+v", i, g)
				}
			}
			g := f.GPUs[0]
			g.UUID = ""
			if g != tc.gpu0 {
				t.Errorf("GPU 0 = %+v, want %+v", g, tc.gpu0)
			}
			res := require.Evaluate(tc.reqs, f.RequireHost())
			if res.Satisfied != tc.satisfied {
				t.Errorf("Evaluate satisfied = %v, want %v: %+v", res.Satisfied, tc.satisfied, res.Failed)
			}
			if !res.Satisfied && len(res.Failed) != tc.n {
				t.Errorf("%d failures, want one per GPU (%d)", len(res.Failed), tc.n)
			}
		})
	}
}

func TestInitFailureCallsNothingElse(t *testing.T) {
	for ret, reason := range map[nvml.Return]string{
		nvml.ERROR_LIBRARY_NOT_FOUND: "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)",
		nvml.ERROR_DRIVER_NOT_LOADED: "NVIDIA driver library found but the kernel driver is not loaded (NVML: ERROR_DRIVER_NOT_LOADED)",
		nvml.ERROR_UNKNOWN:           "NVML initialisation failed: ERROR_UNKNOWN",
	} {
		fatal := func(name string) { t.Helper(); t.Fatalf("%s called after a failed Init", name) }
		m := &mock.Interface{
			InitFunc:                       func() nvml.Return { return ret },
			ShutdownFunc:                   func() nvml.Return { fatal("Shutdown"); return nvml.SUCCESS },
			SystemGetDriverVersionFunc:     func() (string, nvml.Return) { fatal("SystemGetDriverVersion"); return "", nvml.SUCCESS },
			SystemGetCudaDriverVersionFunc: func() (int, nvml.Return) { fatal("SystemGetCudaDriverVersion"); return 0, nvml.SUCCESS },
			DeviceGetCountFunc:             func() (int, nvml.Return) { fatal("DeviceGetCount"); return 0, nvml.SUCCESS },
			DeviceGetHandleByIndexFunc:     func(int) (nvml.Device, nvml.Return) { fatal("DeviceGetHandleByIndex"); return nil, nvml.SUCCESS },
		}
		f, err := FromNVML(m).Facts(context.Background())
		if err != nil {
			t.Fatalf("%v: err = %v; no driver is a Facts state, not an error", ret, err)
		}
		if f.DriverFound || f.Reason != reason || f.Driver != "" || len(f.GPUs) != 0 {
			t.Errorf("%v: Facts = %+v", ret, f)
		}
		if n := len(m.InitCalls()); n != 1 {
			t.Errorf("Init called %d times", n)
		}
		if len(m.ShutdownCalls())+len(m.SystemGetDriverVersionCalls())+len(m.DeviceGetCountCalls()) != 0 {
			t.Error("calls after failed Init")
		}
	}
}

func TestErrorAfterInitShutsDown(t *testing.T) {
	s := dgxh100.New()
	s.DeviceGetCountFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_GPU_IS_LOST }
	shutdowns := 0
	s.ShutdownFunc = func() nvml.Return { shutdowns++; return nvml.SUCCESS }
	_, err := FromNVML(s).Facts(context.Background())
	if err == nil || !strings.Contains(err.Error(), "DeviceGetCount: ERROR_GPU_IS_LOST") {
		t.Fatalf("err = %v", err)
	}
	if shutdowns != 1 {
		t.Errorf("Shutdown called %d times, want 1", shutdowns)
	}

	// A device that fails mid-way: error names the GPU.
	s = dgxh100.New()
	d := s.Devices[3].(*server.Device)
	d.GetCudaComputeCapabilityFunc = func() (int, int, nvml.Return) { return 0, 0, nvml.ERROR_UNKNOWN }
	if _, err := FromNVML(s).Facts(context.Background()); err == nil || !strings.Contains(err.Error(), "GPU 3: GetCudaComputeCapability") {
		t.Errorf("err = %v", err)
	}

	// Memory not supported is not an error.
	s = dgxh100.New()
	s.Devices[0].(*server.Device).GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) { return nvml.Memory{}, nvml.ERROR_NOT_SUPPORTED }
	f, err := FromNVML(s).Facts(context.Background())
	if err != nil || f.GPUs[0].MemoryMiB != 0 || f.GPUs[1].MemoryMiB != 81920 {
		t.Errorf("Facts = %+v, %v", f.GPUs[:2], err)
	}
}

func TestCancelledContextCallsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := &mock.Interface{} // any call panics
	if _, err := FromNVML(m).Facts(ctx); err == nil {
		t.Error("no error")
	}
}

func TestBrandName(t *testing.T) {
	want := map[nvml.BrandType]string{
		nvml.BRAND_UNKNOWN: "unknown", nvml.BRAND_QUADRO: "quadro", nvml.BRAND_TESLA: "tesla", nvml.BRAND_NVS: "nvs",
		nvml.BRAND_GRID: "grid", nvml.BRAND_GEFORCE: "geforce", nvml.BRAND_TITAN: "titan", nvml.BRAND_NVIDIA_VAPPS: "vapps",
		nvml.BRAND_NVIDIA_VPC: "vpc", nvml.BRAND_NVIDIA_VCS: "vcs", nvml.BRAND_NVIDIA_VWS: "vws",
		nvml.BRAND_NVIDIA_CLOUD_GAMING: "cloudgaming", nvml.BRAND_QUADRO_RTX: "quadrortx", nvml.BRAND_NVIDIA_RTX: "nvidiartx",
		nvml.BRAND_NVIDIA: "nvidia", nvml.BRAND_GEFORCE_RTX: "geforcertx", nvml.BRAND_TITAN_RTX: "titanrtx",
		nvml.BRAND_NVIDIA_DLA: "unknown", nvml.BRAND_NVIDIA_VGAMEDEV: "unknown", nvml.BRAND_NVIDIA_NPU: "unknown", nvml.BRAND_COUNT: "unknown",
	}
	for b, w := range want {
		if got := BrandName(b); got != w {
			t.Errorf("BrandName(%d) = %q, want %q", b, got, w)
		}
	}
	if BrandName(nvml.BRAND_NVIDIA_VGAMING) != "cloudgaming" {
		t.Error("VGAMING")
	}
}

// The real library on this machine: without a GPU driver Init fails and
// nothing else may be called; with one, facts must come back.
func TestRealNVML(t *testing.T) {
	f, err := NVML().Facts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("real NVML: %+v", f)
	if !f.DriverFound {
		if f.Reason == "" {
			t.Error("no driver and no reason given")
		}
		return
	}
	if f.Reason != "" || f.Driver == "" || f.CUDA == "" || len(f.GPUs) == 0 {
		t.Errorf("a driver was found, so its version, CUDA version and GPUs must come back: %+v", f)
	}
	for _, g := range f.GPUs {
		if g.Name == "" || g.Arch == "" || g.Brand == "" {
			t.Errorf("GPU %d: name, compute capability and brand must come back: %+v", g.Index, g)
		}
	}
}
