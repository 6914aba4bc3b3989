// Package drift compares the embedded compatibility data (matrix/compat) with what a
// PyTorch-style package index serves: which torch releases and CUDA variants exist, the Python
// versions of their wheels, and the cuDNN and NCCL versions their metadata pins. Its result names
// the rows of compat.yaml to add or change.
package drift

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/pyindex"
)

// Project is the project whose wheels are compared.
const Project = "torch"

// Layout is how a --index URL is read.
type Layout string

// Layouts of an index URL.
const (
	// Base is the root of a PyTorch-style index (https://download.pytorch.org/whl): <base>/torch/
	// lists every local version, and <base>/<variant>/torch/ each variant's own index.
	Base Layout = "base"
	// Variant is one variant's index (https://download.pytorch.org/whl/cu128): <url>/torch/.
	Variant Layout = "variant"
	// ProjectPage is the torch project page itself (.../whl/cu128/torch/).
	ProjectPage Layout = "project"
)

// Target is one index URL and how it is read.
type Target struct {
	URL     string `json:"url"`
	Layout  Layout `json:"layout"`
	Variant string `json:"variant,omitempty"` // the one variant it serves; "" for all
}

// variantSegment is a path segment naming a PyTorch wheel variant (cu128, cpu, rocm6.4, xpu).
var variantSegment = regexp.MustCompile(`^(?:cu[0-9]{2,4}|cpu|xpu|rocm[0-9]+(?:\.[0-9]+)*)$`)

// cudaLabel is the local version label of a CUDA wheel: cu128 is CUDA 12.8 (the last digit is
// the minor).
var cudaLabel = regexp.MustCompile(`^cu([0-9]{1,2})([0-9])$`)

// CUDAOf is the CUDA minor of a variant name ("cu128" → "12.8"), "" when it names none.
func CUDAOf(variant string) string {
	m := cudaLabel.FindStringSubmatch(variant)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

// ParseTarget decides how an index URL is read: a URL whose last path segment is "torch" is
// the project page; one whose last segment names a variant (cu128, cpu, rocm6.4, xpu) is that
// variant's index; any other is a base index.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Target{}, fmt.Errorf("--index %q: want an http(s) URL such as https://download.pytorch.org/whl", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Target{}, fmt.Errorf("--index %q: an index URL has no query or fragment", raw)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	last := segs[len(segs)-1]
	t := Target{URL: strings.TrimRight(raw, "/")}
	switch {
	case pyindex.NormalizeName(last) == Project:
		t.Layout = ProjectPage
		if len(segs) > 1 && variantSegment.MatchString(segs[len(segs)-2]) {
			t.Variant = segs[len(segs)-2]
		}
	case variantSegment.MatchString(last):
		t.Layout, t.Variant = Variant, last
	default:
		t.Layout = Base
	}
	return t, nil
}

// Options tune Diff.
type Options struct {
	Client *pyindex.Client // nil: a zero Client
	// Since is the oldest torch series compared ("2.9"); "" means the data's oldest.
	Since string
	// DownloadWheels reads METADATA from whole wheels where the index serves no metadata file.
	DownloadWheels bool
	// Concurrency bounds the metadata requests in flight (default 8).
	Concurrency int
}

// Observation is what the index says, reduced to what is compared.
type Observation struct {
	Since   string   `json:"since"`
	Covered []string `json:"covered_variants"` // the variants the pages list; nil: all of them
	Builds  []Build  `json:"builds"`
	Notes   []string `json:"notes,omitempty"`
	Indexes []Index  `json:"indexes,omitempty"`
}

// Index is one target and the pages read for it.
type Index struct {
	Target
	Pages []PageRead `json:"pages"`
}

// PageRead is one page read (or not found) for a target.
type PageRead struct {
	URL    string `json:"url"`
	Status string `json:"status"`           // "read" or "not found"
	Format string `json:"format,omitempty"` // html or json
	Files  int    `json:"files"`
}

