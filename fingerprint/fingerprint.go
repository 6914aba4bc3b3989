// Package fingerprint computes a variant's input fingerprint: a digest of everything that
// decides the bytes of its image — the rendered build context (Dockerfile, scripts, image.env:
// torch pin, index, labels, environment), the base image's digest, the frontend build args,
// SOURCE_DATE_EPOCH, the platform, the probe and the version of torchimg's build recipe. The
// same inputs build the same image, so a variant whose fingerprint is already on an image in
// the registry is not built again; and nothing outside the inputs (a comment in matrix.yaml,
// the git commit, the time) reaches the image.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/torchimg/torchimg/probe"
)

// Recipe is the version of what torchimg does to a build context beyond the context itself
// (exporter options, the labels it adds, the timestamp rewrite). Raise it when that changes, so
// that every image is rebuilt once.
const Recipe = 1

// Platform is the one platform torchimg builds.
const Platform = "linux/amd64"

// Inputs are one variant's inputs.
type Inputs struct {
	// Context is the digest of the rendered build context and the build args the frontend gets
	// besides the Dockerfile (ContextDigest).
	Context string `json:"context"`
	// BaseDigest is the base image, resolved.
	BaseDigest string `json:"base_digest"`
	// SourceDateEpoch is the timestamp of every file and of `created`.
	SourceDateEpoch int64  `json:"source_date_epoch"`
	Platform        string `json:"platform"`
	Probe           string `json:"probe"`
	Recipe          int    `json:"recipe"`
}

// New returns the inputs of a variant whose context was rendered into files.
func New(files map[string][]byte, args map[string]string, baseDigest string, epoch int64) Inputs {
	return Inputs{Context: ContextDigest(files, args), BaseDigest: baseDigest, SourceDateEpoch: epoch,
		Platform: Platform, Probe: ProbeDigest(), Recipe: Recipe}
}

// Digest is the fingerprint: "sha256:" and 64 hex digits.
func (in Inputs) Digest() string {
	b, err := json.Marshal(in) // map keys are sorted: the encoding is canonical
	if err != nil {
		panic(err) // strings, ints and a string map always marshal
	}
	return digest(b)
}

// ContextDigest digests a build context (every file name and content, in name order) and the
// build args given with it.
func ContextDigest(files map[string][]byte, args map[string]string) string {
	h := sha256.New()
	for _, n := range sortedKeys(files) {
		sum := sha256.Sum256(files[n])
		h.Write([]byte("file\x00" + n + "\x00"))
		h.Write(sum[:])
	}
	for _, k := range sortedKeys(args) {
		h.Write([]byte("arg\x00" + k + "\x00" + args[k] + "\x00"))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ProbeDigest digests the probe script: a new probe checks every image again.
func ProbeDigest() string { return digest(probe.Script) }

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Changed says which inputs differ between an image's recorded inputs (its labels) and now, in
// words, for plan --diff and build logs: "the base image (sha256:… → sha256:…)".
func Changed(was, now Inputs) []string {
	var out []string
	if was.BaseDigest != now.BaseDigest {
		out = append(out, "the base image ("+short(was.BaseDigest)+" → "+short(now.BaseDigest)+")")
	}
	if was.Context != now.Context {
		out = append(out, "the build context (the template, or the variant's settings, pins, labels or build args)")
	}
	if was.SourceDateEpoch != now.SourceDateEpoch {
		out = append(out, "SOURCE_DATE_EPOCH")
	}
	if was.Probe != now.Probe {
		out = append(out, "the probe")
	}
	if was.Recipe != now.Recipe || was.Platform != now.Platform {
		out = append(out, "torchimg's build recipe")
	}
	return out
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	if d == "" {
		return "none"
	}
	return d
}
