package publish

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/torchimg/torchimg/report"
)

// NewRecord assembles the record of a publish.
func NewRecord(rel *Release, res *Result, dryRun bool, started time.Time) *report.Record {
	r := &report.Record{
		Schema: report.RecordSchema, Repository: res.Repository, MatrixRevision: rel.MatrixRevision, Revision: rel.Revision,
		DryRun: dryRun, FloatingHeld: res.FloatingHeld, FloatingSkipped: res.FloatingSkipped, Started: started.UTC(), Finished: time.Now().UTC(),
		Actions: res.Actions, Missing: rel.Missing, Errors: res.Errors,
	}
	if r.Actions == nil {
		r.Actions = []report.Action{}
	}
	published := map[string]bool{}
	for _, id := range res.Published {
		published[id] = true
	}
	verified := map[string]bool{}
	for _, id := range res.Verified {
		verified[id] = true
	}
	for _, e := range rel.Entries {
		vr := report.RecordVariant{Entry: *e, Published: published[e.ID] && !dryRun, Verified: verified[e.ID]}
		if d, ok := res.Digests[e.ID]; ok {
			vr.Digest = d
			vr.Ref = res.Repository + "@" + d
			vr.Tags = append(vr.Tags, e.ImmutableTags...)
			if res.FloatingHeld == "" && res.FloatingSkipped == "" {
				vr.Tags = append(vr.Tags, e.FloatingTags...)
			}
		}
		r.Variants = append(r.Variants, vr)
	}
	switch {
	case dryRun:
		r.Status = report.DryRun
	case len(res.Errors) == 0 && res.FloatingHeld == "":
		r.Status = report.Published
	case len(res.Published) > 0:
		r.Status = report.Partial
	default:
		r.Status = report.NotDone
	}
	return r
}

// WriteMarkdown renders the record for people (and $GITHUB_STEP_SUMMARY).
func WriteMarkdown(w io.Writer, r *report.Record) error {
	fmt.Fprintf(w, "## Release of `%s`: %s\n\n", r.Repository, r.Status)
	if r.FloatingHeld != "" {
		fmt.Fprintf(w, "> Floating tags were **not moved**: %s.\n\n", r.FloatingHeld)
	}
	if r.FloatingSkipped != "" {
		fmt.Fprintf(w, "> Floating tags were left alone: %s.\n\n", r.FloatingSkipped)
	}
	fmt.Fprintf(w, "Matrix revision `%s`", r.MatrixRevision)
	if r.Revision != "" {
		fmt.Fprintf(w, ", source revision `%s`", r.Revision)
	}
	fmt.Fprintf(w, ".\n\n| variant | status | digest | tags | probe | GPU smoke |\n|---|---|---|---|---|---|\n")
	for _, v := range r.Variants {
		dg := "–"
		if v.Digest != "" {
			dg = "`" + short(v.Digest) + "`"
		}
		probe := "–"
		if v.Probe != nil {
			probe = string(v.Probe.Status)
		}
		sm := "–"
		if v.Smoke != nil {
			sm = string(v.Smoke.Status)
			if v.Smoke.Reason != "" && v.Smoke.Status != report.Passed {
				sm += " (" + v.Smoke.Reason + ")"
			}
		}
		tags := make([]string, len(v.Tags))
		for i, t := range v.Tags {
			tags[i] = "`" + t + "`"
		}
		status := string(v.Status)
		if v.Reason != "" && !v.Publishable() {
			status += ": " + oneLine(v.Reason)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", v.ID, status, dg, strings.Join(tags, " "), probe, sm)
	}
	moved, rolled := false, false
	for _, a := range r.Actions {
		// What was done: a dry run lists what would move.
		if a.Kind == report.Floating && a.Op == report.OpMove && (a.Done || r.DryRun) {
			if !moved {
				fmt.Fprintf(w, "\n**Floating tags moved:**\n\n")
				moved = true
			}
			fmt.Fprintf(w, "- `%s`: %s `%s` → %s `%s`\n", a.Tag, orDash(a.FromVariant), short(a.From), a.Variant, short(a.To))
		}
	}
	for _, a := range r.Actions {
		if a.RolledBack {
			if !rolled {
				fmt.Fprintf(w, "\n**Floating tags put back** (the release did not finish):\n\n")
				rolled = true
			}
			fmt.Fprintf(w, "- `%s`: back at %s `%s`\n", a.Tag, orDash(a.FromVariant), short(a.From))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\n**Errors:**\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "- %s\n", oneLine(e))
		}
	}
	return nil
}

// AppendStepSummary appends the Markdown record to $GITHUB_STEP_SUMMARY when it is set.
func AppendStepSummary(r *report.Record) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	defer f.Close()
	return WriteMarkdown(f, r)
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
