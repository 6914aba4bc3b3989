package drift

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
)

// Kinds of drift items, each naming a change to the torch: section of compat.yaml.
const (
	AddSeries         = "add-series"           // a series the data lacks
	AddReleases       = "add-releases"         // releases of a series the data has
	ReleaseNotOnIndex = "release-not-on-index" // releases the data has that the index lacks
	AddVariant        = "add-variant"          // a CUDA variant of a series the data lacks
	VariantNotOnIndex = "variant-not-on-index" // a variant the data has that the index lacks for some releases
	PythonNotInData   = "python-not-in-data"   // wheels for a Python the series' python list lacks
	PythonNotOnIndex  = "python-not-on-index"  // a Python of the list without wheels
	ChangePin         = "change-pin"           // a cuDNN/NCCL pin other than the data's value
	FillPin           = "fill-pin"             // a pin where the data's value is unknown
)

var kindOrder = []string{AddSeries, AddReleases, ReleaseNotOnIndex, AddVariant, VariantNotOnIndex,
	PythonNotInData, PythonNotOnIndex, ChangePin, FillPin}

// Report is the result of a comparison.
type Report struct {
	DataDate string   `json:"data_date"` // the data's data_date
	Indexes  []Index  `json:"indexes"`
	Since    string   `json:"since"`            // the oldest series compared
	Covered  []string `json:"covered_variants"` // the variants the index pages cover; null: all
	Compared []string `json:"compared"`         // the builds compared ("2.9.1+cu128")
	Drift    []Item   `json:"drift"`
	Notes    []string `json:"notes"`
	InSync   bool     `json:"in_sync"` // no drift
}

// Item is one change the data needs, at the row it names.
type Item struct {
	Kind     string       `json:"kind"`
	Series   string       `json:"series"`
	Releases []string     `json:"releases,omitempty"`
	Variants []VariantRow `json:"variants,omitempty"` // add-series: all; add-variant, variant-not-on-index, *-pin: the one
	Python   []string     `json:"python,omitempty"`   // add-series: the list; python-*: the one
	Field    string       `json:"field,omitempty"`    // *-pin: cudnn or nccl
	Data     string       `json:"data,omitempty"`     // *-pin: the data's value ("" unknown)
	Index    string       `json:"index,omitempty"`    // *-pin: the index's value
	Builds   []string     `json:"builds,omitempty"`   // the builds that show it ("2.9.1+cu128")
	// Unchanged (change-pin) lists the builds of the series whose pin is the data's value.
	Unchanged []string `json:"unchanged,omitempty"`
	Evidence  string   `json:"evidence,omitempty"` // *-pin: the requirement and where it was read
	Message   string   `json:"message"`
}

// VariantRow is a variant as the data would have it; a pin not read is "".
type VariantRow struct {
	Name  string `json:"name"`
	CUDA  string `json:"cuda"`
	CUDNN string `json:"cudnn,omitempty"`
	NCCL  string `json:"nccl,omitempty"`
}

func (v VariantRow) String() string {
	q := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("{name: %s, cuda: %q, cudnn: %s, nccl: %s}", v.Name, v.CUDA, q(v.CUDNN), q(v.NCCL))
}

type seriesData struct {
	rel      compat.TorchRelease // any release of the series: the series data is shared
	releases []string
}

