package smoke

import (
	"fmt"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"

	"github.com/torchimg/torchimg/report"
)

// Reasons a variant is not tested (the report's reason starts with one of these).
const (
	ReasonOff         = "GPU smoke tests are off (--gpu off)"
	ReasonBuildFailed = "build failed"
	ReasonNoGPU       = "no GPU on this host"
	ReasonCPU         = "CPU image: no GPU test"
)

// Decide is the preflight of one variant: whether it can be GPU-tested on this host, and if
// not, its report entry (skipped, or failed under ModeOn). blocked is a reason the runner
// cannot test it ("" when it can). With run true the entry is the start of the result.
//
// A CPU image (matrix.CPUImage) is skipped and never required: it uses no GPU, so --gpu on
// does not hold it back from publishing.
//
// The checks, in order: the mode, the build, a CPU image, a GPU on the host, the runner, the image's driver
// needs judged as check judges them (gpu/driver: NVIDIA_REQUIRE_* evaluated as the NVIDIA
// container toolkit does), and every GPU's architecture against the image's cuda.archs label
// (gpu/arch).
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
	if matrix.CPUImage(t.Labels, t.LabelsPrefix) {
		v.Status, v.Reason, v.Required = report.Skipped, ReasonCPU, false
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
		rh := facts.RequireHost()
		db, _ := compat.Default() // embedded: a load error is a test failure of matrix/compat
		// Judged under the legacy hook, the stricter mode: a variant the hook refuses is not
		// tested, even where a CDI runner would start it.
		j := driver.Judge(driver.ImageOf(t.Labels, t.LabelsPrefix, t.Env, db), driver.Host{Driver: rh.Driver, CUDA: rh.CUDA, Devices: rh.Devices, Mode: driver.Legacy})
		if j.Status() == driver.Fail {
			return "the image cannot use this host's driver: " + j.Reason()
		}
	}
	archs := t.Labels[t.LabelsPrefix+"."+matrix.LabelCUDAArchs]
	list := arch.ParseList(archs)
	for _, g := range facts.GPUs {
		// An image that states no architectures, or a GPU of unknown capability, is tested.
		if s, _ := list.RunsOn(g.Arch); s == arch.None {
			return fmt.Sprintf("GPU %d (%s) has compute capability %s, which this image's torch does not support (cuda.archs %s: no cubin it can run and no PTX at or below it)",
				g.Index, g.Name, g.Arch, archs)
		}
	}
	return ""
}
