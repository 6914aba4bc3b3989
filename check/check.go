// Package check answers "will this image run on this driver and these GPUs?"
// before anyone pulls it: it reads what an image says about itself (torchimg
// labels, NVIDIA_REQUIRE_* / CUDA_VERSION in its environment) and judges it
// against host facts from NVML or a what-if description, the way the NVIDIA
// container stack and CUDA binary compatibility would. It also diagnoses a
// host (or the container it runs in) without an image, and finds the tags of
// a repository that would run on the host.
package check

import (
	"fmt"
	"strings"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/report"
)

// Verdict is the answer to "will this image run here?".
type Verdict string

// Verdicts. The command maps them to exit codes 0, 3 and 4.
const (
	Compatible    Verdict = "compatible"
	NotCompatible Verdict = "not-compatible"
	CannotTell    Verdict = "cannot-tell"
)

// Status is the outcome of one part of a check: gpu/driver's vocabulary, and NotChecked.
type Status = driver.Status

// Statuses. Fail makes the verdict NotCompatible, Unknown makes it CannotTell
// (unless something fails); OK, Warn and NotChecked leave it Compatible.
const (
	OK         = driver.OK
	Warn       = driver.Warn
	Fail       = driver.Fail
	Unknown    = driver.Unknown
	NotChecked = Status("not-checked")
)

// Parts of an image check.
const (
	PartImage  = "image"  // what the image states about itself
	PartGPU    = "gpu"    // a driver and a GPU are visible
	PartDriver = "driver" // the image's NVIDIA_REQUIRE_* against the driver (and brand)
	PartArch   = "arch"   // the image's GPU architectures against each GPU's compute capability
)

// Reason is the outcome of one part, in words.
type Reason struct {
	Part    string `json:"part"`
	Status  Status `json:"status"`
	Message string `json:"message"`
}

// Result is the answer for one image on one host.
type Result struct {
	Verdict     Verdict      `json:"verdict"`
	Image       ImageSummary `json:"image"`
	Host        HostSummary  `json:"host"`
	Reasons     []Reason     `json:"reasons"`
	Advice      []string     `json:"advice"`
	Suggestions []Suggestion `json:"suggestions"`
	// PTXJIT is true when some GPU runs the image only through PTX JIT.
	PTXJIT bool `json:"ptx_jit,omitempty"`
	// CPU is true for a CPU image (torch's CPU wheels): compatible with every host, and using no
	// GPU on any (matrix.CPUImage).
	CPU bool `json:"cpu,omitempty"`
}

// ImageSummary is what the check read from the image.
type ImageSummary struct {
	Ref          string   `json:"ref"`
	Digest       string   `json:"digest,omitempty"`
	Torchimg     bool     `json:"torchimg"`
	Torch        string   `json:"torch,omitempty"`
	TorchVariant string   `json:"torch_variant,omitempty"`
	CUDA         string   `json:"cuda,omitempty"`
	DriverMin    string   `json:"driver_min,omitempty"`
	DriverMinSrc string   `json:"driver_min_source,omitempty"`
	DriverCompat string   `json:"driver_min_compat,omitempty"`
	Archs        string   `json:"cuda_archs,omitempty"`
	Requirements []string `json:"requirements,omitempty"`
	Labels       []string `json:"labels,omitempty"` // label names, for an image torchimg did not build
}

// image is what Evaluate needs from an image, with where each value came from.
type image struct {
	info     *report.Info
	torch    string
	variant  string
	need     driver.Image // what it needs from the driver (CUDA, minimum driver, requirements)
	archs    string
	archsSrc string
}

