package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Back-off of image pulls and container restarts, as the kubelet's: from
// 10 s, doubling, up to 5 min; a container that ran 10 min resets it.
const (
	initialBackoff = 10 * time.Second
	maxBackoff     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
	syncPeriod     = time.Second
	recheckPeriod  = 10 * time.Second
)

// podWorker runs one pod: it owns the pod's sandbox and containers and
// computes the status the kubelet would report.
type podWorker struct {
	p               *Provider
	namespace, name string
	wake            chan struct{}
	ctx             context.Context
	cancel          context.CancelFunc
	started         metav1.Time

	// mu guards the fields virtual-kubelet's goroutines read or set.
	mu                 sync.Mutex
	pod                *corev1.Pod // spec as last given; its status is ignored
	status             corev1.PodStatus
	deleting, finalize bool
	grace              time.Duration
	lastPublished      *corev1.PodStatus

	// The rest belongs to the worker goroutine.
	sandboxID, podIP string
	sandboxAttempt   uint32
	volumes          map[string]string
	ctrs             map[string]*ctrState
	sandboxBackoff   backoff
}

// ctrState is what the worker knows of one container of the pod.
type ctrState struct {
	id        string
	attempt   uint32
	restarts  int32
	imageID   string
	state     corev1.ContainerState
	last      corev1.ContainerState
	ready     bool
	started   bool
	pull      backoff // image pulls
	crash     backoff // restarts
	announced bool    // the current back-off was reported with an event
	pullErr   string
	recheck   time.Time // when to look again for an image that must not be pulled
	probes    probeState
}

// backoff is an exponential back-off with a "not before" time.
type backoff struct {
	period time.Duration
	next   time.Time
}

func (b *backoff) fail(now time.Time) {
	switch {
	case b.period == 0:
		b.period = initialBackoff
	case b.period < maxBackoff:
		b.period *= 2
		if b.period > maxBackoff {
			b.period = maxBackoff
		}
	}
	b.next = now.Add(b.period)
}

func (b *backoff) waiting(now time.Time) bool { return now.Before(b.next) }
func (b *backoff) reset()                     { *b = backoff{} }

func newPodWorker(p *Provider, pod *corev1.Pod) *podWorker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &podWorker{
		p: p, namespace: pod.Namespace, name: pod.Name, pod: pod.DeepCopy(),
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
		started: metav1.Now(), ctrs: map[string]*ctrState{},
	}
	for _, c := range allContainers(pod) {
		w.ctrs[c.Name] = &ctrState{state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	}
	for _, c := range pod.Spec.InitContainers {
		w.ctrs[c.Name].state.Waiting.Reason = "PodInitializing"
	}
	w.status = w.computeStatus()
	return w
}

func allContainers(pod *corev1.Pod) []corev1.Container {
	return append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
}

func (w *podWorker) uid() types.UID {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod.UID
}

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	// Keep the status the worker computes; take everything else.
	st := w.pod.Status
	w.pod = pod.DeepCopy()
	w.pod.Status = st
	w.mu.Unlock()
	w.poke()
}

// remove stops the pod within grace; with finalize, the worker then deletes
// the pod object, as a kubelet does once a deleted pod's containers are
// gone.
func (w *podWorker) remove(grace time.Duration, finalize bool) {
	w.mu.Lock()
	if !w.deleting || grace < w.grace {
		w.grace = grace
	}
	w.deleting = true
	w.finalize = w.finalize || finalize
	w.mu.Unlock()
	// Abandon what the worker is doing (an image pull, say): the pod goes.
	w.cancel()
	w.poke()
}

// snapshot is the pod with its current status.
func (w *podWorker) snapshot() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.pod.DeepCopy()
	pod.Status = *w.status.DeepCopy()
	return pod
}

func (w *podWorker) spec() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod.DeepCopy()
}

// run is the worker's loop.
func (w *podWorker) run() {
	defer w.cancel()
	w.adopt()
	w.publish()
	for {
		w.mu.Lock()
		deleting, grace := w.deleting, w.grace
		w.mu.Unlock()
		if deleting {
			w.teardown(grace)
			w.p.forget(w)
			return
		}
		w.sync()
		w.publish()
		select {
		case <-w.ctx.Done(): // removed: the next round tears down
		case <-w.wake:
		case <-time.After(syncPeriod):
		}
	}
}

