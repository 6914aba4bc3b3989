// Package driver is torchimg's one rule for "is this NVIDIA driver good for this image?": the
// image's NVIDIA_REQUIRE_* evaluated as the NVIDIA container toolkit does (gpu/require), the
// minimum driver of its CUDA toolkit where it states no requirement, CUDA minor-version
// compatibility and the forward-compatibility branches. check, the smoke preflight and the host
// diagnosis judge with it, and the in-image self-check gets its facts from the same data.
package driver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"
)

// Status is the outcome of one line of a judgement.
type Status string

// Statuses: Fail means the image will not use the GPU on this driver, Unknown that it cannot be
// told, Warn that it works with a limit.
const (
	OK      Status = "ok"
	Warn    Status = "warn"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// Mode is how the NVIDIA container runtime sets a container up.
type Mode string

// Modes. Legacy is the prestart hook (nvidia-container-cli configure --require=...), which
// `docker run --gpus` uses without the nvidia runtime and nvidia-container-runtime uses in mode
// legacy: it evaluates NVIDIA_REQUIRE_* and refuses to start a container that fails them. CDI is
// nvidia-container-runtime in mode cdi or jit-cdi (the default of toolkit 1.18 and later): it
// removes the hook, evaluates no requirement, and the container always starts. AnyMode judges
// both and says where they differ.
const (
	AnyMode Mode = ""
	Legacy  Mode = "legacy"
	CDI     Mode = "cdi"
	// Running is a container that has started (the host diagnosis inside it): the start check
	// is behind it, and only what CUDA does now matters.
	Running Mode = "running"
)

// MaxRequirements is the most requirements nvidia-container-cli accepts (cli.h: char *reqs[32]);
// more make it fail with "too many requirements".
const MaxRequirements = 32

// Image is what an image needs from the driver, with where each value came from.
type Image struct {
	CUDA         string // the CUDA toolkit, "12.8.1" (or the minor)
	Min          string // the minimum driver of that toolkit
	MinSource    string // "label io.torchimg.driver.minimum", or the compatibility data
	CompatFloor  string // the minimum driver under minor-version compatibility
	Requirements []string
	Disabled     bool  // NVIDIA_DISABLE_REQUIRE: the toolkit checks nothing
	Err          error // a requirement the toolkit refuses to parse (legacy hook only)
	// Unstartable is set when no runtime can start the container (an environment value with a
	// NUL byte cannot be passed to the container's process).
	Unstartable error
	// CompatPackage is the image's forward-compatibility package (NV_CUDA_COMPAT_PACKAGE of the
	// nvidia/cuda bases, "cuda-compat-12-8"); "" when the image has none.
	CompatPackage string
	// CompatDriver is the driver version of those libraries (the toolkit's own driver); "" unknown.
	CompatDriver string

	fc         func(brand string) compat.FCSupport // which GPU brands run forward-compatibility libraries
	fcBranches []string                            // the driver branches of its NVIDIA_REQUIRE_CUDA brand clauses
}

// EnvCompatPackage names the forward-compatibility package of the nvidia/cuda base images.
const EnvCompatPackage = "NV_CUDA_COMPAT_PACKAGE"

// CUDAMinor is the image's CUDA "X.Y", or "".
func (im Image) CUDAMinor() string {
	if im.CUDA == "" {
		return ""
	}
	return version.MajorMinor(im.CUDA)
}

// ImageOf reads what an image needs from its labels (prefix: the torchimg label namespace, ""
// when torchimg did not build it) and its config environment. db fills in the minimum driver,
// the compatibility floor and the forward-compatibility facts of the image's CUDA when no label
// states them.
func ImageOf(labels map[string]string, prefix string, env map[string]string, db *compat.DB) Image {
	label := func(short string) string {
		if prefix == "" {
			return ""
		}
		return labels[prefix+"."+short]
	}
	var im Image
	im.CUDA = label(matrix.LabelCUDAVersion)
	if im.CUDA == "" {
		im.CUDA = env[require.EnvCUDAVersion]
	}
	if im.CUDA == "" {
		im.CUDA = label(matrix.LabelTorchCUDA)
	}
	if v := label(matrix.LabelDriverMin); v != "" {
		im.Min, im.MinSource = v, "label "+prefix+"."+matrix.LabelDriverMin
	} else if im.CUDA != "" && db != nil {
		if f := db.MinDriver(im.CUDA); f.Known() {
			im.Min, im.MinSource = f.Value, "torchimg's compatibility data for CUDA "+im.CUDA
		}
	}
	im.CompatFloor = label(matrix.LabelDriverMinCompat)
	if im.CompatFloor == "" && im.CUDA != "" && db != nil {
		if r, ok := db.CUDA(version.MajorMinor(im.CUDA)); ok && r.CompatFloor.Known() {
			im.CompatFloor = r.CompatFloor.Value
		}
	}
	if env == nil {
		env = map[string]string{}
	}
	im.Requirements, im.Disabled, im.Err = require.ImageRequirements(env)
	// The branches its compat libraries support are those of its brand clauses, whether the
	// runtime evaluates them or not.
	im.fcBranches, _ = require.ForwardCompat([]string{env[require.EnvRequireCUDA]})
	for _, k := range []string{require.EnvCUDAVersion, require.EnvDisableRequire} {
		if strings.ContainsRune(env[k], 0) {
			im.Unstartable = fmt.Errorf("%s contains a NUL byte, which no runtime can pass to the container's process", k)
		}
	}
	for _, r := range im.Requirements {
		if strings.ContainsRune(r, 0) {
			im.Unstartable = fmt.Errorf("an NVIDIA_REQUIRE_* value contains a NUL byte, which no runtime can pass to the container's process (nor the hook to nvidia-container-cli)")
		}
	}
	if pkg := env[EnvCompatPackage]; pkg != "" {
		im.CompatPackage = pkg
		// The package of toolkit X.Y.Z carries the libraries of X.Y.Z's own driver (the "Toolkit
		// Driver Version" of its release notes).
		if im.CUDA != "" && db != nil {
			if f := db.MinDriver(im.CUDA); f.Known() && version.Valid(im.CUDA) && strings.Count(im.CUDA, ".") == 2 {
				im.CompatDriver = f.Value
			}
		}
	}
	if db != nil {
		im.fc = func(brand string) compat.FCSupport { s, _, _ := db.ForwardCompat(brand); return s }
	}
	return im
}

// ForwardCompat are the driver branches whose datacenter GPUs run the image through its
// forward-compatibility libraries (the brand clauses of its NVIDIA_REQUIRE_CUDA).
func (im Image) ForwardCompat() []string { return slices.Clone(im.fcBranches) }

// Host is the driver side: what NVML reports, or what a what-if question says.
type Host struct {
	Driver string // "550.54.15"; "" unknown
	CUDA   string // the CUDA version the driver supports, "12.4"; "" unknown
	// CUDAAtLeast is true when CUDA is a lower bound: the driver is newer than the data.
	CUDAAtLeast bool
	// HookCUDA is the CUDA version the legacy hook compares with when it differs from CUDA
	// (libnvidia-container misreads a minor of 10 or more); "" = CUDA.
	HookCUDA string
	Devices  []require.Device
	// WhatIf is true when the host was described by flags: a GPU brand left out is unknown, and
	// a verdict that depends on it says so.
	WhatIf bool
	// Mode is the container runtime's mode; AnyMode judges both.
	Mode Mode
}

// Line is one finding of a judgement.
type Line struct {
	Status  Status
	Message string
}

// Judgement is the driver's verdict on an image, in lines, with what to do.
type Judgement struct {
	Lines  []Line
	Advice []string
}

// Status is the worst status of the lines.
func (j Judgement) Status() Status {
	st := OK
	for _, l := range j.Lines {
		switch l.Status {
		case Fail:
			return Fail
		case Unknown:
			st = Unknown
		case Warn:
			if st == OK {
				st = Warn
			}
		}
	}
	return st
}

// Reason is the first line that decides the status, for one-line messages.
func (j Judgement) Reason() string {
	st := j.Status()
	for _, l := range j.Lines {
		if l.Status == st {
			return l.Message
		}
	}
	return ""
}

func (j *Judgement) add(st Status, format string, args ...any) {
	j.Lines = append(j.Lines, Line{Status: st, Message: fmt.Sprintf(format, args...)})
}

func (j *Judgement) advise(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, a := range j.Advice {
		if a == s {
			return
		}
	}
	j.Advice = append(j.Advice, s)
}

func (j *Judgement) merge(o Judgement) {
	j.Lines = append(j.Lines, o.Lines...)
	for _, a := range o.Advice {
		j.advise("%s", a)
	}
}

// sentinelBrand is a real libnvidia-container brand that no nvidia/cuda forward-compatibility
// clause lists: evaluating with it tells whether a what-if result depends on the GPU brand the
// user did not give.
const sentinelBrand = "nvs"

// Judge answers "will torch use the GPU?" for an image on a driver, the way the NVIDIA container
// runtime and the CUDA driver decide it: under the legacy hook the image's NVIDIA_REQUIRE_* is
// evaluated first (a failure refuses the container at start); in both modes the image's
// forward-compatibility libraries are injected when their driver major is above the host's, and
// CUDA then works natively, through minor-version or forward compatibility, or fails at the
// first CUDA call.
func Judge(im Image, h Host) Judgement {
	var j Judgement
	if h.WhatIf && h.Driver == "" && h.CUDA == "" {
		j.add(Unknown, "no driver given: add --driver VERSION (and --cuda X.Y if known) to judge the image's CUDA %s requirement", orDash(im.CUDAMinor()))
		return j
	}
	if im.Unstartable != nil {
		j.add(Fail, "the container cannot start: %v", im.Unstartable)
		return j
	}
	start, skipped := startJudge(im, h)
	run := runtimeJudge(im, h)
	switch {
	case h.Mode == CDI:
		j.merge(prefixed(run, "CDI mode evaluates no NVIDIA_REQUIRE_*, so the container starts; "))
	case h.Mode == Running:
		note := "this container is running, so only what CUDA does in it matters; "
		if start.Status() == Fail {
			note = "this container started although the legacy hook would refuse it (NVIDIA_DISABLE_REQUIRE, CDI mode or a runtime without the hook let it start); "
		}
		j.merge(prefixed(run, note))
	case skipped != "":
		j.merge(prefixed(run, skipped+"; "))
	case h.Mode == Legacy || start.Status() == OK || start.Status() == run.Status() || run.Status() == Fail:
		j.merge(start)
		if start.Status() == Fail && run.Status() != Fail {
			j.Advice = append(j.Advice, run.Advice...)
			startAnyway(&j, im, h, run)
		} else {
			j.merge(run)
		}
	default:
		// The modes differ: the legacy hook refuses (or cannot be judged), CDI starts it.
		// Each mode's lines are conditional: the verdict is the Unknown below.
		for _, l := range start.Lines {
			j.add(Unknown, "legacy hook (docker run --gpus, nvidia-container-runtime mode legacy), %s: %s", l.Status, l.Message)
		}
		for _, l := range run.Lines {
			j.add(Unknown, "CDI (nvidia-container-toolkit >= 1.18 default jit-cdi, or mode cdi), %s: the container starts; %s", l.Status, l.Message)
		}
		j.add(Unknown, "the answer depends on the container runtime's mode: give --runtime legacy or --runtime cdi")
		for _, a := range append(start.Advice, run.Advice...) {
			j.advise("%s", a)
		}
	}
	return j
}

// prefixed puts text before the first line of j.
func prefixed(j Judgement, text string) Judgement {
	if len(j.Lines) > 0 {
		j.Lines = append([]Line{{Status: j.Lines[0].Status, Message: text + j.Lines[0].Message}}, j.Lines[1:]...)
	}
	return j
}

// startAnyway advises how to start an image the legacy hook refuses although CUDA would work
// once started (minor-version compatibility). It never does where compat libraries would be
// injected: NVIDIA_DISABLE_REQUIRE does not stop that, and CUDA fails with error 804 or 803.
func startAnyway(j *Judgement, im Image, h Host, run Judgement) {
	if run.Status() != OK && run.Status() != Warn {
		return
	}
	if inj, _ := injects(im, h); inj {
		return
	}
	j.advise("to start it anyway on driver %s: docker run -e NVIDIA_DISABLE_REQUIRE=1 ..., or run it under CDI (nvidia-container-runtime mode cdi or jit-cdi); CUDA %s then runs through minor-version compatibility, with limits: PTX JIT of CUDA %s code fails on this driver, so kernels that exist only as PTX for your GPU do not load", h.Driver, im.CUDAMinor(), im.CUDAMinor())
}

// startJudge is the legacy hook: nvidia-container-cli configure --require=... for every
// requirement on every selected GPU. skipped says why nothing is evaluated (then j is empty).
func startJudge(im Image, h Host) (j Judgement, skipped string) {
	if im.Err != nil {
		j.add(Fail, "the NVIDIA container toolkit refuses to start the container: %v", im.Err)
		return j, ""
	}
	if im.Disabled {
		return j, "the image sets NVIDIA_DISABLE_REQUIRE, so no runtime checks a requirement"
	}
	if len(im.Requirements) == 0 {
		return j, "the image states no NVIDIA_REQUIRE_* or CUDA_VERSION requirement, so no runtime checks one"
	}
	if n := len(im.Requirements); n > MaxRequirements {
		j.add(Fail, "the image has %d NVIDIA_REQUIRE_* requirements; nvidia-container-cli takes at most %d and refuses to start the container: too many requirements", n, MaxRequirements)
		return j, ""
	}
	rh := require.Host{CUDA: h.CUDA, Driver: h.Driver, Devices: h.Devices}
	if h.HookCUDA != "" && h.CUDA != "" {
		rh.CUDA = h.HookCUDA
		res := require.Evaluate(im.Requirements, rh)
		if !res.Satisfied && require.Evaluate(im.Requirements, require.Host{CUDA: h.CUDA, Driver: h.Driver, Devices: h.Devices}).Satisfied {
			j.add(Fail, "the driver supports CUDA %s, but libnvidia-container reads that version as %s (src/driver.c formats the minor as version %% 100 / 10), so %s fails; refused at start: the container does not start", h.CUDA, h.HookCUDA, firstClauses(im.Requirements))
			return j, ""
		}
	}
	if rh.CUDA == "" && rh.Driver != "" {
		// Unknown values pass in libnvidia-container; an unknown CUDA version would hide the
		// question, so the minimum driver answers it.
		byMinDriver(&j, im, h, fmt.Sprintf("the CUDA version of driver %s is not in torchimg's data (give --cuda X.Y)", rh.Driver))
		return j, ""
	}
	res := require.Evaluate(im.Requirements, rh)
	if !res.Satisfied && h.CUDAAtLeast {
		j.add(Unknown, "driver %s is newer than torchimg's data: it supports CUDA %s or newer, and the image's %s needs more than CUDA %s; give --cuda X.Y", rh.Driver, rh.CUDA, firstClauses(im.Requirements), rh.CUDA)
		return j, ""
	}
	if res.Satisfied && h.WhatIf && brandUnknown(rh) {
		if !require.Evaluate(im.Requirements, withBrand(rh, sentinelBrand)).Satisfied {
			fcBranches, fcBrands := require.ForwardCompat(im.Requirements)
			j.add(Unknown, "depends on the GPU brand: driver %s supports CUDA %s, older than the image's CUDA %s%s; it passes only through the image's forward-compatibility clauses for branch %s, which list brands %s (libnvidia-container reports H100, A100, L40S... as unknown) but not GeForce or TITAN; add --brand (tesla, nvidia, geforce...)",
				rh.Driver, orDash(rh.CUDA), orDash(im.CUDAMinor()), atLeast(im), strings.Join(fcBranches, "/"), strings.Join(fcBrands, ", "))
			j.advise("give the GPU brand with --brand, or install a driver%s that supports CUDA %s natively", atLeast(im), orDash(im.CUDAMinor()))
			return j, ""
		}
	}
	if res.Satisfied {
		j.add(OK, "%s", satisfiedText(im, rh))
		return j, ""
	}
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
			msgs = append(msgs, require.Explain(fl.Requirement, rh, im.Min))
		}
		if runtime == "" {
			runtime = fl.Runtime
		}
	}
	msg := strings.Join(msgs, "; ")
	if runtime != "" {
		msg += "; refused at start: the container does not start (" + runtime + ")"
	}
	j.add(Fail, "%s", msg)
	installAdvice(&j, im)
	if branches := im.ForwardCompat(); len(branches) > 0 {
		j.advise("on a datacenter GPU, a driver of branch %s also runs it, through the image's forward-compatibility (cuda-compat) libraries", strings.Join(branches, "/"))
	}
	return j, ""
}

