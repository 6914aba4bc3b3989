package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"
)

// LoadPlan writes src as dir/matrix.yaml and plans it with the embedded compatibility data,
// failing the test on any error (end-to-end tests write matrices that point at an Env).
func LoadPlan(t testing.TB, dir, src string) *matrix.Plan {
	t.Helper()
	path := filepath.Join(dir, "matrix.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := matrix.Load(path, db, matrix.Options{TemplateExists: matrix.TemplateDirExists})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
