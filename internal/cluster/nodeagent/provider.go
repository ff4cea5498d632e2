package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/containerd"
)

// Provider runs the pods bound to the node with the node's containerd. It
// implements virtual-kubelet's pod lifecycle (one worker goroutine per
// pod, which drives the runtime and reports status through NotifyPods)
// and the streaming calls behind kubectl logs, exec, attach and
// port-forward.
type Provider struct {
	cfg   *agentconfig.Node
	kube  *kubeClients
	rt    *cri
	creds *credentials
	rec   record.EventRecorder
	log   *slog.Logger
	// runtime imports the images drydock builds for its nodes.
	runtime *containerd.Daemon

	mu      sync.Mutex
	workers map[string]*podWorker // by namespace/name
	notify  func(*corev1.Pod)
}

func podKey(ns, name string) string { return ns + "/" + name }

// CreatePod starts a worker for the pod. A sandbox that survives from an
// earlier run of the agent (same pod UID) is adopted by the worker.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.workers[key]; ok {
		if w.uid() == pod.UID {
			w.update(pod)
			return nil
		}
		// A pod of the same name, recreated: the old one is going away.
		w.remove(0, false)
	}
	w := newPodWorker(p, pod)
	p.workers[key] = w
	go w.run()
	return nil
}

// UpdatePod hands the worker the new spec (only a few fields may change:
// activeDeadlineSeconds, image, tolerations, labels and annotations).
func (p *Provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	w, ok := p.lookup(pod.Namespace, pod.Name)
	if !ok {
		return p.CreatePod(ctx, pod)
	}
	w.update(pod)
	return nil
}

// DeletePod stops the pod's containers within its grace period and
// removes its sandbox; the worker reports the terminal status when done.
func (p *Provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	w, ok := p.lookup(pod.Namespace, pod.Name)
	if !ok {
		return errdefs.NotFoundf("pod %s/%s is not known on this node", pod.Namespace, pod.Name)
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.DeletionGracePeriodSeconds != nil {
		grace = *pod.DeletionGracePeriodSeconds
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	w.remove(time.Duration(grace)*time.Second, pod.DeletionTimestamp != nil)
	return nil
}

// forget drops a worker once its pod is gone.
func (p *Provider) forget(w *podWorker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := podKey(w.namespace, w.name)
	if p.workers[key] == w {
		delete(p.workers, key)
	}
}

// GetPod returns the pod with its current status.
func (p *Provider) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	w, ok := p.lookup(namespace, name)
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not known on this node", namespace, name)
	}
	return w.snapshot(), nil
}

// GetPodStatus returns the pod's current status.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod the node runs.
func (p *Provider) GetPods(ctx context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	ws := make([]*podWorker, 0, len(p.workers))
	for _, w := range p.workers {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.snapshot())
	}
	return out, nil
}

// NotifyPods registers virtual-kubelet's status callback.
func (p *Provider) NotifyPods(ctx context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = cb
	p.mu.Unlock()
}

func (p *Provider) publish(pod *corev1.Pod) {
	p.mu.Lock()
	cb := p.notify
	p.mu.Unlock()
	if cb != nil {
		cb(pod)
	}
}

// lookup returns the worker of pod namespace/name, if this agent runs it.
func (p *Provider) lookup(namespace, name string) (*podWorker, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.workers[podKey(namespace, name)]
	return w, ok
}

func (p *Provider) worker(namespace, name string) (*podWorker, error) {
	w, ok := p.lookup(namespace, name)
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not running on node %s", namespace, name, p.cfg.Name)
	}
	return w, nil
}

// reapOrphans removes sandboxes whose pods this agent no longer runs
// (pods deleted while the agent was down), every period.
func (p *Provider) reapOrphans(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		byUID, err := p.rt.sandboxesByUID(ctx)
		if err != nil {
			continue
		}
		live := map[string]bool{}
		p.mu.Lock()
		for _, w := range p.workers {
			live[string(w.uid())] = true
		}
		p.mu.Unlock()
		for uid, sbs := range byUID {
			if live[uid] {
				continue
			}
			for _, sb := range sbs {
				if time.Since(time.Unix(0, sb.CreatedAt)) < period {
					continue
				}
				if err := p.rt.removeSandbox(ctx, sb.Id); err != nil {
					p.log.Warn("removing an orphaned sandbox", "sandbox", sb.Id, "err", err)
				} else {
					p.log.Info("removed the sandbox of a pod that no longer exists", "pod", fmt.Sprintf("%s/%s", sb.GetMetadata().GetNamespace(), sb.GetMetadata().GetName()))
				}
			}
		}
	}
}

// GetStatsSummary reports the node and its pods without usage figures:
// drydock does not collect container statistics.
func (p *Provider) GetStatsSummary(ctx context.Context) (*statsv1alpha1.Summary, error) {
	pods, _ := p.GetPods(ctx)
	s := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.cfg.Name}}
	for _, pod := range pods {
		s.Pods = append(s.Pods, statsv1alpha1.PodStats{PodRef: statsv1alpha1.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)}})
	}
	return s, nil
}

// GetMetricsResource reports no metrics (see GetStatsSummary).
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}