func installAdvice(j *Judgement, im Image) {
	if im.Min != "" {
		j.advise("install NVIDIA driver >= %s (the minimum for CUDA %s, from %s)", im.Min, im.CUDA, im.MinSource)
	} else if c := im.CUDAMinor(); c != "" {
		j.advise("install an NVIDIA driver that supports CUDA %s (nvidia-smi shows \"CUDA Version: %s\" or higher)", c, c)
	}
}

// runtimeJudge is what happens once the container runs: which libcuda torch loads (the host's,
// or the image's forward-compatibility libraries that the runtime injects when their driver
// major is above the host's) and whether it supports the image's CUDA on these GPUs.
func runtimeJudge(im Image, h Host) Judgement {
	var j Judgement
	need := im.CUDAMinor()
	if need == "" {
		j.add(Unknown, "the image does not say which CUDA it needs (no cuda.version label or CUDA_VERSION)")
		return j
	}
	if inj, why := injects(im, h); inj {
		fcJudge(&j, im, h)
		return j
	} else if why != "" {
		j.add(Unknown, "%s", why)
		return j
	}
	have := h.CUDA
	switch {
	case have == "":
		byMinDriver(&j, im, h, "driver "+orDash(h.Driver)+" reports a CUDA version torchimg does not know")
	case version.Compare(have, need) >= 0:
		j.add(OK, "CUDA %s runs natively: driver %s supports CUDA %s%s", need, orDash(h.Driver), have, plus(h.CUDAAtLeast))
	case h.CUDAAtLeast:
		j.add(Unknown, "driver %s is newer than torchimg's data: it supports CUDA %s or newer, and the image needs CUDA %s; give --cuda X.Y", h.Driver, have, need)
	case major(have) == major(need) && im.CompatFloor != "" && h.Driver != "" && version.Compare(h.Driver, im.CompatFloor) >= 0:
		j.add(Warn, "driver %s supports CUDA %s, older than the image's %s, but CUDA %s.x minor-version compatibility (driver >= %s) lets torch run; PTX JIT of CUDA %s code fails on this driver, so kernels that exist only as PTX for your GPU do not load, and features that need a CUDA %s driver are unavailable", h.Driver, have, need, major(need), im.CompatFloor, need, need)
		installAdvice(&j, im)
	default:
		j.add(Fail, "driver %s supports CUDA %s, older than the image's CUDA %s and outside its minor-version compatibility%s: the container starts, and the first CUDA call fails with error 35 (cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version), so torch.cuda.is_available() is False", orDash(h.Driver), have, need, floorText(im))
		installAdvice(&j, im)
	}
	return j
}

