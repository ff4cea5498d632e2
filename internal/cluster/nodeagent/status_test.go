package nodeagent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
}

func exited(code int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func TestPodPhase(t *testing.T) {
	type ctr struct {
		state, last corev1.ContainerState
		ready       bool
	}
	for _, tc := range []struct {
		name      string
		policy    corev1.RestartPolicy
		init      []ctr
		ctrs      []ctr
		phase     corev1.PodPhase
		ready     bool
		reason    string
		initReady bool
	}{
		{name: "creating", policy: corev1.RestartPolicyAlways, ctrs: []ctr{{state: waiting("ContainerCreating")}}, phase: corev1.PodPending, initReady: true},
		{name: "pull refused", policy: corev1.RestartPolicyAlways, ctrs: []ctr{{state: waiting("ImagePullBackOff")}}, phase: corev1.PodPending, initReady: true},
		{name: "running", policy: corev1.RestartPolicyAlways, ctrs: []ctr{{state: running(), ready: true}}, phase: corev1.PodRunning, ready: true, initReady: true},
		{name: "running, not ready", policy: corev1.RestartPolicyAlways, ctrs: []ctr{{state: running()}}, phase: corev1.PodRunning, initReady: true},
		{name: "crash loop", policy: corev1.RestartPolicyAlways, ctrs: []ctr{{state: waiting("CrashLoopBackOff"), last: exited(3)}}, phase: corev1.PodRunning, initReady: true},
		{name: "completed", policy: corev1.RestartPolicyNever, ctrs: []ctr{{state: exited(0)}}, phase: corev1.PodSucceeded, initReady: true},
		{name: "failed", policy: corev1.RestartPolicyNever, ctrs: []ctr{{state: exited(2)}}, phase: corev1.PodFailed, initReady: true},
		{name: "one done, one running", policy: corev1.RestartPolicyNever, ctrs: []ctr{{state: exited(0)}, {state: running(), ready: true}}, phase: corev1.PodRunning, initReady: true},
		{name: "one failed, one done", policy: corev1.RestartPolicyNever, ctrs: []ctr{{state: exited(1)}, {state: exited(0)}}, phase: corev1.PodFailed, initReady: true},
		{name: "initializing", policy: corev1.RestartPolicyAlways, init: []ctr{{state: running()}}, ctrs: []ctr{{state: waiting("PodInitializing")}}, phase: corev1.PodPending},
		{name: "init failed for good", policy: corev1.RestartPolicyNever, init: []ctr{{state: exited(1)}}, ctrs: []ctr{{state: waiting("PodInitializing")}}, phase: corev1.PodFailed, reason: "InitContainerFailed"},
		{name: "init done", policy: corev1.RestartPolicyAlways, init: []ctr{{state: exited(0)}}, ctrs: []ctr{{state: running(), ready: true}}, phase: corev1.PodRunning, ready: true, initReady: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"}, Spec: corev1.PodSpec{RestartPolicy: tc.policy}}
			for i := range tc.init {
				pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: "init" + string(rune('a'+i)), Image: "i"})
			}
			for i := range tc.ctrs {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "c" + string(rune('a'+i)), Image: "i"})
			}
			w := newPodWorker(nil, pod)
			for i, c := range tc.init {
				cs := w.ctrs[pod.Spec.InitContainers[i].Name]
				cs.state, cs.last, cs.ready = c.state, c.last, c.ready
			}
			for i, c := range tc.ctrs {
				cs := w.ctrs[pod.Spec.Containers[i].Name]
				cs.state, cs.last, cs.ready, cs.started = c.state, c.last, c.ready, true
			}
			st := w.computeStatus()
			if st.Phase != tc.phase || st.Reason != tc.reason {
				t.Errorf("phase %s (reason %q), want %s (%q)", st.Phase, st.Reason, tc.phase, tc.reason)
			}
			conds := map[corev1.PodConditionType]corev1.ConditionStatus{}
			for _, c := range st.Conditions {
				conds[c.Type] = c.Status
			}
			if got := conds[corev1.PodReady] == corev1.ConditionTrue; got != tc.ready {
				t.Errorf("Ready %v, want %v", got, tc.ready)
			}
			if got := conds[corev1.PodInitialized] == corev1.ConditionTrue; got != tc.initReady {
				t.Errorf("Initialized %v, want %v", got, tc.initReady)
			}
			if conds[corev1.PodScheduled] != corev1.ConditionTrue {
				t.Error("PodScheduled is not True")
			}
		})
	}
}

func TestContainerResources(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name                  string
		req, lim              corev1.ResourceList
		shares, quota, period int64
		memory                int64
	}{
		{name: "best effort", shares: 2},
		{name: "request only", req: corev1.ResourceList{corev1.ResourceCPU: q("250m")}, shares: 256},
		{name: "limits", req: corev1.ResourceList{corev1.ResourceCPU: q("100m")}, lim: corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("64Mi")},
			shares: 102, quota: 50000, period: 100000, memory: 64 << 20},
		{name: "limit is the request", lim: corev1.ResourceList{corev1.ResourceCPU: q("2")}, shares: 2048, quota: 200000, period: 100000},
		{name: "tiny limit", lim: corev1.ResourceList{corev1.ResourceCPU: q("1m")}, shares: 2, quota: 1000, period: 100000},
	} {
		r := containerResources(corev1.Container{Resources: corev1.ResourceRequirements{Requests: tc.req, Limits: tc.lim}})
		if r.CpuShares != tc.shares || r.CpuQuota != tc.quota || r.CpuPeriod != tc.period || r.MemoryLimitInBytes != tc.memory {
			t.Errorf("%s: shares %d quota %d period %d memory %d; want %d %d %d %d", tc.name,
				r.CpuShares, r.CpuQuota, r.CpuPeriod, r.MemoryLimitInBytes, tc.shares, tc.quota, tc.period, tc.memory)
		}
	}
}
