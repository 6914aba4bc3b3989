package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/internal/termtext"
	"github.com/torchimg/torchimg/lock"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/publish"
	"github.com/torchimg/torchimg/report"
)

func (a *app) publishCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Promote staged images to the release repository: immutable tags first, floating tags last",
		Long: `publish reads one or more build reports (one per CI shard) and publishes them as one release:
each passing variant's staged image is copied by digest into the release repository (blobs are
mounted across repositories; nothing already there moves again), then its immutable tags are set.
Floating tags (2.9-cu128, 2.9, latest, ...) move last, and only when every variant of the release
passed its build, probe and required GPU smoke test, and no immutable tag conflicted. A failure or
Ctrl-C leaves every floating tag where it was; running the same command again finishes the job.

Every action is planned first, with reads only: the labels of each image are read from the
registry (config only) and checked against the plan before any tag names it. An immutable tag
that already points to another image is an error naming the tag and both digests, unless --force.
One that already holds the same image (a rebuild that differs only in its provenance attestation)
is left as it is. Credentials come from the docker config and credential helpers; they are never
printed.

Exit status: 0 published, 1 anything failed or floating tags were held, 2 usage error.`,
		Example: `  torchimg publish --report build.json --registry ghcr.io/acme/pytorch-cuda
  torchimg publish --report shard1.json --report shard2.json --smoke smoke.json --matrix matrix.yaml --record release.json
  torchimg publish --report build.json --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			paths := splitList(a.v.GetStringSlice("report"))
			if len(paths) == 0 {
				return usageErrorf("publish needs at least one --report FILE (from torchimg build --report)")
			}
			rc, err := a.registry()
			if err != nil {
				return err
			}
			o := a.publishOptions(rc)
			for _, p := range paths {
				r, err := report.ReadBuild(p)
				if err != nil {
					return err
				}
				o.Reports = append(o.Reports, r)
			}
			if m := a.v.GetString("matrix"); m != "" {
				if o.Plan, err = a.loadPlan(m); err != nil {
					return err
				}
			}
			for _, p := range splitList(a.v.GetStringSlice("smoke")) {
				s, err := report.ReadSmoke(p)
				if err != nil {
					return err
				}
				o.Smokes = append(o.Smokes, s)
			}
			out, err := publish.Run(cmd.Context(), o)
			return a.publishDone(out, err)
		},
	}
	addPublishFlags(cmd)
	cmd.Flags().StringSlice("report", nil, "build report to publish (repeatable; required)")
	addMatrixFileFlag(cmd.Flags(), "", "the matrix the reports were built from: checks that every variant of the plan is in a report before floating tags move (--matrix is another name for it)", matrixAliases...)
	return cmd
}

// publishDone prints what a publish did (the action table on stdout), writes the release record
// (--record, --record-md, $GITHUB_STEP_SUMMARY) and turns its verdict into the exit status.
func (a *app) publishDone(out *publish.Outcome, err error) error {
	if out == nil {
		return &exitError{code: exitFailed, err: err}
	}
	res := out.Result
	if out.Unchecked {
		fmt.Fprintln(a.err, "note: these reports do not list their plan's variants and no --matrix was given, so publish cannot check that every variant was built; floating tags move if every reported variant passed")
	}
	if werr := publish.WriteActions(a.out, res.Actions, !out.DryRun); werr != nil {
		return werr
	}
	if p := a.v.GetString("record"); p != "" {
		if werr := out.Record.WriteJSON(p); werr != nil {
			return werr
		}
	}
	if p := a.v.GetString("record-md"); p != "" {
		f, werr := os.Create(p)
		if werr != nil {
			return werr
		}
		werr = publish.WriteMarkdown(f, out.Record)
		f.Close()
		if werr != nil {
			return werr
		}
	}
	if !out.DryRun {
		if werr := publish.AppendStepSummary(out.Record); werr != nil {
			a.log.Warn("step summary", "err", werr)
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(a.err, "error: %s\n", termtext.Escape(e))
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if res.FloatingHeld != "" {
		fmt.Fprintf(a.err, "floating tags not moved: %s\n", res.FloatingHeld)
	}
	if res.FloatingSkipped != "" {
		fmt.Fprintf(a.err, "floating tags left alone: %s\n", res.FloatingSkipped)
	}
	if out.DryRun {
		fmt.Fprintf(a.err, "dry run: nothing changed in %s\n", res.Repository)
	}
	if err := out.Err(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if !out.DryRun {
		fmt.Fprintf(a.err, "published %d variant(s) to %s; labels verified; %d image(s) copied, %d tag(s) written\n", len(res.Published), res.Repository, res.Copied, res.Written)
	}
	return nil
}

func (a *app) addPlanDiffFlags(cmd *cobra.Command) {
	cmd.Flags().Bool("diff", false, "compare the plan with the release repository: tags created, moved (from which variant) or unchanged, and each variant's image new, unchanged or rebuilt (because of which input)")
	cmd.Flags().String("registry", "", "with --diff: the repository to compare with (default: the matrix's repository)")
	cmd.Flags().Int64("source-date-epoch", -1, "with --diff: the SOURCE_DATE_EPOCH the build would use (default: $SOURCE_DATE_EPOCH, else each base image's creation time)")
	addRegistryFlags(cmd)
}

func (a *app) planDiff(ctx context.Context, p *matrix.Plan, vs []*matrix.Variant) error {
	repo := a.v.GetString("registry")
	if repo == "" {
		repo = p.Repository
	}
	rc, err := a.registry()
	if err != nil {
		return err
	}
	inputs, err := fingerprint.Resolve(ctx, fingerprint.NewResolver(rc), p, vs, a.sourceDateEpoch())
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	for _, in := range inputs {
		switch {
		case in.RenderErr != nil:
			return &exitError{code: exitFailed, err: in.RenderErr}
		case in.BaseErr != nil:
			fmt.Fprintf(a.err, "warning: %s: %v\n", in.Variant.ID, in.BaseErr)
		}
	}
	if err := p.SetInputs(fingerprint.Digests(inputs)); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	d, err := publish.Diff(ctx, rc, p, vs, repo, inputs)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	// The lock's drift: what moved under it since it was written (the build still uses the lock).
	var drift []lock.Drift
	var notes []string
	if f := a.lockUsed; f != nil {
		if drift, notes, err = lockMoved(ctx, rc, f, vs); err != nil {
			return &exitError{code: exitFailed, err: err}
		}
	}
	if a.v.GetString("output") == "json" {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		out := map[string]any{"repository": repo, "actions": d.Actions, "variants": d.Variants}
		if a.lockUsed != nil {
			if drift == nil {
				drift = []lock.Drift{}
			}
			out["lock"] = map[string]any{"file": a.lockUsed.Path(), "drift": drift, "notes": notes}
		}
		return enc.Encode(out)
	}
	if err := publish.WriteActions(a.out, d.Actions, false); err != nil {
		return err
	}
	fmt.Fprintln(a.out)
	if err := publish.WriteChanges(a.out, d.Variants); err != nil {
		return err
	}
	if a.lockUsed != nil {
		fmt.Fprintf(a.out, "\nLock %s: ", a.lockUsed.Path())
		if len(drift) == 0 {
			fmt.Fprintln(a.out, "no drift (the bases and wheels it names are unchanged)")
		} else {
			fmt.Fprintf(a.out, "%d drift(s); these builds use the lock until torchimg lock refreshes it\n", len(drift))
			for _, dr := range drift {
				fmt.Fprintln(a.out, "  "+termtext.Escape(dr.Message))
			}
		}
		for _, n := range notes {
			fmt.Fprintln(a.out, "  note: "+termtext.Escape(n))
		}
	}
	return nil
}
