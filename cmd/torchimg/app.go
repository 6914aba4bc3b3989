package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/torchimg/torchimg/check"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"
)

// app holds the streams and settings shared by every command.
type app struct {
	in       io.Reader
	out, err io.Writer
	v        *viper.Viper
	log      *slog.Logger
	// hostSource and system are where check and smoke read the host (tests replace them).
	hostSource func() host.Source
	system     func() check.System
}

func newApp(in io.Reader, out, errw io.Writer) *app {
	// Settings come from flags, TORCHIMG_* variables and an optional settings file; "::" keeps
	// dotted keys intact. Viper is for settings only, never for the matrix: it lower-cases map
	// keys, splits dotted ones and reads 12.10 as 12.1 (the matrix has its own loader).
	v := viper.NewWithOptions(viper.KeyDelimiter("::"), viper.EnvKeyReplacer(strings.NewReplacer("-", "_")))
	v.SetEnvPrefix("TORCHIMG")
	v.AutomaticEnv()
	return &app{in: in, out: out, err: errw, v: v, hostSource: host.NVML, system: check.LocalSystem}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "torchimg",
		Short: "Build, test and publish PyTorch × CUDA × OS container images with explicit tags and truthful labels",
		Long: `torchimg reads a matrix of PyTorch × CUDA × base-OS combinations (matrix.yaml), validates it
against embedded compatibility data, renders Dockerfiles, builds them through BuildKit with a smoke test
inside each image, and publishes explicit tags whose labels say exactly what is inside.

Settings may also come from TORCHIMG_<FLAG> environment variables (e.g. TORCHIMG_FILE, TORCHIMG_BUILDER)
or a settings file given with --config.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.init(cmd)
		},
	}
	root.PersistentFlags().String("config", "", "settings file (YAML) with flag values, e.g. builder: tcp://buildkitd:1234")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%w", err) })
	root.SetOut(a.out)
	root.SetErr(a.err)
	root.AddCommand(a.validateCmd(), a.planCmd(), a.renderCmd(), a.buildCmd(), a.publishCmd(), a.inspectCmd(),
		a.checkCmd(), a.smokeCmd(), a.releaseCmd())
	return root
}

// init binds the command's flags to viper and reads the settings file.
func (a *app) init(cmd *cobra.Command) error {
	if err := a.v.BindPFlags(cmd.Flags()); err != nil {
		return err
	}
	if cfg := a.v.GetString("config"); cfg != "" {
		a.v.SetConfigFile(cfg)
		if err := a.v.ReadInConfig(); err != nil {
			return usageErrorf("settings file %s: %v", cfg, err)
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.v.GetString("log-level"))); err != nil {
		return usageErrorf("--log-level %q: want debug, info, warn or error", a.v.GetString("log-level"))
	}
	a.log = slog.New(slog.NewTextHandler(a.err, &slog.HandlerOptions{Level: lvl}))
	return nil
}

func isUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "accepts ") || strings.Contains(s, "requires at least")
}

func addMatrixFlag(fs *pflag.FlagSet) {
	fs.StringP("file", "f", "matrix.yaml", "matrix file")
}

func addFilterFlags(fs *pflag.FlagSet) {
	fs.String("only", "", "select variants: FIELD=PATTERN,... with fields torch, cuda, os, python, flavor, id, tag (e.g. torch=2.9.*,cuda=12.8)")
	fs.String("shard", "", "run the K-th of N even shards of the selected variants, e.g. 2/5 (stable for a given matrix)")
}

// loadPlan loads and validates the matrix at path, printing warnings; an invalid matrix is exit
// 1 with every error listed.
func (a *app) loadPlan(path string) (*matrix.Plan, error) {
	db, err := compat.Default()
	if err != nil {
		return nil, fmt.Errorf("compatibility data: %w", err)
	}
	p, ds, err := matrix.Load(path, db, matrix.Options{TemplateExists: matrix.TemplateDirExists})
	for _, d := range ds.Warnings() {
		fmt.Fprintln(a.err, d.String())
	}
	if err != nil {
		var ie *matrix.InvalidError
		if errors.As(err, &ie) {
			for _, d := range ie.Diagnostics.Errors() {
				fmt.Fprintln(a.err, d.String())
			}
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("%s: %d error(s)", path, len(ie.Diagnostics.Errors()))}
		}
		return nil, err
	}
	return p, nil
}

func (a *app) filter() (matrix.Filter, error) {
	f, err := matrix.ParseOnly(a.v.GetString("only"))
	if err != nil {
		return f, usageErrorf("%w", err)
	}
	if err := f.ParseShard(a.v.GetString("shard")); err != nil {
		return f, usageErrorf("%w", err)
	}
	return f, nil
}

func (a *app) validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check matrix.yaml against the compatibility data",
		Long: `validate loads the matrix, expands it and checks every variant: field patterns, torch/CUDA/Python
combinations against the embedded compatibility data, base-image existence, and tag collisions.
Every problem is reported at once as FILE:LINE:COL: error: MESSAGE.

Exit status: 0 valid (warnings go to stderr), 1 invalid, 2 usage error.`,
		Example: `  torchimg validate
  torchimg validate -f examples/offline/matrix.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.loadPlan(a.v.GetString("file"))
			if err != nil {
				return err
			}
			tags := 0
			for _, v := range p.Variants {
				tags += len(v.Tags)
			}
			fmt.Fprintf(a.out, "%s: valid: %d variant(s), %d tag(s)\n", a.v.GetString("file"), len(p.Variants), tags)
			return nil
		},
	}
	addMatrixFlag(cmd.Flags())
	return cmd
}

func (a *app) planCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the variants, their tags, labels and build arguments",
		Long: `plan expands and validates the matrix and prints every variant with the tags it will carry
(immutable ones and the floating ones it wins), its labels, environment and build arguments.

Floating tags are decided on the whole matrix before --only/--shard select variants, so a shard
never claims a tag that the full plan gives to another variant.

Formats: table (default), json ({"variants": [...]}), github (a strategy-matrix {"include": [...]}
for CI fan-out), markdown (a torch × CUDA grid with tags and minimum drivers for a README).`,
		Example: `  torchimg plan
  torchimg plan -o json --only torch=2.9.*,cuda=12.8
  torchimg plan -o github --shard 2/5
  torchimg plan -o markdown > IMAGES.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format := a.v.GetString("output")
			if !slices.Contains(matrix.OutputFormats, format) {
				return usageErrorf("--output %q: valid formats are %s", format, strings.Join(matrix.OutputFormats, ", "))
			}
			p, vs, f, err := a.selection()
			if err != nil {
				return err
			}
			if a.v.GetBool("diff") {
				return a.planDiff(cmd.Context(), p, vs)
			}
			if len(vs) == 0 && !f.Empty() {
				fmt.Fprintf(a.err, "warning: --only/--shard select no variant of %d\n", len(p.Variants))
			}
			return matrix.WritePlan(a.out, p, vs, format)
		},
	}
	addMatrixFlag(cmd.Flags())
	addFilterFlags(cmd.Flags())
	cmd.Flags().StringP("output", "o", "table", "output format: "+strings.Join(matrix.OutputFormats, ", "))
	a.addPlanDiffFlags(cmd)
	return cmd
}
