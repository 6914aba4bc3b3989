package matrix

// The matrix file as written, with the position of every value, before expansion.

// Str is a scalar from the matrix file and where it was written.
type Str struct {
	Value string
	Pos   Pos
	Set   bool
}

// Bool is a boolean from the matrix file.
type Bool struct {
	Value bool
	Pos   Pos
	Set   bool
}

// KV is one entry of a string map (build args, labels), in file order.
type KV struct {
	Key   Str
	Value Str
}

// File is a decoded matrix.yaml.
type File struct {
	Path         string
	Repository   Str
	LabelsPrefix Str
	Title        Str
	Description  Str
	Source       Str
	Licenses     Str
	Defaults     Settings
	Axes         Axes
	Exclude      []Selector
	Include      []Include
	Overrides    []Override
	Tags         []TagRule
	// Raw is the file content, hashed into the matrix revision label.
	Raw []byte
}

// Axes are the lists whose cartesian product gives the variants.
type Axes struct {
	Pos    Pos
	Set    bool
	Torch  []Str
	CUDA   []Str
	OS     []Str
	Python []Str
	Flavor []Str
}

// Settings are the per-variant values that defaults, include entries and overrides may set.
type Settings struct {
	Python          Str // defaults only
	Flavor          Str // defaults only
	Base            Str
	IndexURL        Str
	PipIndexURL     Str
	TemplateDir     Str
	ExtraPackages   []Str
	ExtraPackagesAt Pos
	BuildArgs       []KV
	Labels          []KV
	AllowUnofficial Bool
	// Compiler (default true) puts gcc, g++ and Python's headers in the image: torch.compile
	// needs them at run time, CUDA extensions to build.
	Compiler Bool
}

// Include is an extra variant (after exclude), with optional settings.
type Include struct {
	Pos    Pos
	Torch  Str
	CUDA   Str
	OS     Str
	Python Str
	Flavor Str
	Settings
}

// Override applies settings to every variant its selector matches.
type Override struct {
	Pos   Pos
	Match Selector
	Settings
}

// Selector matches variants by field; every term must match.
type Selector struct {
	Pos   Pos
	Terms []Term
}

// Term is one field of a selector: the variant's value must match one of the patterns
// (shell-style, `2.9.*`), or for pypi_default, equal the boolean.
type Term struct {
	Field    string
	Pos      Pos
	Patterns []Str
	Bool     Bool
}

// TagRule is one entry of `tags:`.
type TagRule struct {
	Pos      Pos
	Template Str
	Kind     Str
	Only     *Selector
	Prefer   []PreferRule
}

// PreferRule narrows the claimants of a floating tag: keep those matching Selector,
// or those with the highest value of the field named by Highest. A rule that no
// remaining claimant meets is skipped.
type PreferRule struct {
	Pos      Pos
	Selector *Selector
	Highest  Str
}