// Build is a torch release in one CUDA variant on the index ("2.9.1+cu128"): its Linux x86_64
// wheels, their Pythons and the pins of its metadata.
type Build struct {
	Release string   `json:"release"` // "2.9.1"
	Variant string   `json:"variant"` // "cu128"
	CUDA    string   `json:"cuda"`    // "12.8"
	Pythons []string `json:"pythons"` // "3.12", "3.13t", in Python order
	Wheels  []string `json:"wheels"`  // file names
	// PinsFrom is the metadata the pins were read from (a .metadata URL, or a wheel's URL with
	// DownloadWheels); "" when they were not read.
	PinsFrom string `json:"pins_from,omitempty"`
	CUDNN    *Pin   `json:"cudnn,omitempty"` // nil: not read, or the metadata requires no cuDNN package
	NCCL     *Pin   `json:"nccl,omitempty"`
	files    []pyindex.File
}

// Key is "2.9.1+cu128".
func (b Build) Key() string { return b.Release + "+" + b.Variant }

// Pin is a version a wheel's metadata requires exactly.
type Pin struct {
	Version     string `json:"version"`     // "9.10.2.21"
	Requirement string `json:"requirement"` // "nvidia-cudnn-cu12==9.10.2.21"
}

var pinPackages = map[string]*regexp.Regexp{
	"cudnn": regexp.MustCompile(`^nvidia-cudnn-cu[0-9]+$`),
	"nccl":  regexp.MustCompile(`^nvidia-nccl-cu[0-9]+$`),
}

// Diff reads the index URLs and compares them with db.
func Diff(ctx context.Context, db *compat.DB, urls []string, opts Options) (*Report, error) {
	var targets []Target
	for _, u := range urls {
		t, err := ParseTarget(u)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	obs, err := Read(ctx, db, targets, opts)
	if err != nil {
		return nil, err
	}
	return Compare(db, obs), nil
}

// Since checks a --since series against the data, and gives the data's oldest for "".
func Since(db *compat.DB, since string) (string, error) {
	vs := db.TorchVersions()
	if since == "" {
		if len(vs) == 0 {
			return "", fmt.Errorf("the compatibility data has no torch release")
		}
		return version.MajorMinor(vs[0]), nil
	}
	if !version.Valid(since) || strings.Count(since, ".") != 1 {
		return "", fmt.Errorf("--since %q: want a torch series such as 2.9", since)
	}
	return since, nil
}

// skips counts the files that are not compared, by reason.
type skips struct {
	notWheel, otherProject, otherPlatform, notFinal, noLocal, noCPython int
	badNames                                                            []string
	labels                                                              map[string]int
	older                                                               []string
	yanked                                                              []string
	strayLabel                                                          []string
}

// Read reads the targets' pages and the metadata of the builds in scope.
func Read(ctx context.Context, db *compat.DB, targets []Target, opts Options) (*Observation, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("no index to read")
	}
	since, err := Since(db, opts.Since)
	if err != nil {
		return nil, err
	}
	client := opts.Client
	if client == nil {
		client = &pyindex.Client{}
	}
	obs := &Observation{Since: since}
	all := false
	var covered []string
	seen := map[string]bool{} // file names classified
	builds := map[string]*Build{}
	sk := skips{labels: map[string]int{}}
	add := func(p *pyindex.Page, pageVariant string) {
		for _, f := range p.Files {
			if seen[f.Filename] {
				if b := builds[buildOf(f.Filename)]; b != nil {
					b.merge(f)
				}
				continue
			}
			seen[f.Filename] = true
			key := classify(f, since, pageVariant, &sk)
			if key == "" {
				continue
			}
			w, _ := pyindex.ParseWheelName(f.Filename)
			b := builds[key]
			if b == nil {
				b = &Build{Release: w.PublicVersion(), Variant: w.Local(), CUDA: CUDAOf(w.Local())}
				builds[key] = b
			}
			for _, py := range w.Pythons() {
				if !slices.Contains(b.Pythons, py) {
					b.Pythons = append(b.Pythons, py)
				}
			}
			b.Wheels = append(b.Wheels, f.Filename)
			b.files = append(b.files, f)
		}
	}
	for _, t := range targets {
		ix := Index{Target: t}
		read := func(u, variant string, optional bool) error {
			p, err := client.Page(ctx, u)
			if err != nil {
				if optional && pyindex.IsNotFound(err) {
					ix.Pages = append(ix.Pages, PageRead{URL: u, Status: "not found"})
					return nil
				}
				return fmt.Errorf("read index page %w", err)
			}
			ix.Pages = append(ix.Pages, PageRead{URL: u, Status: "read", Format: p.Format, Files: len(p.Files)})
			add(p, variant)
			return nil
		}
		switch t.Layout {
		case ProjectPage:
			err = read(t.URL+"/", t.Variant, false)
		case Variant:
			err = read(pyindex.ProjectURL(t.URL, Project), t.Variant, false)
		case Base:
			if err = read(pyindex.ProjectURL(t.URL, Project), "", false); err != nil {
				break
			}
			for _, v := range baseVariants(db, since, builds) {
				if err = read(pyindex.ProjectURL(t.URL+"/"+v, Project), v, true); err != nil {
					break
				}
			}
		}
		if err != nil {
			return nil, err
		}
		if t.Variant == "" {
			all = true
		} else if !slices.Contains(covered, t.Variant) {
			covered = append(covered, t.Variant)
		}
		obs.Indexes = append(obs.Indexes, ix)
		for _, pr := range ix.Pages {
			if pr.Status == "not found" {
				obs.Notes = append(obs.Notes, fmt.Sprintf("%s: not found (404): no separate index for that variant; the variant is judged by the other pages", pr.URL))
			}
		}
	}
	if !all {
		sortVariants(covered)
		obs.Covered = covered
	}
	for _, b := range builds {
		sortPythons(b.Pythons)
		sort.Strings(b.Wheels)
		slices.SortFunc(b.files, func(x, y pyindex.File) int { return strings.Compare(x.Filename, y.Filename) })
		obs.Builds = append(obs.Builds, *b)
	}
	sortBuilds(obs.Builds)
	if err := readPins(ctx, client, obs, opts); err != nil {
		return nil, err
	}
	obs.Notes = append(obs.Notes, sk.notes(since)...)
	return obs, nil
}

