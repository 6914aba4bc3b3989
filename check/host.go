package check

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
)

// Host is the machine an image is checked against: facts from NVML, or the
// values of a what-if question.
type Host struct {
	Facts host.Facts
	// WhatIf is true when the facts come from flags, not from NVML. A what-if
	// GPU without a compute capability has its architecture "not checked"; a
	// what-if host without a driver has its driver "cannot tell".
	WhatIf bool
	// CUDADerived is true when Facts.CUDA was derived from the driver version
	// with the compatibility data (driver.CUDAOf) rather than reported by NVML or given.
	CUDADerived bool
	// CUDAAtLeast is true when the derived CUDA is a lower bound (a driver newer than the data).
	CUDAAtLeast bool
	// Runtime is the NVIDIA container runtime's mode the image is judged under (AnyMode: both),
	// and RuntimeSource says where that came from.
	Runtime       driver.Mode
	RuntimeSource string
	// Selected says which GPUs were selected, and by what ("" = all).
	Selected string
}

// WhatIf describes a host by hand: "check --driver 535.104.05 --gpu-cc 7.0".
type WhatIf struct {
	Driver string   // driver version, "535.104.05"; "" unknown
	CUDA   string   // CUDA version the driver supports; "" = derive from Driver
	Brand  string   // NVML brand name of every GPU (tesla, geforce, nvidia...); "" unknown
	CCs    []string // compute capability of each GPU ("7.0"); none = architecture not checked
	// Runtime is the container runtime's mode: "legacy", "cdi" (also "jit-cdi"), or "" for both.
	Runtime string
}

// ParseRuntime reads a runtime mode as --runtime or the toolkit's config.toml spells it.
func ParseRuntime(s string) (driver.Mode, error) {
	switch strings.ToLower(s) {
	case "":
		return driver.AnyMode, nil
	case "legacy":
		return driver.Legacy, nil
	case "cdi", "jit-cdi":
		return driver.CDI, nil
	}
	return driver.AnyMode, fmt.Errorf("--runtime %q: valid modes are legacy (the prestart hook: docker run --gpus, nvidia-container-runtime mode legacy) and cdi (cdi or jit-cdi, the default of nvidia-container-toolkit >= 1.18)", s)
}

// Brands are the brand names WhatIf accepts (gpu/host's lower-case NVML brands).
var Brands = []string{"tesla", "quadro", "nvs", "grid", "geforce", "titan", "nvidia", "nvidiartx",
	"quadrortx", "geforcertx", "titanrtx", "vapps", "vpc", "vcs", "vws", "cloudgaming", "unknown"}

// Host builds the host. The CUDA version, when not given, is derived from the
// driver with db (driver.CUDAOf).
func (w WhatIf) Host(db *compat.DB) (Host, error) {
	h := Host{WhatIf: true, Facts: host.Facts{DriverFound: true}}
	if w.Driver != "" {
		if !version.Valid(w.Driver) {
			return h, fmt.Errorf("--driver %q: want a driver version such as 535.104.05 or 570.124.06", w.Driver)
		}
		h.Facts.Driver = w.Driver
	}
	switch {
	case w.CUDA != "":
		if !version.Valid(w.CUDA) {
			return h, fmt.Errorf("--cuda %q: want the CUDA version the driver supports, such as 12.2 (nvidia-smi shows it as \"CUDA Version\")", w.CUDA)
		}
		h.Facts.CUDA = version.MajorMinor(w.CUDA)
	case w.Driver != "":
		if c, atLeast, ok := driver.CUDAOf(db, w.Driver); ok {
			h.Facts.CUDA, h.CUDADerived, h.CUDAAtLeast = c, true, atLeast
		}
	}
	mode, err := ParseRuntime(w.Runtime)
	if err != nil {
		return h, err
	}
	h.Runtime = mode
	if mode != driver.AnyMode {
		h.RuntimeSource = "--runtime"
	}
	brand := strings.ToLower(w.Brand)
	if brand != "" && !slices.Contains(Brands, brand) {
		return h, fmt.Errorf("--brand %q: valid brands are %s", w.Brand, strings.Join(Brands, ", "))
	}
	for i, cc := range w.CCs {
		mj, mn, err := arch.ParseCC(cc)
		if err != nil {
			return h, fmt.Errorf("--gpu-cc: %w", err)
		}
		h.Facts.GPUs = append(h.Facts.GPUs, host.GPU{Index: i, Brand: brand, Arch: fmt.Sprintf("%d.%d", mj, mn)})
	}
	if len(w.CCs) == 0 && brand != "" {
		// One GPU of unknown architecture carries the brand for brand= conditions.
		h.Facts.GPUs = []host.GPU{{Index: 0, Brand: brand}}
	}
	return h, nil
}

// DriverHost is the host as the driver rule sees it: the driver, its CUDA version and every
// visible GPU's brand and architecture.
func (h Host) DriverHost() driver.Host {
	rh := h.Facts.RequireHost()
	if h.WhatIf {
		rh.CUDA, rh.Driver = h.Facts.CUDA, h.Facts.Driver
	}
	return driver.Host{Driver: rh.Driver, CUDA: rh.CUDA, CUDAAtLeast: h.CUDAAtLeast, HookCUDA: h.Facts.HookCUDA, Devices: rh.Devices, WhatIf: h.WhatIf, Mode: h.Runtime}
}

