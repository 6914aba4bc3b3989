package smoke

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"

	"github.com/torchimg/torchimg/report"
)

// Runner runs the GPU probe (probe.py --gpu) in an image with the host's GPUs. There is one
// implementation per way of running a container: BuildKit (a CDI device), Docker (--gpus) and
// Host (the current Python, for CI jobs that already run inside the image).
type Runner interface {
	// Name is the runner's name in the smoke report: "buildkit", "docker" or "host".
	Name() string
	// Run runs the probe in the target's image and returns its findings. An error means the
	// probe did not run (or printed no findings); a probe that ran and found a broken GPU
	// stack is not an error: its findings say so.
	Run(ctx context.Context, t Target) (*report.Findings, error)
}

// Checker is implemented by runners that can tell, before any variant, that they cannot run
// anything here (no CDI device on the daemon, no docker daemon, no Python).
type Checker interface {
	// Check returns an error that says what is missing and how to get it.
	Check(ctx context.Context) error
}

// Selector is implemented by runners that can only test some targets (a staged image is
// needed by BuildKit and Docker; the host runner tests only the image it runs in).
type Selector interface {
	// Selects reports whether the runner can test t, and why not.
	Selects(t Target) (ok bool, reason string)
}

// Target is one built variant to smoke-test.
type Target struct {
	ID          string
	Ref         string // the staged image, REPO@sha256:... ("" when the build was not pushed)
	Digest      string
	BuildStatus report.Status // the build's status; only variants with a good image are tested
	Labels      map[string]string
	// LabelsPrefix is the namespace of the torchimg labels ("io.torchimg").
	LabelsPrefix string
	// Env is the image config's environment (NVIDIA_REQUIRE_* live there). When nil, Run reads
	// it with Options.ImageEnv.
	Env map[string]string
	// ProbeArgs are extra probe arguments (--package NAME).
	ProbeArgs []string
}

// Targets are the variants of build reports (the CI shards of one release), in report order.
func Targets(reps ...*report.Build) []Target {
	var out []Target
	for _, rep := range reps {
		for _, v := range rep.Variants {
			out = append(out, Target{ID: v.ID, Ref: v.StagedRef, Digest: v.Digest, BuildStatus: v.Status,
				Labels: v.Labels, LabelsPrefix: rep.LabelsPrefix})
		}
	}
	return out
}

// Mode says whether GPU smoke tests run.
type Mode string

// GPU modes (--gpu).
const (
	// ModeAuto tests where the host can, and skips (with the reason) where it cannot.
	ModeAuto Mode = "auto"
	// ModeOn requires the tests: a variant that cannot be tested fails.
	ModeOn Mode = "on"
	// ModeOff runs nothing; every variant is reported skipped.
	ModeOff Mode = "off"
)

// Modes lists the valid modes.
var Modes = []string{string(ModeAuto), string(ModeOn), string(ModeOff)}

// ParseMode parses --gpu.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if s == m {
			return Mode(s), nil
		}
	}
	return "", fmt.Errorf("--gpu %q: want %s", s, strings.Join(Modes, ", "))
}

// Options configure Run.
type Options struct {
	Mode   Mode
	Runner Runner
	// Host gives the host's driver and GPUs (default host.NVML()).
	Host host.Source
	// ImageEnv reads a staged image's config environment (without pulling layers); used for
	// targets without Env. RegistryEnv reads it from the registry.
	ImageEnv func(ctx context.Context, ref string) (map[string]string, error)
	// Logf, when set, gets one line per variant as it goes.
	Logf func(format string, args ...any)
}

func hostInfo(f host.Facts) *report.SmokeHost {
	h := &report.SmokeHost{DriverFound: f.DriverFound, Reason: f.Reason, Driver: f.Driver, CUDA: f.CUDA}
	for _, g := range f.GPUs {
		h.GPUs = append(h.GPUs, report.SmokeGPU{Index: g.Index, Name: g.Name, Brand: g.Brand, Arch: g.Arch})
	}
	return h
}

