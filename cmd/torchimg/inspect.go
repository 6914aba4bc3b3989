package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/inspect"
)

func (a *app) inspectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show what an image contains, from its labels, without pulling it",
		Long: `inspect reads an image's manifest and config (never its layers) from a registry, or from an OCI
image layout (a directory with index.json, or oci:DIR), and shows torch, CUDA, cuDNN, NCCL, Python,
OS, flavor, driver requirements, GPU architectures, creation time and revision, and every tag of the
repository that points to the same digest. For an image torchimg did not build, it says so and
shows the standard labels and CUDA environment it does have.`,
		Example: `  torchimg inspect ghcr.io/torchimg/pytorch-cuda:2.9-cu128
  torchimg inspect dist/oci/2.9.1-cu128-py3.12-runtime-ubuntu24.04 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := a.v.GetString("output")
			if format != "table" && format != "json" {
				return usageErrorf("--output %q: valid formats are table, json", format)
			}
			rc, err := a.registry()
			if err != nil {
				return err
			}
			info, err := inspect.Image(cmd.Context(), rc, args[0], !a.v.GetBool("no-tags"))
			if err != nil && info == nil {
				return &exitError{code: exitFailed, err: err}
			}
			if err != nil {
				fmt.Fprintf(a.err, "warning: %v\n", err)
			}
			if format == "json" {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return inspect.WriteTable(a.out, info)
		},
	}
	cmd.Flags().StringP("output", "o", "table", "output format: table, json")
	cmd.Flags().Bool("no-tags", false, "do not list the repository's tags that point to the image")
	addRegistryFlags(cmd)
	return cmd
}