// buildOf is the build key of a file name, "" when it is no wheel.
func buildOf(filename string) string {
	w, err := pyindex.ParseWheelName(filename)
	if err != nil {
		return ""
	}
	return w.Version
}

// merge adds another listing of a file already seen: one that serves metadata is preferred.
func (b *Build) merge(f pyindex.File) {
	for i, g := range b.files {
		if g.Filename == f.Filename && g.Metadata == nil && f.Metadata != nil {
			b.files[i] = f
		}
	}
}

// classify says which build a file belongs to ("2.9.1+cu128"), or "" (counted in sk) when it
// is not compared.
func classify(f pyindex.File, since, pageVariant string, sk *skips) string {
	if !strings.HasSuffix(f.Filename, ".whl") {
		sk.notWheel++
		return ""
	}
	w, err := pyindex.ParseWheelName(f.Filename)
	switch {
	case err != nil:
		sk.badNames = append(sk.badNames, f.Filename)
		return ""
	case w.Name != Project:
		sk.otherProject++
		return ""
	case f.Yanked:
		sk.yanked = append(sk.yanked, f.Filename)
		return ""
	case !w.LinuxX86_64():
		sk.otherPlatform++
		return ""
	case !w.FinalRelease():
		sk.notFinal++
		return ""
	case w.Local() == "":
		sk.noLocal++
		return ""
	case CUDAOf(w.Local()) == "":
		sk.labels[w.Local()]++
		return ""
	case len(w.Pythons()) == 0:
		sk.noCPython++
		return ""
	case version.Compare(version.MajorMinor(w.PublicVersion()), since) < 0:
		if !slices.Contains(sk.older, w.PublicVersion()) {
			sk.older = append(sk.older, w.PublicVersion())
		}
		return ""
	}
	if pageVariant != "" && w.Local() != pageVariant {
		sk.strayLabel = append(sk.strayLabel, f.Filename)
	}
	return w.Version
}