func readImage(info *report.Info, db *compat.DB) image {
	im := image{info: info}
	label := func(short string) string {
		if info.Prefix == "" {
			return ""
		}
		return info.Label(short)
	}
	im.torch = label(matrix.LabelTorchVersion)
	if im.torch == "" {
		im.torch = info.Env["PYTORCH_VERSION"]
	}
	im.variant = label(matrix.LabelTorchVariant)
	im.need = driver.ImageOf(info.Labels, info.Prefix, info.Env, db)
	prefix := info.Prefix
	if prefix == "" {
		prefix = "io.torchimg"
	}
	if v := label(matrix.LabelCUDAArchs); v != "" {
		im.archs, im.archsSrc = v, "label "+prefix+"."+matrix.LabelCUDAArchs
	} else if v := info.Env["TORCH_CUDA_ARCH_LIST"]; v != "" {
		im.archs, im.archsSrc = v, "env TORCH_CUDA_ARCH_LIST"
	}
	return im
}

func (im image) summary() ImageSummary {
	s := ImageSummary{Ref: im.info.Ref, Digest: im.info.Digest, Torchimg: im.info.Torchimg(), Torch: im.torch,
		TorchVariant: im.variant, CUDA: im.need.CUDA, DriverMin: im.need.Min, DriverMinSrc: im.need.MinSource,
		DriverCompat: im.need.CompatFloor, Archs: im.archs, Requirements: im.need.Requirements}
	if !s.Torchimg {
		s.Labels = sortedKeys(im.info.Labels)
	}
	return s
}

// Evaluate judges one image on one host. db is the compatibility data
// (compat.Default()); it fills in a minimum driver when the image has no
// label for it.
func Evaluate(info *report.Info, h Host, db *compat.DB) *Result {
	im := readImage(info, db)
	r := &Result{Image: im.summary(), Host: h.Summary(), Advice: []string{}, Suggestions: []Suggestion{}}
	add := r.add

	if matrix.CPUImage(info.Labels, info.Prefix) {
		r.cpuImage(im)
		return r
	}

	if !info.Torchimg() {
		labels := "no labels"
		if keys := sortedKeys(info.Labels); len(keys) > 0 {
			labels = "labels " + strings.Join(keys, ", ")
		}
		if len(im.need.Requirements) == 0 && im.need.Err == nil && !im.need.Disabled && im.archs == "" {
			add(PartImage, Unknown, "not built by torchimg (no <prefix>.schema-version label) and it states no CUDA requirement (no NVIDIA_REQUIRE_CUDA or CUDA_VERSION in its environment): nothing to evaluate; it has %s", labels)
		} else {
			add(PartImage, OK, "not built by torchimg; judged from its environment (%s); it has %s", envSummary(info.Env), labels)
		}
	}

	// A driver and GPUs visible?
	gpuOK := true
	if !h.WhatIf {
		switch {
		case h.Facts.Unavailable:
			add(PartGPU, Unknown, "cannot read this host's driver and GPUs: %s; describe the host with --driver and --gpu-cc instead", h.Facts.Reason)
			gpuOK = false
		case !h.Facts.DriverFound:
			msg := h.Facts.Reason
			if msg == "" {
				msg = "no NVIDIA driver found"
			}
			add(PartGPU, Fail, "%s", msg)
			r.advise("install the NVIDIA driver%s, then check that nvidia-smi lists the GPU; inside a container, run it with the GPU passed in (docker run --gpus all, or --device nvidia.com/gpu=all with CDI)", atLeast(im))
			gpuOK = false
		case len(h.Facts.GPUs) == 0:
			add(PartGPU, Fail, "driver %s is loaded but no GPU is visible (NVML counts 0 devices)", h.Facts.Driver)
			r.advise("check nvidia-smi and NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES; inside a container, pass the GPU in (docker run --gpus all, or --device nvidia.com/gpu=all with CDI)")
		default:
			parts := make([]string, len(h.Facts.GPUs))
			for i, g := range h.Facts.GPUs {
				parts[i] = gpuLabel(g, false)
			}
			add(PartGPU, OK, "%d GPU%s visible: %s", len(h.Facts.GPUs), plural(len(h.Facts.GPUs)), strings.Join(parts, "; "))
		}
	}

	if gpuOK {
		j := driver.Judge(im.need, h.DriverHost())
		for _, l := range j.Lines {
			r.add(PartDriver, l.Status, "%s", l.Message)
		}
		for _, a := range j.Advice {
			r.advise("%s", a)
		}
		r.checkArch(im, h, db)
	} else {
		add(PartDriver, NotChecked, "no driver to check")
		add(PartArch, NotChecked, "no GPU to check")
	}
	r.Verdict = verdictOf(r.Reasons)
	return r
}

