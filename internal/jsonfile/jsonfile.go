// Package jsonfile reads and writes the JSON documents torchimg hands between its stages
// (build report, smoke report, release record).
package jsonfile

import (
	"encoding/json"
	"fmt"
	"os"
)

// Write writes v as indented JSON; the file appears whole or not at all (temp + rename).
func Write(path, what string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	return nil
}

// Read decodes the JSON document at path into v and checks that its "schema" is schema.
func Read(path, what, schema string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%s %s: not JSON: %w", what, path, err)
	}
	if head.Schema != schema {
		return fmt.Errorf("%s %s: schema %q, want %q", what, path, head.Schema, schema)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}
