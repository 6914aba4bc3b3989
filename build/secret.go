package build

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/session/secrets/secretsprovider"

	"github.com/torchimg/torchimg/internal/redact"
	"github.com/torchimg/torchimg/templates"
)

// ParseSecret reads a --secret spec, as docker buildx writes them: id=NAME,src=FILE (source= also
// works) or id=NAME,env=VARIABLE. The file or variable is read on this machine when the build
// asks for the secret; only its name reaches the daemon's build definition.
func ParseSecret(spec string) (secretsprovider.Source, error) {
	shown := redact.Text(spec) // a spec names a file or a variable, not a value; still, no URL shows credentials
	usage := fmt.Errorf("--secret %q: want id=NAME,src=FILE or id=NAME,env=VARIABLE, e.g. id=%s,src=$HOME/.netrc", shown, templates.SecretNetrc)
	var s secretsprovider.Source
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return s, usage
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "id":
			s.ID = v
		case "src", "source":
			s.FilePath = v
		case "env":
			s.Env = v
		default:
			return s, fmt.Errorf("--secret %q: unknown key %q; valid keys: id, src (or source), env", shown, k)
		}
	}
	if s.ID == "" || (s.FilePath == "") == (s.Env == "") {
		return s, usage
	}
	if s.FilePath != "" {
		st, err := os.Stat(s.FilePath)
		if err != nil {
			return s, fmt.Errorf("--secret id=%s: %s", s.ID, redact.Text(err.Error()))
		}
		if !st.Mode().IsRegular() {
			return s, fmt.Errorf("--secret id=%s: %s is not a regular file", s.ID, redact.Text(s.FilePath))
		}
	} else if _, ok := os.LookupEnv(s.Env); !ok {
		return s, fmt.Errorf("--secret id=%s: the environment variable %s is not set", s.ID, s.Env)
	}
	return s, nil
}

// ParseSecrets parses every --secret spec (ParseSecret); an id given twice is an error.
func ParseSecrets(specs []string) ([]secretsprovider.Source, error) {
	var out []secretsprovider.Source
	seen := map[string]bool{}
	for _, spec := range specs {
		s, err := ParseSecret(spec)
		if err != nil {
			return nil, err
		}
		if seen[s.ID] {
			return nil, fmt.Errorf("--secret id=%s is given twice; give each secret id once", s.ID)
		}
		seen[s.ID] = true
		out = append(out, s)
	}
	return out, nil
}
