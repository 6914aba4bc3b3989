// Package testfile reads and writes files in tests, failing the test on an error, so that no
// test ignores one.
package testfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Read returns the file's content.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Write writes the file (mode 0644), creating its directory.
func Write(t testing.TB, path, content string) {
	t.Helper()
	WriteMode(t, path, content, 0o644)
}

// WriteMode writes the file with a mode, creating its directory.
func WriteMode(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
