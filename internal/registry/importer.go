package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/registry/auth"
)

// ImportRequest is the body of ARM's importImage action.
type ImportRequest struct {
	Source struct {
		ResourceID  string `json:"resourceId"`
		RegistryURI string `json:"registryUri"`
		SourceImage string `json:"sourceImage"`
		Credentials *struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"credentials"`
	} `json:"source"`
	TargetTags                 []string `json:"targetTags"`
	UntaggedTargetRepositories []string `json:"untaggedTargetRepositories"`
	Mode                       string   `json:"mode"`
}

var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

type target struct{ repo, tag string }

// parseTargets validates the target tags and repositories.
func (req *ImportRequest) parseTargets() ([]target, error) {
	var out []target
	for _, t := range req.TargetTags {
		repo, tag, ok := strings.Cut(t, ":")
		if !ok {
			tag = "latest" // as ACR does for a target without a tag
		}
		if !auth.ValidRepository(repo) || !tagRE.MatchString(tag) {
			return nil, arm.BadRequest("InvalidParameter", "The target tag '%s' is invalid: use <repository>:<tag> with a lower-case repository name.", t)
		}
		out = append(out, target{repo, tag})
	}
	for _, r := range req.UntaggedTargetRepositories {
		if !auth.ValidRepository(r) {
			return nil, arm.BadRequest("InvalidParameter", "The target repository '%s' is invalid.", r)
		}
		out = append(out, target{repo: r})
	}
	if len(out) == 0 {
		// Like az: the target defaults to the source repository and tag.
		src := req.Source.SourceImage
		if i := strings.Index(src, "@"); i >= 0 {
			out = append(out, target{repo: src[:i]})
		} else if repo, tag, ok := strings.Cut(src, ":"); ok {
			out = append(out, target{repo, tag})
		} else {
			out = append(out, target{src, "latest"})
		}
	}
	return out, nil
}

// SetDialTarget tells the data plane where its own listener is and the CA
// its certificate chains to, for server-side copies into it.
func (dp *DataPlane) SetDialTarget(addr string, ca *x509.Certificate) {
	dp.selfAddr, dp.ca = addr, ca
}

// selfTransport reaches this data plane whatever the login server resolves
// to, marking its requests as the data plane's own (markInternal).
func (dp *DataPlane) selfTransport() markInternal {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return markInternal{key: dp.internalKey, rt: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, dp.selfAddr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: dp.caPool(false), MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 8,
	}}
}

// ownHost reports whether host (with optional port) is one of this
// server's login servers.
func (dp *DataPlane) ownHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	_, ok := dp.lookup(context.Background(), h)
	return ok
}

// caPool returns drydock's CA, with the system roots when system is true.
func (dp *DataPlane) caPool(system bool) *x509.CertPool {
	pool := x509.NewCertPool()
	if system {
		if sys, err := x509.SystemCertPool(); err == nil && sys != nil {
			pool = sys
		}
	}
	if dp.ca != nil {
		pool.AddCert(dp.ca)
	}
	return pool
}

// sourceTransport reaches import sources, trusting the system roots plus
// drydock's CA.
func (dp *DataPlane) sourceTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: dp.caPool(true), MinVersion: tls.VersionTLS12}
	return t
}

// Import copies the source image (an image, or an index with every
// platform) into the registry under the targets. It runs inside an ARM
// long-running operation and reports progress.
func (dp *DataPlane) Import(ctx context.Context, reg auth.Registry, caller arm.Caller, req ImportRequest) error {
	targets, err := req.parseTargets()
	if err != nil {
		return err
	}
	srcHost := req.Source.RegistryURI
	var srcReg auth.Registry
	if req.Source.ResourceID != "" {
		srcReg, err = dp.registryByID(ctx, req.Source.ResourceID)
		if err != nil {
			return err
		}
		if !dp.p.kit.Auth.Decide(caller.ObjectID, "Microsoft.ContainerRegistry/registries/pull/read", false, srcReg.ID).Allowed {
			return arm.AuthorizationFailed(caller, "Microsoft.ContainerRegistry/registries/pull/read", srcReg.ID)
		}
		srcHost = srcReg.LoginServer
	}
	if srcHost == "" || req.Source.SourceImage == "" {
		return arm.BadRequest("InvalidParameter", "The import source needs sourceImage and either registryUri or resourceId.")
	}
	srcRef, err := name.ParseReference(strings.TrimSuffix(srcHost, "/")+"/"+req.Source.SourceImage, name.StrictValidation)
	if err != nil {
		return arm.BadRequest("InvalidParameter", "The source image '%s/%s' is not a valid reference: %v.", srcHost, req.Source.SourceImage, err)
	}
	withCreds := req.Source.Credentials != nil && req.Source.Credentials.Username != ""
	// The import's connections are closed when it ends, so that none stays
	// open to the listener (or to the source) after it.
	self := dp.selfTransport()
	defer self.CloseIdleConnections()
	srcOpts := []remote.Option{remote.WithContext(ctx)}
	switch c := req.Source.Credentials; {
	case req.Source.ResourceID != "":
		// Another registry of this server: read it through the data plane
		// with a pull token (the caller's pull permission was checked above).
		srcOpts = append(srcOpts, remote.WithTransport(self),
			remote.WithAuth(dp.internalAuth(srcReg, caller, srcRef.Context().RepositoryStr(), "pull")))
	default:
		// One of this server's registries named by its login server is
		// reached through the listener whatever DNS says.
		var tr http.RoundTripper = self
		if !dp.ownHost(srcRef.Context().RegistryStr()) {
			src := dp.sourceTransport()
			defer src.CloseIdleConnections()
			tr = src
		}
		srcOpts = append(srcOpts, remote.WithTransport(tr))
		if c != nil && c.Username != "" {
			srcOpts = append(srcOpts, remote.WithAuth(&authn.Basic{Username: c.Username, Password: c.Password}))
		}
	}
	arm.ReportProgress(ctx, 0, "resolving "+srcRef.String())
	desc, err := remote.Get(srcRef, srcOpts...)
	if err != nil {
		return importError(srcRef, err, withCreds)
	}
	var repos []string
	for _, t := range targets {
		repos = append(repos, t.repo)
	}
	dstOpts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(self), remote.WithAuth(dp.internalAuth(reg, caller, "", "pull,push", repos...))}
	if !strings.EqualFold(req.Mode, "Force") {
		for _, t := range targets {
			if t.tag == "" {
				continue
			}
			ref, _ := name.NewTag(reg.LoginServer + "/" + t.repo + ":" + t.tag)
			if _, err := remote.Head(ref, dstOpts...); err == nil {
				return arm.Errorf(http.StatusConflict, "TagAlreadyExists",
					"The tag '%s:%s' already exists in registry '%s'. Use '--force' (mode Force) to overwrite it.", t.repo, t.tag, reg.Name)
			}
		}
	}
	progress := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range progress {
			pct := 0.0
			if u.Total > 0 {
				pct = float64(u.Complete) * 100 / float64(u.Total)
			}
			arm.ReportProgress(ctx, pct, fmt.Sprintf("copied %s of %s", mib(u.Complete), mib(u.Total)))
		}
	}()
	first := targets[0]
	dst, err := dstRef(reg, first)
	if err != nil {
		close(progress)
		<-done
		return err
	}
	writeOpts := append(append([]remote.Option{}, dstOpts...), remote.WithProgress(progress))
	if desc.MediaType.IsIndex() {
		idx, ierr := desc.ImageIndex()
		if ierr == nil {
			err = remote.WriteIndex(dst, idx, writeOpts...)
		} else {
			err = ierr
		}
	} else {
		img, ierr := desc.Image()
		if ierr == nil {
			err = remote.Write(dst, img, writeOpts...)
		} else {
			err = ierr
		}
	}
	<-done
	if err != nil {
		return importError(srcRef, err, withCreds)
	}
	for _, t := range targets[1:] {
		ref, err := dstRef(reg, t)
		if err != nil {
			return err
		}
		if t.repo != first.repo || t.tag == "" {
			// Another repository: copy again (blobs are mounted, not re-sent).
			if desc.MediaType.IsIndex() {
				idx, _ := desc.ImageIndex()
				err = remote.WriteIndex(ref, idx, dstOpts...)
			} else {
				img, _ := desc.Image()
				err = remote.Write(ref, img, dstOpts...)
			}
		} else {
			err = remote.Tag(ref.(name.Tag), desc, dstOpts...)
		}
		if err != nil {
			return importError(srcRef, err, withCreds)
		}
	}
	return nil
}

func dstRef(reg auth.Registry, t target) (name.Reference, error) {
	if t.tag == "" {
		return nil, arm.BadRequest("InvalidParameter", "Untagged target repositories must follow a tagged target.")
	}
	return name.NewTag(reg.LoginServer+"/"+t.repo+":"+t.tag, name.StrictValidation)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// importError turns a copy failure into an ARM error that says what failed.
func importError(src name.Reference, err error, withCreds bool) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			if withCreds {
				return arm.Errorf(http.StatusBadRequest, "InvalidImportSourceCredentials",
					"The source registry refused the credentials given for '%s' (%d): check --username and --password.", src, terr.StatusCode)
			}
			return arm.Errorf(http.StatusBadRequest, "InvalidImportSourceCredentials",
				"The source registry refused access to '%s' (%d): provide --username and --password for it.", src, terr.StatusCode)
		case http.StatusNotFound:
			return arm.Errorf(http.StatusBadRequest, "ImageNotFound", "The source image '%s' was not found.", src)
		}
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) {
		return arm.Errorf(http.StatusBadRequest, "SourceRegistryUnreachable", "The source registry of '%s' could not be reached: %v.", src, err)
	}
	return arm.Errorf(http.StatusBadRequest, "ImportFailed", "Importing '%s' failed: %v.", src, err)
}

// internalAuth mints an access token for the server-side copy, acting as
// the caller (so the audit log names them) with the given actions.
func (dp *DataPlane) internalAuth(reg auth.Registry, caller arm.Caller, repo, actions string, more ...string) authn.Authenticator {
	var grants []auth.Access
	acts := strings.Split(actions, ",")
	for _, r := range append([]string{repo}, more...) {
		if r != "" {
			grants = append(grants, auth.Access{Type: "repository", Name: r, Actions: acts})
		}
	}
	tok, _, err := dp.tokens.IssueAccessToken(reg, auth.Identity{Kind: "principal", PrincipalID: caller.ObjectID, Name: caller.Name}, grants)
	if err != nil {
		return authn.Anonymous
	}
	return &authn.Bearer{Token: tok}
}
