package nodeagent

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// computeStatus is the pod status the kubelet would report for what the
// worker knows.
func (w *podWorker) computeStatus() corev1.PodStatus {
	pod := w.spec()
	st := corev1.PodStatus{
		HostIP:    "127.0.0.1",
		HostIPs:   []corev1.HostIP{{IP: "127.0.0.1"}},
		StartTime: &w.started,
		QOSClass:  pod.Status.QOSClass,
	}
	if w.podIP != "" {
		st.PodIP = w.podIP
		st.PodIPs = []corev1.PodIP{{IP: w.podIP}}
	}
	initDone := true
	for _, c := range pod.Spec.InitContainers {
		cs := w.containerStatus(pod, c)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			initDone = false
		}
	}
	running, waiting, succeeded, failed, ready := 0, 0, 0, 0, 0
	for _, c := range pod.Spec.Containers {
		cs := w.containerStatus(pod, c)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			succeeded++
		case cs.State.Terminated != nil:
			failed++
		default:
			waiting++
			if cs.LastTerminationState.Terminated != nil {
				running++ // restarting: the pod still runs
			}
		}
		if cs.Ready {
			ready++
		}
	}
	n := len(pod.Spec.Containers)
	initFailed := w.initFailedForGood(pod)
	switch {
	case initFailed:
		st.Phase = corev1.PodFailed
	case n > 0 && succeeded == n:
		st.Phase = corev1.PodSucceeded
	case n > 0 && failed+succeeded == n: // all ended, some failed
		st.Phase = corev1.PodFailed
	case running > 0 || (succeeded > 0 && waiting == 0):
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	now := metav1.Now()
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason}
		if ok {
			c.Status, c.Reason = corev1.ConditionTrue, ""
		}
		// Keep the transition time while the status stays the same.
		c.LastTransitionTime = now
		for _, old := range w.conditionsSeen() {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	allReady := ready == n && n > 0
	notReadyReason := "ContainersNotReady"
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		notReadyReason = "PodCompleted"
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, w.sandboxID != "", ""),
		cond(corev1.PodInitialized, initDone, "ContainersNotInitialized"),
		cond(corev1.PodReady, allReady, notReadyReason),
		cond(corev1.ContainersReady, allReady, notReadyReason),
		cond(corev1.PodScheduled, true, ""),
	}
	if initFailed {
		st.Reason = "InitContainerFailed"
	}
	return st
}

func (w *podWorker) conditionsSeen() []corev1.PodCondition {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status.Conditions
}

// initFailedForGood: an init container failed and will not be retried.
func (w *podWorker) initFailedForGood(pod *corev1.Pod) bool {
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		return false
	}
	for _, c := range pod.Spec.InitContainers {
		if t := w.ctrs[c.Name].state.Terminated; t != nil && t.ExitCode != 0 {
			return true
		}
	}
	return false
}

func (w *podWorker) containerStatus(pod *corev1.Pod, c corev1.Container) corev1.ContainerStatus {
	cs := w.ctrs[c.Name]
	if cs == nil {
		cs = &ctrState{state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
		w.ctrs[c.Name] = cs
	}
	out := corev1.ContainerStatus{
		Name: c.Name, Image: c.Image, ImageID: cs.imageID, State: *cs.state.DeepCopy(), LastTerminationState: *cs.last.DeepCopy(),
		Ready: cs.ready && cs.state.Running != nil, RestartCount: cs.restarts,
	}
	if cs.id != "" {
		out.ContainerID = "containerd://" + cs.id
	}
	started := cs.state.Running != nil && cs.started
	out.Started = &started
	if t := out.State.Terminated; t != nil && t.ContainerID == "" {
		t.ContainerID = out.ContainerID
	}
	return out
}
