package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/templates"
)

func (a *app) renderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "render [MATRIX]",
		Short: "Print a variant's Dockerfile, or write every variant's build context",
		Long: `render prints the Dockerfile of the one variant selected with --only, for review, or with --out DIR
writes the build context of every selected variant into DIR/<variant id>/ (Dockerfile, install-python.sh,
the self-check scripts and image.env). The files are what 'torchimg build' sends to BuildKit.`,
		Example: `  torchimg render --only torch=2.9.1,cuda=12.8,os=ubuntu24.04,flavor=runtime
  torchimg render --out dist/contexts
  torchimg render examples/offline/matrix.yaml --only id=2.13.0-cu130-py3.11-runtime-debian12`,
		Args: matrixArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, vs, _, err := a.selection()
			if err != nil {
				return err
			}
			out := a.v.GetString("out")
			if out == "" {
				if len(vs) != 1 {
					ids := ""
					for i, v := range vs {
						if i == 6 {
							ids += fmt.Sprintf("\n  ... and %d more", len(vs)-6)
							break
						}
						ids += "\n  " + v.ID
					}
					return usageErrorf("render prints one Dockerfile: --only selects %d variants; narrow it (e.g. --only id=VARIANT) or use --out DIR%s", len(vs), ids)
				}
				c, err := templates.Render(p, vs[0])
				if err != nil {
					return err
				}
				_, err = a.out.Write(c.Dockerfile())
				return err
			}
			// Render everything first: a template error leaves nothing half-written.
			ctxs := make([]*templates.Context, len(vs))
			for i, v := range vs {
				if ctxs[i], err = templates.Render(p, v); err != nil {
					return err
				}
			}
			for i, v := range vs {
				if err := ctxs[i].WriteDir(filepath.Join(out, v.ID)); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.err, "wrote %d build context(s) to %s\n", len(vs), out)
			return nil
		},
	}
	addMatrixFlag(cmd.Flags())
	addFilterFlags(cmd.Flags())
	addLockFlags(cmd.Flags())
	cmd.Flags().String("out", "", "write every selected variant's build context into DIR/<variant id>/")
	return cmd
}
