package publish

import (
	"fmt"
	"slices"
	"sort"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Release is the set of variants published together: the build reports of every CI shard,
// with the GPU smoke results where there are some.
type Release struct {
	Repository     string
	LabelsPrefix   string
	MatrixRevision string
	Revision       string
	Entries        []*report.Entry
	// Missing are variants of the plan that no report has: the release is incomplete and no
	// floating tag moves.
	Missing []string
}

// NewRelease merges build reports (and smoke reports) into one release. When plan is given,
// variants of the plan that no report covers are listed as missing.
func NewRelease(reports []*report.Build, smokes []*report.Smoke, plan *matrix.Plan) (*Release, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("no build report")
	}
	r := &Release{Repository: reports[0].Repository, LabelsPrefix: reports[0].LabelsPrefix, MatrixRevision: reports[0].MatrixRevision, Revision: reports[0].Revision}
	byID := map[string]*report.Entry{}
	for i, rep := range reports {
		if rep.MatrixRevision != r.MatrixRevision {
			return nil, fmt.Errorf("build reports come from different matrices: report 1 has matrix revision %s, report %d has %s; publish reports of one plan together", r.MatrixRevision, i+1, rep.MatrixRevision)
		}
		if rep.Repository != r.Repository {
			return nil, fmt.Errorf("build reports name different repositories: %s and %s", r.Repository, rep.Repository)
		}
		for _, v := range rep.Variants {
			e := &report.Entry{ID: v.ID, Status: v.Status, Reason: v.Error, Digest: v.Digest, Inputs: v.Inputs, Source: v.StagedRef,
				ImmutableTags: v.ImmutableTags, FloatingTags: v.FloatingTags, Labels: v.Labels, Probe: v.Probe, Build: v.Timings}
			if v.Status.OK() && v.StagedRef == "" {
				e.Status, e.Reason = report.NotStaged, "built into an OCI layout, not pushed to a staging repository (build with --stage)"
			}
			if prev, dup := byID[v.ID]; dup {
				// A re-run shard: a passing build wins over a failed one; two passing builds must agree.
				if prev.Publishable() && e.Publishable() && prev.Digest != e.Digest {
					return nil, fmt.Errorf("variant %s was built twice with different digests (%s, %s); publish one report per shard", v.ID, prev.Digest, e.Digest)
				}
				if prev.Publishable() {
					continue
				}
			}
			byID[v.ID] = e
		}
	}
	for _, s := range smokes {
		for i := range s.Variants {
			sv := s.Variants[i]
			e, ok := byID[sv.ID]
			if !ok {
				continue
			}
			e.Smoke = &sv
			if sv.Status == report.Failed || (sv.Required && sv.Status != report.Passed) {
				if e.Publishable() {
					e.Status, e.Reason = report.SmokeFailed, "GPU smoke: "+sv.Reason
				}
			}
			if sv.Digest != "" && e.Digest != "" && sv.Digest != e.Digest {
				e.Status, e.Reason = report.SmokeMismatch, fmt.Sprintf("the GPU smoke test ran on %s, the build made %s", sv.Digest, e.Digest)
			}
		}
	}
	for _, e := range byID {
		r.Entries = append(r.Entries, e)
	}
	sort.Slice(r.Entries, func(i, j int) bool { return r.Entries[i].ID < r.Entries[j].ID })
	// Every report lists the whole plan's variants: what no report covers is missing.
	planned := map[string]bool{}
	for _, rep := range reports {
		for _, id := range rep.PlanVariants {
			planned[id] = true
		}
	}
	if plan != nil {
		for _, v := range plan.Variants {
			planned[v.ID] = true
		}
	}
	if plan != nil {
		if plan.MatrixRevision != r.MatrixRevision {
			return nil, fmt.Errorf("the matrix (revision %s) is not the one the reports were built from (%s)", plan.MatrixRevision, r.MatrixRevision)
		}
	}
	for id := range planned {
		if _, ok := byID[id]; !ok {
			r.Missing = append(r.Missing, id)
		}
	}
	sort.Strings(r.Missing)
	if len(r.Entries) == 0 {
		return nil, fmt.Errorf("the build reports list no variant: nothing to publish (was the build's --only or --shard empty?)")
	}
	if err := checkTags(r, reports, plan); err != nil {
		return nil, err
	}
	return r, nil
}

