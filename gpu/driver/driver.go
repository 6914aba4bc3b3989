// Package driver is torchimg's one rule for "is this NVIDIA driver good for this image?": the
// image's NVIDIA_REQUIRE_* evaluated as the NVIDIA container toolkit does (gpu/require), the
// minimum driver of its CUDA toolkit where it states no requirement, CUDA minor-version
// compatibility and the forward-compatibility branches. check, the smoke preflight and the host
// diagnosis judge with it, and the in-image self-check gets its facts from the same data.
package driver

import (
	"fmt"
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

// Image is what an image needs from the driver, with where each value came from.
type Image struct {
	CUDA         string // the CUDA toolkit, "12.8.1" (or the minor)
	Min          string // the minimum driver of that toolkit
	MinSource    string // "label io.torchimg.driver.minimum", or the compatibility data
	CompatFloor  string // the minimum driver under minor-version compatibility
	Requirements []string
	Disabled     bool  // NVIDIA_DISABLE_REQUIRE: the toolkit checks nothing
	Err          error // a requirement the toolkit refuses to parse
}

// CUDAMinor is the image's CUDA "X.Y", or "".
func (im Image) CUDAMinor() string {
	if im.CUDA == "" {
		return ""
	}
	return version.MajorMinor(im.CUDA)
}

// ImageOf reads what an image needs from its labels (prefix: the torchimg label namespace, ""
// when torchimg did not build it) and its config environment. db fills in the minimum driver and
// the compatibility floor of the image's CUDA when no label states them.
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
	return im
}

// ForwardCompat are the driver branches whose datacenter GPUs run the image through its
// forward-compatibility libraries (the brand clauses of its requirements).
func (im Image) ForwardCompat() []string {
	b, _ := require.ForwardCompat(im.Requirements)
	return b
}

