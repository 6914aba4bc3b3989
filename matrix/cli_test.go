package matrix

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix/compat"
)

func TestLoadReader(t *testing.T) {
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join("..", "matrix.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(filepath.Join("testdata", "invalid", "no-wheels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		in       []byte
		variants int
		err      string // substring of the first error; "" = valid
	}{
		{"valid", good, 55, ""},
		{"invalid", bad, 0, "<stdin>:4:10: error: torch 2.9.1 has no cu118 wheels"},
		{"empty", nil, 0, "<stdin>:1:1: error: the matrix file is empty"},
		{"over the limit", bytes.Repeat([]byte("#"), MaxFileSize+1), 0, "<stdin>:1:1: error: the matrix file is more than 1 MiB (1048576 bytes); the limit is 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ds, err := LoadReader(bytes.NewReader(tc.in), StdinName, db, Options{})
			if tc.err == "" {
				if err != nil || len(p.Variants) != tc.variants {
					t.Fatalf("err %v, plan %v", err, p)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || len(ds.Errors()) == 0 || !strings.Contains(ds.Errors()[0].String(), tc.err) {
				t.Fatalf("got %v (diagnostics %v), want %q", err, ds, tc.err)
			}
		})
	}
}

// A reader is never read past MaxFileSize+1 bytes.
func TestReadStopsAtTheLimit(t *testing.T) {
	r := &countingReader{}
	if _, err := Read(r, StdinName); err == nil {
		t.Fatal("an endless input was accepted")
	}
	if r.n > MaxFileSize+1+64<<10 {
		t.Errorf("read %d bytes of an endless input", r.n)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	c.n += len(p)
	return len(p), nil
}

func TestDiagnosticRecords(t *testing.T) {
	ds := Diagnostics{
		{Pos: Pos{File: "m.yaml", Line: 9, Col: 3}, Severity: SevWarning, Message: "w"},
		{Pos: Pos{File: "m.yaml", Line: 2, Col: 5}, Severity: SevError, Message: "e"},
		{Pos: Pos{File: "m.yaml"}, Severity: SevError, Message: "whole file"},
	}
	b, err := json.Marshal(ds.Records())
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"file":"m.yaml","line":0,"col":0,"severity":"error","message":"whole file"},` +
		`{"file":"m.yaml","line":2,"col":5,"severity":"error","message":"e"},` +
		`{"file":"m.yaml","line":9,"col":3,"severity":"warning","message":"w"}]`
	if string(b) != want {
		t.Errorf("records:\n got %s\nwant %s", b, want)
	}
	if b, _ := json.Marshal(Diagnostics(nil).Records()); string(b) != "[]" {
		t.Errorf("no diagnostics: %s, want []", b)
	}
}

func TestAnnotation(t *testing.T) {
	for _, tc := range []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{Pos: Pos{File: "matrix.yaml", Line: 4, Col: 10}, Severity: SevError, Message: "torch 2.9.1 has no cu118 wheels; it has cu126, cu128"},
			"::error file=matrix.yaml,line=4,col=10::torch 2.9.1 has no cu118 wheels; it has cu126, cu128"},
		{Diagnostic{Pos: Pos{File: "m.yaml", Line: 7}, Severity: SevWarning, Message: "allow_unofficial: 100% yours"},
			"::warning file=m.yaml,line=7::allow_unofficial: 100%25 yours"},
		{Diagnostic{Pos: Pos{File: "a,b:c%.yaml"}, Severity: SevError, Message: "line1\r\nline2 ::error::x"},
			"::error file=a%2Cb%3Ac%25.yaml::line1%0D%0Aline2 ::error::x"},
		{Diagnostic{Severity: SevError, Message: "no file"}, "::error::no file"},
	} {
		if got := tc.d.Annotation(); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.d, got, tc.want)
		}
	}
}

func TestCompatDataDate(t *testing.T) {
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := db.DataDate(); got != "2026-08-21" {
		t.Errorf("embedded data_date %q", got)
	}
	min, err := os.ReadFile(filepath.Join("compat", "testdata", "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if db, err := compat.Load(min, "minimal.yaml"); err != nil || db.DataDate() != "" {
		t.Errorf("without data_date: %v %q", err, db.DataDate())
	}
	_, err = compat.Load(append([]byte("data_date: \"2026-13-01\"\n"), min...), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), `bad.yaml:1:12: data_date "2026-13-01": want the day the data was sourced as YYYY-MM-DD`) {
		t.Errorf("bad data_date: %v", err)
	}
}
