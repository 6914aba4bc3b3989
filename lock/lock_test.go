package lock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix"
)

var h64 = strings.Repeat("ab", 32)

func sample() *File {
	return &File{Matrix: "matrix.yaml", Torchimg: "recipe 1, probe sha256:x", Variants: []Variant{
		{ID: "b", Request: Request{Base: "img:1", Torch: "2.9.1+cu128", Python: "3.12", IndexURL: "http://i/simple"},
			Base:   Base{Ref: "img:1", Digest: "sha256:" + h64, Platform: "linux/amd64"},
			Wheels: []Wheel{{Name: "numpy", Version: "2.1.0", Step: StepExtras, URL: "http://i/numpy.whl", SHA256: h64}, {Name: "torch", Version: "2.9.1+cu128", Step: StepTorch, URL: "http://i/torch.whl", SHA256: h64}}},
		{ID: "a", Request: Request{Base: "img:1", Torch: "2.9.1+cu126", Python: "3.12", IndexURL: "http://i/simple"},
			Base: Base{Ref: "img:1", Digest: "sha256:" + h64, Platform: "linux/amd64"}},
	}}
}

func TestWriteReadRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "matrix.lock")
	if err := sample().Write(p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(data), "# torchimg lock file of matrix.yaml") || strings.Index(string(data), "id: a") > strings.Index(string(data), "id: b") {
		t.Errorf("header or order:\n%s", data)
	}
	if strings.Index(string(data), "name: torch") > strings.Index(string(data), "name: numpy") {
		t.Errorf("wheels not in step order:\n%s", data)
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Variants) != 2 || f.Line("b") == 0 || f.Variants[1].Wheels[0].Name != "torch" {
		t.Errorf("read back: %+v", f)
	}
	// Writing what was read gives the same bytes: a stable, reviewable file.
	p2 := filepath.Join(t.TempDir(), "again.lock")
	if err := f.Write(p2); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(p2)
	if string(again) != string(data) {
		t.Errorf("not stable:\n%s\n---\n%s", data, again)
	}
}

func TestReadBadInput(t *testing.T) {
	for _, tc := range []struct{ name, text, errHas string }{
		{"not yaml", "version: 1\nvariants: [\n", "not a valid lock file (YAML)"},
		{"json that is not a lock", `{"foo": 1}`, "not a torchimg lock file"},
		{"empty", "", "is empty"},
		{"other version", "version: 7\n", ":1: lock format version 7"},
		{"bad digest", "version: 1\nvariants:\n  - id: a\n    base: {ref: x, digest: sha256:abc}\n", "t.lock:3: variant a: base digest"},
		{"bad hash", "version: 1\nvariants:\n  - id: a\n    base: {ref: x, digest: sha256:" + h64 + "}\n    wheels:\n      - {name: torch, step: torch, url: u, sha256: ZZ}\n", "t.lock:3: variant a: wheel torch: sha256"},
		{"twice", "version: 1\nvariants:\n  - id: a\n    base: {digest: sha256:" + h64 + "}\n  - id: a\n    base: {digest: sha256:" + h64 + "}\n", "locked twice"},
	} {
		_, err := Parse([]byte(tc.text), "t.lock")
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.errHas)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none.lock")); err == nil || !strings.Contains(err.Error(), ErrNotExist.Error()) {
		t.Errorf("missing: %v", err)
	}
}

func TestCheck(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.lock")
	if err := sample().Write(p); err != nil {
		t.Fatal(err)
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	v := func(id, variant string) *matrix.Variant {
		return &matrix.Variant{ID: id, Base: "img:1", Torch: "2.9.1", TorchVariant: variant, Python: "3.12", IndexURL: "http://i/simple"}
	}
	all := []*matrix.Variant{v("a", "cu126"), v("b", "cu128")}
	if ps := f.Check(all, all); len(ps) != 0 {
		t.Errorf("a matching lock: %v", ps)
	}
	changed := v("b", "cu128")
	changed.ExtraPackages = []string{"scipy"}
	ps := f.Check([]*matrix.Variant{changed, v("c", "cu130")}, []*matrix.Variant{changed, v("c", "cu130")})
	err = f.Errorf(ps)
	for _, want := range []string{"m.lock:", "variant b changed since it was locked: extra_packages \"\" → \"scipy\"", "variant c is not in the lock", "the lock has variant a, which the matrix does not", "run `torchimg lock`"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check: %v lacks %q", err, want)
		}
	}
}

func TestPathFor(t *testing.T) {
	for in, want := range map[string]string{"matrix.yaml": "matrix.lock", "examples/offline/matrix.yaml": "examples/offline/matrix.lock", "-": "matrix.lock", "m.yml": "m.lock"} {
		if got := PathFor(in); got != want {
			t.Errorf("PathFor(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.lock")
	if err := sample().Write(p); err != nil {
		t.Fatal(err)
	}
	f, _ := Read(p)
	b := &matrix.Variant{ID: "b", Base: "img:1", Torch: "2.9.1", TorchVariant: "cu128", Python: "3.12", IndexURL: "http://i/simple"}
	a := &matrix.Variant{ID: "a", Base: "img:1", Torch: "2.9.1", TorchVariant: "cu126", Python: "3.12", IndexURL: "http://i/simple"}
	// A partial selection (b only) of a plan that has both.
	if err := f.Apply([]*matrix.Variant{b}, []*matrix.Variant{a, b}); err != nil {
		t.Fatal(err)
	}
	if b.Base != "img:1@sha256:"+h64 || b.Pins == nil || len(b.Pins.Torch) != 1 || len(b.Pins.Extras) != 1 || b.Pins.Extras[0].Name != "numpy" {
		t.Errorf("applied: %s %+v", b.Base, b.Pins)
	}
	if a.Pins != nil {
		t.Error("a variant not selected was changed")
	}
	stale := &matrix.Variant{ID: "b", Base: "img:2", Torch: "2.9.1", TorchVariant: "cu128", Python: "3.12", IndexURL: "http://i/simple"}
	if err := f.Apply([]*matrix.Variant{stale}, []*matrix.Variant{stale}); err == nil || stale.Pins != nil || stale.Base != "img:2" {
		t.Errorf("a stale lock was applied: %v %+v", err, stale)
	}
}
