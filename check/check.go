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
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/internal/version"
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

// Status is the outcome of one part of a check.
type Status string

// Statuses. Fail makes the verdict NotCompatible, Unknown makes it CannotTell
// (unless something fails); OK, Warn and NotChecked leave it Compatible.
const (
	OK         Status = "ok"
	Warn       Status = "warn"
	Fail       Status = "fail"
	Unknown    Status = "unknown"
	NotChecked Status = "not-checked"
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
	info         *report.Info
	torch        string
	variant      string
	cuda         string // CUDA toolkit, "12.8.1" (or the minor)
	driverMin    string
	driverMinSrc string
	driverCompat string
	archs        string
	archsSrc     string
	reqs         []string
	disabled     bool
	reqErr       error
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
	im.cuda = label(matrix.LabelCUDAVersion)
	if im.cuda == "" {
		im.cuda = info.Env[require.EnvCUDAVersion]
	}
	if im.cuda == "" {
		im.cuda = label(matrix.LabelTorchCUDA)
	}
	prefix := info.Prefix
	if prefix == "" {
		prefix = "io.torchimg"
	}
	if v := label(matrix.LabelDriverMin); v != "" {
		im.driverMin, im.driverMinSrc = v, "label "+prefix+"."+matrix.LabelDriverMin
	} else if im.cuda != "" && db != nil {
		if f := db.MinDriver(im.cuda); f.Known() {
			im.driverMin, im.driverMinSrc = f.Value, "torchimg's compatibility data for CUDA "+im.cuda
		}
	}
	im.driverCompat = label(matrix.LabelDriverMinCompat)
	if im.driverCompat == "" && im.cuda != "" && db != nil {
		if r, ok := db.CUDA(version.MajorMinor(im.cuda)); ok && r.CompatFloor.Known() {
			im.driverCompat = r.CompatFloor.Value
		}
	}
	if v := label(matrix.LabelCUDAArchs); v != "" {
		im.archs, im.archsSrc = v, "label "+prefix+"."+matrix.LabelCUDAArchs
	} else if v := info.Env["TORCH_CUDA_ARCH_LIST"]; v != "" {
		im.archs, im.archsSrc = v, "env TORCH_CUDA_ARCH_LIST"
	}
	env := info.Env
	if env == nil {
		env = map[string]string{}
	}
	im.reqs, im.disabled, im.reqErr = require.ImageRequirements(env)
	return im
}

func (im image) summary() ImageSummary {
	s := ImageSummary{Ref: im.info.Ref, Digest: im.info.Digest, Torchimg: im.info.Torchimg(), Torch: im.torch,
		TorchVariant: im.variant, CUDA: im.cuda, DriverMin: im.driverMin, DriverMinSrc: im.driverMinSrc,
		DriverCompat: im.driverCompat, Archs: im.archs, Requirements: im.reqs}
	if !s.Torchimg {
		s.Labels = sortedKeys(im.info.Labels)
	}
	return s
}

// cudaMinor is the image's CUDA "X.Y", or "".
func (im image) cudaMinor() string {
	if im.cuda == "" {
		return ""
	}
	return version.MajorMinor(im.cuda)
}

