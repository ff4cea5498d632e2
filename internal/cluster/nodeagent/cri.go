package nodeagent

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Labels drydock puts on sandboxes and containers, the kubelet's names.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

// cri is the node's container runtime, spoken to as a kubelet does.
type cri struct {
	rs runtimeapi.RuntimeServiceClient
	is runtimeapi.ImageServiceClient
}

// waitReady waits until the runtime reports RuntimeReady; NetworkReady is
// checked per sandbox (containerd reports it once it has read the CNI
// configuration).
func (c *cri) waitReady(ctx context.Context) error {
	var last error
	for i := 0; i < 300; i++ {
		st, err := c.rs.Status(ctx, &runtimeapi.StatusRequest{})
		if err == nil {
			if cond := condition(st.GetStatus(), runtimeapi.RuntimeReady); cond != nil && cond.Status {
				return nil
			}
			err = fmt.Errorf("runtime not ready")
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the container runtime did not become ready: %v", last)
}

func condition(st *runtimeapi.RuntimeStatus, typ string) *runtimeapi.RuntimeCondition {
	for _, c := range st.GetConditions() {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

// removeSandbox stops and removes a sandbox and everything in it.
func (c *cri) removeSandbox(ctx context.Context, id string) error {
	if _, err := c.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		return err
	}
	_, err := c.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	return err
}

// removeAllSandboxes removes every pod of the node.
func (c *cri) removeAllSandboxes(ctx context.Context) error {
	list, err := c.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	var first error
	for _, sb := range list.Items {
		if err := c.removeSandbox(ctx, sb.Id); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sandboxesByUID lists the node's sandboxes, newest first per pod UID.
func (c *cri) sandboxesByUID(ctx context.Context) (map[string][]*runtimeapi.PodSandbox, error) {
	list, err := c.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, err
	}
	out := map[string][]*runtimeapi.PodSandbox{}
	for _, sb := range list.Items {
		uid := sb.GetLabels()[labelPodUID]
		out[uid] = append(out[uid], sb)
	}
	for _, sbs := range out {
		slices.SortFunc(sbs, func(a, b *runtimeapi.PodSandbox) int { return cmp.Compare(b.CreatedAt, a.CreatedAt) })
	}
	return out, nil
}
