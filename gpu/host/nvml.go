//go:build cgo

package host

import (
	"context"
	"fmt"
	"strconv"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVML returns a Source that reads the real NVML library
// (libnvidia-ml.so.1, opened when Facts is called).
func NVML() Source { return FromNVML(nvml.New()) }

// FromNVML returns a Source over lib (the real library or a go-nvml mock).
// Each Facts call initialises lib once and shuts it down afterwards. When Init
// fails nothing else is called, not even Shutdown: go-nvml kills the process
// on any call into a library that did not load.
func FromNVML(lib nvml.Interface) Source { return nvmlSource{lib} }

type nvmlSource struct{ lib nvml.Interface }

func (s nvmlSource) Facts(ctx context.Context) (f Facts, err error) {
	if err := ctx.Err(); err != nil {
		return Facts{}, err
	}
	if ret := s.lib.Init(); ret != nvml.SUCCESS {
		return Facts{Reason: initFailure(ret)}, nil
	}
	defer func() {
		if ret := s.lib.Shutdown(); ret != nvml.SUCCESS && err == nil {
			err = fmt.Errorf("nvml: Shutdown: %v", ret)
		}
	}()

	drv, ret := s.lib.SystemGetDriverVersion()
	if ret != nvml.SUCCESS {
		return Facts{}, fmt.Errorf("nvml: SystemGetDriverVersion: %v", ret)
	}
	cuda, ret := s.lib.SystemGetCudaDriverVersion()
	if ret != nvml.SUCCESS {
		return Facts{}, fmt.Errorf("nvml: SystemGetCudaDriverVersion: %v", ret)
	}
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return Facts{}, fmt.Errorf("nvml: DeviceGetCount: %v", ret)
	}
	f = Facts{DriverFound: true, Driver: drv, CUDA: CUDAVersion(cuda)}
	if hook := HookCUDAVersion(cuda); hook != f.CUDA {
		f.HookCUDA = hook
	}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return Facts{}, err
		}
		g, err := readGPU(s.lib, i)
		if err != nil {
			return Facts{}, err
		}
		f.GPUs = append(f.GPUs, g)
	}
	return f, nil
}

func readGPU(lib nvml.Interface, i int) (GPU, error) {
	fail := func(call string, ret nvml.Return) (GPU, error) {
		return GPU{}, fmt.Errorf("nvml: GPU %d: %s: %v", i, call, ret)
	}
	dev, ret := lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return fail("DeviceGetHandleByIndex", ret)
	}
	g := GPU{Index: i}
	if g.Name, ret = dev.GetName(); ret != nvml.SUCCESS {
		return fail("GetName", ret)
	}
	if g.UUID, ret = dev.GetUUID(); ret != nvml.SUCCESS {
		return fail("GetUUID", ret)
	}
	brand, ret := dev.GetBrand()
	if ret != nvml.SUCCESS {
		return fail("GetBrand", ret)
	}
	g.Brand = BrandName(brand)
	major, minor, ret := dev.GetCudaComputeCapability()
	if ret != nvml.SUCCESS {
		return fail("GetCudaComputeCapability", ret)
	}
	g.Arch = strconv.Itoa(major) + "." + strconv.Itoa(minor)
	mem, ret := dev.GetMemoryInfo()
	switch ret {
	case nvml.SUCCESS:
		g.MemoryMiB = mem.Total / (1024 * 1024)
	case nvml.ERROR_NOT_SUPPORTED:
		// some integrated / virtual devices: leave 0
	default:
		return fail("GetMemoryInfo", ret)
	}
	return g, nil
}

// initFailure turns a failed nvml.Init into the Facts.Reason text.
func initFailure(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "NVIDIA driver library found but the kernel driver is not loaded (NVML: ERROR_DRIVER_NOT_LOADED)"
	case nvml.ERROR_NO_PERMISSION:
		return "no permission to use the NVIDIA driver (NVML: ERROR_NO_PERMISSION)"
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		return "NVIDIA driver library and kernel module versions differ; reboot or reload the driver (NVML: ERROR_LIB_RM_VERSION_MISMATCH)"
	}
	return fmt.Sprintf("NVML initialisation failed: %v", ret)
}

// BrandName returns the lower-case name used in brand= conditions of the
// nvidia/cuda images for an NVML brand. Note that libnvidia-container itself
// only distinguishes tesla, quadro, nvs, grid, geforce and titan and sees all
// other brands as "unknown" (see require.RuntimeBrand).
func BrandName(b nvml.BrandType) string {
	switch b {
	case nvml.BRAND_QUADRO:
		return "quadro"
	case nvml.BRAND_TESLA:
		return "tesla"
	case nvml.BRAND_NVS:
		return "nvs"
	case nvml.BRAND_GRID:
		return "grid"
	case nvml.BRAND_GEFORCE:
		return "geforce"
	case nvml.BRAND_TITAN:
		return "titan"
	case nvml.BRAND_NVIDIA_VAPPS:
		return "vapps"
	case nvml.BRAND_NVIDIA_VPC:
		return "vpc"
	case nvml.BRAND_NVIDIA_VCS:
		return "vcs"
	case nvml.BRAND_NVIDIA_VWS:
		return "vws"
	case nvml.BRAND_NVIDIA_CLOUD_GAMING: // == BRAND_NVIDIA_VGAMING
		return "cloudgaming"
	case nvml.BRAND_QUADRO_RTX:
		return "quadrortx"
	case nvml.BRAND_NVIDIA_RTX:
		return "nvidiartx"
	case nvml.BRAND_NVIDIA:
		return "nvidia"
	case nvml.BRAND_GEFORCE_RTX:
		return "geforcertx"
	case nvml.BRAND_TITAN_RTX:
		return "titanrtx"
	}
	// BRAND_UNKNOWN and the brands no image names (NVIDIA_DLA, NVIDIA_VGAMEDEV,
	// NVIDIA_NPU, later additions).
	return "unknown"
}
