package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/release"
	"github.com/torchimg/torchimg/smoke"
)

func (a *app) releaseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release [MATRIX]",
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
		Args: matrixArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.v.GetString("stage") == "" {
				return usageErrorf("release needs --stage REPO: images are pushed by digest to a staging repository, then promoted")
			}
			if r := a.v.GetString("runner"); !slices.Contains(smokeRunners, r) {
				return usageErrorf("--runner %q: valid runners are %s", r, strings.Join(smokeRunners, ", "))
			}
			rc, err := a.registry()
			if err != nil {
				return err
			}
			o := release.Options{Publish: a.publishOptions(rc)}
			if o.Build, err = a.buildOptions(rc); err != nil {
				return err
			}
			if a.v.GetBool("update-lock") {
				if err := a.updateLock(cmd.Context(), rc, o.Build); err != nil {
					return err
				}
			}
			so, closeRunner, err := a.smokeOptions(rc)
			if err != nil {
				return err
			}
			defer closeRunner()
			if so.Mode != smoke.ModeOff {
				o.Smoke = so
			}
			p, vs, f, err := a.selected()
			if err != nil {
				return err
			}
			o.Plan, o.Variants, o.Partial = p, vs, !f.Empty()
			out, err := release.Run(cmd.Context(), o)
			if out.Build == nil {
				return &exitError{code: exitFailed, err: err}
			}
			if berr := a.buildDone(out.Build, nil); berr != nil {
				return berr
			}
			if out.Smoke != nil {
				if werr := smoke.WriteSummary(a.out, out.Smoke); werr != nil {
					return werr
				}
			}
			if out.Publish == nil {
				return &exitError{code: exitFailed, err: err}
			}
			if perr := a.publishDone(out.Publish, nil); perr != nil {
				return perr
			}
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
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