// Evaluate judges one image on one host. db is the compatibility data
// (compat.Default()); it fills in a minimum driver when the image has no
// label for it.
func Evaluate(info *report.Info, h Host, db *compat.DB) *Result {
	im := readImage(info, db)
	r := &Result{Image: im.summary(), Host: h.Summary(), Advice: []string{}, Suggestions: []Suggestion{}}
	add := r.add

	if !info.Torchimg() {
		labels := "no labels"
		if keys := sortedKeys(info.Labels); len(keys) > 0 {
			labels = "labels " + strings.Join(keys, ", ")
		}
		if len(im.reqs) == 0 && im.reqErr == nil && !im.disabled && im.archs == "" {
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
			r.advise("install the NVIDIA driver%s, then check that nvidia-smi lists the GPU; inside a container, run it with the GPU passed in (docker run --gpus all, or --device nvidia.com/gpu=all with CDI)", driverAtLeast(im))
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
		r.checkDriver(im, h, db)
		r.checkArch(im, h, db)
	} else {
		add(PartDriver, NotChecked, "no driver to check")
		add(PartArch, NotChecked, "no GPU to check")
	}
	r.Verdict = verdictOf(r.Reasons)
	return r
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

func driverAtLeast(im image) string {
	if im.driverMin == "" {
		return ""
	}
	return " (>= " + im.driverMin + " for this image)"
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

// sentinelBrand is a real libnvidia-container brand that no nvidia/cuda
// forward-compatibility clause lists: evaluating with it tells whether a
// what-if result depends on the GPU brand the user did not give.
const sentinelBrand = "nvs"

// checkDriver evaluates the image's requirements as nvidia-container-cli would.
func (r *Result) checkDriver(im image, h Host, db *compat.DB) {
	f := h.Facts
	if h.WhatIf && f.Driver == "" && f.CUDA == "" {
		r.add(PartDriver, Unknown, "no driver given: add --driver VERSION (and --cuda X.Y if known) to judge the image's CUDA %s requirement", orDash(im.cudaMinor()))
		return
	}
	if im.reqErr != nil {
		r.add(PartDriver, Fail, "the NVIDIA container toolkit refuses this image: %v", im.reqErr)
		return
	}
	if im.disabled || len(im.reqs) == 0 {
		why := "the image states no NVIDIA_REQUIRE_* or CUDA_VERSION requirement"
		if im.disabled {
			why = "the image sets NVIDIA_DISABLE_REQUIRE, so the container toolkit checks nothing"
		}
		r.judgeByMinDriver(im, h, why)
		return
	}

	rh := f.RequireHost()
	if h.WhatIf {
		rh = require.Host{CUDA: f.CUDA, Driver: f.Driver}
		for _, g := range f.GPUs {
			rh.Devices = append(rh.Devices, require.Device{Name: g.Name, Brand: g.Brand, Arch: g.Arch})
		}
	}
	if rh.CUDA == "" && rh.Driver != "" {
		// The driver's CUDA version is unknown (older than all compatibility data):
		// unknown values pass in libnvidia-container, which would hide the question.
		r.judgeByMinDriver(im, h, fmt.Sprintf("the CUDA version of driver %s is unknown (it is older than every CUDA release in torchimg's compatibility data; give --cuda X.Y)", rh.Driver))
		return
	}
	res := require.Evaluate(im.reqs, rh)
	if res.Satisfied && h.WhatIf && brandUnknown(rh) {
		alt := withBrand(rh, sentinelBrand)
		if !require.Evaluate(im.reqs, alt).Satisfied {
			fcBranches, fcBrands := require.ForwardCompat(im.reqs)
			r.add(PartDriver, Unknown, "depends on the GPU brand: driver %s supports CUDA %s, older than the image's CUDA %s%s; it passes only through the image's forward-compatibility clauses for branch %s, which list brands %s (libnvidia-container reports H100, A100, L40S... as unknown) but not GeForce or TITAN; add --brand (tesla, nvidia, geforce...)",
				rh.Driver, orDash(rh.CUDA), orDash(im.cudaMinor()), driverAtLeast(im), strings.Join(fcBranches, "/"), strings.Join(fcBrands, ", "))
			r.advise("give the GPU brand with --brand, or install a driver%s that supports CUDA %s natively", driverAtLeast(im), orDash(im.cudaMinor()))
			return
		}
	}
	if res.Satisfied {
		r.add(PartDriver, OK, "%s", satisfiedText(im, rh))
		return
	}

	// Not satisfied: explain each failing requirement once.
	seen := map[string]bool{}
	var msgs []string
	runtime := ""
	for _, fl := range res.Failed {
		if seen[fl.Requirement] {
			continue
		}
		seen[fl.Requirement] = true
		if fl.Invalid {
			msgs = append(msgs, fl.Reason)
		} else {
			msgs = append(msgs, require.Explain(fl.Requirement, rh, im.driverMin))
		}
		if runtime == "" {
			runtime = fl.Runtime
		}
	}
	msg := strings.Join(msgs, "; ")
	if runtime != "" {
		msg += "; the container would not start: " + runtime
	}
	r.add(PartDriver, Fail, "%s", msg)
	if im.driverMin != "" {
		r.advise("install NVIDIA driver >= %s (the minimum for CUDA %s, from %s)", im.driverMin, im.cuda, im.driverMinSrc)
	} else if c := im.cudaMinor(); c != "" {
		r.advise("install an NVIDIA driver that supports CUDA %s (nvidia-smi shows \"CUDA Version: %s\" or higher)", c, c)
	}
	if branches, _ := require.ForwardCompat(im.reqs); len(branches) > 0 {
		r.advise("on a datacenter GPU, a driver of branch %s also runs it, through the image's forward-compatibility (cuda-compat) libraries", strings.Join(branches, "/"))
	}
	// Minor-version compatibility: same CUDA major, driver above the family floor.
	if c := im.cudaMinor(); c != "" && rh.CUDA != "" && im.driverCompat != "" && rh.Driver != "" &&
		major(c) == major(rh.CUDA) && version.Compare(rh.Driver, im.driverCompat) >= 0 && version.Compare(rh.CUDA, c) < 0 {
		r.add(PartDriver, Fail, "driver %s is within CUDA %s.x minor-version compatibility (>= %s), so CUDA %s code could run on it, but the NVIDIA container toolkit's cuda>=%s check still refuses to start the container", rh.Driver, major(c), im.driverCompat, c, c)
		r.advise("to start it anyway on driver %s: docker run -e NVIDIA_DISABLE_REQUIRE=1 ... (minor-version compatibility then applies, with limits: PTX JIT of code built with CUDA %s fails on this driver, so kernels that exist only as PTX for your GPU do not load, and features that need a CUDA %s driver are unavailable)", rh.Driver, c, c)
	}
}

// satisfiedText says why a satisfied requirement holds.
func satisfiedText(im image, rh require.Host) string {
	c := im.cudaMinor()
	for _, req := range im.reqs {
		if floor := cudaFloorOf(req); floor != "" && rh.CUDA != "" && version.Compare(rh.CUDA, floor) < 0 {
			// Satisfied, but not by cuda>=: a forward-compatibility clause.
			return require.Explain(req, rh, im.driverMin)
		}
	}
	switch {
	case c != "" && rh.CUDA != "":
		s := fmt.Sprintf("driver %s supports CUDA %s; the image needs CUDA %s", orDash(rh.Driver), rh.CUDA, c)
		if im.driverMin != "" {
			s += " (driver >= " + im.driverMin + ")"
		}
		return s + ": " + firstClauses(im.reqs) + " holds"
	default:
		return fmt.Sprintf("the image's requirement holds on driver %s (CUDA %s): %s", rh.Driver, orDash(rh.CUDA), firstClauses(im.reqs))
	}
}

// firstClauses is the first alternative of each requirement, for short messages.
func firstClauses(reqs []string) string {
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		first, _, _ := strings.Cut(r, " ")
		parts[i] = first
	}
	return strings.Join(parts, " / ")
}

// cudaFloorOf returns X.Y of the first "cuda>=X.Y" alternative of req.
func cudaFloorOf(req string) string {
	e, err := require.Parse(req)
	if err != nil {
		return ""
	}
	for _, a := range e.Alternatives {
		if len(a.Conditions) == 1 && a.Conditions[0].Key == require.KeyCUDA && a.Conditions[0].Op == require.OpGe {
			return a.Conditions[0].Value
		}
	}
	return ""
}

// judgeByMinDriver judges the driver against the image's minimum driver when
// there is no requirement the container toolkit would evaluate.
func (r *Result) judgeByMinDriver(im image, h Host, why string) {
	drv := h.Facts.Driver
	switch {
	case im.driverMin == "" || drv == "":
		r.add(PartDriver, Unknown, "%s, and its minimum driver is not known", why)
	case version.Compare(drv, im.driverMin) >= 0:
		r.add(PartDriver, OK, "%s; driver %s >= %s, the minimum for CUDA %s (%s)", why, drv, im.driverMin, im.cuda, im.driverMinSrc)
	case im.driverCompat != "" && version.Compare(drv, im.driverCompat) >= 0 && (h.Facts.CUDA == "" || major(h.Facts.CUDA) == major(im.cuda)):
		r.add(PartDriver, Warn, "%s; driver %s is older than %s, the minimum for CUDA %s, but within minor-version compatibility (>= %s): it runs, but PTX JIT of CUDA %s code fails and newer driver features are unavailable", why, drv, im.driverMin, im.cuda, im.driverCompat, im.cudaMinor())
		r.advise("install NVIDIA driver >= %s for full CUDA %s support", im.driverMin, im.cuda)
	default:
		r.add(PartDriver, Fail, "%s; driver %s is older than %s, the minimum for CUDA %s (%s)", why, drv, im.driverMin, im.cuda, im.driverMinSrc)
		r.advise("install NVIDIA driver >= %s (the minimum for CUDA %s, from %s)", im.driverMin, im.cuda, im.driverMinSrc)
	}
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
		if c := im.cuda; c != "" && db != nil {
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

func brandUnknown(h require.Host) bool {
	if len(h.Devices) == 0 {
		return true
	}
	for _, d := range h.Devices {
		if d.Brand == "" {
			return true
		}
	}
	return false
}

// withBrand returns h with every GPU of unknown brand (or one pseudo GPU) set to brand.
func withBrand(h require.Host, brand string) require.Host {
	out := require.Host{CUDA: h.CUDA, Driver: h.Driver}
	if len(h.Devices) == 0 {
		out.Devices = []require.Device{{Brand: brand}}
		return out
	}
	for _, d := range h.Devices {
		if d.Brand == "" {
			d.Brand = brand
		}
		out.Devices = append(out.Devices, d)
	}
	return out
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

func orDash(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
