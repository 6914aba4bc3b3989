// Package buildkit dials BuildKit daemons for the stages that use one (build, and the GPU smoke
// runner): the address schemes, TLS, a check that the daemon answers, registry credentials for
// the daemon, errors a person can read, and the LLB options those stages share (Env).
package buildkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client"
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer" // docker-container:// builders
	_ "github.com/moby/buildkit/client/connhelper/kubepod"         // kube-pod:// builders
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
)

// DefaultAddr is where buildkitd listens by default.
const DefaultAddr = "unix:///run/buildkit/buildkitd.sock"

// TLS configures a tcp:// builder.
type TLS struct {
	ServerName, CA, Cert, Key string
}

// Daemon is a connected BuildKit daemon.
type Daemon struct {
	Addr    string
	Version string
	Client  *client.Client
}

// Close closes the connection.
func (d *Daemon) Close() error { return d.Client.Close() }

// Connect dials a buildkitd and checks that it answers (the client connects lazily, so a
// missing daemon would otherwise only show up in the first build).
func Connect(ctx context.Context, addr string, tls TLS) (*Daemon, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	var opts []client.ClientOpt
	if tls.CA != "" || tls.ServerName != "" {
		opts = append(opts, client.WithServerConfig(tls.ServerName, tls.CA))
	}
	if tls.Cert != "" || tls.Key != "" {
		opts = append(opts, client.WithCredentials(tls.Cert, tls.Key))
	}
	c, err := client.New(ctx, addr, opts...)
	if err != nil {
		return nil, &NoDaemonError{Addr: addr, Err: err}
	}
	ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	info, err := c.Info(ictx)
	if err != nil {
		c.Close()
		return nil, &NoDaemonError{Addr: addr, Err: err}
	}
	return &Daemon{Addr: addr, Version: info.BuildkitVersion.Version, Client: c}, nil
}

// NoDaemonError says that no BuildKit daemon answered, and how to start one.
type NoDaemonError struct {
	Addr string
	Err  error
}

func (e *NoDaemonError) Error() string {
	return fmt.Sprintf("no BuildKit daemon answers at %s (%v).\n"+
		"Start one, then pass its address with --builder or TORCHIMG_BUILDER:\n"+
		"  sudo buildkitd --addr %s                      # a local daemon (needs runc)\n"+
		"  docker buildx create --name torchimg --driver docker-container --bootstrap\n"+
		"    → --builder docker-container://buildx_buildkit_torchimg0\n"+
		"  a remote daemon: --builder tcp://HOST:1234 --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem",
		e.Addr, ShortError(e.Err), DefaultAddr)
}

func (e *NoDaemonError) Unwrap() error { return e.Err }

// ShortError is the part of a gRPC error a person reads first.
func ShortError(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "desc = "); i >= 0 {
		s = s[i+len("desc = "):]
	}
	return s
}

// CleanError shortens BuildKit's solve error chain ("failed to solve: rpc error: ...").
func CleanError(err error) string {
	s := err.Error()
	for _, p := range []string{"failed to solve: ", "rpc error: code = Unknown desc = "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// Auth gives the daemon the credentials of the docker config and credential helpers.
func Auth() session.Attachable {
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(config.LoadDefaultConfigFile(os.Stderr)),
	})
}
