package nodeagent

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerID returns the runtime ID of a pod's container (the previous
// instance with previous).
func (p *Provider) containerID(ctx context.Context, namespace, podName, container string, previous bool) (string, error) {
	w, err := p.worker(namespace, podName)
	if err != nil {
		return "", err
	}
	pod := w.snapshot()
	if container == "" && len(pod.Spec.Containers) == 1 {
		container = pod.Spec.Containers[0].Name
	}
	list, err := p.rt.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{labelPodUID: string(pod.UID), labelContainerName: container},
	}})
	if err != nil {
		return "", err
	}
	var newest, prev *runtimeapi.Container
	for _, c := range list.Containers {
		switch {
		case newest == nil || c.GetMetadata().GetAttempt() > newest.GetMetadata().GetAttempt():
			prev, newest = newest, c
		case prev == nil || c.GetMetadata().GetAttempt() > prev.GetMetadata().GetAttempt():
			prev = c
		}
	}
	pick := newest
	if previous {
		pick = prev
	}
	if pick == nil {
		if previous {
			return "", errdefs.NotFoundf("previous terminated container %q in pod %q not found", container, podName)
		}
		return "", errdefs.NotFoundf("container %q in pod %q is waiting to start", container, podName)
	}
	return pick.Id, nil
}

// GetContainerLogs serves `kubectl logs` from the CRI log file.
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	id, err := p.containerID(ctx, namespace, podName, containerName, opts.Previous)
	if err != nil {
		return nil, err
	}
	st, err := p.rt.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return nil, err
	}
	path := st.GetStatus().GetLogPath()
	if path == "" {
		return nil, errdefs.NotFoundf("container %q has no log", containerName)
	}
	since := time.Time{}
	if opts.SinceSeconds > 0 {
		since = time.Now().Add(-time.Duration(opts.SinceSeconds) * time.Second)
	}
	if !opts.SinceTime.IsZero() {
		since = opts.SinceTime
	}
	lo := logOptions{tail: opts.Tail, limit: int64(opts.LimitBytes), timestamps: opts.Timestamps, since: since, follow: opts.Follow}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(p.copyLog(ctx, path, id, lo, pw))
	}()
	return pr, nil
}

type logOptions struct {
	tail       int
	limit      int64
	timestamps bool
	since      time.Time
	follow     bool
}