// event records an event about the pod, or one of its containers.
func (w *podWorker) event(pod *corev1.Pod, container, typ, reason, format string, args ...any) {
	ref := &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
	}
	if container != "" {
		field := "spec.containers{" + container + "}"
		for _, c := range pod.Spec.InitContainers {
			if c.Name == container {
				field = "spec.initContainers{" + container + "}"
			}
		}
		ref.FieldPath = field
	}
	w.p.rec.Eventf(ref, typ, reason, format, args...)
}

// adopt takes over a sandbox and containers left by an earlier run of the
// agent for this pod.
func (w *podWorker) adopt() {
	pod := w.spec()
	byUID, err := w.p.rt.sandboxesByUID(w.ctx)
	if err != nil {
		return
	}
	sbs := byUID[string(pod.UID)]
	if len(sbs) == 0 {
		return
	}
	sb := sbs[0]
	w.sandboxAttempt = sb.GetMetadata().GetAttempt()
	if sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return
	}
	st, err := w.p.rt.rs.PodSandboxStatus(w.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.Id})
	if err != nil {
		return
	}
	vols, err := w.p.prepareVolumes(w.ctx, pod)
	if err != nil {
		return
	}
	w.volumes = vols
	w.sandboxID, w.podIP = sb.Id, st.GetStatus().GetNetwork().GetIp()
	list, err := w.p.rt.rs.ListContainers(w.ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: sb.Id}})
	if err != nil {
		return
	}
	for _, c := range list.Containers {
		cs, ok := w.ctrs[c.GetMetadata().GetName()]
		if !ok || (cs.id != "" && c.GetMetadata().GetAttempt() < cs.attempt) {
			continue
		}
		cs.id, cs.attempt, cs.restarts, cs.started = c.Id, c.GetMetadata().GetAttempt(), int32(c.GetMetadata().GetAttempt()), true
		cs.imageID = c.ImageRef
	}
	w.p.log.Info("adopted a running pod", "pod", podKey(pod.Namespace, pod.Name))
}

// sync moves the pod one step towards its spec.
func (w *podWorker) sync() {
	pod := w.spec()
	if w.sandboxID == "" {
		if !w.ensureSandbox(pod) {
			return
		}
	}
	// Init containers run one after another, each to success, before the
	// app containers start.
	for _, c := range pod.Spec.InitContainers {
		w.syncContainer(pod, c, true)
		cs := w.ctrs[c.Name]
		if t := cs.state.Terminated; t == nil || t.ExitCode != 0 {
			return
		}
	}
	for _, c := range pod.Spec.Containers {
		w.syncContainer(pod, c, false)
	}
}

// ensureSandbox prepares volumes and runs the pod sandbox (network
// namespace, IP from CNI, pause container).
func (w *podWorker) ensureSandbox(pod *corev1.Pod) bool {
	now := time.Now()
	if w.sandboxBackoff.waiting(now) {
		return false
	}
	if w.volumes == nil {
		vols, err := w.p.prepareVolumes(w.ctx, pod)
		if err != nil {
			w.sandboxBackoff.fail(now)
			w.event(pod, "", corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
			w.setWaitingAll("ContainerCreating", "")
			return false
		}
		w.volumes = vols
	}
	cfg := w.sandboxConfig(pod)
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		w.sandboxBackoff.fail(now)
		return false
	}
	resp, err := w.p.rt.rs.RunPodSandbox(w.ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		w.sandboxBackoff.fail(now)
		w.event(pod, "", corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		return false
	}
	w.sandboxAttempt++
	w.sandboxBackoff.reset()
	st, err := w.p.rt.rs.PodSandboxStatus(w.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: resp.PodSandboxId})
	if err == nil {
		w.podIP = st.GetStatus().GetNetwork().GetIp()
	}
	w.sandboxID = resp.PodSandboxId
	return true
}