// checkTags makes sure every tag comes from the plan: with the matrix, each entry's tags are
// the plan's; without it, the reports' own plan (its digest intact, the same in every report)
// says which tags each variant has. Every tag is a valid OCI tag that one variant names.
func checkTags(r *Release, reports []*report.Build, plan *matrix.Plan) error {
	var want *report.PlanTags
	from := "the matrix"
	if plan != nil {
		want = plan.PlanTags()
	} else {
		for i, rep := range reports {
			switch {
			case rep.Plan == nil:
				return fmt.Errorf("build report %d carries no plan to check its tags against (made by an older torchimg?): publish it with --matrix", i+1)
			case rep.Plan.ComputeDigest() != rep.Plan.Digest:
				return fmt.Errorf("build report %d: its plan does not match its digest %s: the report was edited; rebuild, or publish with --matrix", i+1, rep.Plan.Digest)
			case want != nil && rep.Plan.Digest != want.Digest:
				return fmt.Errorf("build reports 1 and %d come from different plans (%s, %s): publish reports of one plan together", i+1, want.Digest, rep.Plan.Digest)
			}
			want = rep.Plan
		}
		from = "the report's plan " + want.Digest
	}
	owner := map[string]string{} // tag → variant
	for _, e := range r.Entries {
		vt, ok := want.Of(e.ID)
		if !ok {
			return fmt.Errorf("variant %s is in a build report but not in %s", e.ID, from)
		}
		imm, fl := withInputs(vt.Immutable, e.Inputs), withInputs(vt.Floating, e.Inputs)
		if !slices.Equal(imm, e.ImmutableTags) || !slices.Equal(fl, e.FloatingTags) {
			return fmt.Errorf("variant %s: the report's tags (immutable %v, floating %v) are not the plan's (immutable %v, floating %v, from %s): refusing the report", e.ID, e.ImmutableTags, e.FloatingTags, imm, fl, from)
		}
		for _, t := range append(slices.Clone(e.ImmutableTags), e.FloatingTags...) {
			if err := matrix.ValidTag(t); err != nil {
				return fmt.Errorf("variant %s: %w", e.ID, err)
			}
			if prev, dup := owner[t]; dup && prev != e.ID {
				return fmt.Errorf("tag %s is named by two variants, %s and %s: a tag names one image", t, prev, e.ID)
			}
			owner[t] = e.ID
		}
	}
	return nil
}

func withInputs(tags []string, inputs string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = matrix.WithInputs(t, inputs)
	}
	return out
}

// Name is how the lease and messages name the release: its revision, else its matrix revision.
func (r *Release) Name() string {
	switch {
	case r.Revision != "":
		return r.Revision
	case r.MatrixRevision != "":
		return "matrix " + r.MatrixRevision
	}
	return "unnamed"
}

// Complete reports whether every variant is present and passed, which is when floating tags move.
func (r *Release) Complete() (bool, string) {
	if len(r.Missing) > 0 {
		return false, fmt.Sprintf("%d variant(s) of the plan are in no build report (%s)", len(r.Missing), r.Missing[0])
	}
	for _, e := range r.Entries {
		if !e.Publishable() {
			return false, fmt.Sprintf("variant %s did not pass (%s)", e.ID, e.Status)
		}
	}
	return true, ""
}

// Wants is what the release repository should hold: each entry's image and tags.
func (r *Release) Wants() []Want {
	out := make([]Want, len(r.Entries))
	for i, e := range r.Entries {
		out[i] = Want{Entry: e, LabelsPrefix: r.LabelsPrefix}
	}
	return out
}
