package report

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/torchimg/torchimg/internal/jsonfile"
)

// BuildSchema identifies the build report format.
const BuildSchema = "torchimg.build/v1"

// Build is what `torchimg build --report` writes and `smoke` and `publish` read.
type Build struct {
	Schema          string `json:"schema"`
	Repository      string `json:"repository"`
	LabelsPrefix    string `json:"labels_prefix"`
	MatrixRevision  string `json:"matrix_revision"`
	Revision        string `json:"revision,omitempty"`
	SourceDateEpoch int64  `json:"source_date_epoch"`
	StageRepo       string `json:"stage_repo,omitempty"`
	OCIDir          string `json:"oci_dir,omitempty"`
	// PlanVariants are the ids of every variant of the full plan (not only this shard's), so
	// that publish can tell when a release is incomplete.
	PlanVariants []string `json:"plan_variants"`
	// Plan are the tags of every variant of the full plan, so that publish can check the
	// report's tags without the matrix.
	Plan     *PlanTags     `json:"plan,omitempty"`
	Builders []Builder     `json:"builders"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Variants []*BuildEntry `json:"variants"`
}

// PlanTags are the tags of every variant of a plan, with the input fingerprint written as the
// matrix's {inputs} marker, and the digest of that list.
type PlanTags struct {
	Digest   string        `json:"digest"`
	Variants []VariantTags `json:"variants"`
}

// VariantTags are one variant's tags.
type VariantTags struct {
	ID        string   `json:"id"`
	Immutable []string `json:"immutable_tags"`
	Floating  []string `json:"floating_tags"`
}

// NewPlanTags sorts the variants and computes the digest.
func NewPlanTags(vs []VariantTags) *PlanTags {
	p := &PlanTags{Variants: slices.Clone(vs)}
	for i := range p.Variants {
		if p.Variants[i].Immutable == nil {
			p.Variants[i].Immutable = []string{}
		}
		if p.Variants[i].Floating == nil {
			p.Variants[i].Floating = []string{}
		}
	}
	sort.Slice(p.Variants, func(i, j int) bool { return p.Variants[i].ID < p.Variants[j].ID })
	p.Digest = p.ComputeDigest()
	return p
}

// ComputeDigest is the sha256 of the variants' tag lists (their JSON).
func (p *PlanTags) ComputeDigest() string {
	b, _ := json.Marshal(p.Variants)
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}

// Of returns a variant's tags.
func (p *PlanTags) Of(id string) (VariantTags, bool) {
	for _, v := range p.Variants {
		if v.ID == id {
			return v, true
		}
	}
	return VariantTags{}, false
}

// Builder names a daemon used.
type Builder struct {
	Addr    string `json:"addr"`
	Version string `json:"version"`
}

// Stage is where a build stopped.
type Stage string

// Stages of a variant's build.
const (
	StageRender  Stage = "render"
	StageConnect Stage = "connect"
	StageQueue   Stage = "queue"
	StageSolve   Stage = "solve"
	StageProbe   Stage = "probe"
	StageExport  Stage = "export"
)

// BuildEntry is one variant of a build report.
type BuildEntry struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`
	Stage  Stage  `json:"stage,omitempty"`
	Digest string `json:"digest,omitempty"`
	// ImageDigest is the platform image's manifest (Digest is the index that adds BuildKit's
	// provenance attestation): the same inputs give the same ImageDigest.
	ImageDigest string `json:"image_digest,omitempty"`
	StagedRef   string `json:"staged_ref,omitempty"`
	OCIDir      string `json:"oci_dir,omitempty"`
	Size        int64  `json:"size,omitempty"`
	Builder     string `json:"builder,omitempty"`
	BaseDigest  string `json:"base_digest,omitempty"`
	// Inputs is the input fingerprint of the image (package fingerprint).
	Inputs        string            `json:"inputs,omitempty"`
	Notes         []string          `json:"notes,omitempty"`
	Tags          []string          `json:"tags"`
	ImmutableTags []string          `json:"immutable_tags"`
	FloatingTags  []string          `json:"floating_tags"`
	Labels        map[string]string `json:"labels"`
	Probe         *Probe            `json:"probe,omitempty"`
	Started       time.Time         `json:"started"`
	Finished      time.Time         `json:"finished"`
	Timings       Timings           `json:"timings"`
}

// Timings are seconds spent per stage.
type Timings struct {
	Total float64 `json:"total_s"`
	Solve float64 `json:"solve_s"`
	Probe float64 `json:"probe_s"`
}

// Failed returns the variants that have no good image.
func (r *Build) Failed() []*BuildEntry {
	var out []*BuildEntry
	for _, v := range r.Variants {
		if !v.Status.OK() {
			out = append(out, v)
		}
	}
	return out
}

// WriteFile writes the report as indented JSON (atomically).
func (r *Build) WriteFile(path string) error { return jsonfile.Write(path, "build report", r) }

// ReadBuild reads a build report.
func ReadBuild(path string) (*Build, error) {
	var r Build
	if err := jsonfile.Read(path, "build report", BuildSchema, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