func (w *podWorker) logDir(pod *corev1.Pod) string {
	return filepath.Join(w.p.cfg.Dir, "logs", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

func (w *podWorker) sandboxConfig(pod *corev1.Pod) *runtimeapi.PodSandboxConfig {
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if pod.Spec.HostNetwork {
		// The node's own UTS namespace: the runtime can set no hostname
		// there, and the pod sees the node's (as the kubelet leaves it).
		hostname = ""
	}
	labels := map[string]string{labelPodName: pod.Name, labelPodNamespace: pod.Namespace, labelPodUID: string(pod.UID)}
	for k, v := range pod.Labels {
		if _, taken := labels[k]; !taken {
			labels[k] = v
		}
	}
	var ports []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			if p.Protocol == corev1.ProtocolUDP {
				proto = runtimeapi.Protocol_UDP
			}
			ports = append(ports, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP})
		}
	}
	sc := &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = psc.SupplementalGroups
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Uid: string(pod.UID), Namespace: pod.Namespace, Attempt: w.sandboxAttempt},
		Hostname:     hostname,
		LogDirectory: w.logDir(pod),
		PortMappings: ports,
		Labels:       labels,
		Annotations:  pod.Annotations,
		Linux:        &runtimeapi.LinuxPodSandboxConfig{SecurityContext: sc},
	}
}

func (w *podWorker) setWaitingAll(reason, message string) {
	for _, cs := range w.ctrs {
		if cs.id == "" && cs.state.Waiting != nil {
			cs.state.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: message}
		}
	}
}

// syncContainer drives one container: pull its image (with back-off),
// create and start it, watch it, and restart it per the pod's restart
// policy (with back-off).
func (w *podWorker) syncContainer(pod *corev1.Pod, c corev1.Container, init bool) {
	cs := w.ctrs[c.Name]
	now := time.Now()
	if cs.id != "" {
		if !w.observe(pod, c, cs, init) {
			return // running, or finished for good
		}
		// It exited and must restart: wait out the crash back-off.
		if cs.crash.next.IsZero() {
			if t := cs.last.Terminated; t != nil && t.FinishedAt.Sub(t.StartedAt.Time) > backoffReset {
				cs.crash.reset()
			}
			cs.crash.fail(now)
			cs.announced = false
		}
		if cs.crash.waiting(now) {
			cs.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", cs.crash.period, c.Name, pod.Name, pod.Namespace, pod.UID),
			}}
			if !cs.announced {
				cs.announced = true
				w.event(pod, c.Name, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
			}
			return
		}
		cs.crash.next = time.Time{}
		w.removeOld(c.Name, cs.id)
		cs.attempt++
		cs.restarts++
	}
	if now.Before(cs.recheck) {
		return // ErrImageNeverPull or InvalidImageName: no back-off, just a later look
	}
	if cs.pull.waiting(now) {
		cs.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", c.Image, cs.pullErr),
		}}
		if !cs.announced {
			cs.announced = true
			w.event(pod, c.Name, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
			w.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
		}
		return
	}
	imageRef, err := w.p.ensureImage(w.ctx, w, pod, c)
	if err != nil && w.ctx.Err() != nil {
		return // the pod is being removed
	}
	if err != nil {
		reason := "ErrImagePull"
		if ie, ok := err.(*imageError); ok {
			reason = ie.reason
		}
		cs.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}}
		w.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", reason)
		if reason != "ErrImagePull" {
			// Nothing was pulled, so there is nothing to back off from: as
			// the kubelet, keep the reason and look again later.
			cs.recheck = now.Add(recheckPeriod)
			return
		}
		cs.pullErr = err.Error()
		cs.pull.fail(now)
		cs.announced = false
		return
	}
	cs.pull.reset()
	cs.pullErr = ""
	id, err := w.createContainer(pod, c, cs, imageRef)
	if err != nil {
		cs.crash.fail(now)
		cs.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerError", Message: err.Error()}}
		w.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return
	}
	w.event(pod, c.Name, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	if _, err := w.p.rt.rs.StartContainer(w.ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		cs.id = id
		cs.crash.fail(now)
		cs.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: err.Error()}}
		w.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return
	}
	w.event(pod, c.Name, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	cs.id, cs.started = id, true
	cs.probes = probeState{}
	cs.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	cs.ready = !init && c.ReadinessProbe == nil
	if init {
		w.observe(pod, c, cs, true)
	}
}

