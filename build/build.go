// Package build builds plan variants through BuildKit: one gateway build per variant that
// solves the rendered Dockerfile, runs the CPU probe inside the result and only then lets the
// exporter push (or write an OCI layout). A variant whose probe contradicts its labels is
// never exported.
package build

import (
	"context"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session/secrets/secretsprovider"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/templates"
)

// Interface builds one variant.
type Interface interface {
	// Build builds, probes and exports one variant. The result is never nil; err is the
	// variant's failure (the result says the same in Status and Error).
	Build(ctx context.Context, req Request) (*report.BuildEntry, error)
}

// Request is one variant to build.
type Request struct {
	Plan    *matrix.Plan
	Variant *matrix.Variant
	Context *templates.Context
	Output  Output
	Cache   Cache
	// Inputs are the variant's inputs when its base image was resolved before the build
	// (fingerprint.Resolve); nil lets the builder resolve the base itself.
	Inputs *fingerprint.Inputs
	// Epoch is SOURCE_DATE_EPOCH when the builder resolves the base (fingerprint.FromBase: the
	// base image's creation time).
	Epoch   fingerprint.Epoch
	NoCache bool
	// Secrets are offered to the build's secret mounts (the default template reads templates.SecretNetrc);
	// they reach neither the image nor the inputs.
	Secrets []secretsprovider.Source
	// Progress, when set, gets every BuildKit status update of the build, until Build returns.
	Progress func(*client.SolveStatus)
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

func newResult(req Request) *report.BuildEntry {
	v := req.Variant
	return &report.BuildEntry{
		ID: v.ID, Tags: v.Tags, ImmutableTags: v.ImmutableTags, FloatingTags: v.FloatingTags,
		Labels: v.Labels, Started: time.Now().UTC(),
	}
}

// finish completes a result: its status, the stage it stopped at, the error and the timings.
func finish(r *report.BuildEntry, status report.Status, stage report.Stage, err error) (*report.BuildEntry, error) {
	r.Status, r.Stage = status, stage
	if err != nil {
		r.Error = err.Error()
	}
	r.Finished = time.Now().UTC()
	r.Timings.Total = r.Finished.Sub(r.Started).Seconds()
	return r, err
}
