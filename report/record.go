package report

import (
	"time"

	"github.com/torchimg/torchimg/internal/jsonfile"
)

// RecordSchema identifies the release record format.
const RecordSchema = "torchimg.release/v1"

// RecordStatus is how a publish ended.
type RecordStatus string

// Record statuses.
const (
	Published RecordStatus = "published"
	Partial   RecordStatus = "partial"
	NotDone   RecordStatus = "failed"
	DryRun    RecordStatus = "dry-run"
)

// Record is the release record: what went where, with the test results that let it through.
type Record struct {
	Schema          string          `json:"schema"`
	Repository      string          `json:"repository"`
	MatrixRevision  string          `json:"matrix_revision"`
	Revision        string          `json:"revision,omitempty"`
	Status          RecordStatus    `json:"status"`
	DryRun          bool            `json:"dry_run"`
	FloatingHeld    string          `json:"floating_held,omitempty"`
	FloatingSkipped string          `json:"floating_skipped,omitempty"`
	Started         time.Time       `json:"started"`
	Finished        time.Time       `json:"finished"`
	Variants        []RecordVariant `json:"variants"`
	Actions         []Action        `json:"actions"`
	Missing         []string        `json:"missing,omitempty"`
	Errors          []string        `json:"errors,omitempty"`
}

// Entry is one variant of a release: its build, probe and smoke results merged from the reports.
type Entry struct {
	ID            string            `json:"id"`
	Status        Status            `json:"status"` // passed, unchanged, or why it cannot be published
	Reason        string            `json:"reason,omitempty"`
	Digest        string            `json:"digest,omitempty"`
	Inputs        string            `json:"inputs,omitempty"` // the input fingerprint
	Source        string            `json:"source,omitempty"` // staged reference
	ImmutableTags []string          `json:"immutable_tags"`
	FloatingTags  []string          `json:"floating_tags"`
	Labels        map[string]string `json:"labels"`
	Probe         *Probe            `json:"probe,omitempty"`
	Smoke         *SmokeVariant     `json:"smoke,omitempty"`
	Build         Timings           `json:"build_timings"`
}

// Publishable reports whether the entry's image can be published.
func (e *Entry) Publishable() bool { return e.Status.OK() }

// RecordVariant is one variant in the record.
type RecordVariant struct {
	Entry
	Published bool     `json:"published"`
	Verified  bool     `json:"labels_verified"`
	Tags      []string `json:"tags"`
	Ref       string   `json:"ref,omitempty"` // repository@digest
}

// TagKind says whether a tag names one build forever or follows the newest of its variants.
type TagKind string

// Tag kinds (the `kind:` of a matrix tag rule).
const (
	Immutable TagKind = "immutable"
	Floating  TagKind = "floating"
)

// Op is what a tag action does.
type Op string

// Tag operations.
const (
	OpCreate    Op = "create"
	OpMove      Op = "move"
	OpUnchanged Op = "unchanged"
	OpConflict  Op = "conflict"
	OpHeld      Op = "held"
)

// Action is one tag change: planned (plan --diff, a dry run) or carried out (Done).
type Action struct {
	Tag         string  `json:"tag"`
	Kind        TagKind `json:"kind"`
	Op          Op      `json:"op"`
	Variant     string  `json:"variant"`
	To          string  `json:"to,omitempty"`
	From        string  `json:"from,omitempty"`
	FromVariant string  `json:"from_variant,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	Done        bool    `json:"done"`
	// RolledBack is set on a floating tag that was moved, then put back to From because the
	// release failed or was interrupted.
	RolledBack bool `json:"rolled_back,omitempty"`
}

// WriteJSON writes the record as indented JSON (atomically).
func (r *Record) WriteJSON(path string) error { return jsonfile.Write(path, "release record", r) }
