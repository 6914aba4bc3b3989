package check

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/pelletier/go-toml/v2"

	"github.com/torchimg/torchimg/gpu/driver"
)

// RuntimeConfigPath is where the NVIDIA container toolkit keeps its configuration.
const RuntimeConfigPath = "/etc/nvidia-container-runtime/config.toml"

// jitCDIDefault is the first toolkit release whose mode "auto" resolves to jit-cdi.
var jitCDIDefault = semver.MustParse("1.18.0")

// RuntimeOf reads which mode this host's NVIDIA container runtime runs in: the mode of its
// config.toml, and for mode "auto" (the default) the installed toolkit's version from the dpkg
// database (auto is jit-cdi from 1.18.0, legacy before). It says what it read and assumed.
// docker run --gpus without the nvidia runtime uses the legacy hook whatever the config says.
func RuntimeOf(sys System) (driver.Mode, string) {
	const gpusNote = "; docker run --gpus without the nvidia runtime uses the legacy hook all the same (--runtime legacy)"
	data, err := fs.ReadFile(sys.FS, strings.TrimPrefix(RuntimeConfigPath, "/"))
	if errors.Is(err, fs.ErrNotExist) {
		return driver.AnyMode, "no " + RuntimeConfigPath + " (the NVIDIA container toolkit is not installed here, or this is a container): both modes are judged"
	}
	if err != nil {
		return driver.AnyMode, fmt.Sprintf("cannot read %s (%v): both modes are judged", RuntimeConfigPath, err)
	}
	var cfg struct {
		Runtime struct {
			Mode string `toml:"mode"`
		} `toml:"nvidia-container-runtime"`
	}
	if err := toml.Unmarshal(data, &cfg); err != nil {
		return driver.AnyMode, fmt.Sprintf("cannot parse %s (%v): both modes are judged", RuntimeConfigPath, err)
	}
	mode := strings.ToLower(strings.TrimSpace(cfg.Runtime.Mode))
	from := fmt.Sprintf("%s: mode = %q", RuntimeConfigPath, mode)
	if mode == "" {
		mode, from = "auto", RuntimeConfigPath+": no mode (the default, auto)"
	}
	switch mode {
	case "legacy":
		return driver.Legacy, from
	case "csv":
		return driver.Legacy, from + " (Tegra: the CSV modifier evaluates NVIDIA_REQUIRE_* like the legacy hook)"
	case "cdi", "jit-cdi":
		return driver.CDI, from + ", for containers run with the nvidia runtime" + gpusNote
	case "auto":
		v, ok := toolkitVersion(sys)
		switch {
		case !ok:
			return driver.AnyMode, from + ", and the toolkit's version is not known (auto is jit-cdi from 1.18.0, legacy before): both modes are judged"
		case !v.LessThan(jitCDIDefault):
			return driver.CDI, fmt.Sprintf("%s with nvidia-container-toolkit %s: jit-cdi, for containers run with the nvidia runtime%s", from, v, gpusNote)
		default:
			return driver.Legacy, fmt.Sprintf("%s with nvidia-container-toolkit %s: legacy (jit-cdi only from 1.18.0)", from, v)
		}
	}
	return driver.AnyMode, from + ", which torchimg does not know: both modes are judged"
}

// toolkitVersion reads nvidia-container-toolkit's version from the dpkg database.
func toolkitVersion(sys System) (*semver.Version, bool) {
	data, err := fs.ReadFile(sys.FS, "var/lib/dpkg/status")
	if err != nil {
		return nil, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			in = false
		case strings.HasPrefix(line, "Package: "):
			in = strings.TrimPrefix(line, "Package: ") == "nvidia-container-toolkit"
		case in && strings.HasPrefix(line, "Version: "):
			// Debian versions: "1.18.0-1"; the upstream part is before the revision.
			up, _, _ := strings.Cut(strings.TrimPrefix(line, "Version: "), "-")
			if _, rest, ok := strings.Cut(up, ":"); ok {
				up = rest // an epoch
			}
			v, err := semver.NewVersion(up)
			return v, err == nil
		}
	}
	return nil, false
}
