package drift

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report as a readable list: what was read, then one line per change the
// data needs, then the notes.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	date := r.DataDate
	if date == "" {
		date = "undated"
	}
	fmt.Fprintf(&b, "compatibility data as of %s, compared with %d index(es):\n", date, len(r.Indexes))
	for _, ix := range r.Indexes {
		what := string(ix.Layout)
		if ix.Variant != "" {
			what += ", variant " + ix.Variant
		}
		fmt.Fprintf(&b, "  %s (%s)\n", ix.URL, what)
		for _, p := range ix.Pages {
			if p.Status == "read" {
				fmt.Fprintf(&b, "    read %s (%s, %d files)\n", p.URL, p.Format, p.Files)
			} else {
				fmt.Fprintf(&b, "    %s: %s\n", p.Status, p.URL)
			}
		}
	}
	variants := "all variants"
	if r.Covered != nil {
		variants = "variants " + strings.Join(r.Covered, ", ")
	}
	fmt.Fprintf(&b, "compared: %d build(s) of torch series %s and newer (Linux x86_64 wheels, %s)\n", len(r.Compared), r.Since, variants)
	if r.InSync {
		b.WriteString("\nno drift: the data matches the index\n")
	} else {
		fmt.Fprintf(&b, "\ndrift: %d change(s) to the torch: section of the data\n", len(r.Drift))
		for _, it := range r.Drift {
			fmt.Fprintf(&b, "  - %s\n", it.Message)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
