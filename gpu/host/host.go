// Package host reads the facts about the local NVIDIA driver and GPUs that
// decide whether a CUDA image can run here: the driver version, the CUDA
// version the driver supports, and each GPU's name, brand and compute
// capability. The facts come from NVML (go-nvml, which needs cgo; without cgo
// the NVML source reports "unavailable"); what-if questions give their own Facts.
package host

import (
	"context"
	"strconv"

	"github.com/torchimg/torchimg/gpu/require"
)

// GPU is one visible GPU.
type GPU struct {
	Index     int
	Name      string // "NVIDIA H100 80GB HBM3"
	UUID      string
	Brand     string // lower-case NVML brand: tesla, quadro, nvs, grid, geforce, titan, nvidia, nvidiartx, quadrortx, geforcertx, titanrtx, vapps, vpc, vcs, vws, cloudgaming, unknown
	Arch      string // compute capability "9.0"
	MemoryMiB uint64 // 0 when NVML does not report it
}

// Facts describe the host. When DriverFound is false only Reason is set.
type Facts struct {
	DriverFound bool
	// Unavailable means the host could not be read at all (a build without cgo), which says
	// nothing about whether a driver is there.
	Unavailable bool
	Reason      string // why no driver facts, e.g. "no NVIDIA driver found (libnvidia-ml.so.1 not loadable)"
	Driver      string // "550.54.15"
	CUDA        string // CUDA version the driver supports, "12.4" (from 12040)
	// HookCUDA is the CUDA version libnvidia-container's legacy hook compares cuda>= with, when
	// it differs from CUDA (a minor of 10 or more: see HookCUDAVersion); "" = the same.
	HookCUDA string
	GPUs     []GPU
}

// Source produces host facts.
type Source interface {
	// Facts reads the facts. A missing or unusable driver is a Facts state
	// (DriverFound=false with a Reason), not an error; an error means a real
	// failure after the driver library was initialised.
	Facts(ctx context.Context) (Facts, error)
}

// RequireHost converts the facts to the requirement evaluator's model. Facts
// without a driver give an empty Host, on which every requirement holds
// (unknown values pass), so check DriverFound first.
func (f Facts) RequireHost() require.Host {
	if !f.DriverFound {
		return require.Host{}
	}
	h := require.Host{CUDA: f.CUDA, Driver: f.Driver}
	for _, g := range f.GPUs {
		h.Devices = append(h.Devices, require.Device{Name: g.Name, Brand: g.Brand, Arch: g.Arch})
	}
	return h
}

// CUDAVersion formats nvmlSystemGetCudaDriverVersion's integer (1000*major + 10*minor) as
// nvidia-smi shows it: 12040 -> "12.4", 12080 -> "12.8", 12100 -> "12.10".
func CUDAVersion(v int) string {
	return strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
}

// HookCUDAVersion is the same integer as libnvidia-container formats it for cuda>= conditions
// (src/driver.c: minor = version % 100 / 10), which reads a minor of 10 or more wrongly:
// 12100 -> "12.0".
func HookCUDAVersion(v int) string {
	return strconv.Itoa(v/1000) + "." + strconv.Itoa(v%100/10)
}
