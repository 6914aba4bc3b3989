package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
)

var smokeRunners = []string{"buildkit", "docker", "host"}

func (a *app) smokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "smoke",
		Short: "Run the GPU probe in the staged images of a build report on this host's GPUs",
		Long: `smoke reads a build report (torchimg build --report) and runs the GPU probe in each staged
image: CUDA available, device count and names, a matmul compared with the CPU, a cuDNN convolution,
a one-rank NCCL all-reduce and bf16. A variant passes when torch sees the GPU and every check is ok.
The results go into the smoke report (--out) that publish --smoke reads.

First a preflight with the host's facts (NVML): the driver and GPUs, each image's NVIDIA_REQUIRE_*
(read from its config in the registry, evaluated the way the NVIDIA container toolkit does), each
GPU's architecture against the image's cuda.archs label, and the runner itself (the CDI device on
the BuildKit daemon, the docker daemon, Python). A variant that cannot be tested here is skipped
with the reason (--gpu auto), or failed (--gpu on: the test is required, and publish holds the
variant back). --gpu off records every variant as skipped. Variants whose build failed are skipped.

Runners: buildkit (default) runs the probe on the daemon with a CDI device (--cdi-device,
generated on the GPU host with 'nvidia-ctk cdi generate'); docker runs 'docker run --gpus all'
(needs the NVIDIA Container Toolkit); host runs probe.py with this machine's Python, for CI jobs
that already run inside the image.

Exit status: 0 nothing failed (skips included), 1 a variant failed, 2 usage error.`,
		Example: `  torchimg smoke --report build.json --builder tcp://gpu-box:1234 --gpu on --out smoke.json
  torchimg smoke --report build.json --runner docker
  torchimg smoke --report build.json --runner host --gpu on   # inside the image, in CI`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			paths := splitList(a.v.GetStringSlice("report"))
			if len(paths) == 0 {
				return usageErrorf("smoke needs --report FILE (from torchimg build --report; repeatable)")
			}
			var rep *report.Build
			for _, path := range paths {
				r, err := report.ReadBuild(path)
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				if rep == nil {
					rep = r
				} else {
					rep.Variants = append(rep.Variants, r.Variants...)
				}
			}
			sr, err := a.smokeReport(cmd.Context(), rep)
			if err != nil {
				return err
			}
			if out := a.v.GetString("out"); out != "" {
				if err := sr.WriteFile(out); err != nil {
					return err
				}
				fmt.Fprintf(a.err, "smoke report: %s\n", out)
			}
			if n := len(sr.Failed()); n > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("GPU smoke: %d of %d variant(s) failed", n, len(sr.Variants))}
			}
			return nil
		},
	}
	cmd.Flags().StringSlice("report", nil, "build report to test (required; repeatable, e.g. one per CI shard)")
	cmd.Flags().String("out", "smoke.json", "write the smoke report (JSON) here; publish --smoke reads it")
	addSmokeFlags(cmd)
	return cmd
}

// addSmokeFlags registers the flags smokeReport reads. The builder and TLS flags are added
// only when the command does not have them yet (release registers them with addBuildFlags
// first).
func addSmokeFlags(cmd *cobra.Command) {
	addRegistryFlags(cmd)
	fs := cmd.Flags()
	fs.String("gpu", string(smoke.ModeAuto), "GPU smoke tests: auto (where this host can), on (required: an untestable variant fails), off")
	fs.String("runner", "buildkit", "how to run the probe: "+strings.Join(smokeRunners, ", "))
	fs.String("cdi-device", smoke.DefaultCDIDevice, "buildkit runner: the CDI device that passes the GPUs in")
	fs.String("python", "", "host runner: the Python to run the probe with (default python3 on PATH)")
	if fs.Lookup("builder") == nil {
		fs.StringSlice("builder", []string{build.DefaultAddr}, "BuildKit daemon address for the buildkit runner (the first one is used)")
	}
	for _, f := range []struct{ name, usage string }{
		{"tls-ca", "CA certificate for a tcp:// builder"},
		{"tls-cert", "client certificate for a tcp:// builder"},
		{"tls-key", "client key for a tcp:// builder"},
		{"tls-server-name", "server name to verify for a tcp:// builder"},
	} {
		if fs.Lookup(f.name) == nil {
			fs.String(f.name, "", f.usage)
		}
	}
}

