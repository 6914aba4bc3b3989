package smoke

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/matrix"

	"github.com/torchimg/torchimg/report"
)

// Reasons a variant is not tested (the report's reason starts with one of these).
const (
	ReasonOff         = "GPU smoke tests are off (--gpu off)"
	ReasonBuildFailed = "build failed"
	ReasonNoGPU       = "no GPU on this host"
)

// Decide is the preflight of one variant: whether it can be GPU-tested on this host, and if
// not, its report entry (skipped, or failed under ModeOn). blocked is a reason the runner
// cannot test it ("" when it can). With run true the entry is the start of the result.
//
// The checks, in order: the mode, the build, a GPU on the host, the runner, the image's
// NVIDIA_REQUIRE_* evaluated as the NVIDIA container toolkit does (gpu/require), and every
// GPU's architecture against the image's cuda.archs label (same-major binary compatibility,
// or PTX of an older architecture).
func Decide(mode Mode, facts host.Facts, t Target, blocked string) (v report.SmokeVariant, run bool) {
	v = report.SmokeVariant{ID: t.ID, Digest: t.Digest, Ref: t.Ref, Required: mode == ModeOn}
	if mode == ModeOff {
		v.Status, v.Reason = report.Skipped, ReasonOff
		return v, false
	}
	if !t.BuildStatus.OK() {
		v.Status, v.Reason = report.Skipped, ReasonBuildFailed
		if t.BuildStatus != "" {
			v.Reason += " (" + string(t.BuildStatus) + ")"
		}
		return v, false
	}
	if why := untestable(facts, t, blocked); why != "" {
		return notTestable(mode, t, why), false
	}
	return v, true
}

// notTestable is the entry of a variant that cannot be tested: skipped, or failed when the
// test is required.
func notTestable(mode Mode, t Target, why string) report.SmokeVariant {
	v := report.SmokeVariant{ID: t.ID, Digest: t.Digest, Ref: t.Ref, Required: mode == ModeOn, Status: report.Skipped, Reason: why}
	if mode == ModeOn {
		v.Status = report.Failed
		v.Reason = "cannot be GPU-tested here, and --gpu on requires it: " + why
	}
	return v
}

func untestable(facts host.Facts, t Target, blocked string) string {
	if !facts.DriverFound || len(facts.GPUs) == 0 {
		if facts.Reason != "" {
			return ReasonNoGPU + " (" + facts.Reason + ")"
		}
		if facts.DriverFound {
			return ReasonNoGPU + " (NVIDIA driver " + facts.Driver + " sees no GPU)"
		}
		return ReasonNoGPU
	}
	if blocked != "" {
		return blocked
	}
	if t.Env != nil {
		reqs, disabled, err := require.ImageRequirements(t.Env)
		if err != nil {
			return err.Error()
		}
		if !disabled && len(reqs) > 0 {
			if res := require.Evaluate(reqs, facts.RequireHost()); !res.Satisfied {
				f := res.Failed[0]
				return fmt.Sprintf("the image's NVIDIA requirements are not met on this host (the container toolkit would refuse it): %s", f.Reason)
			}
		}
	}
	archs := t.Labels[t.LabelsPrefix+"."+matrix.LabelCUDAArchs]
	for _, g := range facts.GPUs {
		if !ArchSupported(archs, g.Arch) {
			return fmt.Sprintf("GPU %d (%s) has compute capability %s, which this image's torch does not support (cuda.archs %s: no binary for %s.x at or below %s and no PTX at or below it)",
				g.Index, g.Name, g.Arch, archs, majorOf(g.Arch), g.Arch)
		}
	}
	return ""
}

func majorOf(arch string) string { m, _, _ := strings.Cut(arch, "."); return m }

// ArchSupported reports whether code built for the TORCH_CUDA_ARCH_LIST archs ("7.0;8.0;9.0+PTX")
// runs on a GPU of compute capability arch ("8.6"): a binary (sm_XY) runs on GPUs of the same
// major and an equal or higher minor; an arch-specific binary (9.0a) only on that exact
// capability; PTX (+PTX) is JIT-compiled for any equal or higher capability. An empty list or
// an unknown arch counts as supported (nothing to check against).
func ArchSupported(archs, arch string) bool {
	gMaj, gMin, ok := parseArch(arch)
	if !ok || strings.TrimSpace(archs) == "" {
		return true
	}
	for _, e := range strings.FieldsFunc(archs, func(r rune) bool { return r == ';' || r == ' ' || r == ',' }) {
		ptx := strings.HasSuffix(e, "+PTX")
		e = strings.TrimSuffix(e, "+PTX")
		specific := strings.HasSuffix(e, "a")
		e = strings.TrimRight(e, "af")
		maj, min, ok := parseArch(e)
		if !ok {
			continue
		}
		switch {
		case specific && maj == gMaj && min == gMin:
			return true
		case !specific && maj == gMaj && min <= gMin:
			return true
		case ptx && !specific && (maj < gMaj || (maj == gMaj && min <= gMin)):
			return true
		}
	}
	return false
}

func parseArch(s string) (major, minor int, ok bool) {
	s = strings.TrimSpace(s)
	a, b, found := strings.Cut(s, ".")
	if !found {
		// "90" (sm_90 style) -> 9.0
		s = strings.TrimPrefix(strings.TrimPrefix(s, "sm_"), "compute_")
		if len(s) < 2 {
			return 0, 0, false
		}
		a, b = s[:len(s)-1], s[len(s)-1:]
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return x, y, true
}
