// Package build builds plan variants through BuildKit: one gateway build per variant that
// solves the rendered Dockerfile, runs the CPU probe inside the result and only then lets the
// exporter push (or write an OCI layout). A variant whose probe contradicts its labels is
// never exported.
package build

import (
	"context"
	"time"

	"github.com/moby/buildkit/client"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/smoke"
	"github.com/torchimg/torchimg/templates"
)

// Interface builds one variant.
type Interface interface {
	// Build builds, probes and exports one variant. The result is never nil; err is the
	// variant's failure (the result says the same in Status and Error).
	Build(ctx context.Context, req Request) (*Result, error)
}

// Request is one variant to build.
type Request struct {
	Plan    *matrix.Plan
	Variant *matrix.Variant
	Context *templates.Context
	Output  Output
	Cache   Cache
	// SourceDateEpoch makes `created` reproducible (SOURCE_DATE_EPOCH).
	SourceDateEpoch int64
	// Revision is the source revision (git commit) recorded in org.opencontainers.image.revision.
	Revision string
	NoCache  bool
	// Status, when set, receives BuildKit progress; the builder closes it when done.
	Status chan *client.SolveStatus
}

// Output says where a built image goes: a staging repository (pushed by digest, with the
// variant id as a staging tag) or an OCI image layout directory (one per variant).
type Output struct {
	StageRepo string
	OCIDir    string
	// Insecure allows plain HTTP to the staging registry (always on for loopback hosts).
	Insecure bool
}

// Cache holds registry cache import/export specs ("type=registry,ref=REPO:{id},mode=max";
// a bare reference means a registry cache). {id} is replaced with the variant id.
type Cache struct {
	From []string
	To   []string
}

// Status values of a Result.
const (
	StatusPassed    = "passed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Result is what a build produced.
type Result struct {
	ID            string            `json:"id"`
	Status        string            `json:"status"`
	Error         string            `json:"error,omitempty"`
	Stage         string            `json:"stage,omitempty"` // render, connect, solve, probe, export
	Digest        string            `json:"digest,omitempty"`
	StagedRef     string            `json:"staged_ref,omitempty"`
	OCIDir        string            `json:"oci_dir,omitempty"`
	Size          int64             `json:"size,omitempty"`
	Builder       string            `json:"builder,omitempty"`
	BaseDigest    string            `json:"base_digest,omitempty"`
	Notes         []string          `json:"notes,omitempty"`
	Tags          []string          `json:"tags"`
	ImmutableTags []string          `json:"immutable_tags"`
	FloatingTags  []string          `json:"floating_tags"`
	Labels        map[string]string `json:"labels"`
	Probe         *smoke.Result     `json:"probe,omitempty"`
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

func newResult(req Request) *Result {
	v := req.Variant
	return &Result{
		ID: v.ID, Tags: v.Tags, ImmutableTags: v.ImmutableTags, FloatingTags: v.FloatingTags,
		Labels: v.Labels, Started: time.Now().UTC(),
	}
}

func (r *Result) finish(status, stage string, err error) (*Result, error) {
	r.Status, r.Stage = status, stage
	if err != nil {
		r.Error = err.Error()
	}
	r.Finished = time.Now().UTC()
	r.Timings.Total = r.Finished.Sub(r.Started).Seconds()
	return r, err
}
