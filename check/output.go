package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/torchimg/torchimg/internal/termtext"
)

// MaxTableSuggestions is how many suggested tags the table shows (JSON has all).
const MaxTableSuggestions = 12

var statusWord = map[Status]string{OK: "OK", Warn: "WARN", Fail: "FAIL", Unknown: "??", NotChecked: "--"}

var verdictWord = map[Verdict]string{Compatible: "COMPATIBLE", NotCompatible: "NOT COMPATIBLE", CannotTell: "CANNOT TELL"}

// WriteJSON writes v (a Result or a Diagnosis) as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteTable writes a Result for people.
func WriteTable(w io.Writer, r *Result, h Host) error {
	im := r.Image
	desc := im.Ref
	var facts []string
	if im.Torch != "" {
		t := "torch " + im.Torch
		if im.TorchVariant != "" {
			t += " " + im.TorchVariant
		}
		facts = append(facts, t)
	}
	if im.CUDA != "" {
		facts = append(facts, "CUDA "+im.CUDA)
	}
	if im.DriverMin != "" {
		facts = append(facts, "driver >= "+im.DriverMin)
	}
	if im.Archs != "" {
		facts = append(facts, "archs "+im.Archs)
	}
	if len(facts) > 0 {
		desc += " (" + strings.Join(facts, ", ") + ")"
	}
	// Everything but the verdict may carry an image's or a registry's text: shown escaped.
	fmt.Fprintf(w, "Image    %s\n", termtext.Escape(termtext.Clip(desc, 4*termtext.CellRunes)))
	fmt.Fprintf(w, "Host     %s\n", termtext.Escape(h.String()))
	fmt.Fprintf(w, "Verdict  %s\n\n", verdictWord[r.Verdict])
	for _, rs := range r.Reasons {
		fmt.Fprintf(w, "  %-4s  %-6s  %s\n", statusWord[rs.Status], rs.Part, termtext.Escape(termtext.Clip(rs.Message, 16*termtext.CellRunes)))
	}
	if len(r.Advice) > 0 {
		fmt.Fprintf(w, "\nWhat to do\n")
		for _, a := range r.Advice {
			fmt.Fprintf(w, "  - %s\n", termtext.Escape(termtext.Clip(a, 16*termtext.CellRunes)))
		}
	}
	if len(r.Suggestions) > 0 {
		fmt.Fprintf(w, "\nTags of this repository that would run here\n")
		width := 0
		for i, s := range r.Suggestions {
			if i < MaxTableSuggestions && len(s.Tag) > width {
				width = len(s.Tag)
			}
		}
		for i, s := range r.Suggestions {
			if i == MaxTableSuggestions {
				fmt.Fprintf(w, "  ... and %d more (-o json lists all)\n", len(r.Suggestions)-i)
				break
			}
			line := fmt.Sprintf("  %-*s  torch %s  %s", width, termtext.Cell(s.Tag), termtext.Cell(orDash(s.Torch)), termtext.Cell(orDash(s.CUDA)))
			if s.DriverMin != "" {
				line += "  driver >= " + termtext.Cell(s.DriverMin)
			}
			if s.Note != "" {
				line += "  (" + termtext.Escape(s.Note) + ")"
			}
			fmt.Fprintln(w, line)
		}
	}
	return nil
}

// WriteDiagnosis writes a Diagnosis for people: one line per check, advice below it.
func WriteDiagnosis(w io.Writer, d *Diagnosis) error {
	if d.Host.Selected != "" {
		fmt.Fprintf(w, "(%s)\n", termtext.Escape(d.Host.Selected))
	}
	for _, it := range d.Checks {
		fmt.Fprintf(w, "%-4s  %-13s %s\n", statusWord[it.Status], it.Check, termtext.Escape(it.Message))
		if it.Advice != "" {
			fmt.Fprintf(w, "      %-13s → %s\n", "", termtext.Escape(it.Advice))
		}
	}
	switch d.Verdict {
	case NotCompatible:
		fmt.Fprintf(w, "\nGPU work will not run here: fix the FAIL lines above.\n")
	default:
		fmt.Fprintf(w, "\nReady for GPU work.\n")
	}
	return nil
}
