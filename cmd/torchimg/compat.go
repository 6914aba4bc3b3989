package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/matrix/compat/drift"
	"github.com/torchimg/torchimg/pyindex"
)

// compatCmd is torchimg compat (implemented in this file).
func (a *app) compatCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compat",
		Short: "Check the embedded compatibility data against upstream sources",
		Long: `compat works with the compatibility data embedded in torchimg (` + compat.EmbeddedFile + `).

Subcommands:
  diff  compare the torch releases, CUDA variants, Pythons and cuDNN/NCCL pins with a package index`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("compat needs a subcommand: diff (see torchimg compat --help)")
		},
	}
	cmd.AddCommand(a.compatDiffCmd())
	return cmd
}

func (a *app) compatDiffCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff --index URL",
		Short: "Compare the embedded torch data with a PyTorch-style package index (releases, CUDA variants, Pythons, cuDNN/NCCL pins)",
		Long: `diff reads a PyTorch-style package index and says which rows of the torch: section of
` + compat.EmbeddedFile + ` to add or change.

The index speaks the "simple" API: JSON (PEP 691) is asked for and HTML (PEP 503) accepted. Each
--index URL (repeatable) is read by its shape:
  .../torch or .../torch/     the torch project page itself, read as is; when the segment before
                              it names a variant (.../cu128/torch/) only that variant is judged
  .../cu128 (cpu, rocm6.4...) one variant's index: reads URL/torch/ and judges only that variant
  anything else               a base index (https://download.pytorch.org/whl): reads BASE/torch/,
                              which lists every local version, then BASE/<variant>/torch/ for each
                              CUDA variant found there or named by the data (cu126, cu128, ...);
                              a variant index that is not found (404) is noted, not an error
The wheels of all pages are merged.

Only Linux x86_64 wheels (manylinux*_x86_64, and linux_x86_64 as PyTorch tagged its older wheels)
of final releases with a CUDA local version (2.9.1+cu128) count; wheel names are read as PEP 427
says (cp312 is Python 3.12, abi cp313t the free-threaded 3.13t). Releases older than --since
(default: the data's oldest series), CPU/ROCm/XPU wheels, other platforms and names that are not
wheel names are skipped and counted in the notes.

Reported, per torch series (each line names the data row to add or change):
  1. releases and series the data lacks (and releases the data has that the index lacks); CUDA
     variants per release the data lacks, and variants the data has that the index lacks
  2. Pythons with wheels that the series' python list lacks, and listed Pythons without wheels
  3. the cuDNN and NCCL versions the wheel metadata pins (Requires-Dist nvidia-cudnn-cu12==...,
     nvidia-nccl-cu13==...) against the variant's cudnn and nccl facts (an unknown fact is to be
     set). One wheel's metadata is read per release and variant, from the metadata file the index
     serves beside it (PEP 658: <wheel URL>.metadata, checked against its sha256). Where the index
     serves none, the notes say "metadata not served; pins not checked", unless --download-wheels
     (whole wheels, often gigabytes) is given.

Formats: text (default), json ({"data_date", "indexes", "since", "covered_variants" (null: all),
"compared", "drift": [{"kind", "series", "releases", "variants", "python", "field", "data", "index",
"builds", "unchanged", "evidence", "message"}], "notes", "in_sync"}).

Exit status: 0 the data matches the index, 1 drift (or the index could not be read: the error
names the URL and why), 2 usage error.`,
		Example: `  torchimg compat diff --index https://download.pytorch.org/whl
  torchimg compat diff --index https://download.pytorch.org/whl/cu128 --since 2.9
  torchimg compat diff --index https://download.pytorch.org/whl/cu130/torch/ -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format := a.v.GetString("output")
			if format != "text" && format != "json" {
				return usageErrorf("--output %q: valid formats are text, json", format)
			}
			urls := a.v.GetStringSlice("index")
			if len(urls) == 0 {
				return usageErrorf("compat diff needs --index URL (e.g. --index https://download.pytorch.org/whl)")
			}
			var targets []drift.Target
			for _, u := range urls {
				t, err := drift.ParseTarget(u)
				if err != nil {
					return usageErrorf("%v", err)
				}
				targets = append(targets, t)
			}
			db, err := compat.Default()
			if err != nil {
				return err
			}
			since, err := drift.Since(db, a.v.GetString("since"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			timeout := a.v.GetDuration("timeout")
			if timeout < 0 {
				return usageErrorf("--timeout %s: want a duration such as 60s (0: no limit)", timeout)
			}
			obs, err := drift.Read(cmd.Context(), db, targets, drift.Options{
				Client:         &pyindex.Client{UserAgent: "torchimg compat diff", Timeout: timeout},
				Since:          since,
				DownloadWheels: a.v.GetBool("download-wheels"),
			})
			if err != nil {
				return err
			}
			r := drift.Compare(db, obs)
			write := drift.WriteText
			if format == "json" {
				write = drift.WriteJSON
			}
			if err := write(a.out, r); err != nil {
				return err
			}
			if !r.InSync {
				return &exitError{code: exitFailed}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringArray("index", nil, "index URL: a base (https://download.pytorch.org/whl), one variant's index (.../whl/cu128) or the torch project page (.../whl/cu128/torch/); repeat for several")
	fs.StringP("output", "o", "text", "output format: text, json")
	fs.String("since", "", "the oldest torch series compared, e.g. 2.9 (default: the data's oldest)")
	fs.Bool("download-wheels", false, "where the index serves no metadata file, download whole wheels (often gigabytes) to read the cuDNN/NCCL pins")
	fs.Duration("timeout", 60*time.Second, "time limit of each page or metadata request")
	return cmd
}
