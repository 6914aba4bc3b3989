package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/torchimg/torchimg/check"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/lock"
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
	// buildInfo is where version reads how this binary was built (tests replace it).
	buildInfo func() (*debug.BuildInfo, bool)
	// cmd is the command running (set by init).
	cmd *cobra.Command
	// lockUsed is the lock file the selected variants build from (useLock), or nil.
	lockUsed *lock.File
}

func newApp(in io.Reader, out, errw io.Writer) *app {
	// Settings come from flags, TORCHIMG_* variables and an optional settings file; "::" keeps
	// dotted keys intact. Viper is for settings only, never for the matrix: it lower-cases map
	// keys, splits dotted ones and reads 12.10 as 12.1 (the matrix has its own loader).
	v := viper.NewWithOptions(viper.KeyDelimiter("::"), viper.EnvKeyReplacer(strings.NewReplacer("-", "_")))
	v.SetEnvPrefix("TORCHIMG")
	v.AutomaticEnv()
	return &app{in: in, out: out, err: errw, v: v, hostSource: host.NVML, system: check.LocalSystem, buildInfo: debug.ReadBuildInfo}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "torchimg",
		Short: "Build, test and publish PyTorch × CUDA × OS container images with explicit tags and truthful labels",
		Long: `torchimg reads a matrix of PyTorch × CUDA × base-OS combinations (matrix.yaml), validates it
against embedded compatibility data, renders Dockerfiles, builds them through BuildKit with a smoke test
inside each image, and publishes explicit tags whose labels say exactly what is inside.

Every command that reads the matrix takes it as -f/--file FILE (default matrix.yaml) or as its one
argument; "-f -" reads it from stdin.

Settings may also come from TORCHIMG_<FLAG> environment variables (e.g. TORCHIMG_FILE, TORCHIMG_BUILDER)
or a settings file given with --config.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.init(cmd, args)
		},
	}
	root.PersistentFlags().String("config", "", "settings file (YAML) with flag values, e.g. builder: tcp://buildkitd:1234")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%w", err) })
	root.SetOut(a.out)
	root.SetErr(a.err)
	root.AddCommand(a.validateCmd(), a.planCmd(), a.renderCmd(), a.buildCmd(), a.publishCmd(), a.inspectCmd(),
		a.checkCmd(), a.smokeCmd(), a.releaseCmd(), a.versionCmd(), a.lockCmd())
	root.AddCommand(a.compatCmd())
	// Every command that reads a matrix (it has -f/--file) also takes it as its one argument.
	for _, c := range root.Commands() {
		if c.Flags().Lookup("file") != nil {
			c.Args = matrixArgs
			if !strings.Contains(c.Use, "[MATRIX]") {
				c.Use += " [MATRIX]"
			}
		}
	}
	return root
}

// init binds the command's flags to viper, reads the settings file and settles which matrix the
// command reads.
func (a *app) init(cmd *cobra.Command, args []string) error {
	a.cmd = cmd
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
	return a.resolveMatrix(cmd, args)
}

func isUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "accepts ") || strings.Contains(s, "requires at least")
}

// matrixAliases are other names of -f/--file (publish --matrix, from before the names agreed).
var matrixAliases = []string{"matrix"}

// addMatrixFlag registers -f/--file, the matrix of a command that needs one.
func addMatrixFlag(fs *pflag.FlagSet) {
	addMatrixFileFlag(fs, "matrix.yaml", `matrix file, or "-" to read it from stdin (the command's one argument works too)`)
}

// addMatrixFileFlag registers -f/--file with this default and usage, and the aliases of it
// (--matrix) that the command has always accepted; resolveMatrix settles them into one value.
func addMatrixFileFlag(fs *pflag.FlagSet, def, usage string, aliases ...string) {
	fs.StringP("file", "f", def, usage)
	for _, al := range aliases {
		fs.String(al, def, "another name for -f/--file")
	}
}

// matrixArgs accepts the matrix file as a command's one positional argument.
func matrixArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageErrorf("%s takes at most one argument, the matrix file; got %d: %s (give the matrix as -f FILE or as the one argument)",
			cmd.Name(), len(args), strings.Join(args, " "))
	}
	return nil
}

// resolveMatrix settles the matrix path of a command with -f/--file: the flag (or its alias),
// else the positional argument, else TORCHIMG_FILE / the settings file / the default. The
// result is set as "file" (and each alias the command has), so every reader sees one value.
// A flag and an argument that name different files are a usage error.
func (a *app) resolveMatrix(cmd *cobra.Command, args []string) error {
	fs := cmd.Flags()
	if fs.Lookup("file") == nil {
		return nil
	}
	var given, givenAs string // from the command line
	for _, n := range append([]string{"file"}, matrixAliases...) {
		f := fs.Lookup(n)
		if f == nil || !f.Changed {
			continue
		}
		spelling := "--" + n
		if f.Shorthand != "" {
			spelling = "-" + f.Shorthand + "/--" + n
		}
		if givenAs != "" && !samePath(given, f.Value.String()) {
			return usageErrorf("%s %s and %s %s name different matrices; give one (--%s is another name for -f/--file)",
				givenAs, given, spelling, f.Value.String(), n)
		}
		if givenAs == "" {
			given, givenAs = f.Value.String(), spelling
		}
	}
	var path string
	switch {
	case givenAs != "":
		path = given
		if len(args) == 1 && !samePath(args[0], given) {
			return usageErrorf("the matrix is given twice, as %s %s and as the argument %s; give one of them (e.g. torchimg %s -f %s)",
				givenAs, given, args[0], cmd.Name(), args[0])
		}
	case len(args) == 1:
		path = args[0]
	default:
		path = a.v.GetString("file") // TORCHIMG_FILE, the settings file, or the default
		if !a.v.IsSet("file") {
			for _, al := range matrixAliases {
				if fs.Lookup(al) != nil && a.v.IsSet(al) {
					path = a.v.GetString(al) // TORCHIMG_MATRIX or matrix: in the settings file
				}
			}
		}
	}
	a.v.Set("file", path)
	for _, al := range matrixAliases {
		if fs.Lookup(al) != nil {
			a.v.Set(al, path)
		}
	}
	return nil
}