// injects tells whether the runtime injects the image's forward-compatibility libraries: it does
// (libnvidia-container compat_mode.c, nvidia-container-toolkit cudacompat.go) whenever their
// driver major is above the host driver's, in both modes and for every brand. why is set when
// that cannot be told.
func injects(im Image, h Host) (bool, string) {
	if im.CompatPackage == "" || h.Driver == "" {
		return false, ""
	}
	if im.CompatDriver == "" {
		if h.CUDA != "" && version.Compare(h.CUDA, im.CUDAMinor()) >= 0 {
			return false, "" // a driver that supports the CUDA natively is not older than the package
		}
		return false, fmt.Sprintf("the image carries forward-compatibility libraries (%s) whose driver version torchimg's data does not know, and driver %s does not support CUDA %s natively: whether the runtime injects them cannot be told", im.CompatPackage, h.Driver, im.CUDAMinor())
	}
	return version.Compare(major(im.CompatDriver), major(h.Driver)) > 0, ""
}

// fcJudge judges the injected forward-compatibility libraries on each GPU.
func fcJudge(j *Judgement, im Image, h Host) {
	branch := major(h.Driver)
	listed := slices.Contains(im.ForwardCompat(), branch)
	head := fmt.Sprintf("the runtime injects the image's forward-compatibility libraries (%s, driver %s) because their driver major %s is above driver %s's", im.CompatPackage, im.CompatDriver, major(im.CompatDriver), h.Driver)
	devices := h.Devices
	if len(devices) == 0 {
		devices = []require.Device{{}}
	}
	var consumer, unknown []string
	for i, d := range devices {
		s := compat.FCUnknown
		if im.fc != nil && d.Brand != "" {
			s = im.fc(d.Brand)
		}
		label := gpuName(i, d)
		switch s {
		case compat.FCUnsupported:
			consumer = append(consumer, label)
		case compat.FCUnknown:
			unknown = append(unknown, label)
		}
	}
	switch {
	case len(consumer) > 0:
		j.add(Fail, "%s; %s does not support forward compatibility (GeForce, GeForce RTX and TITAN cards never do), so the first CUDA call fails with error 804 (forward compatibility was attempted on non supported HW) and torch.cuda.is_available() is False; NVIDIA_DISABLE_REQUIRE does not help, the libraries are injected anyway", head, strings.Join(consumer, ", "))
		installAdvice(j, im)
	case !listed:
		j.add(Fail, "%s; the image's forward-compatibility libraries support driver branch %s only, not %s, so the first CUDA call fails (error 803: system has unsupported display driver / cuda driver combination) and torch.cuda.is_available() is False", head, orList(im.ForwardCompat()), branch)
		installAdvice(j, im)
	case len(unknown) > 0:
		why := "its brand is not known"
		if h.WhatIf {
			why = "no --brand was given"
		}
		j.add(Unknown, "%s; whether %s runs them cannot be told (%s): datacenter GPUs (Tesla, NVIDIA H100/A100/L40S...) do, GeForce and TITAN fail with error 804, and Quadro/RTX professional cards only in select SKUs", head, strings.Join(unknown, ", "), why)
		j.advise("give the GPU brand with --brand, or install a driver%s that supports CUDA %s natively", atLeast(im), im.CUDAMinor())
	default:
		j.add(OK, "%s; on this datacenter GPU and driver branch %s (listed in the image's NVIDIA_REQUIRE_CUDA) CUDA %s runs through forward compatibility", head, branch, im.CUDAMinor())
	}
}

