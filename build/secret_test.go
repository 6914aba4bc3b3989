package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSecret(t *testing.T) {
	file := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(file, []byte("machine pypi.example login u password p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TORCHIMG_TEST_TOKEN", "t0ken")
	for spec, want := range map[string]string{
		"id=netrc,src=" + file:              "netrc file=" + file,
		"id=netrc,source=" + file:           "netrc file=" + file,
		"id=tok,env=TORCHIMG_TEST_TOKEN":    "tok env=TORCHIMG_TEST_TOKEN",
		"id=netrc":                          "error: want id=NAME,src=FILE",
		"src=" + file:                       "error: want id=NAME,src=FILE",
		"id=netrc,src=/nonexistent/netrc":   "error: --secret id=netrc: stat /nonexistent/netrc",
		"id=tok,env=TORCHIMG_UNSET_VAR":     "error: the environment variable TORCHIMG_UNSET_VAR is not set",
		"id=netrc,src=" + file + ",mode=1":  `error: unknown key "mode"; valid keys: id, src (or source), env`,
		"id=x,src=https://u:pw@h.example/x": "error: --secret id=x: stat https://***@h.example/x",
	} {
		s, err := ParseSecret(spec)
		got := s.ID + " file=" + s.FilePath
		if s.Env != "" {
			got = s.ID + " env=" + s.Env
		}
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.Contains(got, strings.TrimPrefix(want, "error: ")) || strings.HasPrefix(want, "error: ") != (err != nil) {
			t.Errorf("ParseSecret(%q) = %s, want %s", spec, got, want)
		}
		if strings.Contains(got, "pw@") {
			t.Errorf("ParseSecret(%q) shows a credential: %s", spec, got)
		}
	}
	if _, err := ParseSecrets([]string{"id=netrc,src=" + file, "id=netrc,src=" + file}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("a repeated id: %v", err)
	}
}