func (sk *skips) notes(since string) []string {
	var out []string
	addf := func(n int, format string, args ...any) {
		if n > 0 {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	if n := len(sk.badNames); n > 0 {
		out = append(out, fmt.Sprintf("skipped %d file(s) whose names are not PEP 427 wheel names: %s", n, list(sk.badNames, 5)))
	}
	addf(len(sk.yanked), "skipped %d yanked wheel(s): %s", len(sk.yanked), list(sk.yanked, 5))
	addf(sk.notWheel, "skipped %d file(s) that are not wheels (sdists, other files)", sk.notWheel)
	addf(sk.otherProject, "skipped %d wheel(s) of other projects than %s", sk.otherProject, Project)
	addf(sk.otherPlatform, "skipped %d wheel(s) for other platforms than Linux x86_64 (aarch64, Windows, macOS, ...)", sk.otherPlatform)
	addf(sk.notFinal, "skipped %d pre-, post- or dev-release wheel(s)", sk.notFinal)
	addf(sk.noLocal, "skipped %d wheel(s) without a local version label (+cuXYZ): their CUDA variant is not in the name", sk.noLocal)
	if len(sk.labels) > 0 {
		var ls []string
		for l, n := range sk.labels {
			ls = append(ls, fmt.Sprintf("%s (%d)", l, n))
		}
		sort.Strings(ls)
		out = append(out, "skipped wheels of variants that are not CUDA ones (the data has only CUDA variants): "+strings.Join(ls, ", "))
	}
	addf(sk.noCPython, "skipped %d wheel(s) without a CPython tag (cpXY)", sk.noCPython)
	if len(sk.older) > 0 {
		slices.SortFunc(sk.older, version.Compare)
		span := sk.older[0]
		if len(sk.older) > 1 {
			span += " … " + sk.older[len(sk.older)-1]
		}
		out = append(out, fmt.Sprintf("not compared: %d release(s) older than series %s (%s)", len(sk.older), since, span))
	}
	addf(len(sk.strayLabel), "%d wheel(s) on a variant's index carry another variant's label: %s", len(sk.strayLabel), list(sk.strayLabel, 5))
	return out
}

// list joins at most n names, then "and N more".
func list(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// baseVariants are the variant indexes read under a base: the CUDA variants the combined page
// lists for the releases in scope, and those the data names for the series in scope (released
// or upcoming).
func baseVariants(db *compat.DB, since string, builds map[string]*Build) []string {
	var vs []string
	addV := func(v string) {
		if CUDAOf(v) != "" && !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	for _, b := range builds {
		addV(b.Variant)
	}
	for _, r := range db.TorchVersions() {
		if version.Compare(version.MajorMinor(r), since) < 0 {
			continue
		}
		tr, _ := db.Torch(r)
		for _, v := range tr.Variants {
			addV(v.Name)
		}
	}
	for _, s := range upcomingSeries(db, since) {
		u, _ := db.Upcoming(s)
		for _, v := range u.Variants {
			addV(v)
		}
	}
	sortVariants(vs)
	return vs
}

// upcomingSeries lists series after the data's newest one that the data expects (torch_upcoming),
// probing each next minor up to a few past the newest.
func upcomingSeries(db *compat.DB, since string) []string {
	vs := db.TorchVersions()
	if len(vs) == 0 {
		return nil
	}
	newest, _ := version.Parse(version.MajorMinor(vs[len(vs)-1]))
	var out []string
	for i := 1; i <= 3; i++ {
		s := fmt.Sprintf("%d.%d", newest[0], newest[1]+i)
		if _, ok := db.Upcoming(s); ok && version.Compare(s, since) >= 0 {
			out = append(out, s)
		}
	}
	return out
}

// readPins reads one wheel's metadata per build: the first (by name) of a GIL build that the
// index serves metadata for, else of any; with DownloadWheels, the first wheel itself.
func readPins(ctx context.Context, client *pyindex.Client, obs *Observation, opts Options) error {
	n := opts.Concurrency
	if n <= 0 {
		n = 8
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	var mu sync.Mutex
	var notServed []string
	pinNotes := map[string][]string{} // note -> builds
	for i := range obs.Builds {
		b := &obs.Builds[i]
		f, ok := pickMetadata(b.files)
		if !ok && !opts.DownloadWheels {
			notServed = append(notServed, b.Key())
			continue
		}
		g.Go(func() error {
			var data []byte
			var err error
			from := ""
			if ok {
				data, err = client.Metadata(gctx, f)
				from = f.Metadata.URL
			} else {
				f = b.files[0]
				data, err = client.WheelMetadata(gctx, f)
				from = f.URL
			}
			if err != nil {
				return fmt.Errorf("read metadata of %s: %w", f.Filename, err)
			}
			md, err := pyindex.ParseMetadata(data)
			if err != nil {
				return fmt.Errorf("%s: %w", from, err)
			}
			w, _ := pyindex.ParseWheelName(f.Filename)
			py := ""
			if pys := w.Pythons(); len(pys) > 0 {
				py = pys[0]
			}
			pins, notes := pinsOf(md, py, b.CUDA)
			mu.Lock()
			defer mu.Unlock()
			b.PinsFrom, b.CUDNN, b.NCCL = from, pins["cudnn"], pins["nccl"]
			for _, n := range notes {
				if !slices.Contains(pinNotes[n], b.Key()) {
					pinNotes[n] = append(pinNotes[n], b.Key())
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for n, keys := range pinNotes {
		slices.SortFunc(keys, func(x, y string) int {
			xr, xv, _ := strings.Cut(x, "+")
			yr, yv, _ := strings.Cut(y, "+")
			return cmp.Or(version.Compare(xr, yr), variantCmp(xv, yv))
		})
		obs.Notes = append(obs.Notes, fmt.Sprintf("%s (%s)", n, strings.Join(keys, ", ")))
	}
	if len(notServed) > 0 {
		obs.Notes = append(obs.Notes, fmt.Sprintf("metadata not served; pins not checked for %d build(s): %s (--download-wheels reads METADATA from the wheels themselves)",
			len(notServed), strings.Join(notServed, ", ")))
	}
	sort.Strings(obs.Notes)
	return nil
}

func pickMetadata(files []pyindex.File) (pyindex.File, bool) {
	var first *pyindex.File
	for i, f := range files {
		if f.Metadata == nil {
			continue
		}
		w, _ := pyindex.ParseWheelName(f.Filename)
		if pys := w.Pythons(); len(pys) > 0 && !strings.HasSuffix(pys[0], "t") {
			return f, true
		}
		if first == nil {
			first = &files[i]
		}
	}
	if first != nil {
		return *first, true
	}
	return pyindex.File{}, false
}

// pinsOf finds the exact cuDNN and NCCL requirements that apply on Linux x86_64 with this
// Python; where several apply, the one for the variant's CUDA major (-cu12, -cu13) wins.
func pinsOf(md pyindex.Metadata, python, cuda string) (map[string]*Pin, []string) {
	pins := map[string]*Pin{}
	var notes []string
	major, _, _ := strings.Cut(cuda, ".")
	for _, field := range []string{"cudnn", "nccl"} {
		var found []pyindex.Requirement
		for _, r := range md.RequiresDist {
			if !pinPackages[field].MatchString(r.Name) {
				continue
			}
			ok, err := r.Applies(pyindex.LinuxX86_64(python))
			if err != nil {
				notes = append(notes, fmt.Sprintf("Requires-Dist %q: %v; taken to apply", r.Raw, err))
				ok = true
			}
			if ok {
				found = append(found, r)
			}
		}
		if len(found) == 0 {
			notes = append(notes, fmt.Sprintf("%s not checked: the metadata requires no nvidia-%s-* package: bundled in the wheel, or not a dependency", field, field))
			continue
		}
		r := found[0]
		for _, c := range found {
			if strings.HasSuffix(c.Name, "-cu"+major) {
				r = c
				break
			}
		}
		v, ok := r.Exact()
		if !ok {
			notes = append(notes, fmt.Sprintf("%s not checked: Requires-Dist %q is not an exact (==) pin", field, r.Raw))
			continue
		}
		pins[field] = &Pin{Version: v, Requirement: r.Name + "==" + v}
	}
	return pins, notes
}