// Compare judges an observation against db.
func Compare(db *compat.DB, obs *Observation) *Report {
	r := &Report{DataDate: db.DataDate(), Indexes: obs.Indexes, Since: obs.Since, Covered: obs.Covered,
		Compared: []string{}, Drift: []Item{}, Notes: append([]string{}, obs.Notes...)}
	data := map[string]*seriesData{}
	var series []string
	for _, v := range db.TorchVersions() {
		tr, _ := db.Torch(v)
		if version.Compare(tr.Series, obs.Since) < 0 {
			continue
		}
		sd := data[tr.Series]
		if sd == nil {
			sd = &seriesData{rel: tr}
			data[tr.Series] = sd
			series = append(series, tr.Series)
		}
		sd.releases = append(sd.releases, v)
	}
	idx := map[string]map[string]map[string]*Build{} // series -> release -> variant
	for i := range obs.Builds {
		b := &obs.Builds[i]
		s := version.MajorMinor(b.Release)
		if idx[s] == nil {
			idx[s] = map[string]map[string]*Build{}
			if data[s] == nil {
				series = append(series, s)
			}
		}
		if idx[s][b.Release] == nil {
			idx[s][b.Release] = map[string]*Build{}
		}
		idx[s][b.Release][b.Variant] = b
		r.Compared = append(r.Compared, b.Key())
	}
	slices.SortFunc(series, version.Compare)
	covers := func(v string) bool { return obs.Covered == nil || slices.Contains(obs.Covered, v) }
	for _, s := range series {
		if data[s] == nil {
			r.Drift = append(r.Drift, addSeries(db, s, idx[s]))
			continue
		}
		r.Drift = append(r.Drift, compareSeries(db, s, data[s], idx[s], obs.Covered == nil, covers)...)
	}
	r.InSync = len(r.Drift) == 0
	return r
}

// builds lists a release's builds in variant order.
func builds(byVariant map[string]*Build) []*Build {
	var out []*Build
	for _, b := range byVariant {
		out = append(out, b)
	}
	slices.SortFunc(out, func(x, y *Build) int { return variantCmp(x.Variant, y.Variant) })
	return out
}

func keys(bs []*Build) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Key()
	}
	return out
}

// rowOf is the variant as the newest of these builds whose pins were read says it.
func rowOf(name string, bs []*Build) VariantRow {
	row := VariantRow{Name: name, CUDA: CUDAOf(name)}
	for i := len(bs) - 1; i >= 0; i-- {
		if b := bs[i]; b.PinsFrom != "" {
			if b.CUDNN != nil {
				row.CUDNN = b.CUDNN.Version
			}
			if b.NCCL != nil {
				row.NCCL = b.NCCL.Version
			}
			break
		}
	}
	return row
}

func addSeries(db *compat.DB, s string, rels map[string]map[string]*Build) Item {
	it := Item{Kind: AddSeries, Series: s}
	byVariant := map[string][]*Build{}
	var variants []string
	for _, rel := range sortedKeys(rels, version.Compare) {
		it.Releases = append(it.Releases, rel)
		for _, b := range builds(rels[rel]) {
			if byVariant[b.Variant] == nil {
				variants = append(variants, b.Variant)
			}
			byVariant[b.Variant] = append(byVariant[b.Variant], b)
			it.Builds = append(it.Builds, b.Key())
			for _, py := range b.Pythons {
				if !slices.Contains(it.Python, py) {
					it.Python = append(it.Python, py)
				}
			}
		}
	}
	sortPythons(it.Python)
	sortVariants(variants)
	var rows []string
	for _, v := range variants {
		row := rowOf(v, byVariant[v])
		it.Variants = append(it.Variants, row)
		rows = append(rows, row.String())
	}
	it.Message = fmt.Sprintf("add torch series %s: releases %s, python %s, variants [%s] (default and the sources are not on the index)",
		s, quoted(it.Releases), quoted(it.Python), strings.Join(rows, ", "))
	if u, ok := db.Upcoming(s); ok {
		it.Message += fmt.Sprintf("; torch_upcoming expects %s with %s: move it into torch:", s, strings.Join(u.Variants, ", "))
	}
	it.Message += missingCUDA(db, variants)
	return it
}

// missingCUDA says which variants' CUDA minors the data's cuda: section lacks.
func missingCUDA(db *compat.DB, variants []string) string {
	var miss []string
	for _, v := range variants {
		if c := CUDAOf(v); c != "" {
			if _, ok := db.CUDA(c); !ok && !slices.Contains(miss, c) {
				miss = append(miss, c)
			}
		}
	}
	if len(miss) == 0 {
		return ""
	}
	return fmt.Sprintf("; CUDA %s is not in the data's cuda: section: add it first (see the header of compat.yaml)", strings.Join(miss, ", "))
}

type pinKey struct{ variant, field, value string }

