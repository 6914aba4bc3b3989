package lock

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/pyindex"
)

// Drift kinds.
const (
	DriftStale = "stale" // the lock does not match the matrix
	DriftBase  = "base"  // the base image's tag now names another image
	DriftWheel = "wheel" // a locked wheel is gone from its index or has other bytes
)

// Drift is one input that moved under the lock.
type Drift struct {
	Kind     string   `json:"kind"`
	Subject  string   `json:"subject"` // the base reference, the wheel's file name, or the variant
	Was      string   `json:"was,omitempty"`
	Now      string   `json:"now,omitempty"`
	Variants []string `json:"variants"` // the variants that will rebuild
	Message  string   `json:"message"`
}

// Stale turns the problems of Check into drifts.
func Stale(f *File, ps []Problem) []Drift {
	out := make([]Drift, 0, len(ps))
	for _, p := range ps {
		msg := p.Message
		if p.Line > 0 {
			msg = fmt.Sprintf("%s:%d: %s", f.path, p.Line, msg)
		}
		out = append(out, Drift{Kind: DriftStale, Subject: p.Variant, Variants: []string{p.Variant}, Message: msg})
	}
	return out
}

// BaseDrift resolves each locked base reference again and reports those whose tag now names
// another image for the variant's platform: the variants built on it will rebuild.
func BaseDrift(ctx context.Context, f *File, vs []*matrix.Variant, r *fingerprint.Resolver) ([]Drift, error) {
	byRef := map[string][]*Variant{}
	for _, v := range vs {
		if e, ok := f.Of(v.ID); ok {
			byRef[e.Base.Ref] = append(byRef[e.Base.Ref], e)
		}
	}
	refs := make([]string, 0, len(byRef))
	for ref := range byRef {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	var out []Drift
	for _, ref := range refs {
		b, err := r.Base(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("resolve base %s again: %w", ref, err)
		}
		now := b.PlatformDigest()
		moved := map[string][]string{} // locked digest → variants
		for _, e := range byRef[ref] {
			if e.Base.Digest != now {
				moved[e.Base.Digest] = append(moved[e.Base.Digest], e.ID)
			}
		}
		for was, ids := range moved {
			sort.Strings(ids)
			out = append(out, Drift{Kind: DriftBase, Subject: ref, Was: was, Now: now, Variants: ids,
				Message: fmt.Sprintf("base %s moved: %s → %s; %d variant(s) will rebuild: %s", ref, short(was), short(now), len(ids), strings.Join(ids, ", "))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject+out[i].Was < out[j].Subject+out[j].Was })
	return out, nil
}

func short(d string) string {
	if strings.HasPrefix(d, "sha256:") && len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// Moved is what moved under the lock for the selected variants: bases whose tag names another
// image now, and wheels gone from their index or replaced there (with notes on wheels that could
// not be compared).
func Moved(ctx context.Context, f *File, vs []*matrix.Variant, r *fingerprint.Resolver, c *pyindex.Client) ([]Drift, []string, error) {
	bd, err := BaseDrift(ctx, f, vs, r)
	if err != nil {
		return nil, nil, err
	}
	wd, notes, err := WheelDrift(ctx, f, vs, c)
	if err != nil {
		return nil, nil, err
	}
	return append(bd, wd...), notes, nil
}

// DefaultPipIndex is pip's own index, where extras come from without pip_index_url.
const DefaultPipIndex = "https://pypi.org/simple"

// WheelDrift reads the index page of every locked wheel's project (once each) and reports
// wheels that are gone from it or that it now serves with other bytes (another sha256). A wheel
// whose index serves no hash cannot be checked and is left out with a note.
func WheelDrift(ctx context.Context, f *File, vs []*matrix.Variant, c *pyindex.Client) (drifts []Drift, notes []string, err error) {
	type key struct{ file, sha string }
	users := map[key][]string{}
	indexes := map[key][]string{}
	var keys []key
	for _, v := range vs {
		e, ok := f.Of(v.ID)
		if !ok {
			continue
		}
		for _, w := range e.Wheels {
			k := key{w.Filename(), w.SHA256}
			if _, seen := users[k]; !seen {
				keys = append(keys, k)
				idx := []string{e.Request.IndexURL}
				if w.Step == StepExtras {
					pip := e.Request.PipIndexURL
					if pip == "" {
						pip = DefaultPipIndex
					}
					idx = []string{pip, e.Request.IndexURL}
				}
				for _, i := range idx {
					indexes[k] = append(indexes[k], pyindex.ProjectURL(i, w.Name))
				}
			}
			users[k] = append(users[k], v.ID)
		}
	}
	pages := map[string]*pyindex.Page{}
	read := func(u string) (*pyindex.Page, error) {
		if p, ok := pages[u]; ok {
			return p, nil
		}
		p, err := c.Page(ctx, u)
		if err != nil && !pyindex.IsNotFound(err) {
			return nil, err
		}
		pages[u] = p
		return p, nil
	}
	for _, k := range keys {
		var found *pyindex.File
		var where string
		for _, u := range indexes[k] {
			p, err := read(u)
			if err != nil {
				return nil, nil, fmt.Errorf("check locked wheel %s: %w", k.file, err)
			}
			if p == nil {
				continue
			}
			for i := range p.Files {
				if p.Files[i].Filename == k.file {
					found, where = &p.Files[i], u
					break
				}
			}
			if found != nil {
				break
			}
		}
		ids := users[k]
		sort.Strings(ids)
		switch {
		case found == nil:
			drifts = append(drifts, Drift{Kind: DriftWheel, Subject: k.file, Was: "sha256:" + k.sha, Variants: ids,
				Message: fmt.Sprintf("wheel %s is gone from %s; %d variant(s) cannot be built from the lock: %s", k.file, strings.Join(indexes[k], " and "), len(ids), strings.Join(ids, ", "))})
		case found.Hashes["sha256"] == "":
			notes = append(notes, fmt.Sprintf("%s: %s serves no sha256, so the locked hash was not compared", k.file, where))
		case found.Hashes["sha256"] != k.sha:
			drifts = append(drifts, Drift{Kind: DriftWheel, Subject: k.file, Was: "sha256:" + k.sha, Now: "sha256:" + found.Hashes["sha256"], Variants: ids,
				Message: fmt.Sprintf("wheel %s changed on %s: sha256 %s → %s (same name, other bytes); %d variant(s): %s", k.file, where, k.sha[:12], found.Hashes["sha256"][:min(12, len(found.Hashes["sha256"]))], len(ids), strings.Join(ids, ", "))})
		}
	}
	return drifts, notes, nil
}
