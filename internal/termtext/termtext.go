// Package termtext makes strings that torchimg does not control (image labels, annotations,
// environment, tags, references, registry answers) safe to print on a terminal, and cuts long
// ones to a size a table can show.
//
// Escape writes every byte or rune that could move the cursor, end a line, start an escape
// sequence or reorder text as a visible escape: C0 controls (ESC, BEL, CR, LF, TAB, ...), DEL, C1
// controls (U+0080–U+009F), Unicode line and paragraph separators, bidirectional controls
// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and invalid UTF-8. Printable text,
// non-ASCII letters included, is left as it is. Machine-readable output (JSON) must not go through
// it: encoding/json already escapes what it has to, exactly.
package termtext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CellRunes is how many runes of one value a table shows (Cell).
const CellRunes = 256

// Escape returns s with what a terminal would act on shown escaped: `\n`, `\r` and `\t` for
// those, `\xNN` for other ASCII controls, DEL and each byte of invalid UTF-8, `\uNNNN` for C1
// controls, line and paragraph separators and bidirectional controls. Everything else, the
// backslash included, is kept, so Escape(Escape(s)) == Escape(s). A string with nothing to escape
// is returned as it is.
func Escape(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < utf8.RuneSelf && needsEscape(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Clip returns s cut to its first n runes (n < 0 counts as 0), followed by "…(+K bytes)" saying
// how many bytes were cut; s itself when it has no more than n runes. A byte of invalid UTF-8
// counts as one rune, and a cut never splits a valid one.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for range max(n, 0) {
		if i == len(s) {
			return s
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	if i == len(s) {
		return s
	}
	return fmt.Sprintf("%s…(+%d bytes)", s[:i], len(s)-i)
}

// Cell is s as a table shows it: clipped to CellRunes runes, then escaped.
func Cell(s string) string { return Escape(Clip(s, CellRunes)) }

// needsEscape reports whether a terminal would act on r rather than show it.
func needsEscape(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}

// firstUnsafe returns the index of the first byte of s that Escape changes, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || needsEscape(r) {
			return i
		}
		i += size
	}
	return -1
}
