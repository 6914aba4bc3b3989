package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "2.9.1+cu128", "2.9.1+cu128"},
		{"non-ASCII letters", "Ünïcødé 日本語 ✓ €", "Ünïcødé 日本語 ✓ €"},
		{"backslash kept", `C:\dir \x1b`, `C:\dir \x1b`},
		{"replacement char kept", "\uFFFD", "\uFFFD"},
		{"newline", "a\nVerdict  COMPATIBLE", `a\nVerdict  COMPATIBLE`},
		{"CR LF TAB", "a\r\n\tb", `a\r\n\tb`},
		{"NUL BS FF VT", "\x00\b\f\v", `\x00\x08\x0c\x0b`},
		{"OSC 52 clipboard", "\x1b]52;c;ZWNobyBoaQ==\a", `\x1b]52;c;ZWNobyBoaQ==\x07`},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"OSC 8 link", "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", `\x1b]8;;https://evil.example\x1b\click\x1b]8;;\x1b\`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI as UTF-8", "a\u009b2Jb\u0085", `a\u009b2Jb\u0085`},
		{"C1 CSI as raw byte", "a\x9b2J", `a\x9b2J`},
		{"invalid UTF-8", "ok\xff\xfe", `ok\xff\xfe`},
		{"truncated rune", "é"[:1], `\xc3`},
		{"surrogate half", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"RLO", "txt\u202egnp.exe", `txt\u202egnp.exe`},
		{"bidi embeddings", "\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"bidi isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"bidi marks", "\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		{"line and paragraph separators", "a\u2028b\u2029", `a\u2028b\u2029`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Escape(tc.in)
			if got != tc.want {
				t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := Escape(got); again != got {
				t.Errorf("Escape is not idempotent: %q, then %q", got, again)
			}
			assertSafe(t, got)
		})
	}
}

// assertSafe fails unless s is valid UTF-8 with no rune Escape would change.
func assertSafe(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%q is not valid UTF-8", s)
	}
	for _, r := range s {
		if needsEscape(r) {
			t.Errorf("%q holds %U", s, r)
		}
	}
}

func TestEscapeEveryByte(t *testing.T) {
	for c := range 256 {
		in := string([]byte{'a', byte(c), 'b'})
		got := Escape(in)
		assertSafe(t, got)
		if printable := c >= 0x20 && c < 0x7f; printable != (got == in) {
			t.Errorf("Escape(%q) = %q", in, got)
		}
	}
}

func TestEscapeUnchangedNoAlloc(t *testing.T) {
	s := strings.Repeat("nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 日本 ", 20)
	if n := testing.AllocsPerRun(10, func() { _ = Escape(s) }); n != 0 {
		t.Errorf("Escape of a safe string allocates %v times", n)
	}
}

func TestClip(t *testing.T) {
	mib := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"exact runes, more bytes", "日本語", 3, "日本語"},
		{"cut", "abcdefgh", 3, "abc…(+5 bytes)"},
		{"cut runes", "日本語です", 2, "日本…(+9 bytes)"},
		{"zero", "abc", 0, "…(+3 bytes)"},
		{"negative", "abc", -1, "…(+3 bytes)"},
		{"empty", "", 0, ""},
		{"invalid byte is one rune", "\xff\xffab", 2, "\xff\xff…(+2 bytes)"},
		{"1 MiB label", mib, CellRunes, strings.Repeat("x", 256) + "…(+1048320 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clip(tc.in, tc.n); got != tc.want {
				t.Errorf("Clip(%.40q, %d) = %.60q, want %.60q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestCell(t *testing.T) {
	in := "\x1b]0;title\x07" + strings.Repeat("é", 300)
	got := Cell(in)
	assertSafe(t, got)
	want := `\x1b]0;title\x07` + strings.Repeat("é", 256-10) + "…(+108 bytes)"
	if got != want {
		t.Errorf("Cell = %q, want %q", got, want)
	}
}
