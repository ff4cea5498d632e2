package nodeagent

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// probeState tracks a running container's readiness, liveness and startup
// probes.
type probeState struct {
	nextReady, nextLive time.Time
	readyOK, readyFail  int32
	liveFail            int32
	startupOK           bool
	nextStartup         time.Time
	startupFail         int32
}

// probe runs the container's probes that are due, as the kubelet's prober
// does: startup first, then liveness (a failure restarts the container)
// and readiness (which gates Ready).
func (w *podWorker) probe(pod *corev1.Pod, c corev1.Container, cs *ctrState) {
	now := time.Now()
	started := cs.state.Running.StartedAt.Time
	ps := &cs.probes
	if sp := c.StartupProbe; sp != nil && !ps.startupOK {
		if due(now, started, sp, &ps.nextStartup) {
			if err := w.runProbe(pod, c, cs, sp); err == nil {
				ps.startupOK = true
			} else if ps.startupFail++; ps.startupFail >= threshold(sp.FailureThreshold, 3) {
				w.event(pod, c.Name, corev1.EventTypeWarning, "Unhealthy", "Startup probe failed: %v", err)
				w.kill(pod, c, cs, "failed startup probe")
			}
		}
		cs.ready = false
		return
	}
	if lp := c.LivenessProbe; lp != nil && due(now, started, lp, &ps.nextLive) {
		if err := w.runProbe(pod, c, cs, lp); err != nil {
			ps.liveFail++
			w.event(pod, c.Name, corev1.EventTypeWarning, "Unhealthy", "Liveness probe failed: %v", err)
			if ps.liveFail >= threshold(lp.FailureThreshold, 3) {
				w.kill(pod, c, cs, "failed liveness probe")
				return
			}
		} else {
			ps.liveFail = 0
		}
	}
	rp := c.ReadinessProbe
	if rp == nil {
		cs.ready = true
		return
	}
	if !due(now, started, rp, &ps.nextReady) {
		return
	}
	if err := w.runProbe(pod, c, cs, rp); err != nil {
		ps.readyOK = 0
		if ps.readyFail++; ps.readyFail >= threshold(rp.FailureThreshold, 3) || !cs.ready {
			if cs.ready || ps.readyFail == 1 {
				w.event(pod, c.Name, corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: %v", err)
			}
			cs.ready = false
		}
		return
	}
	ps.readyFail = 0
	if ps.readyOK++; ps.readyOK >= threshold(rp.SuccessThreshold, 1) {
		cs.ready = true
	}
}

func threshold(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// due reports whether a probe should run now, and schedules the next run.
func due(now, started time.Time, p *corev1.Probe, next *time.Time) bool {
	if next.IsZero() {
		*next = started.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
	}
	if now.Before(*next) {
		return false
	}
	*next = now.Add(time.Duration(threshold(p.PeriodSeconds, 10)) * time.Second)
	return true
}

// kill stops a container so that the restart policy restarts it.
func (w *podWorker) kill(pod *corev1.Pod, c corev1.Container, cs *ctrState, why string) {
	w.event(pod, c.Name, corev1.EventTypeNormal, "Killing", "Container %s %s, will be restarted", c.Name, why)
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	w.p.rt.rs.StopContainer(w.ctx, &runtimeapi.StopContainerRequest{ContainerId: cs.id, Timeout: grace})
	cs.ready = false
}

func (w *podWorker) runProbe(pod *corev1.Pod, c corev1.Container, cs *ctrState, p *corev1.Probe) error {
	timeout := time.Duration(threshold(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(w.ctx, timeout)
	defer cancel()
	host := w.podIP
	switch {
	case p.Exec != nil:
		resp, err := w.p.rt.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: cs.id, Cmd: p.Exec.Command, Timeout: int64(timeout / time.Second)})
		if err != nil {
			return err
		}
		if resp.ExitCode != 0 {
			return fmt.Errorf("command %q exited with %d: %s", p.Exec.Command, resp.ExitCode, resp.Stdout)
		}
		return nil
	case p.HTTPGet != nil:
		g := p.HTTPGet
		if g.Host != "" {
			host = g.Host
		}
		port, err := resolvePort(g.Port, c)
		if err != nil {
			return err
		}
		scheme := "http"
		if g.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+g.Path, nil)
		if err != nil {
			return err
		}
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		req.Header.Set("User-Agent", "kube-probe/1.37")
		resp, err := probeClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		if p.TCPSocket.Host != "" {
			host = p.TCPSocket.Host
		}
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return fmt.Errorf("unsupported probe handler")
}

var probeClient = &http.Client{
	// The kubelet does not verify probe targets' certificates either.
	Transport:     &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func resolvePort(p intstr.IntOrString, c corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("port %q not found in container %q", p.StrVal, c.Name)
}
