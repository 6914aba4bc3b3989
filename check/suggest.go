package check

import (
	"sort"
	"strings"

	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/report"
)

// Suggestion is a tag of the repository that would run on the host.
type Suggestion struct {
	Tag       string `json:"tag"`
	Torch     string `json:"torch"`
	CUDA      string `json:"cuda"`
	DriverMin string `json:"driver_min"`
	Note      string `json:"note,omitempty"` // e.g. "PTX JIT"
}

// Suggest evaluates candidate images (each with the tags that point to it in
// Info.Tags, as inspect.Repository reads them) on h and returns the tags of the compatible ones: floating-looking
// tags first (those that do not spell the full torch version: "2.9-cu128",
// "lts"), then newest torch first, then shorter tags. An image whose digest is
// skipDigest (the one being checked) is left out, and so are CPU images: Suggest answers for
// an image that needs a GPU (a CPU image is compatible everywhere, so it is never the one that
// fails), and a CPU tag would run here but use no GPU.
func Suggest(cands []*report.Info, h Host, db *compat.DB, skipDigest string) []Suggestion {
	type row struct {
		s        Suggestion
		floating bool
	}
	var rows []row
	for _, c := range cands {
		if c == nil || (skipDigest != "" && c.Digest == skipDigest) {
			continue
		}
		res := Evaluate(c, h, db)
		if res.Verdict != Compatible || res.CPU {
			continue
		}
		im := readImage(c, db)
		cuda := im.need.CUDAMinor()
		if im.variant != "" {
			cuda = im.variant + " (CUDA " + orDash(im.need.CUDA) + ")"
		} else if im.need.CUDA != "" {
			cuda = im.need.CUDA
		}
		note := ""
		if res.PTXJIT {
			note = "PTX JIT"
		}
		for _, t := range c.Tags {
			rows = append(rows, row{
				s:        Suggestion{Tag: t, Torch: im.torch, CUDA: cuda, DriverMin: im.need.Min, Note: note},
				floating: floatingLooking(t, im),
			})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.floating != b.floating {
			return a.floating
		}
		if a.s.Note != b.s.Note {
			return a.s.Note == "" // native before PTX JIT
		}
		if c := compareTorch(a.s.Torch, b.s.Torch); c != 0 {
			return c > 0
		}
		if len(a.s.Tag) != len(b.s.Tag) {
			return len(a.s.Tag) < len(b.s.Tag)
		}
		return a.s.Tag < b.s.Tag
	})
	out := make([]Suggestion, len(rows))
	for i, r := range rows {
		out[i] = r.s
	}
	return out
}

func compareTorch(a, b string) int {
	// Local versions ("2.9.1+cu128") compare by their public part.
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	switch {
	case a == b:
		return 0
	case !version.Valid(a):
		return -1
	case !version.Valid(b):
		return 1
	}
	return version.Compare(a, b)
}

// floatingLooking reports whether a tag looks like a floating tag: it does not
// spell the image's full torch version or full CUDA toolkit version.
func floatingLooking(tag string, im image) bool {
	if im.torch != "" && strings.Count(im.torch, ".") >= 2 && strings.Contains(tag, im.torch) {
		return false
	}
	if im.need.CUDA != "" && strings.Count(im.need.CUDA, ".") >= 2 && strings.Contains(tag, im.need.CUDA) {
		return false
	}
	return true
}
