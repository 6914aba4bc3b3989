package matrix

import (
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// reNvidiaTag is an nvidia/cuda tag: toolkit, flavor, OS ("12.8.1-cudnn-runtime-ubuntu24.04").
var reNvidiaTag = regexp.MustCompile(`^([0-9]+\.[0-9]+\.[0-9]+)-(base|runtime|devel|cudnn[0-9]*-runtime|cudnn[0-9]*-devel|tensorrt-runtime|tensorrt-devel)-([a-z]+[0-9.]+)$`)

// nvidiaBase is an explicit base that is an nvidia/cuda image, read from its tag.
type nvidiaBase struct {
	Toolkit, Flavor, OS string
}

// parseNvidiaBase reads ref as an nvidia/cuda tag on any registry (docker.io/nvidia/cuda,
// nvcr.io/nvidia/cuda, a mirror's .../nvidia/cuda). ok is false for another image, or an
// nvidia/cuda reference without a tag of that form (a digest only, "latest").
func parseNvidiaBase(ref string) (nvidiaBase, bool) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nvidiaBase{}, false
	}
	repo := r.Context().RepositoryStr()
	if repo != "nvidia/cuda" && !strings.HasSuffix(repo, "/nvidia/cuda") {
		return nvidiaBase{}, false
	}
	tag := ""
	if t, ok := r.(name.Tag); ok {
		tag = t.TagStr()
	} else if before, _, ok := strings.Cut(ref, "@"); ok {
		if t, err := name.NewTag(before); err == nil {
			tag = t.TagStr()
		}
	}
	m := reNvidiaTag.FindStringSubmatch(tag)
	if m == nil {
		return nvidiaBase{}, false
	}
	return nvidiaBase{Toolkit: m[1], Flavor: m[2], OS: m[3]}, true
}

// NvidiaBaseTag reads ref as an nvidia/cuda tag (any registry): its toolkit ("12.8.1"), flavor
// ("cudnn-runtime") and OS ("ubuntu24.04"); ok is false for another image.
func NvidiaBaseTag(ref string) (toolkit, flavor, os string, ok bool) {
	nb, ok := parseNvidiaBase(ref)
	return nb.Toolkit, nb.Flavor, nb.OS, ok
}