// Run smoke-tests the targets one after another (they share the host's GPUs) and returns the
// report. Variants that cannot be tested here are skipped with the reason, or failed in ModeOn.
// The error is only for a bad call (no runner); every per-variant problem is in the report.
func Run(ctx context.Context, targets []Target, o Options) (*report.Smoke, error) {
	if o.Mode == "" {
		o.Mode = ModeAuto
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return nil, err
	}
	if o.Runner == nil {
		return nil, fmt.Errorf("smoke: no runner")
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rep := &report.Smoke{Schema: report.SmokeSchema, Runner: o.Runner.Name(), Mode: string(o.Mode), Started: time.Now().UTC()}
	defer func() { rep.Finished = time.Now().UTC() }()

	var facts host.Facts
	if o.Mode != ModeOff {
		if o.Host == nil {
			o.Host = host.NVML()
		}
		f, err := o.Host.Facts(ctx)
		if err != nil {
			f = host.Facts{Reason: "reading the host's GPUs failed: " + err.Error()}
		}
		facts = f
		rep.Host = hostInfo(facts)
	}

	// The runner's own check runs at most once, and only when a variant gets that far.
	var checked bool
	var checkErr error
	runnerBlock := func(t Target) string {
		if !checked {
			checked = true
			if c, ok := o.Runner.(Checker); ok {
				checkErr = c.Check(ctx)
			}
		}
		if checkErr != nil {
			return checkErr.Error()
		}
		if s, ok := o.Runner.(Selector); ok {
			if ok, why := s.Selects(t); !ok {
				return why
			}
		}
		return ""
	}

	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			rep.Variants = append(rep.Variants, report.SmokeVariant{ID: t.ID, Digest: t.Digest, Ref: t.Ref, Status: report.Failed, Required: o.Mode == ModeOn, Reason: "cancelled"})
			continue
		}
		v := runOne(ctx, t, o, facts, runnerBlock)
		logf("%s: %s %s", v.ID, v.Status, v.Reason)
		rep.Variants = append(rep.Variants, v)
	}
	return rep, nil
}

func runOne(ctx context.Context, t Target, o Options, facts host.Facts, runnerBlock func(Target) string) report.SmokeVariant {
	// The cheap decisions first (mode, build, host), so that no registry or daemon is asked
	// about a variant that is skipped anyway.
	v, run := Decide(o.Mode, facts, t, "")
	if !run {
		return v
	}
	if why := runnerBlock(t); why != "" {
		v, _ = Decide(o.Mode, facts, t, why)
		return v
	}
	if t.Env == nil && t.Ref != "" && o.ImageEnv != nil {
		env, err := o.ImageEnv(ctx, t.Ref)
		if err != nil {
			return notTestable(o.Mode, t, "cannot read the image's environment: "+err.Error())
		}
		t.Env = env
	}
	if v, run = Decide(o.Mode, facts, t, ""); !run {
		return v
	}
	start := time.Now()
	f, err := o.Runner.Run(ctx, t)
	v.Seconds = round3(time.Since(start).Seconds())
	if err != nil {
		v.Status, v.Reason = report.Failed, err.Error()
		if f != nil {
			v.GPU, v.SelfCheck = f.GPU, f.SelfCheck
		}
		return v
	}
	v.GPU = f.GPU
	v.Errors = f.Errors
	v.SelfCheck = f.SelfCheck
	if ok, why := Verdict(f); ok {
		v.Status = report.Passed
	} else {
		v.Status, v.Reason = report.Failed, why
	}
	return v
}

// Verdict decides whether the probe's GPU findings pass: torch saw a GPU and every GPU check
// (matmul, cuDNN conv, NCCL, bf16) was ok. The reason names what failed.
func Verdict(f *report.Findings) (bool, string) {
	if f == nil {
		return false, "the probe reported nothing"
	}
	g := f.GPU
	if g == nil {
		why := "the probe ran no GPU checks"
		if len(f.Errors) > 0 {
			why += ": " + strings.Join(f.Errors, "; ")
		}
		return false, why
	}
	if !g.Available {
		why := "torch sees no GPU"
		if g.Error != "" {
			why += " (" + g.Error + ")"
		}
		return false, why
	}
	if g.Error != "" {
		return false, "GPU probe: " + g.Error
	}
	if len(g.Checks) == 0 {
		return false, "the probe ran no GPU checks"
	}
	names := make([]string, 0, len(g.Checks))
	for n := range g.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	var failed []string
	for _, n := range names {
		if c := g.Checks[n]; !c.OK {
			failed = append(failed, n+": "+c.Detail)
		}
	}
	if len(failed) > 0 {
		return false, "GPU checks failed: " + strings.Join(failed, "; ")
	}
	if len(f.Errors) > 0 {
		return false, "probe errors: " + strings.Join(f.Errors, "; ")
	}
	return true, ""
}

func round3(s float64) float64 { return float64(int64(s*1000+0.5)) / 1000 }

// RegistryEnv reads a staged image's environment from its registry (manifest and config only).
func RegistryEnv(c *registry.Client) func(ctx context.Context, ref string) (map[string]string, error) {
	return func(ctx context.Context, ref string) (map[string]string, error) {
		info, err := inspect.Image(ctx, c, ref, false)
		if err != nil {
			return nil, err
		}
		return info.Env, nil
	}
}
