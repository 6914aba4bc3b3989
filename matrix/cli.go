package matrix

import (
	"fmt"
	"io"
	"strings"

	"github.com/torchimg/torchimg/matrix/compat"
)

// Helpers for command-line front ends: a matrix read from a stream (stdin), and diagnostics as
// data (JSON records, GitHub Actions annotations).

// StdinName is the file name positions carry for a matrix read from standard input.
const StdinName = "<stdin>"

// Read decodes a matrix from r (a pipe, say), reading at most MaxFileSize+1 bytes: a longer
// input is an *InvalidError at name:1:1, like a file over the limit. name is used in positions.
func Read(r io.Reader, name string) (*File, error) { return read(r, name) }

// LoadReader is Load for a matrix read from r: it reads (at most MaxFileSize+1 bytes), expands
// and validates. Relative template_dir paths are resolved from opts.BaseDir, default the
// current directory (a stream has no directory of its own).
func LoadReader(r io.Reader, name string, db *compat.DB, opts Options) (*Plan, Diagnostics, error) {
	f, err := read(r, name)
	if err != nil {
		if ie, ok := err.(*InvalidError); ok {
			return nil, ie.Diagnostics, err
		}
		return nil, nil, err
	}
	if opts.BaseDir == "" {
		opts.BaseDir = "."
	}
	return NewPlan(f, db, opts)
}

// DiagnosticRecord is a diagnostic as flat data, for JSON output. Line and Col start at 1;
// 0 means not known (a problem with the whole file). Every field is always present.
type DiagnosticRecord struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Col      int      `json:"col"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// Record returns the diagnostic as flat data.
func (d Diagnostic) Record() DiagnosticRecord {
	return DiagnosticRecord{File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col, Severity: d.Severity, Message: d.Message}
}

// Records returns every diagnostic as data, sorted by position (see Sort); never nil, so it
// encodes as [] rather than null.
func (ds Diagnostics) Records() []DiagnosticRecord {
	out := []DiagnosticRecord{}
	for _, d := range ds.Sort() {
		out = append(out, d.Record())
	}
	return out
}

// Annotation renders the diagnostic as a GitHub Actions workflow command:
//
//	::error file=F,line=L,col=C::MESSAGE
//
// (::warning for a warning; line and col are left out when not known). The message is escaped
// as the Actions toolkit escapes command data (% → %25, CR → %0D, LF → %0A), property values
// also : → %3A and , → %2C, so no text of the matrix can end the command early or start another.
func (d Diagnostic) Annotation() string {
	cmd := "error"
	if d.Severity == SevWarning {
		cmd = "warning"
	}
	var props []string
	if d.Pos.File != "" {
		props = append(props, "file="+escapeProperty(d.Pos.File))
	}
	if d.Pos.Line > 0 {
		props = append(props, fmt.Sprintf("line=%d", d.Pos.Line))
		if d.Pos.Col > 0 {
			props = append(props, fmt.Sprintf("col=%d", d.Pos.Col))
		}
	}
	s := "::" + cmd
	if len(props) > 0 {
		s += " " + strings.Join(props, ",")
	}
	return s + "::" + escapeData(d.Message)
}

// escapeData escapes a workflow command's message (toolkit/packages/core/src/command.ts).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
