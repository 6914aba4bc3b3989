package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/smoke"
)

// smokeCmd is implemented in this file (torchimg smoke).
func (a *app) smokeCmd() *cobra.Command {
	return &cobra.Command{Use: "smoke", Short: "(not yet implemented)", Hidden: true}
}

// smokeReport runs the GPU smoke tests of a build report with the smoke flags of the command
// (used by `torchimg release`).
func (a *app) smokeReport(ctx context.Context, rep *build.Report) (*smoke.Report, error) {
	return nil, errors.New("smoke: not implemented")
}

// addSmokeFlags registers the smoke flags (shared with `torchimg release`).
func addSmokeFlags(cmd *cobra.Command) {
	cmd.Flags().String("gpu", "off", "GPU smoke tests: auto, on, off")
}