// HostSummary is the host part of a Result.
type HostSummary struct {
	Source      string `json:"source"` // "nvml" or "what-if"
	DriverFound bool   `json:"driver_found"`
	Reason      string `json:"reason,omitempty"`
	Driver      string `json:"driver,omitempty"`
	CUDA        string `json:"cuda,omitempty"`
	CUDADerived bool   `json:"cuda_derived,omitempty"`
	CUDAAtLeast bool   `json:"cuda_at_least,omitempty"`
	// Runtime is the container runtime mode judged: "legacy", "cdi", or "" for both.
	Runtime       string       `json:"runtime,omitempty"`
	RuntimeSource string       `json:"runtime_source,omitempty"`
	Selected      string       `json:"gpus_selected,omitempty"`
	GPUs          []GPUSummary `json:"gpus"`
}

// GPUSummary is one GPU of a HostSummary.
type GPUSummary struct {
	Index int    `json:"index"`
	Name  string `json:"name,omitempty"`
	Brand string `json:"brand,omitempty"`
	Arch  string `json:"compute_capability,omitempty"`
}

// Summary describes the host for output.
func (h Host) Summary() HostSummary {
	s := HostSummary{Source: "nvml", DriverFound: h.Facts.DriverFound, Reason: h.Facts.Reason, Driver: h.Facts.Driver,
		CUDA: h.Facts.CUDA, CUDADerived: h.CUDADerived, CUDAAtLeast: h.CUDAAtLeast, Runtime: string(h.Runtime),
		RuntimeSource: h.RuntimeSource, Selected: h.Selected, GPUs: []GPUSummary{}}
	if h.WhatIf {
		s.Source = "what-if"
	}
	for _, g := range h.Facts.GPUs {
		s.GPUs = append(s.GPUs, GPUSummary{Index: g.Index, Name: g.Name, Brand: g.Brand, Arch: g.Arch})
	}
	return s
}

// String is a one-line description: "driver 550.54.15 (CUDA 12.4), 1 GPU: GPU 0 NVIDIA H100 (9.0, nvidia)".
func (h Host) String() string {
	f := h.Facts
	var b strings.Builder
	if h.WhatIf {
		b.WriteString("what-if: ")
	}
	if !h.WhatIf && !f.DriverFound {
		if f.Reason != "" {
			return f.Reason
		}
		return "no NVIDIA driver found"
	}
	switch {
	case f.Driver != "":
		b.WriteString("driver " + f.Driver)
	default:
		b.WriteString("driver not given")
	}
	switch {
	case f.CUDA != "" && h.CUDADerived:
		fmt.Fprintf(&b, " (CUDA %s, derived from the driver version with torchimg's compatibility data)", f.CUDA)
	case f.CUDA != "":
		fmt.Fprintf(&b, " (CUDA %s)", f.CUDA)
	case f.Driver != "":
		b.WriteString(" (CUDA version unknown)")
	}
	gpus := 0
	var parts []string
	for _, g := range f.GPUs {
		if g.Arch == "" && h.WhatIf {
			continue
		}
		gpus++
		parts = append(parts, gpuLabel(g, true))
	}
	switch {
	case gpus == 0 && h.WhatIf:
		b.WriteString(", GPU not given")
	case gpus == 0:
		b.WriteString(", no GPU visible")
	default:
		fmt.Fprintf(&b, ", %d GPU%s: %s", gpus, plural(gpus), strings.Join(parts, "; "))
	}
	if h.WhatIf && len(f.GPUs) > 0 && f.GPUs[0].Brand != "" {
		fmt.Fprintf(&b, ", brand %s", f.GPUs[0].Brand)
	}
	if f.CUDA != "" && h.CUDAAtLeast {
		b.WriteString(" (the CUDA version is a lower bound: the driver is newer than torchimg's data)")
	}
	if h.Selected != "" {
		b.WriteString("; " + h.Selected)
	}
	switch {
	case h.Runtime != "":
		fmt.Fprintf(&b, "; runtime mode %s (%s)", h.Runtime, h.RuntimeSource)
	case h.RuntimeSource != "":
		fmt.Fprintf(&b, "; runtime mode: both judged (%s)", h.RuntimeSource)
	default:
		b.WriteString("; runtime mode: both judged (give --runtime legacy or cdi)")
	}
	return b.String()
}

// gpuLabel names a GPU: "GPU 0 (NVIDIA H100 80GB HBM3, compute capability 9.0)".
func gpuLabel(g host.GPU, withBrand bool) string {
	var in []string
	if g.Name != "" {
		in = append(in, g.Name)
	}
	if g.Arch != "" {
		in = append(in, "compute capability "+g.Arch)
	}
	if withBrand && g.Brand != "" && g.Name != "" {
		in = append(in, "brand "+g.Brand)
	}
	s := "GPU " + strconv.Itoa(g.Index)
	if len(in) > 0 {
		s += " (" + strings.Join(in, ", ") + ")"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
