package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

func (a *app) buildCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the plan's variants through BuildKit, probe each image, export the ones that pass",
		Long: `build renders every selected variant and builds it on a BuildKit daemon. Each variant is one
gateway build: the Dockerfile is solved, the probe runs inside the result (CPU, no network) and compares
what the image really contains (Python, torch, torch.version.cuda, cuDNN, NCCL, architectures, extra
packages) with its labels; only an image that matches is exported: pushed by digest to --stage, or
written as an OCI image layout into --oci-dir/<variant> when no staging repository is given.

One failing variant never stops the others; the summary lists every variant, and the exit status
is 1 when any failed. With several --builder addresses, variants are spread over them and variants
sharing a base image stay on one builder. Ctrl-C cancels every build.

With a lock file beside the matrix (matrix.lock, from torchimg lock), every variant builds FROM its
locked base digest and installs exactly its locked wheels (pip --require-hashes --no-deps); a lock
that does not fit the matrix is an error naming the variant. --update-lock refreshes it first.

Private package indexes get their credentials as a BuildKit secret, never in the matrix:
--secret id=netrc,src=FILE mounts FILE (a netrc: machine HOST login USER password TOKEN) at
/root/.netrc in every pip step of the default template, and nowhere in the image.`,
		Example: `  torchimg build --builder unix:///run/buildkit/buildkitd.sock --oci-dir dist/oci
  torchimg build --stage ghcr.io/acme/pytorch-staging --only torch=2.9.* --report build.json
  torchimg build --secret id=netrc,src=$HOME/.netrc --oci-dir dist/oci
  torchimg build --builder tcp://bk1:1234 --builder tcp://bk2:1234 --tls-ca ca.pem --jobs 8 \
    --cache-from type=registry,ref=ghcr.io/acme/cache:{id} --cache-to type=registry,ref=ghcr.io/acme/cache:{id},mode=max`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := a.registry()
			if err != nil {
				return err
			}
			o, err := a.buildOptions(rc)
			if err != nil {
				return err
			}
			if a.v.GetBool("update-lock") {
				if err := a.updateLock(cmd.Context(), rc, o); err != nil {
					return err
				}
			}
			p, vs, _, err := a.selected()
			if err != nil {
				return err
			}
			rep, err := build.Run(cmd.Context(), p, vs, o)
			return a.buildDone(rep, err)
		},
	}
	fs := cmd.Flags()
	addMatrixFlag(fs)
	addFilterFlags(fs)
	addBuildFlags(cmd)
	return cmd
}

// buildDone prints the summary of a build and writes its report (--report); the report is
// written whatever the build's outcome.
func (a *app) buildDone(rep *report.Build, err error) error {
	if rep == nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintln(a.err)
	if werr := build.WriteSummary(a.err, rep.Variants); werr != nil {
		return werr
	}
	if path := a.v.GetString("report"); path != "" {
		if werr := rep.WriteFile(path); werr != nil {
			return werr
		}
		fmt.Fprintf(a.err, "build report: %s\n", path)
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

// selection loads the plan (--file) and applies --only/--shard.
func (a *app) selection() (*matrix.Plan, []*matrix.Variant, matrix.Filter, error) {
	f, err := a.filter()
	if err != nil {
		return nil, nil, f, err
	}
	p, err := a.loadPlan(a.v.GetString("file"))
	if err != nil {
		return nil, nil, f, err
	}
	vs := f.Apply(p.Variants)
	if err := a.useLock(p, vs); err != nil {
		return nil, nil, f, err
	}
	return p, vs, f, nil
}

// selected is selection for commands that build: selecting nothing is an error.
func (a *app) selected() (*matrix.Plan, []*matrix.Variant, matrix.Filter, error) {
	p, vs, f, err := a.selection()
	if err != nil {
		return nil, nil, f, err
	}
	if len(vs) == 0 {
		return nil, nil, f, &exitError{code: exitFailed, err: fmt.Errorf("--only/--shard select no variant of %d", len(p.Variants))}
	}
	return p, vs, f, nil
}
