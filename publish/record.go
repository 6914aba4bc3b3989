package publish

import (
	"fmt"
	"github.com/torchimg/torchimg/internal/jsonfile"
	"io"
	"os"
	"strings"
	"time"
)

// RecordSchema identifies the release record format.
const RecordSchema = "torchimg.release/v1"

// Record is the release record: what went where, with the test results that let it through.
type Record struct {
	Schema          string          `json:"schema"`
	Repository      string          `json:"repository"`
	MatrixRevision  string          `json:"matrix_revision"`
	Revision        string          `json:"revision,omitempty"`
	Status          string          `json:"status"` // published, partial, failed, dry-run
	DryRun          bool            `json:"dry_run"`
	FloatingHeld    string          `json:"floating_held,omitempty"`
	FloatingSkipped string          `json:"floating_skipped,omitempty"`
	Started         time.Time       `json:"started"`
	Finished        time.Time       `json:"finished"`
	Variants        []VariantRecord `json:"variants"`
	Actions         []Action        `json:"actions"`
	Missing         []string        `json:"missing,omitempty"`
	Errors          []string        `json:"errors,omitempty"`
}

// VariantRecord is one variant in the record.
type VariantRecord struct {
	Entry
	Published bool     `json:"published"`
	Verified  bool     `json:"labels_verified"`
	Tags      []string `json:"tags"`
	Ref       string   `json:"ref,omitempty"` // repository@digest
}

// NewRecord assembles the record of a publish.
func NewRecord(rel *Release, res *Result, dryRun bool, started time.Time) *Record {
	r := &Record{
		Schema: RecordSchema, Repository: res.Repository, MatrixRevision: rel.MatrixRevision, Revision: rel.Revision,
		DryRun: dryRun, FloatingHeld: res.FloatingHeld, FloatingSkipped: res.FloatingSkipped, Started: started.UTC(), Finished: time.Now().UTC(),
		Actions: res.Actions, Missing: rel.Missing, Errors: res.Errors,
	}
	if r.Actions == nil {
		r.Actions = []Action{}
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
		vr := VariantRecord{Entry: *e, Published: published[e.ID] && !dryRun, Verified: verified[e.ID]}
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
		r.Status = "dry-run"
	case len(res.Errors) == 0 && res.FloatingHeld == "":
		r.Status = "published"
	case len(res.Published) > 0:
		r.Status = "partial"
	default:
		r.Status = "failed"
	}
	return r
}

// WriteJSON writes the record as indented JSON (atomically).
func (r *Record) WriteJSON(path string) error { return jsonfile.Write(path, "release record", r) }

// WriteMarkdown renders the record for people (and $GITHUB_STEP_SUMMARY).
func (r *Record) WriteMarkdown(w io.Writer) error {
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
			probe = v.Probe.Status
		}
		sm := "–"
		if v.Smoke != nil {
			sm = v.Smoke.Status
			if v.Smoke.Reason != "" && v.Smoke.Status != "passed" {
				sm += " (" + v.Smoke.Reason + ")"
			}
		}
		tags := make([]string, len(v.Tags))
		for i, t := range v.Tags {
			tags[i] = "`" + t + "`"
		}
		status := v.Status
		if v.Reason != "" && !v.Passed() {
			status += ": " + oneLine(v.Reason)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", v.ID, status, dg, strings.Join(tags, " "), probe, sm)
	}
	moved := false
	for _, a := range r.Actions {
		if a.Kind == "floating" && a.Op == OpMove {
			if !moved {
				fmt.Fprintf(w, "\n**Floating tags moved:**\n\n")
				moved = true
			}
			fmt.Fprintf(w, "- `%s`: %s `%s` → %s `%s`\n", a.Tag, orDash(a.FromVariant), short(a.From), a.Variant, short(a.To))
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
func (r *Record) AppendStepSummary() error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	defer f.Close()
	return r.WriteMarkdown(f)
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
