package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/publish"
	"github.com/torchimg/torchimg/report"
)

// registry is the registry client of this command, from --retries and --insecure-registry.
func (a *app) registry() (*registry.Client, error) {
	return registry.New(registry.Options{Retries: a.v.GetInt("retries"), Insecure: a.v.GetBool("insecure-registry")})
}

// addRegistryFlags registers the flags of registry access (once, for commands that combine
// the flag sets of several stages).
func addRegistryFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	if fs.Lookup("retries") == nil {
		fs.Int("retries", registry.DefaultRetries, "retries per registry request on 408/429/5xx and dropped connections (exponential backoff, Retry-After honoured)")
	}
	if fs.Lookup("insecure-registry") == nil {
		fs.Bool("insecure-registry", false, "allow plain HTTP to registries (always on for 127.0.0.1, localhost and private addresses)")
	}
}

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

An immutable tag that already points to another image is an error naming the tag and both digests,
unless --force. One that already holds the same image (a rebuild that differs only in its
provenance attestation) is left as it is. Afterwards the labels of each image are read back from
the registry and checked against the plan. Credentials come from the docker config and credential
helpers; they are never printed.

Exit status: 0 published, 1 anything failed or floating tags were held, 2 usage error.`,
		Example: `  torchimg publish --report build.json --registry ghcr.io/acme/pytorch-cuda
  torchimg publish --report shard1.json --report shard2.json --smoke smoke.json --matrix matrix.yaml --record release.json
  torchimg publish --report build.json --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPublish(cmd.Context())
		},
	}
	addPublishFlags(cmd)
	cmd.Flags().StringSlice("report", nil, "build report to publish (repeatable; required)")
	cmd.Flags().String("matrix", "", "the matrix the reports were built from: checks that every variant of the plan is in a report before floating tags move")
	return cmd
}

func addPublishFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.String("registry", "", "release repository (default: the repository of the build reports)")
	fs.StringSlice("smoke", nil, "GPU smoke report (repeatable): failed or required-but-not-passed variants are not published")
	fs.Bool("force", false, "move immutable tags that point to another image")
	fs.Bool("dry-run", false, "show what would be created, moved and left; change nothing")
	fs.String("record", "", "write the release record (JSON) here")
	fs.String("record-md", "", "write the release record (Markdown) here; it also goes to $GITHUB_STEP_SUMMARY when set")
	addRegistryFlags(cmd)
}

func (a *app) runPublish(ctx context.Context) error {
	paths := splitList(a.v.GetStringSlice("report"))
	if len(paths) == 0 {
		return usageErrorf("publish needs at least one --report FILE (from torchimg build --report)")
	}
	var reports []*report.Build
	for _, p := range paths {
		r, err := report.ReadBuild(p)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	var plan *matrix.Plan
	if m := a.v.GetString("matrix"); m != "" {
		a.v.Set("file", m)
		p, err := a.loadPlan()
		if err != nil {
			return err
		}
		plan = p
	}
	var smokes []*report.Smoke
	for _, p := range splitList(a.v.GetStringSlice("smoke")) {
		s, err := report.ReadSmoke(p)
		if err != nil {
			return err
		}
		smokes = append(smokes, s)
	}
	return a.publishWith(ctx, reports, smokes, plan, "")
}

// publishWith publishes build reports as one release. skipFloating, when set, publishes images
// and immutable tags only (a shard of a release).
func (a *app) publishWith(ctx context.Context, reports []*report.Build, smokes []*report.Smoke, plan *matrix.Plan, skipFloating string) error {
	rel, err := publish.NewRelease(reports, smokes, plan)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if plan == nil && len(reports[0].PlanVariants) == 0 {
		fmt.Fprintln(a.err, "note: these reports do not list their plan's variants and no --matrix was given, so publish cannot check that every variant was built; floating tags move if every reported variant passed")
	}
	repo := a.v.GetString("registry")
	if repo == "" {
		repo = rel.Repository
	}
	started := time.Now()
	rc, err := a.registry()
	if err != nil {
		return err
	}
	dryRun := a.v.GetBool("dry-run")
	pub := &publish.Publisher{Client: rc, Force: a.v.GetBool("force"), Log: a.log, SkipFloating: skipFloating}
	if dryRun {
		pub.Target = publish.DryRun{}
	}
	res, perr := pub.Publish(ctx, rel, repo)
	if res == nil {
		return perr
	}
	rec := publish.NewRecord(rel, res, dryRun, started)
	if err := publish.WriteActions(a.out, res.Actions); err != nil {
		return err
	}
	if p := a.v.GetString("record"); p != "" {
		if err := rec.WriteJSON(p); err != nil {
			return err
		}
	}
	if p := a.v.GetString("record-md"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		werr := publish.WriteMarkdown(f, rec)
		f.Close()
		if werr != nil {
			return werr
		}
	}
	if !dryRun {
		if err := publish.AppendStepSummary(rec); err != nil {
			a.log.Warn("step summary", "err", err)
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(a.err, "error: %s\n", e)
	}
	if perr != nil {
		return &exitError{code: exitFailed, err: perr}
	}
	if res.FloatingHeld != "" {
		fmt.Fprintf(a.err, "floating tags not moved: %s\n", res.FloatingHeld)
	}
	if res.FloatingSkipped != "" {
		fmt.Fprintf(a.err, "floating tags left alone: %s\n", res.FloatingSkipped)
	}
	if dryRun {
		fmt.Fprintf(a.err, "dry run: nothing changed in %s\n", res.Repository)
		for _, act := range res.Actions {
			if act.Op == report.OpConflict {
				return &exitError{code: exitFailed, err: fmt.Errorf("dry run: immutable tag %s would conflict (it holds %s, another image); publish would refuse it without --force", act.Tag, act.From)}
			}
		}
		return nil
	}
	if res.Failed() {
		return &exitError{code: exitFailed, err: fmt.Errorf("release %s: %s (%d of %d variants published)", res.Repository, rec.Status, len(res.Published), len(rel.Entries))}
	}
	fmt.Fprintf(a.err, "published %d variant(s) to %s; labels verified\n", len(res.Published), res.Repository)
	return nil
}

func (a *app) addPlanDiffFlags(cmd *cobra.Command) {
	cmd.Flags().Bool("diff", false, "compare the plan's tags with the release repository: which are created, moved (from which variant), unchanged")
	cmd.Flags().String("registry", "", "with --diff: the repository to compare with (default: the matrix's repository)")
	addRegistryFlags(cmd)
}

func (a *app) planDiff(ctx context.Context, f matrix.Filter) error {
	p, err := a.loadPlan()
	if err != nil {
		return err
	}
	repo := a.v.GetString("registry")
	if repo == "" {
		repo = p.Repository
	}
	rc, err := a.registry()
	if err != nil {
		return err
	}
	acts, err := publish.Diff(ctx, rc, p, f.Apply(p.Variants), repo)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if a.v.GetString("output") == "json" {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"repository": repo, "actions": acts})
	}
	return publish.WriteActions(a.out, acts)
}

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