// Host is the driver side: what NVML reports, or what a what-if question says.
type Host struct {
	Driver  string // "550.54.15"; "" unknown
	CUDA    string // the CUDA version the driver supports, "12.4"; "" unknown
	Devices []require.Device
	// WhatIf is true when the host was described by flags: a GPU brand left out is unknown, and
	// a verdict that depends on it says so.
	WhatIf bool
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

// sentinelBrand is a real libnvidia-container brand that no nvidia/cuda forward-compatibility
// clause lists: evaluating with it tells whether a what-if result depends on the GPU brand the
// user did not give.
const sentinelBrand = "nvs"

// Judge evaluates the image's requirements as nvidia-container-cli would, and explains a
// failure with the image's minimum driver, minor-version compatibility and the
// forward-compatibility branches.
func Judge(im Image, h Host) Judgement {
	var j Judgement
	if h.WhatIf && h.Driver == "" && h.CUDA == "" {
		j.add(Unknown, "no driver given: add --driver VERSION (and --cuda X.Y if known) to judge the image's CUDA %s requirement", orDash(im.CUDAMinor()))
		return j
	}
	if im.Err != nil {
		j.add(Fail, "the NVIDIA container toolkit refuses this image: %v", im.Err)
		return j
	}
	if im.Disabled || len(im.Requirements) == 0 {
		why := "the image states no NVIDIA_REQUIRE_* or CUDA_VERSION requirement"
		if im.Disabled {
			why = "the image sets NVIDIA_DISABLE_REQUIRE, so the container toolkit checks nothing"
		}
		j.byMinDriver(im, h, why)
		return j
	}
	rh := require.Host{CUDA: h.CUDA, Driver: h.Driver, Devices: h.Devices}
	if rh.CUDA == "" && rh.Driver != "" {
		// The driver's CUDA version is unknown (older than all compatibility data): unknown
		// values pass in libnvidia-container, which would hide the question.
		j.byMinDriver(im, h, fmt.Sprintf("the CUDA version of driver %s is unknown (it is older than every CUDA release in torchimg's compatibility data; give --cuda X.Y)", rh.Driver))
		return j
	}
	res := require.Evaluate(im.Requirements, rh)
	if res.Satisfied && h.WhatIf && brandUnknown(rh) {
		if !require.Evaluate(im.Requirements, withBrand(rh, sentinelBrand)).Satisfied {
			fcBranches, fcBrands := require.ForwardCompat(im.Requirements)
			j.add(Unknown, "depends on the GPU brand: driver %s supports CUDA %s, older than the image's CUDA %s%s; it passes only through the image's forward-compatibility clauses for branch %s, which list brands %s (libnvidia-container reports H100, A100, L40S... as unknown) but not GeForce or TITAN; add --brand (tesla, nvidia, geforce...)",
				rh.Driver, orDash(rh.CUDA), orDash(im.CUDAMinor()), atLeast(im), strings.Join(fcBranches, "/"), strings.Join(fcBrands, ", "))
			j.advise("give the GPU brand with --brand, or install a driver%s that supports CUDA %s natively", atLeast(im), orDash(im.CUDAMinor()))
			return j
		}
	}
	if res.Satisfied {
		j.add(OK, "%s", satisfiedText(im, rh))
		return j
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
			msgs = append(msgs, require.Explain(fl.Requirement, rh, im.Min))
		}
		if runtime == "" {
			runtime = fl.Runtime
		}
	}
	msg := strings.Join(msgs, "; ")
	if runtime != "" {
		msg += "; the container would not start: " + runtime
	}
	j.add(Fail, "%s", msg)
	if im.Min != "" {
		j.advise("install NVIDIA driver >= %s (the minimum for CUDA %s, from %s)", im.Min, im.CUDA, im.MinSource)
	} else if c := im.CUDAMinor(); c != "" {
		j.advise("install an NVIDIA driver that supports CUDA %s (nvidia-smi shows \"CUDA Version: %s\" or higher)", c, c)
	}
	if branches := im.ForwardCompat(); len(branches) > 0 {
		j.advise("on a datacenter GPU, a driver of branch %s also runs it, through the image's forward-compatibility (cuda-compat) libraries", strings.Join(branches, "/"))
	}
	// Minor-version compatibility: same CUDA major, driver above the family floor.
	if c := im.CUDAMinor(); c != "" && rh.CUDA != "" && im.CompatFloor != "" && rh.Driver != "" &&
		major(c) == major(rh.CUDA) && version.Compare(rh.Driver, im.CompatFloor) >= 0 && version.Compare(rh.CUDA, c) < 0 {
		j.add(Fail, "driver %s is within CUDA %s.x minor-version compatibility (>= %s), so CUDA %s code could run on it, but the NVIDIA container toolkit's cuda>=%s check still refuses to start the container", rh.Driver, major(c), im.CompatFloor, c, c)
		j.advise("to start it anyway on driver %s: docker run -e NVIDIA_DISABLE_REQUIRE=1 ... (minor-version compatibility then applies, with limits: PTX JIT of code built with CUDA %s fails on this driver, so kernels that exist only as PTX for your GPU do not load, and features that need a CUDA %s driver are unavailable)", rh.Driver, c, c)
	}
	return j
}

// byMinDriver judges the driver against the image's minimum driver when there is no
// requirement the container toolkit would evaluate.
func (j *Judgement) byMinDriver(im Image, h Host, why string) {
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

// CUDAOf derives the CUDA version a Linux driver supports from the compatibility data: the
// highest CUDA update release whose minimum driver is <= driver (525.147.05 → 12.0,
// 535.104.05 → 12.2, 570.124.06 → 12.8). A real driver may report a CUDA minor that has no
// toolkit release (565 → 12.7), which this cannot know; ok is false when no release qualifies.
func CUDAOf(db *compat.DB, driver string) (cuda string, ok bool) {
	if db == nil || !version.Valid(driver) {
		return "", false
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
		return "", false
	}
	return version.MajorMinor(best), true
}