// cpuImage is the verdict on a CPU image: it needs no driver and no GPU, so the host does not
// matter. Only an NVIDIA_REQUIRE_* it carries anyway (a base that set it) is worth a warning: a
// legacy-hook runtime evaluates it when a GPU is passed in.
func (r *Result) cpuImage(im image) {
	r.CPU = true
	prefix := im.info.Prefix
	why := "label " + prefix + "." + matrix.LabelTorchVariant + " " + compat.CPU
	if v := im.info.Label(matrix.LabelTorchVariant); v != compat.CPU {
		why = "no " + prefix + "." + matrix.LabelTorchCUDA + " label"
	}
	torch := ""
	if im.torch != "" {
		torch = "torch " + im.torch + ", "
	}
	r.add(PartImage, OK, "CPU image: runs anywhere, uses no GPU (%s%s); no driver or GPU is needed", torch, why)
	if len(im.need.Requirements) > 0 {
		r.add(PartDriver, Warn, "the image still sets %s: with a GPU passed in (docker run --gpus), a legacy-hook runtime evaluates it and may refuse to start the container on an older driver; run it without --gpus", strings.Join(im.need.Requirements, " "))
	}
	r.Verdict = verdictOf(r.Reasons)
}

func (r *Result) add(part string, st Status, format string, args ...any) {
	r.Reasons = append(r.Reasons, Reason{Part: part, Status: st, Message: fmt.Sprintf(format, args...)})
}

func (r *Result) advise(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, a := range r.Advice {
		if a == s {
			return
		}
	}
	r.Advice = append(r.Advice, s)
}

func verdictOf(rs []Reason) Verdict {
	v := Compatible
	for _, x := range rs {
		switch x.Status {
		case Fail:
			return NotCompatible
		case Unknown:
			v = CannotTell
		}
	}
	return v
}

func atLeast(im image) string {
	if im.need.Min == "" {
		return ""
	}
	return " (>= " + im.need.Min + " for this image)"
}

