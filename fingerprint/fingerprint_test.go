package fingerprint

import (
	"strings"
	"testing"
)

func TestDigestIsItsInputs(t *testing.T) {
	files := map[string][]byte{"Dockerfile": []byte("FROM x\n"), "image.env": []byte("A='1'\n")}
	a := New(files, map[string]string{"K": "v"}, "sha256:"+strings.Repeat("b", 64), 1700000000)
	b := New(map[string][]byte{"image.env": []byte("A='1'\n"), "Dockerfile": []byte("FROM x\n")}, map[string]string{"K": "v"}, "sha256:"+strings.Repeat("b", 64), 1700000000)
	if a.Digest() != b.Digest() || !strings.HasPrefix(a.Digest(), "sha256:") || len(a.Digest()) != 71 {
		t.Fatalf("the same inputs: %s vs %s", a.Digest(), b.Digest())
	}
	for name, other := range map[string]Inputs{
		"a file":      New(map[string][]byte{"Dockerfile": []byte("FROM y\n"), "image.env": []byte("A='1'\n")}, map[string]string{"K": "v"}, a.BaseDigest, 1700000000),
		"a file name": New(map[string][]byte{"Dockerfile2": []byte("FROM x\n"), "image.env": []byte("A='1'\n")}, map[string]string{"K": "v"}, a.BaseDigest, 1700000000),
		"a build arg": New(files, map[string]string{"K": "w"}, a.BaseDigest, 1700000000),
		"the base":    New(files, map[string]string{"K": "v"}, "sha256:"+strings.Repeat("c", 64), 1700000000),
		"the epoch":   New(files, map[string]string{"K": "v"}, a.BaseDigest, 1700000001),
	} {
		if other.Digest() == a.Digest() {
			t.Errorf("changing %s kept the fingerprint", name)
		}
	}
}

func TestLabelsRoundTrip(t *testing.T) {
	in := New(map[string][]byte{"Dockerfile": []byte("FROM x\n")}, nil, "sha256:"+strings.Repeat("b", 64), 1700000000)
	ls := Labels("io.torchimg", in)
	got, fp, ok := FromLabels("io.torchimg", ls)
	if !ok || fp != in.Digest() || got != in {
		t.Fatalf("FromLabels(Labels) = %+v %s %v, want %+v", got, fp, ok, in)
	}
	if ls["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" {
		t.Errorf("created = %s", ls["org.opencontainers.image.created"])
	}
	if _, _, ok := FromLabels("io.torchimg", map[string]string{"x": "y"}); ok {
		t.Error("an image without inputs labels has inputs")
	}
}

func TestChanged(t *testing.T) {
	was := New(map[string][]byte{"Dockerfile": []byte("FROM x\n")}, nil, "sha256:"+strings.Repeat("a", 64), 1)
	now := New(map[string][]byte{"Dockerfile": []byte("FROM y\n")}, nil, "sha256:"+strings.Repeat("b", 64), 1)
	got := strings.Join(Changed(was, now), "; ")
	if !strings.Contains(got, "the base image (sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb)") || !strings.Contains(got, "the build context") || strings.Contains(got, "SOURCE_DATE_EPOCH") {
		t.Errorf("Changed = %s", got)
	}
	if len(Changed(was, was)) != 0 {
		t.Error("no change reported a change")
	}
}