// copyLog writes the log's messages (CRI format: "<RFC3339Nano> <stream>
// <P|F> <message>") to out, following the file while the container runs
// if asked.
func (p *Provider) copyLog(ctx context.Context, path, id string, o logOptions, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var lines [][]byte
	r := bufio.NewReader(f)
	written := int64(0)
	emit := func(line []byte) error {
		ts, msg, ok := parseCRILog(line)
		if !ok || (!o.since.IsZero() && ts.Before(o.since)) {
			return nil
		}
		if o.timestamps {
			msg = append([]byte(ts.Format(time.RFC3339Nano)+" "), msg...)
		}
		if o.limit > 0 && written+int64(len(msg)) > o.limit {
			msg = msg[:o.limit-written]
		}
		n, err := out.Write(msg)
		written += int64(n)
		if o.limit > 0 && written >= o.limit {
			return io.EOF
		}
		return err
	}
	// What is in the file now.
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			lines = append(lines, line)
			if o.tail <= 0 && len(lines) > 0 {
				for _, l := range lines {
					if e := emit(l); e != nil {
						return ignoreEOF(e)
					}
				}
				lines = lines[:0]
			} else if len(lines) > o.tail {
				lines = lines[1:]
			}
		} else if len(line) > 0 {
			// A partial last line: read it again when following.
			f.Seek(-int64(len(line)), io.SeekCurrent)
			r.Reset(f)
		}
		if err != nil {
			break
		}
	}
	for _, l := range lines {
		if e := emit(l); e != nil {
			return ignoreEOF(e)
		}
	}
	if !o.follow {
		return nil
	}
	for {
		line, err := r.ReadBytes('\n')
		if err == nil {
			if e := emit(line); e != nil {
				return ignoreEOF(e)
			}
			continue
		}
		if len(line) > 0 {
			f.Seek(-int64(len(line)), io.SeekCurrent)
			r.Reset(f)
		}
		st, serr := p.rt.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if serr != nil || st.GetStatus().GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ignoreEOF(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// parseCRILog splits a CRI log line. Partial ("P") lines come without
// their newline, as the runtime split them.
func parseCRILog(line []byte) (time.Time, []byte, bool) {
	parts := bytes.SplitN(line, []byte(" "), 4)
	if len(parts) != 4 {
		return time.Time{}, nil, false
	}
	ts, err := time.Parse(time.RFC3339Nano, string(parts[0]))
	if err != nil {
		return time.Time{}, nil, false
	}
	msg := parts[3]
	if string(parts[2]) == "P" {
		msg = bytes.TrimSuffix(msg, []byte("\n"))
	}
	return ts, msg, true
}

// RunInContainer serves `kubectl exec` through the runtime's streaming
// server, as the kubelet does.
func (p *Provider) RunInContainer(ctx context.Context, namespace, podName, containerName string, cmd []string, attach api.AttachIO) error {
	id, err := p.containerID(ctx, namespace, podName, containerName, false)
	if err != nil {
		return err
	}
	resp, err := p.rt.rs.Exec(ctx, &runtimeapi.ExecRequest{
		ContainerId: id, Cmd: cmd, Tty: attach.TTY(),
		Stdin: attach.Stdin() != nil, Stdout: attach.Stdout() != nil, Stderr: attach.Stderr() != nil && !attach.TTY(),
	})
	if err != nil {
		return err
	}
	return stream(ctx, resp.Url, attach)
}

// AttachToContainer serves `kubectl attach`.
func (p *Provider) AttachToContainer(ctx context.Context, namespace, podName, containerName string, attach api.AttachIO) error {
	id, err := p.containerID(ctx, namespace, podName, containerName, false)
	if err != nil {
		return err
	}
	resp, err := p.rt.rs.Attach(ctx, &runtimeapi.AttachRequest{
		ContainerId: id, Tty: attach.TTY(),
		Stdin: attach.Stdin() != nil, Stdout: attach.Stdout() != nil, Stderr: attach.Stderr() != nil && !attach.TTY(),
	})
	if err != nil {
		return err
	}
	return stream(ctx, resp.Url, attach)
}

// stream connects attach to a CRI streaming URL.
func stream(ctx context.Context, rawURL string, attach api.AttachIO) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", u)
	if err != nil {
		return err
	}
	opts := remotecommand.StreamOptions{Tty: attach.TTY()}
	if attach.Stdin() != nil {
		opts.Stdin = attach.Stdin()
	}
	if attach.Stdout() != nil {
		opts.Stdout = attach.Stdout()
	}
	if attach.Stderr() != nil && !attach.TTY() {
		opts.Stderr = attach.Stderr()
	}
	if attach.TTY() && attach.Resize() != nil {
		opts.TerminalSizeQueue = sizeQueue(attach.Resize())
	}
	return exec.StreamWithContext(ctx, opts)
}

type sizeQueue <-chan api.TermSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &remotecommand.TerminalSize{Width: s.Width, Height: s.Height}
}

// PortForward serves `kubectl port-forward`: it connects to the port on
// the pod's IP, which the node reaches through the pod bridge.
func (p *Provider) PortForward(ctx context.Context, namespace, podName string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	w, err := p.worker(namespace, podName)
	if err != nil {
		return err
	}
	ip := w.snapshot().Status.PodIP
	if ip == "" {
		return fmt.Errorf("pod %s/%s has no IP address yet", namespace, podName)
	}
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("error forwarding port %d to pod %s: %v", port, podName, err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(conn, stream); conn.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(stream, conn); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}