// observe reads the container's state from the runtime. It returns true
// when the container has exited and must be restarted: per the pod's
// restart policy, except that an init container that succeeded is done.
func (w *podWorker) observe(pod *corev1.Pod, c corev1.Container, cs *ctrState, init bool) bool {
	resp, err := w.p.rt.rs.ContainerStatus(w.ctx, &runtimeapi.ContainerStatusRequest{ContainerId: cs.id})
	if err != nil {
		return false
	}
	st := resp.GetStatus()
	cs.imageID = st.GetImageRef()
	switch st.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		cs.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Unix(0, st.StartedAt)}}
		w.probe(pod, c, cs)
		return false
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		reason := st.Reason
		if reason == "" {
			reason = "Error"
			if st.ExitCode == 0 {
				reason = "Completed"
			}
		}
		term := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: st.ExitCode, Reason: reason, Message: st.Message,
			StartedAt: metav1.Unix(0, st.StartedAt), FinishedAt: metav1.Unix(0, st.FinishedAt), ContainerID: "containerd://" + cs.id,
		}}
		cs.ready = false
		restart := false
		switch pod.Spec.RestartPolicy {
		case corev1.RestartPolicyAlways:
			restart = !init || st.ExitCode != 0
		case corev1.RestartPolicyOnFailure:
			restart = st.ExitCode != 0
		}
		if restart {
			cs.last = term
			return true
		}
		cs.state = term
		return false
	default:
		return false
	}
}

// removeOld removes the exited instances of container name other than
// keep (the one that just exited, which stays for `kubectl logs
// --previous`).
func (w *podWorker) removeOld(name, keep string) {
	list, err := w.p.rt.rs.ListContainers(w.ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		PodSandboxId: w.sandboxID, LabelSelector: map[string]string{labelContainerName: name},
	}})
	if err != nil {
		return
	}
	for _, c := range list.Containers {
		if c.Id != keep && c.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			w.p.rt.rs.RemoveContainer(w.ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id})
		}
	}
}

func (w *podWorker) createContainer(pod *corev1.Pod, c corev1.Container, cs *ctrState, imageRef string) (string, error) {
	mnts, err := mounts(&c, w.volumes)
	if err != nil {
		return "", err
	}
	var envs []*runtimeapi.KeyValue
	for _, e := range c.Env {
		envs = append(envs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	psc := pod.Spec.SecurityContext
	if psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = psc.SupplementalGroups
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
		}
		if csc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
		}
		if csc.Privileged != nil {
			sc.Privileged = *csc.Privileged
		}
		if csc.ReadOnlyRootFilesystem != nil {
			sc.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
		}
		if caps := csc.Capabilities; caps != nil {
			sc.Capabilities = &runtimeapi.Capability{}
			for _, a := range caps.Add {
				sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, string(a))
			}
			for _, d := range caps.Drop {
				sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, string(d))
			}
		}
	}
	logPath := filepath.Join(c.Name, strconv.FormatUint(uint64(cs.attempt), 10)+".log")
	if err := os.MkdirAll(filepath.Join(w.logDir(pod), c.Name), 0o755); err != nil {
		return "", err
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: cs.attempt},
		Image:      &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:    c.Command,
		Args:       c.Args,
		WorkingDir: c.WorkingDir,
		Envs:       envs,
		Mounts:     mnts,
		Labels: map[string]string{
			labelPodName: pod.Name, labelPodNamespace: pod.Namespace, labelPodUID: string(pod.UID), labelContainerName: c.Name,
		},
		Annotations: map[string]string{"io.kubernetes.container.restartCount": strconv.Itoa(int(cs.restarts))},
		LogPath:     logPath,
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux:       &runtimeapi.LinuxContainerConfig{SecurityContext: sc, Resources: containerResources(c)},
	}
	resp, err := w.p.rt.rs.CreateContainer(w.ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: w.sandboxID, Config: cfg, SandboxConfig: w.sandboxConfig(pod),
	})
	if err != nil {
		return "", err
	}
	return resp.ContainerId, nil
}

