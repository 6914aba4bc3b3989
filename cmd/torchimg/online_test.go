package main

import (
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/internal/testfile"
)

// validate --online against a registry that lacks one tag, and a registry that is not there.
func TestValidateOnline(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tag := range []string{"12.8.2-base-ubuntu24.04", "12.8.1-devel-ubuntu24.04", "12.6.3-base-ubuntu24.04"} {
		img, _ := random.Image(64, 1)
		ref, _ := name.ParseReference(host + "/nvidia/cuda:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	m := filepath.Join(t.TempDir(), "matrix.yaml")
	testfile.Write(t, m, fmt.Sprintf(`repository: ghcr.io/example/pytorch-cuda
include:
  - {torch: "2.9.1", cuda: "12.8", os: ubuntu24.04, python: "3.12", flavor: runtime, base: "%[1]s/nvidia/cuda:12.8.1-base-ubuntu24.04"}
  - {torch: "2.9.1", cuda: "12.6", os: ubuntu24.04, python: "3.12", flavor: runtime, base: "127.0.0.1:1/nvidia/cuda:12.6.3-base-ubuntu24.04"}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-{{.Flavor}}", kind: immutable}
`, host))
	// Offline, the matrix is valid.
	if code, out, errs := runCmd(t, "validate", "-f", m); code != 0 {
		t.Fatalf("validate: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := runCmd(t, "validate", "-f", m, "--online", "--retries", "0")
	want := "base " + host + "/nvidia/cuda:12.8.1-base-ubuntu24.04 (2.9.1-cu128-py3.12-runtime-ubuntu24.04) is gone from its registry"
	if code != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, "the nearest existing tag of CUDA 12.8 is "+host+"/nvidia/cuda:12.8.2-base-ubuntu24.04") {
		t.Errorf("a deleted tag: exit %d, want 1 naming the nearest tag\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "warning: base 127.0.0.1:1/nvidia/cuda:12.6.3-base-ubuntu24.04") || !strings.Contains(errs, "was not checked: its registry 127.0.0.1:1 cannot be read") {
		t.Errorf("an unreachable registry is not a warning:\n%s", errs)
	}
	code, out, _ = runCmd(t, "validate", "-f", m, "--online", "--retries", "0", "-o", "json")
	if code != 1 || !strings.Contains(out, `"valid": false`) || !strings.Contains(out, "is gone from its registry") {
		t.Errorf("validate --online -o json: exit %d\n%s", code, out)
	}
}