func samePath(a, b string) bool {
	return a == b || (a != "-" && b != "-" && filepath.Clean(a) == filepath.Clean(b))
}

// matrixName is the name a matrix path has in messages and positions ("-" is stdin).
func matrixName(path string) string {
	if path == "-" {
		return matrix.StdinName
	}
	return path
}

// matrixCandidates are the file names suggested for a matrix inside a directory.
var matrixCandidates = []string{"matrix.yaml", "matrix.yml"}

// checkMatrixPath says plainly what is wrong with a matrix path that is not a readable file:
// empty, missing, or a directory (suggesting a matrix file inside it).
func checkMatrixPath(path string) error {
	if path == "" {
		return usageErrorf(`the matrix file name is empty; give one with -f FILE (e.g. -f matrix.yaml) or as the argument, or "-f -" for stdin`)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		hint := `give the matrix with -f FILE or as the argument, or "-f -" to read it from stdin`
		if s := suggestMatrix(filepath.Dir(path), path); s != "" {
			hint = "did you mean " + s + "?"
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: no such file (%s)", path, hint)}
	case err != nil:
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %v", path, errors.Unwrap(err))}
	case st.IsDir():
		hint := "it has no " + strings.Join(matrixCandidates, " or ") + ", nor do its subdirectories; give the file with -f FILE"
		if s := suggestMatrix(path, ""); s != "" {
			hint = "did you mean " + s + "?"
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: is a directory, not a matrix file (%s)", path, hint)}
	}
	return nil
}

// suggestMatrix names the matrix files in dir and its immediate subdirectories (at most
// three, "a, b or c"), leaving out the path that was not found.
func suggestMatrix(dir, not string) string {
	var found []string
	add := func(d string) {
		for _, n := range matrixCandidates {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && !samePath(p, not) {
				found = append(found, p)
				return
			}
		}
	}
	add(dir)
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				add(filepath.Join(dir, e.Name()))
			}
		}
	}
	return orList(found)
}

// orList joins names as "a, b or c", at most three, then "(or N more)"; "" for none.
func orList(names []string) string {
	switch {
	case len(names) == 0:
		return ""
	case len(names) > 3:
		return strings.Join(names[:3], ", ") + fmt.Sprintf(" (or %d more)", len(names)-3)
	case len(names) == 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func addFilterFlags(fs *pflag.FlagSet) {
	fs.String("only", "", "select variants: FIELD=PATTERN,... with fields torch, cuda, os, python, flavor, id, tag (e.g. torch=2.9.*,cuda=12.8)")
	fs.String("shard", "", "run the K-th of N even shards of the selected variants, e.g. 2/5 (stable for a given matrix)")
}

// loadPlan loads and validates the matrix at path ("-": stdin), printing warnings; an invalid
// matrix is exit 1 with every error listed.
func (a *app) loadPlan(path string) (*matrix.Plan, error) {
	p, ds, err := a.readPlan(path)
	for _, d := range ds.Warnings() {
		fmt.Fprintln(a.err, d.String())
	}
	if err != nil {
		var ie *matrix.InvalidError
		if errors.As(err, &ie) {
			for _, d := range ie.Diagnostics.Errors() {
				fmt.Fprintln(a.err, d.String())
			}
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("%s: %d error(s)", matrixName(path), len(ie.Diagnostics.Errors()))}
		}
		return nil, err
	}
	return p, nil
}

// readPlan loads and validates the matrix at path ("-": stdin) and prints nothing: the
// diagnostics hold every warning and, with an *matrix.InvalidError, every error. A path that
// is missing or a directory is an *exitError saying so.
func (a *app) readPlan(path string) (*matrix.Plan, matrix.Diagnostics, error) {
	db, err := compat.Default()
	if err != nil {
		return nil, nil, fmt.Errorf("compatibility data: %w", err)
	}
	opts := matrix.Options{TemplateExists: matrix.TemplateDirExists}
	if path == "-" {
		if f, ok := a.in.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return nil, nil, usageErrorf(`"-f -" reads the matrix from stdin, but stdin is a terminal; pipe the matrix in (e.g. torchimg validate -f - < matrix.yaml) or give its file`)
			}
		}
		return matrix.LoadReader(a.in, matrix.StdinName, db, opts)
	}
	if err := checkMatrixPath(path); err != nil {
		return nil, nil, err
	}
	return matrix.Load(path, db, opts)
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

func (a *app) planCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan [MATRIX]",
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
  torchimg plan -o markdown > IMAGES.md
  torchimg plan examples/offline/matrix.yaml --diff`,
		Args: matrixArgs,
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
	addLockFlags(cmd.Flags())
	cmd.Flags().StringP("output", "o", "table", "output format: "+strings.Join(matrix.OutputFormats, ", "))
	a.addPlanDiffFlags(cmd)
	return cmd
}