// teardown stops the pod's containers within grace, removes its sandbox
// and files, and reports the final status.
func (w *podWorker) teardown(grace time.Duration) {
	pod := w.spec()
	ctx := context.Background()
	w.ctx = ctx // the worker's own context was cancelled by remove
	began := time.Now()
	defer func() {
		w.p.log.Info("pod removed", "pod", podKey(pod.Namespace, pod.Name), "grace", grace, "took", time.Since(began).Round(time.Millisecond))
	}()
	var wg sync.WaitGroup
	for _, c := range allContainers(pod) {
		cs := w.ctrs[c.Name]
		if cs.id == "" {
			continue
		}
		if cs.state.Running != nil {
			w.event(pod, c.Name, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.Name)
		}
		wg.Add(1)
		go func(c corev1.Container, cs *ctrState) {
			defer wg.Done()
			w.p.rt.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: cs.id, Timeout: int64(grace / time.Second)})
			w.observe(pod, c, cs, false)
			if cs.state.Terminated == nil {
				if t := cs.last.Terminated; t != nil {
					cs.state = cs.last
				}
			}
		}(c, cs)
	}
	wg.Wait()
	if w.sandboxID != "" {
		if err := w.p.rt.removeSandbox(ctx, w.sandboxID); err != nil {
			w.p.log.Warn("removing a pod's sandbox", "pod", podKey(pod.Namespace, pod.Name), "err", err)
		}
	} else {
		// Nothing ran; a sandbox adopted or half-made may still exist.
		if byUID, err := w.p.rt.sandboxesByUID(ctx); err == nil {
			for _, sb := range byUID[string(pod.UID)] {
				w.p.rt.removeSandbox(ctx, sb.Id)
			}
		}
	}
	os.RemoveAll(w.p.podDir(pod))
	os.RemoveAll(w.logDir(pod))
	now := metav1.Now()
	for _, cs := range w.ctrs {
		if cs.state.Terminated == nil {
			cs.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "ContainerStatusUnknown", Message: "The container was stopped before it could report its status", StartedAt: now, FinishedAt: now,
			}}
			if cs.id == "" {
				cs.state.Terminated.ExitCode, cs.state.Terminated.Reason, cs.state.Terminated.Message = 0, "Completed", ""
			}
		}
		cs.ready = false
	}
	w.sandboxID, w.podIP = "", ""
	w.publish()
	w.mu.Lock()
	finalize := w.finalize
	w.mu.Unlock()
	if finalize {
		zero := int64(0)
		err := w.p.kube.node.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: metav1.NewUIDPreconditions(string(pod.UID)),
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			w.p.log.Warn("deleting a stopped pod", "pod", podKey(pod.Namespace, pod.Name), "err", err)
		}
	}
}

// publish recomputes the status and hands it to virtual-kubelet when it
// changed.
func (w *podWorker) publish() {
	st := w.computeStatus()
	w.mu.Lock()
	w.status = st
	changed := w.lastPublished == nil || !reflect.DeepEqual(*w.lastPublished, st)
	if changed {
		w.lastPublished = st.DeepCopy()
	}
	pod := w.pod.DeepCopy()
	pod.Status = *st.DeepCopy()
	w.mu.Unlock()
	if changed {
		w.p.publish(pod)
	}
}

// containerResources turns requests and limits into cgroup settings the
// way the kubelet does: CPU shares from the request (or the limit), a CFS
// quota from the CPU limit, and the memory limit.
func containerResources(c corev1.Container) *runtimeapi.LinuxContainerResources {
	const period = 100000 // µs, the kernel's default CFS period
	r := &runtimeapi.LinuxContainerResources{CpuShares: 2}
	cpuReq := c.Resources.Requests.Cpu()
	if cpuReq.IsZero() {
		cpuReq = c.Resources.Limits.Cpu()
	}
	if m := cpuReq.MilliValue(); m > 0 {
		r.CpuShares = max(2, m*1024/1000)
	}
	if m := c.Resources.Limits.Cpu().MilliValue(); m > 0 {
		r.CpuPeriod = period
		r.CpuQuota = max(1000, m*period/1000)
	}
	if b := c.Resources.Limits.Memory().Value(); b > 0 {
		r.MemoryLimitInBytes = b
	}
	return r
}