func gpuName(i int, d require.Device) string {
	s := fmt.Sprintf("GPU %d", i)
	if d.Name != "" {
		s += " (" + d.Name + ")"
	}
	if d.Brand != "" {
		s += " [" + d.Brand + "]"
	}
	return s
}

func orList(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, "/")
}

func plus(atLeast bool) string {
	if atLeast {
		return " or newer"
	}
	return ""
}

func floorText(im Image) string {
	if im.CompatFloor == "" {
		return ""
	}
	return fmt.Sprintf(" (CUDA %s.x needs driver >= %s)", major(im.CUDAMinor()), im.CompatFloor)
}

// byMinDriver judges the driver against the image's minimum driver when there is no
// requirement the container toolkit would evaluate.
func byMinDriver(j *Judgement, im Image, h Host, why string) {
	drv := h.Driver
	switch {
	case im.Min == "" || drv == "":
		j.add(Unknown, "%s, and its minimum driver is not known", why)
	case version.Compare(drv, im.Min) >= 0:
		j.add(OK, "%s; driver %s >= %s, the minimum for CUDA %s (%s)", why, drv, im.Min, im.CUDA, im.MinSource)
	case im.CompatFloor != "" && version.Compare(drv, im.CompatFloor) >= 0 && (h.CUDA == "" || major(h.CUDA) == major(im.CUDA)):
		j.add(Warn, "%s; driver %s is older than %s, the minimum for CUDA %s, but within minor-version compatibility (>= %s): it runs, but PTX JIT of CUDA %s code fails and newer driver features are unavailable", why, drv, im.Min, im.CUDA, im.CompatFloor, im.CUDAMinor())
		j.advise("install NVIDIA driver >= %s for full CUDA %s support", im.Min, im.CUDA)
	default:
		j.add(Fail, "%s; driver %s is older than %s, the minimum for CUDA %s (%s)", why, drv, im.Min, im.CUDA, im.MinSource)
		j.advise("install NVIDIA driver >= %s (the minimum for CUDA %s, from %s)", im.Min, im.CUDA, im.MinSource)
	}
}