func envSummary(env map[string]string) string {
	var parts []string
	for _, k := range []string{require.EnvCUDAVersion, require.EnvRequireCUDA, require.EnvDisableRequire, "TORCH_CUDA_ARCH_LIST", "PYTORCH_VERSION"} {
		if v, ok := env[k]; ok {
			if first, rest, ok := strings.Cut(v, " "); ok && k == require.EnvRequireCUDA {
				v = fmt.Sprintf("%s + %d more clause(s)", first, strings.Count(rest, " ")+1)
			}
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return "no CUDA variables"
	}
	return strings.Join(parts, ", ")
}

// checkArch compares the image's GPU architectures with each GPU.
func (r *Result) checkArch(im image, h Host, db *compat.DB) {
	var gpus []host.GPU
	for _, g := range h.Facts.GPUs {
		if g.Arch == "" && h.WhatIf {
			continue
		}
		gpus = append(gpus, g)
	}
	if len(gpus) == 0 {
		if h.WhatIf {
			r.add(PartArch, NotChecked, "not checked: no GPU compute capability given; add --gpu-cc X.Y (e.g. 7.0 for V100, 8.0 for A100, 8.6 for RTX 30xx/A10, 8.9 for L4/RTX 40xx, 9.0 for H100, 12.0 for RTX 50xx)")
		} else {
			r.add(PartArch, NotChecked, "not checked: no GPU")
		}
		return
	}
	if im.archs == "" {
		msg := "the image does not state its GPU architectures (no cuda.archs label or TORCH_CUDA_ARCH_LIST)"
		if c := im.need.CUDA; c != "" && db != nil {
			var cannot []string
			for _, g := range gpus {
				if g.Arch != "" && db.ArchSupported(c, g.Arch).Value == "false" {
					cannot = append(cannot, g.Arch)
				}
			}
			if len(cannot) > 0 {
				msg += fmt.Sprintf("; note that CUDA %s cannot compile for compute capability %s, so its libraries do not support this GPU", c, strings.Join(cannot, ", "))
			}
		}
		r.add(PartArch, Unknown, "%s", msg)
		return
	}
	list := arch.ParseList(im.archs)
	var fails, unknowns, jits, oks []string
	var failCCs []string
	for _, g := range gpus {
		label := gpuLabel(g, false)
		if g.Arch == "" {
			unknowns = append(unknowns, label+": compute capability unknown")
			continue
		}
		mj, mn, err := arch.ParseCC(g.Arch)
		if err != nil {
			unknowns = append(unknowns, label+": "+err.Error())
			continue
		}
		sup, a := list.Runs(mj, mn)
		switch sup {
		case arch.Native:
			oks = append(oks, fmt.Sprintf("%s runs the %s cubins", label, a.SM()))
		case arch.PTX:
			r.PTXJIT = true
			jits = append(jits, fmt.Sprintf("%s runs it only through PTX JIT (from %s): the image has no sm_%d%d-compatible cubin, so the driver compiles every kernel on first use (minutes; cached in ~/.nv/ComputeCache)", label, a.Compute(), mj, mn))
		case arch.None:
			fails = append(fails, fmt.Sprintf("%s: the image's torch has no kernels for compute capability %d.%d (cuda.archs %s: cubins run only on the same major version with an equal or higher minor, PTX only on an equal or newer GPU)", label, mj, mn, im.archs))
			failCCs = append(failCCs, fmt.Sprintf("%d.%d", mj, mn))
		default:
			unknowns = append(unknowns, fmt.Sprintf("%s: the architecture list %q has entries this check does not understand (%s)", label, im.archs, strings.Join(list.Unparsed, ", ")))
		}
	}
	switch {
	case len(fails) > 0:
		r.add(PartArch, Fail, "%s", strings.Join(fails, "; "))
		r.advise("use an image built for compute capability %s%s", strings.Join(failCCs, ", "), variantsFor(im, failCCs, h, db))
	case len(unknowns) > 0:
		r.add(PartArch, Unknown, "%s", strings.Join(unknowns, "; "))
	case len(jits) > 0:
		r.add(PartArch, Warn, "%s", strings.Join(append(jits, oks...), "; "))
		r.advise("expect a slow first run while the driver JIT-compiles PTX: keep ~/.nv/ComputeCache on a volume and raise CUDA_CACHE_MAXSIZE (e.g. 4294967296) so it happens once; an image with a cubin for this GPU avoids it")
	default:
		r.add(PartArch, OK, "%s", strings.Join(oks, "; "))
	}
}

// variantsFor names the CUDA variants of the image's torch release whose
// architecture lists run on every failing compute capability.
func variantsFor(im image, ccs []string, h Host, db *compat.DB) string {
	if db == nil || im.torch == "" {
		return ""
	}
	rel, ok := db.Torch(im.torch)
	if !ok {
		return ""
	}
	var names []string
	for _, v := range rel.Variants {
		if !v.Archs.Known() {
			continue
		}
		l := arch.ParseList(v.Archs.Value)
		all := true
		for _, cc := range ccs {
			mj, mn, _ := arch.ParseCC(cc)
			if s, _ := l.Runs(mj, mn); s != arch.Native && s != arch.PTX {
				all = false
			}
		}
		if all {
			n := v.Name
			if v.Toolkit.Known() {
				if md := db.MinDriver(v.Toolkit.Value); md.Known() {
					n += " (driver >= " + md.Value + ")"
				}
			}
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf(" (no CUDA variant of torch %s has kernels for it; an older torch release may)", im.torch)
	}
	return fmt.Sprintf(": torch %s variants %s", im.torch, strings.Join(names, ", "))
}

func orDash(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