func compareSeries(db *compat.DB, s string, sd *seriesData, rels map[string]map[string]*Build, coversAll bool, covers func(string) bool) []Item {
	tr := sd.rel
	all := slices.Clone(sd.releases)
	for rel := range rels {
		if !slices.Contains(all, rel) {
			all = append(all, rel)
		}
	}
	slices.SortFunc(all, version.Compare)
	var added, missingRel []string
	missingVar := map[string][]string{}
	addedVar := map[string][]*Build{}
	pyExtra, pyMissing := map[string][]string{}, map[string][]string{}
	pins := map[pinKey][]*Build{}
	unchanged := map[[2]string][]string{}
	for _, rel := range all {
		inData := slices.Contains(sd.releases, rel)
		on := rels[rel]
		if !inData {
			added = append(added, rel)
		}
		if inData && len(on) == 0 && coversAll {
			missingRel = append(missingRel, rel)
			continue
		}
		for _, v := range tr.Variants {
			if covers(v.Name) && on[v.Name] == nil {
				missingVar[v.Name] = append(missingVar[v.Name], rel)
			}
		}
		for _, b := range builds(on) {
			tv, known := variantNamed(tr, b.Variant)
			if !known {
				addedVar[b.Variant] = append(addedVar[b.Variant], b)
			}
			for _, py := range b.Pythons {
				if !slices.Contains(tr.Python, py) {
					pyExtra[py] = append(pyExtra[py], b.Key())
				}
			}
			for _, py := range tr.Python {
				if !slices.Contains(b.Pythons, py) {
					pyMissing[py] = append(pyMissing[py], b.Key())
				}
			}
			if !known || b.PinsFrom == "" {
				continue
			}
			for _, p := range []struct {
				field string
				fact  compat.Fact
				pin   *Pin
			}{{"cudnn", tv.CUDNN, b.CUDNN}, {"nccl", tv.NCCL, b.NCCL}} {
				if p.pin == nil {
					continue // a note says why
				}
				if sameVersion(p.fact.Value, p.pin.Version) {
					unchanged[[2]string{b.Variant, p.field}] = append(unchanged[[2]string{b.Variant, p.field}], b.Key())
					continue
				}
				k := pinKey{b.Variant, p.field, p.pin.Version}
				pins[k] = append(pins[k], b)
			}
		}
	}
	var items []Item
	if len(added) > 0 {
		items = append(items, Item{Kind: AddReleases, Series: s, Releases: added,
			Message: fmt.Sprintf("add to torch series %s: releases %s (the data lists %s)", s, quoted(added), quoted(sd.releases))})
	}
	if len(missingRel) > 0 {
		items = append(items, Item{Kind: ReleaseNotOnIndex, Series: s, Releases: missingRel,
			Message: fmt.Sprintf("torch series %s: releases %s are in the data but the index has no Linux x86_64 CUDA wheel of them (remove them, or check the index)", s, quoted(missingRel))})
	}
	for _, v := range sortedKeys(addedVar, variantCmp) {
		bs := addedVar[v]
		row := rowOf(v, bs)
		items = append(items, Item{Kind: AddVariant, Series: s, Variants: []VariantRow{row}, Builds: keys(bs),
			Releases: releasesOf(bs),
			Message:  fmt.Sprintf("add to torch series %s: variant %s (the index has %s)%s", s, row, strings.Join(keys(bs), ", "), missingCUDA(db, []string{v}))})
	}
	for _, v := range sortedKeys(missingVar, variantCmp) {
		rs := missingVar[v]
		tv, _ := variantNamed(tr, v)
		var ks []string
		for _, rel := range rs {
			ks = append(ks, rel+"+"+v)
		}
		items = append(items, Item{Kind: VariantNotOnIndex, Series: s, Releases: rs, Builds: ks,
			Variants: []VariantRow{{Name: v, CUDA: tv.CUDA}},
			Message:  fmt.Sprintf("torch series %s variant %s: the index has no Linux x86_64 wheel of %s (remove the variant, or check the index)", s, v, strings.Join(ks, ", "))})
	}
	for _, py := range sortedKeys(pyExtra, pythonCmp) {
		items = append(items, Item{Kind: PythonNotInData, Series: s, Python: []string{py}, Builds: pyExtra[py],
			Message: fmt.Sprintf("add to torch series %s python: %q (the index has %s wheels of %s; the data lists %s)", s, py, py, list(pyExtra[py], 8), quoted(tr.Python))})
	}
	for _, py := range sortedKeys(pyMissing, pythonCmp) {
		items = append(items, Item{Kind: PythonNotOnIndex, Series: s, Python: []string{py}, Builds: pyMissing[py],
			Message: fmt.Sprintf("torch series %s python %q: the index has no %s wheel of %s (remove it from the python list, or check the index)", s, py, py, list(pyMissing[py], 8))})
	}
	pk := make([]pinKey, 0, len(pins))
	for k := range pins {
		pk = append(pk, k)
	}
	slices.SortFunc(pk, func(x, y pinKey) int {
		return cmp.Or(variantCmp(x.variant, y.variant), strings.Compare(x.field, y.field), version.Compare(x.value, y.value))
	})
	for _, k := range pk {
		bs := pins[k]
		tv, _ := variantNamed(tr, k.variant)
		fact := tv.CUDNN
		if k.field == "nccl" {
			fact = tv.NCCL
		}
		pin := bs[0].CUDNN
		if k.field == "nccl" {
			pin = bs[0].NCCL
		}
		it := Item{Kind: ChangePin, Series: s, Variants: []VariantRow{{Name: k.variant, CUDA: tv.CUDA}}, Field: k.field,
			Data: fact.Value, Index: k.value, Releases: releasesOf(bs), Builds: keys(bs),
			Unchanged: unchanged[[2]string{k.variant, k.field}],
			Evidence:  pin.Requirement + " in " + bs[0].PinsFrom}
		from := fmt.Sprintf("%s requires %s", strings.Join(keys(bs), ", "), pin.Requirement)
		if len(it.Unchanged) > 0 {
			from += fmt.Sprintf("; %s pins the data's value", strings.Join(it.Unchanged, ", "))
		}
		if fact.Value == "" {
			it.Kind = FillPin
			it.Message = fmt.Sprintf("set torch series %s variant %s %s: unknown -> %q (%s)", s, k.variant, k.field, k.value, from)
		} else {
			it.Message = fmt.Sprintf("change torch series %s variant %s %s: %q -> %q (%s)", s, k.variant, k.field, fact.Value, k.value, from)
		}
		items = append(items, it)
	}
	slices.SortStableFunc(items, func(x, y Item) int {
		return slices.Index(kindOrder, x.Kind) - slices.Index(kindOrder, y.Kind)
	})
	return items
}

