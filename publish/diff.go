package publish

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/internal/termtext"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Change says what a release does to one variant's image.
type Change struct {
	ID string `json:"id"`
	// Status is new (no image of the variant in the repository), unchanged (its image has the
	// same inputs), rebuilt (its inputs changed: Because says which), or unknown (the inputs
	// could not be resolved).
	Status  string   `json:"status"`
	Because []string `json:"because,omitempty"`
	// Image is the variant's image in the repository now, where there is one.
	Image string `json:"image,omitempty"`
}

// Changes of a variant.
const (
	ChangeNew       = "new"
	ChangeUnchanged = "unchanged"
	ChangeRebuilt   = "rebuilt"
	ChangeUnknown   = "unknown"
)

// DiffResult is what plan --diff shows: every tag action, and what happens to each variant.
type DiffResult struct {
	Actions  []report.Action `json:"actions"`
	Variants []Change        `json:"variants"`
}

// Diff compares a plan with what the release repository holds now: for every tag, whether it
// will be created, moved (from which variant) or stay, and for every variant whether its image
// is new, unchanged or rebuilt (and because of which input). Nothing is built or changed; before
// a build an image is known by its labels. The tag actions are MakePlan's on the plan's
// variants, so they are what publish would do. inputs are the variants' resolved inputs
// (fingerprint.Resolve; a variant without them is judged by its variant label).
func Diff(ctx context.Context, c *registry.Client, p *matrix.Plan, vs []*matrix.Variant, repo string, inputs []*fingerprint.Variant) (*DiffResult, error) {
	target, err := c.Repo(repo)
	if err != nil {
		return nil, err
	}
	byID := map[string]*fingerprint.Variant{}
	for _, in := range inputs {
		byID[in.Variant.ID] = in
	}
	wants := make([]Want, len(vs))
	for i, v := range vs {
		wants[i] = Want{LabelsPrefix: p.LabelsPrefix, Entry: &report.Entry{
			ID: v.ID, Status: report.Passed, Inputs: v.Inputs, ImmutableTags: v.ImmutableTags, FloatingTags: v.FloatingTags, Labels: v.Labels,
		}}
		if in := byID[v.ID]; in != nil && in.Digest != "" {
			wants[i].Inputs = &in.Inputs
		}
	}
	pl, err := MakePlan(ctx, c, target, wants, PlanOptions{})
	if err != nil {
		return nil, err
	}
	if len(pl.Errors) > 0 {
		return nil, fmt.Errorf("read %s: %s", target, pl.Errors[0])
	}
	if len(pl.Blocked) > 0 {
		return nil, fmt.Errorf("read %s: %s", target, firstBlocked(pl.Blocked))
	}
	res := &DiffResult{Actions: pl.Actions, Variants: make([]Change, len(wants))}
	labels := inspect.NewLabels(c)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, w := range wants {
		g.Go(func() error {
			res.Variants[i] = change(gctx, c, labels, target, w)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return res, ctx.Err()
}

// change finds the variant's image in the repository now (through its tags, immutable first,
// by its variant label) and compares its inputs with w's.
func change(ctx context.Context, c *registry.Client, labels *inspect.Labels, repo name.Repository, w Want) Change {
	ch := Change{ID: w.Entry.ID, Status: ChangeNew}
	for _, t := range append(append([]string(nil), w.Entry.ImmutableTags...), w.Entry.FloatingTags...) {
		if strings.Contains(t, matrix.InputsMarker) {
			continue
		}
		d, err := c.Head(ctx, repo.Tag(t))
		if err != nil {
			continue
		}
		ls := labels.Of(ctx, repo.Digest(d))
		if ls[w.LabelsPrefix+"."+matrix.LabelVariant] != w.Entry.ID {
			continue
		}
		ch.Image = d
		switch was, fp, ok := fingerprint.FromLabels(w.LabelsPrefix, ls); {
		case w.Inputs == nil:
			ch.Status = ChangeUnknown
		case ok && fp == w.Entry.Inputs:
			ch.Status = ChangeUnchanged
		case ok:
			ch.Status, ch.Because = ChangeRebuilt, fingerprint.Changed(was, *w.Inputs)
		default:
			ch.Status, ch.Because = ChangeRebuilt, []string{"its image records no inputs (built by an older torchimg)"}
		}
		return ch
	}
	return ch
}

// WriteChanges prints what happens to each variant's image.
func WriteChanges(w io.Writer, cs []Change) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tIMAGE\tWHY")
	counts := map[string]int{}
	for _, c := range cs {
		counts[c.Status]++
		why := ""
		switch c.Status {
		case ChangeRebuilt:
			why = "changed: " + strings.Join(c.Because, ", ")
		case ChangeUnchanged:
			why = "same inputs as " + short(c.Image)
		case ChangeUnknown:
			why = "the base image could not be resolved here"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, c.Status, why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d new, %d rebuilt, %d unchanged\n", counts[ChangeNew], counts[ChangeRebuilt], counts[ChangeUnchanged])
	return err
}

// WriteActions prints actions as a table; moved floating tags stand out. executed says that
// the actions were carried out (publish): the table then says what was done, never only what
// was planned.
func WriteActions(w io.Writer, as []report.Action, executed bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OP\tKIND\tTAG\tVARIANT\tFROM")
	counts := map[string]int{}
	for _, a := range as {
		op := string(a.Op)
		if a.Op == report.OpMove && a.Kind == report.Floating {
			op = "MOVE" // stands out
		}
		if a.Op == report.OpConflict {
			op = "CONFLICT"
		}
		key := string(a.Op)
		if executed && (a.Op == report.OpCreate || a.Op == report.OpMove) {
			switch {
			case a.RolledBack:
				op, key = "ROLLED BACK", "rolled back"
			case !a.Done:
				op, key = "NOT DONE", "not done"
			case a.Op == report.OpCreate:
				op, key = "created", "created"
			default:
				op, key = "MOVED", "moved"
			}
		}
		from := ""
		if a.From != "" {
			from = orDash(a.FromVariant) + " (" + short(a.From) + ")"
		}
		if a.Reason != "" && a.Op != report.OpUnchanged {
			from = strings.TrimSpace(from + " " + a.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", op, a.Kind, termtext.Cell(a.Tag), termtext.Cell(a.Variant), termtext.Escape(from))
		counts[key]++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if executed {
		_, err := fmt.Fprintf(w, "%d created, %d moved, %d unchanged, %d conflicting, %d held, %d not done, %d rolled back\n",
			counts["created"], counts["moved"], counts[string(report.OpUnchanged)], counts[string(report.OpConflict)], counts[string(report.OpHeld)], counts["not done"], counts["rolled back"])
		return err
	}
	_, err := fmt.Fprintf(w, "%d to create, %d to move, %d unchanged, %d conflicting, %d held\n",
		counts[string(report.OpCreate)], counts[string(report.OpMove)], counts[string(report.OpUnchanged)], counts[string(report.OpConflict)], counts[string(report.OpHeld)])
	return err
}
