package matrix

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
)

// OutputFormats are the plan renderings.
var OutputFormats = []string{"table", "json", "github", "markdown"}

// WritePlan renders the plan (with only the given variants) in one of OutputFormats.
func WritePlan(w io.Writer, p *Plan, vs []*Variant, format string) error {
	switch format {
	case "table":
		return writeTable(w, p, vs)
	case "json":
		cp := *p
		cp.Variants = vs
		if cp.Variants == nil {
			cp.Variants = []*Variant{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(&cp)
	case "github":
		return writeGitHub(w, p, vs)
	case "markdown":
		return writeMarkdown(w, p, vs)
	}
	return fmt.Errorf("output format %q: valid formats are %s", format, strings.Join(OutputFormats, ", "))
}

func writeTable(w io.Writer, p *Plan, vs []*Variant) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "VARIANT\tBASE\tDRIVER>=\tTAGS\n")
	for _, v := range vs {
		drv := v.DriverMin
		switch {
		case v.CPU():
			drv = "none (CPU)"
		case drv == "":
			drv = "?"
		}
		if v.DriverMinCompat != "" {
			drv += " (" + v.DriverMinCompat + " compat)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.ID, v.Base, drv, strings.Join(v.Tags, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "%d variant(s) → %s\n", len(vs), p.Repository); err != nil {
		return err
	}
	return writeExpansions(w, p.Expansions)
}

// writeExpansions says what each `cuda: official` stood for: one line per place it is written,
// "matrix.yaml:14:10: cuda official: torch 2.9.1 → 12.6, 12.8, 13.0; torch 2.12.1 → …".
func writeExpansions(w io.Writer, es []Expansion) error {
	var order []string
	by := map[string][]string{}
	for _, e := range es {
		if _, ok := by[e.At]; !ok {
			order = append(order, e.At)
		}
		by[e.At] = append(by[e.At], fmt.Sprintf("torch %s → %s", e.Torch, strings.Join(e.CUDA, ", ")))
	}
	for _, at := range order {
		if _, err := fmt.Fprintf(w, "%s: cuda %s: %s\n", at, Official, strings.Join(by[at], "; ")); err != nil {
			return err
		}
	}
	return nil
}

// GitHubMatrix is the strategy-matrix JSON for CI fan-out:
// `strategy: {matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}}`.
type GitHubMatrix struct {
	Include []GitHubEntry `json:"include"`
}

// GitHubEntry is one job of the fan-out.
type GitHubEntry struct {
	ID     string `json:"id"`
	Torch  string `json:"torch"`
	CUDA   string `json:"cuda"`
	OS     string `json:"os"`
	Python string `json:"python"`
	Flavor string `json:"flavor"`
	Tags   string `json:"tags"`
	Only   string `json:"only"`
}

func writeGitHub(w io.Writer, _ *Plan, vs []*Variant) error {
	m := GitHubMatrix{Include: []GitHubEntry{}}
	for _, v := range vs {
		m.Include = append(m.Include, GitHubEntry{
			ID: v.ID, Torch: v.Torch, CUDA: v.CUDA, OS: v.OS, Python: v.Python, Flavor: v.Flavor,
			Tags: strings.Join(v.Tags, ","), Only: "id=" + v.ID,
		})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeMarkdown prints a torch × CUDA grid: which tag to pull and the driver it needs.
func writeMarkdown(w io.Writer, p *Plan, vs []*Variant) error {
	var torches, cudas []string
	cell := map[[2]string]*Variant{}
	for _, v := range vs {
		if !slices.Contains(torches, v.Torch) {
			torches = append(torches, v.Torch)
		}
		if !slices.Contains(cudas, v.CUDA) {
			cudas = append(cudas, v.CUDA)
		}
		k := [2]string{v.Torch, v.CUDA}
		if cur, ok := cell[k]; !ok || better(v, cur) {
			cell[k] = v
		}
	}
	sort.Slice(torches, func(i, j int) bool { return version.Compare(torches[i], torches[j]) > 0 })
	sort.Slice(cudas, func(i, j int) bool { return version.Compare(cudas[i], cudas[j]) > 0 })
	fmt.Fprintf(w, "## %s\n\n", p.Repository)
	fmt.Fprintf(w, "Pull `%s:<tag>`. Each cell: the tag to pull and the minimum NVIDIA driver (native, and with CUDA minor-version compatibility).\n\n", p.Repository)
	fmt.Fprintf(w, "| torch |")
	for _, c := range cudas {
		if c == compat.CPU {
			fmt.Fprintf(w, " CPU |")
			continue
		}
		fmt.Fprintf(w, " CUDA %s |", c)
	}
	fmt.Fprintf(w, "\n|---|")
	for range cudas {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for _, t := range torches {
		fmt.Fprintf(w, "| %s |", t)
		for _, c := range cudas {
			v, ok := cell[[2]string{t, c}]
			if !ok {
				fmt.Fprintf(w, " – |")
				continue
			}
			tag := v.ImmutableTags[0]
			if len(v.FloatingTags) > 0 {
				tag = v.FloatingTags[0]
			}
			def := ""
			if v.PyPIDefault {
				def = " ★"
			}
			if v.CPU() {
				fmt.Fprintf(w, " `%s`<br>no GPU, no driver |", tag)
				continue
			}
			drv := v.DriverMin
			if drv == "" {
				drv = "not verified"
			}
			extra := ""
			if v.DriverMinCompat != "" {
				extra = fmt.Sprintf(" (≥ %s compat)", v.DriverMinCompat)
			}
			fmt.Fprintf(w, " `%s`%s<br>driver ≥ %s%s |", tag, def, drv, extra)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n★ = the CUDA variant `pip install torch` gets from PyPI.\n\n")
	fmt.Fprintf(w, "| variant | tags |\n|---|---|\n")
	for _, v := range vs {
		tags := make([]string, len(v.Tags))
		for i, t := range v.Tags {
			tags[i] = "`" + t + "`"
		}
		fmt.Fprintf(w, "| %s | %s |\n", v.ID, strings.Join(tags, " "))
	}
	return nil
}

// better prefers the variant with more floating tags, then runtime, for the grid cell.
func better(a, b *Variant) bool {
	if len(a.FloatingTags) != len(b.FloatingTags) {
		return len(a.FloatingTags) > len(b.FloatingTags)
	}
	return a.Flavor == "runtime" && b.Flavor != "runtime"
}
