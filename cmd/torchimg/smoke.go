package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
)

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
			rc, err := a.registry()
			if err != nil {
				return err
			}
			o, closeRunner, err := a.smokeOptions(rc)
			if err != nil {
				return err
			}
			defer closeRunner()
			var reps []*report.Build
			for _, path := range paths {
				r, err := report.ReadBuild(path)
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				reps = append(reps, r)
			}
			sr, err := smoke.Run(cmd.Context(), smoke.Targets(reps...), *o)
			if err != nil {
				return err
			}
			if err := smoke.WriteSummary(a.out, sr); err != nil {
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
