package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drydock-dev/drydock/internal/cluster/containerd"
)

// imageError is a failure to get a container's image, with the reason the
// kubelet reports for it.
type imageError struct {
	reason string // ErrImagePull, ErrImageNeverPull, InvalidImageName
	msg    string
}

func (e *imageError) Error() string { return e.msg }

// ensureImage makes the container's image present per its pull policy and
// returns the image reference to create the container from. Pulls go
// through containerd with the credentials the kubelet would pass.
func (p *Provider) ensureImage(ctx context.Context, w *podWorker, pod *corev1.Pod, c corev1.Container) (string, error) {
	if c.Image == "" {
		return "", &imageError{"InvalidImageName", "container " + c.Name + " has no image"}
	}
	policy := c.ImagePullPolicy
	if c.Image == containerd.CanipullImageRef {
		// Its "pull" imports the image of this drydock executable, a no-op
		// when the node has it already: always, so that a node that holds
		// the image of an earlier drydock gets the current one.
		policy = corev1.PullAlways
	}
	if policy != corev1.PullAlways {
		st, err := p.rt.is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: c.Image}})
		if err == nil && st.GetImage() != nil {
			if w != nil {
				w.event(pod, c.Name, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
			}
			return st.GetImage().GetId(), nil
		}
		if policy == corev1.PullNever {
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
			if w != nil {
				w.event(pod, c.Name, corev1.EventTypeWarning, "ErrImageNeverPull", "%s", msg)
			}
			return "", &imageError{"ErrImageNeverPull", msg}
		}
	}
	if w != nil {
		w.event(pod, c.Name, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	}
	start := time.Now()
	ref, err := p.pull(ctx, pod, c.Image)
	if err != nil {
		if w != nil && ctx.Err() == nil {
			w.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		}
		return "", &imageError{"ErrImagePull", err.Error()}
	}
	if w != nil {
		size := uint64(0)
		if st, err := p.rt.is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err == nil && st.GetImage() != nil {
			size = st.GetImage().GetSize()
		}
		d := time.Since(start).Round(time.Millisecond)
		w.event(pod, c.Name, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.", c.Image, d, d, size)
	}
	return ref, nil
}

// pull pulls image with each set of credentials in turn, as the kubelet
// does, or anonymously when there are none. The canipull image is not
// pulled: it is built here and imported (importCanipull).
func (p *Provider) pull(ctx context.Context, pod *corev1.Pod, image string) (string, error) {
	if image == containerd.CanipullImageRef {
		return p.importCanipull(ctx)
	}
	auths, credErr := p.creds.lookup(ctx, pod, image)
	if credErr != nil {
		// The kubelet logs a failing provider and pulls without it.
		p.log.Warn("getting registry credentials", "image", image, "err", credErr)
	}
	if len(auths) == 0 {
		auths = []authConfig{{}}
	}
	var errs []error
	for _, a := range auths {
		req := &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}}
		if a.Username != "" || a.Password != "" {
			req.Auth = &runtimeapi.AuthConfig{Username: a.Username, Password: a.Password}
		}
		resp, err := p.rt.is.PullImage(ctx, req)
		if err == nil {
			return resp.ImageRef, nil
		}
		errs = append(errs, err)
	}
	return "", aggregate(errs)
}

// aggregate formats several errors as the kubelet's aggregate error does:
// one alone as itself, more as "[e1, e2]".
func aggregate(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New("[" + strings.Join(msgs, ", ") + "]")
}

// selfExe is the executable the canipull image holds: the one this agent
// runs, even if its path was replaced by a newer build since.
const selfExe = "/proc/self/exe"

// importCanipull gives the node containerd.CanipullImageRef, as the pull
// of that image: the image of this drydock executable, imported into the
// node's containerd unless it is there already (the first pod that needs
// it on a node waits for the import; later pods find it there). The
// layer's digest is computed once per executable, for all nodes, in the
// node config's ImageCacheDir. It returns the image's ID, as a pull does.
func (p *Provider) importCanipull(ctx context.Context) (string, error) {
	start := time.Now()
	img, err := containerd.NewCanipullImage(selfExe, p.cfg.ImageCacheDir)
	if err != nil {
		return "", err
	}
	built := time.Since(start)
	imported, err := p.runtime.ImportCanipullImage(ctx, img)
	if err != nil {
		return "", fmt.Errorf("importing drydock's %s: %w", containerd.CanipullImageRef, err)
	}
	if imported {
		p.log.Info("imported the canipull image", "image", containerd.CanipullImageRef, "digest", img.Manifest.Digest,
			"layerBytes", img.Size(), "digestCached", img.Cached, "build", built.Round(time.Millisecond), "took", time.Since(start).Round(time.Millisecond))
	}
	st, err := p.rt.is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: containerd.CanipullImageRef}})
	if err != nil || st.GetImage() == nil {
		return "", fmt.Errorf("%s was imported, but the runtime does not list it: %v", containerd.CanipullImageRef, err)
	}
	return st.GetImage().GetId(), nil
}
