package matrix

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Filter narrows a plan's variants for one CI job. It never changes tags: floating tags
// are decided on the whole matrix first, so a shard publishes what the full plan says.
type Filter struct {
	terms map[string][]string
	shard int // 1-based; 0 = all
	of    int
}

var filterFields = []string{"torch", "cuda", "os", "python", "flavor", "id", "tag"}

// ParseOnly parses --only: "torch=2.9.*,cuda=12.8" (comma = and; "|" separates
// alternatives of one field: "cuda=12.6|12.8").
func ParseOnly(s string) (Filter, error) {
	f := Filter{terms: map[string][]string{}}
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" || v == "" {
			return f, fmt.Errorf("--only %q: want FIELD=PATTERN pairs separated by commas, e.g. torch=2.9.*,cuda=12.8 (fields: %s)", s, strings.Join(filterFields, ", "))
		}
		known := false
		for _, ff := range filterFields {
			if ff == k {
				known = true
			}
		}
		if !known {
			return f, fmt.Errorf("--only: unknown field %q%s; valid fields: %s", k, didYouMean(k, filterFields), strings.Join(filterFields, ", "))
		}
		for _, alt := range strings.Split(v, "|") {
			if _, err := path.Match(alt, ""); err != nil {
				return f, fmt.Errorf("--only: bad pattern %q: %w", alt, err)
			}
			f.terms[k] = append(f.terms[k], alt)
		}
	}
	return f, nil
}

// ParseShard parses --shard K/N (1 <= K <= N).
func (f *Filter) ParseShard(s string) error {
	if s == "" {
		return nil
	}
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n || n > 10000 {
		return fmt.Errorf("--shard %q: want K/N with 1 <= K <= N, e.g. 2/5", s)
	}
	f.shard, f.of = k, n
	return nil
}

func (f Filter) match(v *Variant) bool {
	for field, pats := range f.terms {
		var vals []string
		switch field {
		case "torch":
			vals = []string{v.Torch}
		case "cuda":
			vals = []string{v.CUDA, v.TorchVariant}
		case "os":
			vals = []string{v.OS}
		case "python":
			vals = []string{v.Python}
		case "flavor":
			vals = []string{v.Flavor}
		case "id":
			vals = []string{v.ID}
		case "tag":
			vals = v.Tags
		}
		ok := false
		for _, p := range pats {
			for _, val := range vals {
				if m, _ := path.Match(p, val); m {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Apply returns the variants that match, then the K-th of N shards of those: variant i
// (in plan order) goes to shard i mod N + 1, so shards are even and the same plan always
// splits the same way.
func (f Filter) Apply(vs []*Variant) []*Variant {
	var out []*Variant
	for _, v := range vs {
		if f.match(v) {
			out = append(out, v)
		}
	}
	if f.of == 0 {
		return out
	}
	var shard []*Variant
	for i, v := range out {
		if i%f.of == f.shard-1 {
			shard = append(shard, v)
		}
	}
	return shard
}

// Empty reports whether the filter selects everything.
func (f Filter) Empty() bool { return len(f.terms) == 0 && f.of == 0 }
