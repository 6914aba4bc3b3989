package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/matrix"
)

// validateFormats are the output formats of validate.
var validateFormats = []string{"text", "json", "github"}

// validateResult is validate -o json: the verdict and every diagnostic as data.
type validateResult struct {
	File        string                    `json:"file"`
	Valid       bool                      `json:"valid"`
	Variants    int                       `json:"variants"`
	Tags        int                       `json:"tags"`
	Diagnostics []matrix.DiagnosticRecord `json:"diagnostics"`
}

func (a *app) validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate [MATRIX]",
		Short: "Check matrix.yaml against the compatibility data",
		Long: `validate loads the matrix, expands it and checks every variant: field patterns, torch/CUDA/Python
combinations against the embedded compatibility data, base-image existence, and tag collisions.
Every problem is reported at once.

The matrix is -f FILE (default matrix.yaml) or the one argument; "-f -" reads it from stdin
(at most 1 MiB; positions then name the file <stdin>, and a relative template_dir is taken from
the current directory).

Formats (-o):
  text    (default) FILE:LINE:COL: error: MESSAGE on stderr, one per problem (warnings too), and
          "FILE: valid: N variant(s), T tag(s)" on stdout when the matrix is valid.
  json    on stdout: {"file", "valid", "variants", "tags", "diagnostics": [{"file", "line", "col",
          "severity", "message"}]}; line and col are 0 when the problem is the whole file (say, it
          does not exist). The diagnostics are sorted by position.
  github  GitHub Actions annotations on stdout, ::error file=F,line=L,col=C::MESSAGE (::warning for
          a warning), escaped as the Actions toolkit escapes them; the verdict goes to stderr.

--online also looks up every base image tag in its registry (manifest HEAD, standard credentials):
a tag that is gone (NVIDIA deletes the tags of superseded and end-of-life releases) is an error that
names the nearest existing tag of the same CUDA minor; a registry that cannot be reached is a warning,
never a silent pass.

Exit status: 0 valid (warnings allowed), 1 invalid (or the file cannot be read), 2 usage error.`,
		Example: `  torchimg validate
  torchimg validate examples/offline/matrix.yaml
  torchimg validate -f examples/offline/matrix.yaml -o json
  torchimg validate --online
  generate-matrix | torchimg validate -f - -o github`,
		Args: matrixArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format := a.v.GetString("output")
			if !slices.Contains(validateFormats, format) {
				return usageErrorf("--output %q: valid formats are %s", format, strings.Join(validateFormats, ", "))
			}
			path := a.v.GetString("file")
			if format == "text" {
				p, err := a.loadPlan(path)
				if err != nil {
					return err
				}
				if a.v.GetBool("online") {
					ds, err := a.online(cmd.Context(), p, matrixName(path))
					if err != nil {
						return err
					}
					for _, d := range ds {
						fmt.Fprintln(a.err, d.String())
					}
					if n := len(ds.Errors()); n > 0 {
						return &exitError{code: exitFailed, err: fmt.Errorf("%s: %d error(s) online", matrixName(path), n)}
					}
				}
				fmt.Fprintf(a.out, "%s: valid: %d variant(s), %d tag(s)\n", matrixName(path), len(p.Variants), countTags(p))
				return nil
			}
			return a.validateData(cmd.Context(), path, format)
		},
	}
	addMatrixFlag(cmd.Flags())
	cmd.Flags().StringP("output", "o", "text", "output format: text (diagnostics on stderr), json (every diagnostic as data on stdout), github (Actions annotations on stdout)")
	cmd.Flags().Bool("online", false, "also look up every base image tag in its registry (a manifest HEAD each): a deleted tag is an error naming the nearest existing one; an unreachable registry a warning")
	addRegistryFlags(cmd)
	return cmd
}

// online runs the online checks of validate --online.
func (a *app) online(ctx context.Context, p *matrix.Plan, name string) (matrix.Diagnostics, error) {
	rc, err := a.registry()
	if err != nil {
		return nil, err
	}
	return onlineDiagnostics(ctx, rc, p, name), nil
}

func countTags(p *matrix.Plan) int {
	n := 0
	for _, v := range p.Variants {
		n += len(v.Tags)
	}
	return n
}

// validateData is validate -o json|github: every finding, a file that cannot be read
// included, goes to stdout as data; the exit status is that of -o text.
func (a *app) validateData(ctx context.Context, path, format string) error {
	name := matrixName(path)
	p, ds, err := a.readPlan(path)
	online := 0
	if err == nil && a.v.GetBool("online") {
		od, oerr := a.online(ctx, p, name)
		if oerr != nil {
			return oerr
		}
		ds = append(ds, od...)
		online = len(od.Errors())
	}
	var ie *matrix.InvalidError
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ie):
		if len(ds) == 0 {
			ds = ie.Diagnostics
		}
	case errors.As(err, &ee) && ee.code == exitUsage:
		return err
	default:
		// Not a problem at a position in the matrix (no such file, a directory, a read error):
		// one diagnostic for the whole file, without the file name the position already gives.
		msg := strings.TrimPrefix(err.Error(), path+": ")
		ds = append(ds, matrix.Diagnostic{Pos: matrix.Pos{File: name}, Severity: matrix.SevError, Message: msg})
	}
	res := validateResult{File: name, Valid: err == nil && online == 0, Diagnostics: ds.Records()}
	if p != nil {
		res.Variants, res.Tags = len(p.Variants), countTags(p)
	}
	switch format {
	case "json":
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // <stdin> stays <stdin>
		if werr := enc.Encode(res); werr != nil {
			return werr
		}
	case "github":
		for _, d := range ds.Sort() {
			if _, werr := fmt.Fprintln(a.out, d.Annotation()); werr != nil {
				return werr
			}
		}
		if res.Valid {
			fmt.Fprintf(a.err, "%s: valid: %d variant(s), %d tag(s)\n", name, res.Variants, res.Tags)
		}
	}
	switch {
	case ie != nil, online > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %d error(s)", name, len(ds.Errors()))}
	case err != nil:
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}
