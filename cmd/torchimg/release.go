package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
)

func (a *app) releaseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "plan → build → (GPU smoke) → publish, in one command for CI",
		Long: `release validates the matrix, builds the selected variants (pushed by digest to --stage after
their probe passed), optionally runs the GPU smoke tests on this host (--gpu auto|on), and publishes
the result: images by digest and immutable tags, then floating tags only if every variant of the
whole plan passed.

With --only or --shard, a release publishes its variants' immutable tags but never moves floating
tags (the rest of the plan is missing); run 'torchimg publish' once with every shard's report for
that (see examples/github/release.yml).

Exit status: 0 everything published; 1 the matrix is invalid, a build, smoke test or publish step
failed, or floating tags were held; 2 usage error.`,
		Example: `  torchimg release --builder tcp://buildkitd:1234 --stage ghcr.io/acme/staging --registry ghcr.io/acme/pytorch-cuda
  torchimg release --shard 2/4 --stage ghcr.io/acme/staging --report build-2.json --gpu on`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if a.v.GetString("stage") == "" {
				return usageErrorf("release needs --stage REPO: images are pushed by digest to a staging repository, then promoted")
			}
			if err := a.checkBuildFlags(); err != nil {
				return err
			}
			if _, err := smoke.ParseMode(a.v.GetString("gpu")); err != nil {
				return usageErrorf("%v", err)
			}
			if r := a.v.GetString("runner"); !slices.Contains(smokeRunners, r) {
				return usageErrorf("--runner %q: valid runners are %s", r, strings.Join(smokeRunners, ", "))
			}
			p, vs, f, err := a.selected()
			if err != nil {
				return err
			}
			rep, berr := a.buildVariants(ctx, p, vs)
			if rep == nil {
				return berr
			}
			if path := a.v.GetString("report"); path != "" {
				if err := rep.WriteFile(path); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("cancelled before publishing; nothing was published")}
			}
			var smokes []*report.Smoke
			if a.v.GetString("gpu") != "off" {
				sr, err := a.smokeReport(ctx, rep)
				if err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("GPU smoke: %w", err)}
				}
				smokes = append(smokes, sr)
			}
			skip := ""
			plan := p
			if !f.Empty() {
				skip = "a partial release (--only/--shard): publish every shard's report together to move floating tags"
				plan = nil
			}
			perr := a.publishWith(ctx, []*report.Build{rep}, smokes, plan, skip)
			if berr != nil {
				return berr
			}
			return perr
		},
	}
	fs := cmd.Flags()
	addMatrixFlag(fs)
	addFilterFlags(fs)
	addBuildFlags(cmd)
	addPublishFlags(cmd)
	addSmokeFlags(cmd)
	return cmd
}
