package matrix

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: no input makes the loader or the planner panic.
// Seeded with every bad matrix in testdata and the project's own matrix.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/invalid/*.yaml")
	seeds = append(seeds, "../matrix.yaml", "../templates/testdata/matrix.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	d := db(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		file, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if _, ok := err.(*InvalidError); !ok {
				t.Fatalf("Parse returned %T, want *InvalidError", err)
			}
			return
		}
		p, ds, err := NewPlan(file, d, Options{})
		if err == nil && ds.HasErrors() {
			t.Fatal("errors without an error result")
		}
		if err == nil && len(p.Variants) == 0 {
			t.Fatal("a valid plan with no variants")
		}
	})
}
