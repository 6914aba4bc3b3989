package host

import (
	"fmt"
	"strconv"
	"strings"
)

// Selection says which GPUs a container (or a CUDA process) would see, and why.
type Selection struct {
	Spec   string // "0,2", "all", "GPU-8e5c..."
	Source string // "--gpus", "NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"
}

// SelectionFrom picks the GPU selection that applies: the flag, else NVIDIA_VISIBLE_DEVICES
// (which the NVIDIA container runtime honours), else CUDA_VISIBLE_DEVICES (which CUDA honours in
// the process). An empty Spec selects every GPU.
func SelectionFrom(flag string, env map[string]string) Selection {
	switch {
	case flag != "":
		return Selection{Spec: flag, Source: "--gpus"}
	case env["NVIDIA_VISIBLE_DEVICES"] != "":
		return Selection{Spec: env["NVIDIA_VISIBLE_DEVICES"], Source: "NVIDIA_VISIBLE_DEVICES"}
	case env["CUDA_VISIBLE_DEVICES"] != "":
		return Selection{Spec: env["CUDA_VISIBLE_DEVICES"], Source: "CUDA_VISIBLE_DEVICES"}
	}
	return Selection{}
}

// Select keeps the GPUs the selection names, in its order, the way the runtime and CUDA read it:
// "all" (or empty) keeps every GPU; "none" and "void" keep none; otherwise a comma-separated list
// of indices and UUIDs (a UUID may be shortened to a unique prefix, as CUDA allows). docker's
// "device=0,1" form is accepted. For CUDA_VISIBLE_DEVICES, CUDA stops at the first entry it
// cannot resolve and "-1" hides every GPU; elsewhere an entry that names no GPU is an error.
func Select(f Facts, sel Selection) (Facts, error) {
	spec := strings.Trim(strings.TrimSpace(sel.Spec), `"`)
	spec = strings.TrimSpace(strings.TrimPrefix(spec, "device="))
	switch strings.ToLower(spec) {
	case "", "all":
		return f, nil
	case "none", "void":
		f.GPUs = nil
		return f, nil
	}
	cuda := sel.Source == "CUDA_VISIBLE_DEVICES"
	var out []GPU
	seen := map[int]bool{}
	for _, e := range strings.Split(spec, ",") {
		e = strings.TrimSpace(e)
		g, err := pick(f.GPUs, e)
		if err != nil {
			if cuda {
				break // CUDA ignores the rest of the list
			}
			return f, fmt.Errorf("%s %q: %w", sel.Source, sel.Spec, err)
		}
		if seen[g.Index] {
			if cuda {
				break
			}
			return f, fmt.Errorf("%s %q: GPU %d is named twice", sel.Source, sel.Spec, g.Index)
		}
		seen[g.Index] = true
		out = append(out, g)
	}
	f.GPUs = out
	return f, nil
}

func pick(gpus []GPU, e string) (GPU, error) {
	if strings.HasPrefix(strings.ToUpper(e), "MIG-") {
		return GPU{}, fmt.Errorf("%q is a MIG device: name its parent GPU (index or UUID) to check it", e)
	}
	if n, err := strconv.Atoi(e); err == nil {
		for _, g := range gpus {
			if g.Index == n {
				return g, nil
			}
		}
		return GPU{}, fmt.Errorf("no GPU %d (this host has %d: indices 0 to %d)", n, len(gpus), len(gpus)-1)
	}
	var found []GPU
	for _, g := range gpus {
		if g.UUID != "" && strings.HasPrefix(strings.ToUpper(g.UUID), strings.ToUpper(e)) {
			found = append(found, g)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return GPU{}, fmt.Errorf("%q is neither a GPU index nor the UUID (or UUID prefix) of a GPU here", e)
	}
	return GPU{}, fmt.Errorf("%q is the start of %d GPUs' UUIDs: give more of it", e, len(found))
}

// Describe says which GPUs were kept, for output.
func (sel Selection) Describe(before, after int) string {
	if sel.Spec == "" {
		return ""
	}
	return fmt.Sprintf("%d of %d GPU(s) selected by %s=%s", after, before, sel.Source, sel.Spec)
}
