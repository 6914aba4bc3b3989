package jsonfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/internal/testfile"
)

func TestRoundTripAndSchema(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	type doc struct {
		Schema string `json:"schema"`
		N      int    `json:"n"`
	}
	if err := Write(p, "report", doc{"x/v1", 3}); err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := Read(p, "report", "x/v1", &d); err != nil || d.N != 3 {
		t.Fatalf("%v %+v", err, d)
	}
	if err := Read(p, "report", "y/v1", &d); err == nil || !strings.Contains(err.Error(), `schema "x/v1", want "y/v1"`) {
		t.Errorf("wrong schema: %v", err)
	}
	testfile.WriteMode(t, p, "nope", 0o644)
	if err := Read(p, "report", "x/v1", &d); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("bad JSON: %v", err)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Error("temp file left behind")
	}
}
