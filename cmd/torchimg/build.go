package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/templates"
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
sharing a base image stay on one builder. Ctrl-C cancels every build.`,
		Example: `  torchimg build --builder unix:///run/buildkit/buildkitd.sock --oci-dir dist/oci
  torchimg build --stage ghcr.io/acme/pytorch-staging --only torch=2.9.* --report build.json
  torchimg build --builder tcp://bk1:1234 --builder tcp://bk2:1234 --tls-ca ca.pem --jobs 8 \
    --cache-from type=registry,ref=ghcr.io/acme/cache:{id} --cache-to type=registry,ref=ghcr.io/acme/cache:{id},mode=max`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runBuild(cmd.Context())
		},
	}
	fs := cmd.Flags()
	addMatrixFlag(fs)
	addFilterFlags(fs)
	addBuildFlags(cmd)
	return cmd
}

func addBuildFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSlice("builder", []string{build.DefaultAddr}, "BuildKit daemon address (repeatable): unix://, tcp://, docker-container://, kube-pod://")
	fs.String("tls-ca", "", "CA certificate for tcp:// builders")
	fs.String("tls-cert", "", "client certificate for tcp:// builders")
	fs.String("tls-key", "", "client key for tcp:// builders")
	fs.String("tls-server-name", "", "server name to verify for tcp:// builders")
	fs.String("stage", "", "staging repository: push each passing image there by digest (tag = variant id)")
	fs.String("oci-dir", filepath.Join("dist", "oci"), "without --stage: write each image as an OCI layout into DIR/<variant id>")
	fs.Int("jobs", 4, "builds at once")
	fs.StringArray("cache-from", nil, "registry cache to import (repeatable): type=registry,ref=REPO:TAG; {id} = variant id")
	fs.StringArray("cache-to", nil, "registry cache to export (repeatable): type=registry,ref=REPO:TAG,mode=max; {id} = variant id")
	fs.String("progress", "auto", "progress output: "+strings.Join(build.ProgressModes, ", "))
	fs.String("report", "", "write the build report (JSON) to this file")
	fs.String("revision", "", "source revision for org.opencontainers.image.revision (default: $GITHUB_SHA or the git commit of the matrix)")
	fs.Int64("source-date-epoch", -1, "timestamp for `created` (default: $SOURCE_DATE_EPOCH, else the matrix's last commit time, else now)")
	fs.Bool("no-cache", false, "do not use the daemon's build cache")
	addRegistryFlags(cmd)
}

// splitList accepts repeated flags and comma- or space-separated environment values.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			if p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// cacheSpecs keeps "k=v,k=v" specs whole (they contain commas).
func cacheSpecs(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkBuildFlags checks the build flags before anything starts.
func (a *app) checkBuildFlags() error {
	mode := a.v.GetString("progress")
	if !slices.Contains(build.ProgressModes, mode) {
		return usageErrorf("--progress %q: valid modes are %s", mode, strings.Join(build.ProgressModes, ", "))
	}
	if a.v.GetInt("jobs") < 1 {
		return usageErrorf("--jobs must be at least 1")
	}
	return nil
}

func (a *app) runBuild(ctx context.Context) error {
	if err := a.checkBuildFlags(); err != nil {
		return err
	}
	p, vs, _, err := a.selected()
	if err != nil {
		return err
	}
	rep, err := a.buildVariants(ctx, p, vs)
	if rep != nil {
		if path := a.v.GetString("report"); path != "" {
			if werr := rep.WriteFile(path); werr != nil {
				return werr
			}
			fmt.Fprintf(a.err, "build report: %s\n", path)
		}
	}
	return err
}

// selected loads the plan and applies --only/--shard; selecting nothing is an error.
func (a *app) selected() (*matrix.Plan, []*matrix.Variant, matrix.Filter, error) {
	f, err := a.filter()
	if err != nil {
		return nil, nil, f, err
	}
	p, err := a.loadPlan()
	if err != nil {
		return nil, nil, f, err
	}
	vs := f.Apply(p.Variants)
	if len(vs) == 0 {
		return nil, nil, f, &exitError{code: exitFailed, err: fmt.Errorf("--only/--shard select no variant of %d", len(p.Variants))}
	}
	return p, vs, f, nil
}

// buildVariants connects to the builders and builds; the report is returned even on failure.
func (a *app) buildVariants(ctx context.Context, p *matrix.Plan, vs []*matrix.Variant) (*report.Build, error) {
	work, err := os.MkdirTemp("", "torchimg-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	tls := build.TLS{CA: a.v.GetString("tls-ca"), Cert: a.v.GetString("tls-cert"), Key: a.v.GetString("tls-key"), ServerName: a.v.GetString("tls-server-name")}
	addrs := splitList(a.v.GetStringSlice("builder"))
	if len(addrs) == 0 {
		addrs = []string{build.DefaultAddr}
	}
	var builders []build.Interface
	rep := &report.Build{
		Schema: report.BuildSchema, Repository: p.Repository, LabelsPrefix: p.LabelsPrefix, MatrixRevision: p.MatrixRevision,
		Revision: a.revision(), SourceDateEpoch: a.sourceDateEpoch(), StageRepo: a.v.GetString("stage"), Started: time.Now().UTC(),
	}
	if rep.StageRepo == "" {
		rep.OCIDir = a.v.GetString("oci-dir")
	}
	for _, v := range p.Variants {
		rep.PlanVariants = append(rep.PlanVariants, v.ID)
	}
	for _, addr := range addrs {
		bk, err := build.Connect(ctx, addr, tls, work)
		if err != nil {
			return nil, &exitError{code: exitFailed, err: err}
		}
		defer bk.Close()
		a.log.Info("builder ready", "addr", addr, "buildkit", bk.Version)
		rep.Builders = append(rep.Builders, report.Builder{Addr: addr, Version: bk.Version})
		builders = append(builders, bk)
	}
	var b build.Interface = build.NewPool(builders, vs)
	b = build.NewLimiter(b, a.v.GetInt("jobs"))

	prog, err := build.NewProgress(a.err, a.v.GetString("progress"))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	var reqs []build.Request
	var rendered []*report.BuildEntry
	for _, v := range vs {
		c, err := templates.Render(p, v)
		if err != nil {
			rendered = append(rendered, &report.BuildEntry{ID: v.ID, Status: report.Failed, Stage: report.StageRender, Error: err.Error(), Labels: v.Labels, Tags: v.Tags, ImmutableTags: v.ImmutableTags, FloatingTags: v.FloatingTags})
			continue
		}
		reqs = append(reqs, build.Request{
			Plan: p, Variant: v, Context: c,
			Output:          build.Output{StageRepo: a.v.GetString("stage"), OCIDir: a.v.GetString("oci-dir"), Insecure: a.v.GetBool("insecure-registry")},
			Cache:           build.Cache{From: cacheSpecs(a.v.GetStringSlice("cache-from")), To: cacheSpecs(a.v.GetStringSlice("cache-to"))},
			SourceDateEpoch: rep.SourceDateEpoch, Revision: rep.Revision, NoCache: a.v.GetBool("no-cache"),
			Status: prog.Channel(v.ID),
		})
	}
	results := build.All(ctx, b, reqs)
	if err := prog.Close(); err != nil {
		a.log.Warn("progress display", "err", err)
	}
	rep.Variants = append(rendered, results...)
	rep.Finished = time.Now().UTC()
	fmt.Fprintln(a.err)
	if err := build.WriteSummary(a.err, rep.Variants); err != nil {
		return rep, err
	}
	if failed := rep.Failed(); len(failed) > 0 {
		if ctx.Err() != nil {
			return rep, &exitError{code: exitFailed, err: errors.New("cancelled")}
		}
		return rep, &exitError{code: exitFailed, err: fmt.Errorf("%d of %d variant(s) failed", len(failed), len(rep.Variants))}
	}
	return rep, nil
}

func (a *app) revision() string {
	if r := a.v.GetString("revision"); r != "" {
		return r
	}
	if r := os.Getenv("GITHUB_SHA"); r != "" {
		return r
	}
	dir := filepath.Dir(a.v.GetString("file"))
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (a *app) sourceDateEpoch() int64 {
	if n := a.v.GetInt64("source-date-epoch"); n >= 0 {
		return n
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			return n
		}
	}
	file := a.v.GetString("file")
	out, err := exec.Command("git", "-C", filepath.Dir(file), "log", "-1", "--format=%ct", "--", filepath.Base(file)).Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return n
		}
	}
	return time.Now().Unix()
}
