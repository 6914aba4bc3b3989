package inspect

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/torchimg/torchimg/internal/termtext"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// WriteTable prints an image for people: what it contains, its requirements and its tags. What
// comes from the image (labels, environment, tags, references, platform) is clipped to
// termtext.CellRunes runes a value and printed escaped (termtext), so that none of it can move
// the cursor, forge a line or drive the terminal.
func WriteTable(w io.Writer, i *report.Info) error {
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-12s %s\n", k, termtext.Escape(v))
		}
	}
	cell := func(s string) string { return termtext.Clip(s, termtext.CellRunes) }
	row("Image", cell(i.Ref))
	row("Digest", cell(i.Digest))
	if i.ImageDigest != i.Digest {
		row("Image", cell(i.ImageDigest)+" ("+cell(i.Platform)+")")
	}
	if i.Created != nil {
		row("Created", i.Created.Format(time.RFC3339))
	}
	row("Revision", cell(i.Labels[matrix.OCIRevision]))
	row("Source", cell(i.Labels[matrix.OCISource]))
	if !i.Torchimg() {
		fmt.Fprintf(w, "\nThis image was not built by torchimg (it has no <prefix>.schema-version label), so what is inside\nis not stated. Standard labels it has:\n")
		var keys []string
		for k := range i.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			fmt.Fprintf(w, "  (none)\n")
		}
		for _, k := range keys {
			fmt.Fprintf(w, "  %s=%s\n", termtext.Cell(k), termtext.Cell(i.Labels[k]))
		}
		for _, k := range []string{"CUDA_VERSION", "NVIDIA_REQUIRE_CUDA", "PYTORCH_VERSION", "NV_CUDNN_VERSION"} {
			if v, ok := i.Env[k]; ok {
				fmt.Fprintf(w, "  env %s=%s\n", k, termtext.Escape(termtext.Clip(v, 100)))
			}
		}
		return nil
	}
	l := func(short string) string { return cell(i.Label(short)) }
	fmt.Fprintln(w)
	row("torch", strings.TrimSpace(l(matrix.LabelTorchVersion)+" ("+l(matrix.LabelTorchVariant)+")"))
	row("CUDA", fmt.Sprintf("%s (toolkit %s)", l(matrix.LabelTorchCUDA), orUnknown(l(matrix.LabelCUDAVersion))))
	row("cuDNN", orUnknown(l(matrix.LabelCUDNNVersion)))
	row("NCCL", orUnknown(l(matrix.LabelNCCLVersion)))
	row("Python", l(matrix.LabelPythonVersion))
	row("OS", l(matrix.LabelOS)+" ("+l(matrix.LabelFlavor)+")")
	drv := orUnknown(l(matrix.LabelDriverMin))
	if c := l(matrix.LabelDriverMinCompat); c != "" {
		drv = ">= " + drv + " (>= " + c + " with CUDA minor-version compatibility)"
	}
	row("Driver", drv)
	row("GPU archs", orUnknown(l(matrix.LabelCUDAArchs)))
	if req := i.Env["NVIDIA_REQUIRE_CUDA"]; req != "" {
		first, rest, _ := strings.Cut(req, " ")
		extra := ""
		if rest != "" {
			extra = fmt.Sprintf(" (+ %d forward-compatibility clauses for datacenter driver branches)", strings.Count(rest, " ")+1)
		}
		row("Requires", cell(first)+extra)
	}
	row("Variant", l(matrix.LabelVariant))
	row("Size", fmt.Sprintf("%.1f MiB compressed", float64(i.Size)/(1<<20)))
	if len(i.Tags) > 0 {
		tags := make([]string, len(i.Tags))
		for n, t := range i.Tags {
			tags[n] = cell(t)
		}
		row("Tags", strings.Join(tags, " "))
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "not stated"
	}
	return s
}