// smokeReport runs the GPU smoke tests of a build report with the smoke flags of the command
// (used by `torchimg release`). The report lists every variant; failures are in it, not in the
// error, which is for bad flags and broken plumbing.
func (a *app) smokeReport(ctx context.Context, rep *report.Build) (*report.Smoke, error) {
	mode, err := smoke.ParseMode(a.v.GetString("gpu"))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	runner, closeRunner, err := a.smokeRunner()
	if err != nil {
		return nil, err
	}
	defer closeRunner()
	var targets []smoke.Target
	for _, v := range rep.Variants {
		targets = append(targets, smoke.Target{
			ID: v.ID, Ref: v.StagedRef, Digest: v.Digest, BuildStatus: v.Status,
			Labels: v.Labels, LabelsPrefix: rep.LabelsPrefix,
		})
	}
	rc, err := a.registry()
	if err != nil {
		return nil, err
	}
	sr, err := smoke.Run(ctx, targets, smoke.Options{
		Mode:     mode,
		Runner:   runner,
		Host:     a.hostSource(),
		ImageEnv: smoke.RegistryEnv(rc),
		Logf:     func(format string, args ...any) { a.logger().Info(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return nil, err
	}
	if err := smoke.WriteSummary(a.out, sr); err != nil {
		return nil, err
	}
	return sr, nil
}

func (a *app) logger() interface{ Info(string, ...any) } {
	if a.log != nil {
		return a.log
	}
	return nopLogger{}
}

type nopLogger struct{}

func (nopLogger) Info(string, ...any) {}

// smokeRunner builds the runner named by --runner. The BuildKit runner connects to the daemon
// only when a variant gets that far (a host without a GPU never needs the daemon).
func (a *app) smokeRunner() (smoke.Runner, func(), error) {
	switch r := a.v.GetString("runner"); r {
	case "buildkit":
		addrs := splitList(a.v.GetStringSlice("builder"))
		addr := build.DefaultAddr
		if len(addrs) > 0 {
			addr = addrs[0]
		}
		l := &lazyBuildKit{addr: addr, device: a.v.GetString("cdi-device"), tls: build.TLS{
			CA: a.v.GetString("tls-ca"), Cert: a.v.GetString("tls-cert"), Key: a.v.GetString("tls-key"), ServerName: a.v.GetString("tls-server-name"),
		}}
		return l, l.close, nil
	case "docker":
		return &smoke.Docker{}, func() {}, nil
	case "host":
		return &smoke.Host{Python: a.v.GetString("python")}, func() {}, nil
	default:
		return nil, nil, usageErrorf("--runner %q: valid runners are %s", r, strings.Join(smokeRunners, ", "))
	}
}

// lazyBuildKit is smoke.BuildKit on a daemon it dials at the first Check or Run.
type lazyBuildKit struct {
	addr, device string
	tls          build.TLS
	once         sync.Once
	bk           *build.BuildKit
	runner       *smoke.BuildKit
	err          error
	work         string
}

var (
	_ smoke.Runner   = (*lazyBuildKit)(nil)
	_ smoke.Checker  = (*lazyBuildKit)(nil)
	_ smoke.Selector = (*lazyBuildKit)(nil)
)

func (l *lazyBuildKit) Name() string { return "buildkit" }

func (l *lazyBuildKit) connect(ctx context.Context) (*smoke.BuildKit, error) {
	l.once.Do(func() {
		l.work, l.err = os.MkdirTemp("", "torchimg-smoke-")
		if l.err != nil {
			return
		}
		l.bk, l.err = build.Connect(ctx, l.addr, l.tls, l.work)
		if l.err == nil {
			l.runner = &smoke.BuildKit{Client: l.bk.Client(), Device: l.device}
		}
	})
	return l.runner, l.err
}

func (l *lazyBuildKit) Check(ctx context.Context) error {
	r, err := l.connect(ctx)
	if err != nil {
		return err
	}
	return r.Check(ctx)
}

func (l *lazyBuildKit) Selects(t smoke.Target) (bool, string) {
	return (&smoke.BuildKit{}).Selects(t)
}

func (l *lazyBuildKit) Run(ctx context.Context, t smoke.Target) (*report.Findings, error) {
	r, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, t)
}

func (l *lazyBuildKit) close() {
	if l.bk != nil {
		l.bk.Close()
	}
	if l.work != "" {
		os.RemoveAll(l.work)
	}
}
