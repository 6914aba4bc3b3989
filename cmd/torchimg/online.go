package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/torchimg/torchimg/internal/redact"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix"
)

// onlineDiagnostics looks up every base image tag of the plan in its registry (one manifest
// HEAD each, with the usual credentials). A tag that is gone is an error naming the nearest
// existing tag of the same CUDA minor (for nvidia/cuda tags); a registry that cannot be read
// is a warning: the tag was not checked.
func onlineDiagnostics(ctx context.Context, rc *registry.Client, p *matrix.Plan, file string) matrix.Diagnostics {
	users := map[string][]string{}
	for _, v := range p.Variants {
		users[v.Base] = append(users[v.Base], v.ID)
	}
	bases := make([]string, 0, len(users))
	for b := range users {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	var ds matrix.Diagnostics
	add := func(sev matrix.Severity, format string, args ...any) {
		ds = append(ds, matrix.Diagnostic{Pos: matrix.Pos{File: file}, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	for _, b := range bases {
		ids := users[b]
		who := ids[0]
		if len(ids) > 1 {
			who = fmt.Sprintf("%s and %d more", ids[0], len(ids)-1)
		}
		ref, err := rc.Ref(b)
		if err != nil {
			add(matrix.SevError, "base %s (%s): %v", redact.URL(b), who, err)
			continue
		}
		_, err = rc.Head(ctx, ref)
		switch {
		case err == nil:
		case registry.IsNotFound(err):
			add(matrix.SevError, "base %s (%s) is gone from its registry (NVIDIA deletes the tags of superseded and end-of-life releases)%s", b, who, nearest(ctx, rc, ref))
		default:
			add(matrix.SevWarning, "base %s (%s) was not checked: its registry %s cannot be read: %s", b, who, ref.Context().RegistryStr(), redact.Text(err.Error()))
		}
	}
	return ds
}

// nearest names the newest existing tag of the same CUDA minor, flavor and OS in the repository.
func nearest(ctx context.Context, rc *registry.Client, ref name.Reference) string {
	toolkit, flavor, os, ok := matrix.NvidiaBaseTag(ref.String())
	if !ok {
		return ""
	}
	tags, err := rc.Tags(ctx, ref.Context())
	if err != nil {
		return fmt.Sprintf("; its repository's tags could not be listed: %v", err)
	}
	best := ""
	for _, t := range tags {
		tk, fl, o, ok := matrix.NvidiaBaseTag(ref.Context().Name() + ":" + t)
		if !ok || fl != flavor || o != os || version.MajorMinor(tk) != version.MajorMinor(toolkit) {
			continue
		}
		if best == "" || version.Compare(tk, best) > 0 {
			best = tk
		}
	}
	if best == "" {
		return fmt.Sprintf("; %s has no other CUDA %s %s tag for %s", ref.Context(), version.MajorMinor(toolkit), flavor, os)
	}
	tag := strings.Replace(ref.Identifier(), toolkit, best, 1)
	return fmt.Sprintf("; the nearest existing tag of CUDA %s is %s:%s", version.MajorMinor(toolkit), ref.Context(), tag)
}
