package publish

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Diff compares a plan with what the release repository holds now: for every tag, whether it
// will be created, moved (from which variant) or stay. Nothing is built or changed; before a
// build the image a tag should name is known by its labels. It is MakePlan on the plan's
// variants, so it says what publish would do.
func Diff(ctx context.Context, c *registry.Client, p *matrix.Plan, vs []*matrix.Variant, repo string) ([]report.Action, error) {
	target, err := c.Repo(repo)
	if err != nil {
		return nil, err
	}
	wants := make([]Want, len(vs))
	for i, v := range vs {
		wants[i] = Want{LabelsPrefix: p.LabelsPrefix, Entry: &report.Entry{
			ID: v.ID, Status: report.Passed, ImmutableTags: v.ImmutableTags, FloatingTags: v.FloatingTags, Labels: v.Labels,
		}}
	}
	pl, err := MakePlan(ctx, c, target, wants, PlanOptions{})
	if err != nil {
		return nil, err
	}
	if len(pl.Errors) > 0 {
		return nil, fmt.Errorf("read %s: %s", target, pl.Errors[0])
	}
	return pl.Actions, nil
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
