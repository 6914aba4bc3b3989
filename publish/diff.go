package publish

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Diff compares a plan with what the release repository holds now: for every tag, whether it
// will be created, moved (from which variant) or stay. Nothing is built or changed; the variant
// a tag points to is read from its image's labels.
func Diff(ctx context.Context, p *matrix.Plan, vs []*matrix.Variant, repo string, o Options) ([]report.Action, error) {
	target, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repo, err)
	}
	opts := o.remote(ctx)
	var mu sync.Mutex
	labelCache := map[string]string{}
	var out []report.Action
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, v := range vs {
		for _, t := range v.Tags {
			kind := report.Floating
			for _, it := range v.ImmutableTags {
				if it == t {
					kind = report.Immutable
				}
			}
			g.Go(func() error {
				a := report.Action{Tag: t, Kind: kind, Variant: v.ID}
				cur, err := head(gctx, target.Tag(t), opts)
				switch {
				case isNotFound(err):
					a.Op = report.OpCreate
				case err != nil:
					return fmt.Errorf("%s:%s: %w", target.Name(), t, err)
				default:
					a.From = cur
					mu.Lock()
					fv, ok := labelCache[cur]
					mu.Unlock()
					if !ok {
						fv = variantOf(gctx, target.Digest(cur), p.LabelsPrefix, opts)
						mu.Lock()
						labelCache[cur] = fv
						mu.Unlock()
					}
					a.FromVariant = fv
					switch {
					case fv == v.ID:
						a.Op = report.OpUnchanged
					case kind == report.Immutable:
						a.Op, a.Reason = report.OpConflict, "an immutable tag already names another image"
					default:
						a.Op = report.OpMove
					}
				}
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sortActions(out)
	return out, nil
}

// WriteActions prints actions as a table; moved floating tags stand out.
func WriteActions(w io.Writer, as []report.Action) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OP\tKIND\tTAG\tVARIANT\tFROM")
	counts := map[report.Op]int{}
	for _, a := range as {
		op := string(a.Op)
		if a.Op == report.OpMove && a.Kind == report.Floating {
			op = "MOVE" // stands out
		}
		if a.Op == report.OpConflict {
			op = "CONFLICT"
		}
		from := ""
		if a.From != "" {
			from = orDash(a.FromVariant) + " (" + short(a.From) + ")"
		}
		if a.Reason != "" && a.Op != report.OpUnchanged {
			from = strings.TrimSpace(from + " " + a.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", op, a.Kind, a.Tag, a.Variant, from)
		counts[a.Op]++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d to create, %d to move, %d unchanged, %d conflicting, %d held\n",
		counts[report.OpCreate], counts[report.OpMove], counts[report.OpUnchanged], counts[report.OpConflict], counts[report.OpHeld])
	return err
}
