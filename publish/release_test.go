package publish

import (
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

func buildReport(rev string, vs ...*report.BuildEntry) *report.Build {
	r := &report.Build{Schema: report.BuildSchema, Repository: "r.example/acme/pytorch", LabelsPrefix: "io.torchimg", MatrixRevision: rev}
	for _, v := range vs {
		r.PlanVariants = append(r.PlanVariants, v.ID)
	}
	r.Variants = vs
	r.Plan = planOf(vs)
	return r
}

// planOf is the plan a build of these entries records.
func planOf(vs []*report.BuildEntry) *report.PlanTags {
	var ts []report.VariantTags
	for _, v := range vs {
		ts = append(ts, report.VariantTags{ID: v.ID, Immutable: v.ImmutableTags, Floating: v.FloatingTags})
	}
	return report.NewPlanTags(ts)
}

func staged(id, digest string) *report.BuildEntry {
	return &report.BuildEntry{ID: id, Status: report.Passed, Digest: digest, StagedRef: "r.example/stage@" + digest}
}

// NewRelease holds back what must not be published, and refuses reports that do not belong together.
func TestNewReleaseGating(t *testing.T) {
	entry := func(rel *Release, id string) *report.Entry {
		for _, e := range rel.Entries {
			if e.ID == id {
				return e
			}
		}
		t.Fatalf("no entry %s", id)
		return nil
	}
	a, b, c, d := staged("a", "sha256:aa"), staged("b", "sha256:bb"), staged("c", "sha256:cc"), staged("d", "sha256:dd")
	d.StagedRef = "" // built into an OCI layout
	smoke := &report.Smoke{Schema: report.SmokeSchema, Variants: []report.SmokeVariant{
		{ID: "a", Digest: "sha256:aa", Status: report.Passed, Required: true},
		{ID: "b", Digest: "sha256:bb", Status: report.Failed, Required: true, Reason: "torch sees no GPU"},
		{ID: "c", Digest: "sha256:c0", Status: report.Passed, Required: true},
	}}
	rel, err := NewRelease([]*report.Build{buildReport("r1", a, b, c, d)}, []*report.Smoke{smoke}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]report.Status{"a": report.Passed, "b": report.SmokeFailed, "c": report.SmokeMismatch, "d": report.NotStaged} {
		if e := entry(rel, id); e.Status != want {
			t.Errorf("%s: %s (%s), want %s", id, e.Status, e.Reason, want)
		}
	}
	if ok, why := rel.Complete(); ok || !strings.Contains(why, "did not pass") {
		t.Errorf("Complete = %v %q", ok, why)
	}
	// A required smoke test that was skipped holds the variant too.
	skipped := &report.Smoke{Schema: report.SmokeSchema, Variants: []report.SmokeVariant{{ID: "a", Status: report.Skipped, Required: true, Reason: "no GPU"}}}
	rel, _ = NewRelease([]*report.Build{buildReport("r1", staged("a", "sha256:aa"))}, []*report.Smoke{skipped}, nil)
	if e := entry(rel, "a"); e.Status != report.SmokeFailed || !strings.Contains(e.Reason, "no GPU") {
		t.Errorf("required but skipped: %+v", e)
	}
	// A CPU image's GPU test is skipped and not required (smoke.Decide): it is published.
	cpuSkip := &report.Smoke{Schema: report.SmokeSchema, Variants: []report.SmokeVariant{{ID: "a", Digest: "sha256:aa", Status: report.Skipped, Reason: "CPU image: no GPU test"}}}
	rel, _ = NewRelease([]*report.Build{buildReport("r1", staged("a", "sha256:aa"))}, []*report.Smoke{cpuSkip}, nil)
	if e := entry(rel, "a"); e.Status != report.Passed {
		t.Errorf("CPU image, smoke skipped and not required: %+v", e)
	}

	// A re-run shard: a pass wins over a failure; two passes must agree.
	failed := &report.BuildEntry{ID: "a", Status: report.Failed, Error: "boom"}
	rel, err = NewRelease([]*report.Build{buildReport("r1", failed), buildReport("r1", staged("a", "sha256:aa"))}, nil, nil)
	if err != nil || entry(rel, "a").Status != report.Passed {
		t.Errorf("re-run shard: %v %+v", err, rel)
	}
	if _, err := NewRelease([]*report.Build{buildReport("r1", staged("a", "sha256:aa")), buildReport("r1", staged("a", "sha256:a2"))}, nil, nil); err == nil || !strings.Contains(err.Error(), "built twice with different digests") {
		t.Errorf("built twice: %v", err)
	}
	if _, err := NewRelease([]*report.Build{buildReport("r1", a), buildReport("r2", b)}, nil, nil); err == nil || !strings.Contains(err.Error(), "different matrices") {
		t.Errorf("two matrix revisions: %v", err)
	}
	plan := &matrix.Plan{MatrixRevision: "r9", Variants: []*matrix.Variant{{ID: "a"}}}
	if _, err := NewRelease([]*report.Build{buildReport("r1", staged("a", "sha256:aa"))}, nil, plan); err == nil || !strings.Contains(err.Error(), "is not the one the reports were built from") {
		t.Errorf("another matrix: %v", err)
	}
	// The plan names a variant no report has: missing, and the release is not complete.
	plan = &matrix.Plan{MatrixRevision: "r1", Variants: []*matrix.Variant{{ID: "a"}, {ID: "z"}}}
	rel, err = NewRelease([]*report.Build{buildReport("r1", staged("a", "sha256:aa"))}, nil, plan)
	if err != nil || strings.Join(rel.Missing, ",") != "z" {
		t.Fatalf("missing: %v %v", err, rel.Missing)
	}
	if ok, why := rel.Complete(); ok || !strings.Contains(why, "(z)") {
		t.Errorf("Complete = %v %q", ok, why)
	}
	if _, err := NewRelease(nil, nil, nil); err == nil {
		t.Error("no report accepted")
	}
}

// A report's tags come from the plan: edited tags are refused before anything is written.
func TestReleaseTagsFromThePlanOnly(t *testing.T) {
	entry := func(id string, imm []string, fl ...string) *report.BuildEntry {
		e := staged(id, "sha256:"+strings.Repeat(id[:1], 64))
		e.ImmutableTags, e.FloatingTags = imm, fl
		return e
	}
	good := func() *report.Build {
		return buildReport("r1", entry("a", []string{"a-1"}, "latest"), entry("b", []string{"b-1"}, "b"))
	}
	for _, tc := range []struct {
		name   string
		edit   func(r *report.Build)
		errHas string
	}{
		{"untouched", func(*report.Build) {}, ""},
		{"an invalid tag, plan not updated", func(r *report.Build) { r.Variants[0].ImmutableTags = []string{"bad tag!"} }, "are not the plan's"},
		{"an invalid tag, plan updated and re-digested", func(r *report.Build) {
			r.Variants[0].ImmutableTags = []string{"bad tag!"}
			r.Plan = planOf(r.Variants)
		}, "not a valid OCI tag"},
		{"latest added to a second variant", func(r *report.Build) { r.Variants[1].FloatingTags = []string{"b", "latest"} }, "are not the plan's"},
		{"latest in two variants, plan re-digested", func(r *report.Build) {
			r.Variants[1].FloatingTags = []string{"b", "latest"}
			r.Plan = planOf(r.Variants)
		}, "tag latest is named by two variants"},
		{"plan edited without its digest", func(r *report.Build) { r.Plan.Variants[0].Floating = []string{"x"} }, "does not match its digest"},
		{"no plan", func(r *report.Build) { r.Plan = nil }, "publish it with --matrix"},
		{"empty", func(r *report.Build) { r.Variants = nil; r.PlanVariants = nil; r.Plan = planOf(nil) }, "list no variant"},
	} {
		r := good()
		tc.edit(r)
		_, err := NewRelease([]*report.Build{r}, nil, nil)
		switch {
		case tc.errHas == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.errHas)
		}
	}
}
