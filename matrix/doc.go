// Package matrix turns a matrix file into a plan. It loads matrix.yaml with the line and
// column of every value (file.go, load.go), expands the axes with include and exclude
// (expand.go), applies defaults and overrides, checks every variant against strict patterns and
// the compatibility data (validate.go, fields.go), renders the tags and decides which variant
// each floating tag goes to (tags.go), sets the labels consumers read (labels.go), and prints
// the plan (format.go). --only and --shard select from a plan without changing it (select.go).
// Every problem is a Diagnostic with its position (diag.go).
package matrix