// satisfiedText says why a satisfied requirement holds.
func satisfiedText(im Image, rh require.Host) string {
	c := im.CUDAMinor()
	for _, req := range im.Requirements {
		if floor := cudaFloorOf(req); floor != "" && rh.CUDA != "" && version.Compare(rh.CUDA, floor) < 0 {
			// Satisfied, but not by cuda>=: a forward-compatibility clause.
			return require.Explain(req, rh, im.Min)
		}
	}
	if c != "" && rh.CUDA != "" {
		s := fmt.Sprintf("driver %s supports CUDA %s; the image needs CUDA %s", orDash(rh.Driver), rh.CUDA, c)
		if im.Min != "" {
			s += " (driver >= " + im.Min + ")"
		}
		return s + ": " + firstClauses(im.Requirements) + " holds"
	}
	return fmt.Sprintf("the image's requirement holds on driver %s (CUDA %s): %s", rh.Driver, orDash(rh.CUDA), firstClauses(im.Requirements))
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

func atLeast(im Image) string {
	if im.Min == "" {
		return ""
	}
	return " (>= " + im.Min + " for this image)"
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

// CUDAOf is the CUDA version a Linux driver reports (what nvidia-smi shows and
// nvmlSystemGetCudaDriverVersion returns), from the compatibility data: its branch's row
// (570.86.10 → 12.8, 565.57.01 → 12.7). For a driver of a branch the data does not list, the
// highest CUDA update release whose minimum driver is <= driver is a lower bound, and atLeast is
// set; so it is for a driver newer than every branch. ok is false when nothing is known.
func CUDAOf(db *compat.DB, driver string) (cuda string, atLeast, ok bool) {
	if db == nil || !version.Valid(driver) {
		return "", false, false
	}
	if f, more := db.DriverCUDA(driver); f.Known() {
		return f.Value, more, true
	}
	best := ""
	for _, minor := range db.CUDAVersions() {
		r, _ := db.CUDA(minor)
		for _, u := range r.Updates {
			if !u.MinDriver.Known() || version.Compare(u.MinDriver.Value, driver) > 0 {
				continue
			}
			if best == "" || version.Compare(u.Version, best) > 0 {
				best = u.Version
			}
		}
	}
	if best == "" {
		return "", false, false
	}
	return version.MajorMinor(best), true, true
}