// variantNamed is the release's variant with this exact name.
func variantNamed(tr compat.TorchRelease, name string) (compat.TorchVariant, bool) {
	for _, v := range tr.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return compat.TorchVariant{}, false
}

func releasesOf(bs []*Build) []string {
	var out []string
	for _, b := range bs {
		if !slices.Contains(out, b.Release) {
			out = append(out, b.Release)
		}
	}
	return out
}

func sameVersion(a, b string) bool {
	if version.Valid(a) && version.Valid(b) {
		return version.Compare(a, b) == 0
	}
	return a == b
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func sortedKeys[V any](m map[string]V, f func(a, b string) int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, f)
	return out
}

// pythonCmp orders Pythons as the data lists them: the GIL builds ascending, then the
// free-threaded ones ("3.13", "3.14", "3.13t", "3.14t").
func pythonCmp(a, b string) int {
	at, bt := strings.HasSuffix(a, "t"), strings.HasSuffix(b, "t")
	if at != bt {
		if at {
			return 1
		}
		return -1
	}
	return cmp.Or(version.Compare(strings.TrimSuffix(a, "t"), strings.TrimSuffix(b, "t")), strings.Compare(a, b))
}

func sortPythons(ps []string) { slices.SortFunc(ps, pythonCmp) }

// variantCmp orders variants by CUDA version (cu118 < cu126 < cu130), then by name.
func variantCmp(a, b string) int {
	return cmp.Or(version.Compare(CUDAOf(a), CUDAOf(b)), strings.Compare(a, b))
}

func sortVariants(vs []string) { slices.SortFunc(vs, variantCmp) }

func sortBuilds(bs []Build) {
	slices.SortFunc(bs, func(x, y Build) int {
		return cmp.Or(version.Compare(x.Release, y.Release), variantCmp(x.Variant, y.Variant))
	})
}
