// Package report holds the documents torchimg's stages hand to each other and to the people who
// read them: the build report (build → smoke, publish), the probe result inside it, the smoke
// report (smoke → publish), the release record (publish → people and CI) and the image info
// (what inspect and check read from an image). They are plain types with their JSON names, the
// schemas README.md documents; the package imports no BuildKit or registry client, so every stage
// can read every document.
package report

// Status is the outcome of a variant at some stage. One vocabulary serves the build report,
// the smoke report and the release: a value means the same wherever it appears.
type Status string

// Statuses.
const (
	Passed    Status = "passed"
	Failed    Status = "failed"
	Cancelled Status = "cancelled"
	Skipped   Status = "skipped"
	// Unchanged is a build that was not run: an image with the same input fingerprint is
	// already in the staging or release repository, and its digest is reported.
	Unchanged Status = "unchanged"
	// NotStaged, SmokeFailed and SmokeMismatch are release statuses: built, but not publishable.
	NotStaged     Status = "not-staged"
	SmokeFailed   Status = "smoke-failed"
	SmokeMismatch Status = "smoke-mismatch"
)

// OK reports whether a variant with this build status has a good image (built and probed now,
// or unchanged since it was).
func (s Status) OK() bool { return s == Passed || s == Unchanged }
