package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
)

// podDir is where a pod's volumes live on the node.
func (p *Provider) podDir(pod *corev1.Pod) string {
	return filepath.Join(p.cfg.Dir, "pods", string(pod.UID))
}

// prepareVolumes materialises the pod's volumes on the node and returns
// each one's host path. Supported: emptyDir, hostPath, configMap, secret,
// downwardAPI and projected (service account tokens, config maps, secrets,
// downward API) — what ordinary workloads and the service-account
// admission controller use.
func (p *Provider) prepareVolumes(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(p.podDir(pod), "volumes", v.Name)
		var files map[string]volumeFile
		var err error
		switch {
		case v.EmptyDir != nil:
			err = os.MkdirAll(dir, 0o777)
		case v.HostPath != nil:
			dir = nodeHostPath(p.cfg.Dir, v.HostPath.Path)
			if t := v.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
				err = os.MkdirAll(dir, 0o755)
			}
		case v.ConfigMap != nil:
			files, err = p.configMapFiles(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, v.ConfigMap.DefaultMode)
		case v.Secret != nil:
			files, err = p.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, v.Secret.DefaultMode)
		case v.DownwardAPI != nil:
			files, err = downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		case v.Projected != nil:
			files, err = p.projectedFiles(ctx, pod, v.Projected)
		default:
			return nil, fmt.Errorf("volume %q: this volume type is not supported on drydock nodes (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected)", v.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %v", v.Name, err)
		}
		if files != nil {
			if err := writeVolume(dir, files); err != nil {
				return nil, fmt.Errorf("volume %q: %v", v.Name, err)
			}
		}
		out[v.Name] = dir
	}
	return out, nil
}

// etcKubernetes is where an AKS node keeps azure.json and the kubelet's
// files; pods (az aks check-acr's canipull) mount it with hostPath.
const etcKubernetes = "/etc/kubernetes"

// nodeHostPath is the host path that a pod's hostPath volume of path
// shows on the node in nodeDir: /etc/kubernetes and what is below it are
// the node's own (agentconfig.EtcKubernetesDir of its directory), since
// the nodes of drydock share one machine whose /etc/kubernetes is none of
// theirs; every other path is the machine's.
func nodeHostPath(nodeDir, path string) string {
	clean := filepath.Clean(path)
	if rest, ok := strings.CutPrefix(clean, etcKubernetes); ok && (rest == "" || rest[0] == '/') {
		return filepath.Join(agentconfig.EtcKubernetes(nodeDir), rest)
	}
	return path
}

type volumeFile struct {
	data []byte
	mode os.FileMode
}

func fileMode(item, def *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return 0o644
}

func pickKeys(data map[string][]byte, items []corev1.KeyToPath, def *int32) (map[string]volumeFile, error) {
	out := map[string]volumeFile{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = volumeFile{v, fileMode(nil, def)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("key %q not found", it.Key)
		}
		out[it.Path] = volumeFile{v, fileMode(it.Mode, def)}
	}
	return out, nil
}

func (p *Provider) configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, def *int32) (map[string]volumeFile, error) {
	cm, err := p.kube.node.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return map[string]volumeFile{}, nil
		}
		return nil, fmt.Errorf("configmap %q: %v", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return pickKeys(data, items, def)
}

func (p *Provider) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, def *int32) (map[string]volumeFile, error) {
	sec, err := p.kube.node.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return map[string]volumeFile{}, nil
		}
		return nil, fmt.Errorf("secret %q: %v", name, err)
	}
	return pickKeys(sec.Data, items, def)
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def *int32) (map[string]volumeFile, error) {
	out := map[string]volumeFile{}
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, fmt.Errorf("downward API item %q: only fieldRef is supported", it.Path)
		}
		v, err := fieldValue(pod, it.FieldRef.FieldPath)
		if err != nil {
			return nil, err
		}
		out[it.Path] = volumeFile{[]byte(v), fileMode(it.Mode, def)}
	}
	return out, nil
}

func fieldValue(pod *corev1.Pod, field string) (string, error) {
	switch field {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	}
	return "", fmt.Errorf("unsupported field %q", field)
}

func formatMap(m map[string]string) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=" + strconv.Quote(v) + "\n")
	}
	return b.String()
}

func (p *Provider) projectedFiles(ctx context.Context, pod *corev1.Pod, v *corev1.ProjectedVolumeSource) (map[string]volumeFile, error) {
	out := map[string]volumeFile{}
	merge := func(files map[string]volumeFile, err error) error {
		if err != nil {
			return err
		}
		for k, f := range files {
			out[k] = f
		}
		return nil
	}
	for _, src := range v.Sources {
		var err error
		switch {
		case src.ServiceAccountToken != nil:
			err = merge(p.serviceAccountToken(ctx, pod, src.ServiceAccountToken, v.DefaultMode))
		case src.ConfigMap != nil:
			err = merge(p.configMapFiles(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, v.DefaultMode))
		case src.Secret != nil:
			err = merge(p.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, v.DefaultMode))
		case src.DownwardAPI != nil:
			err = merge(downwardFiles(pod, src.DownwardAPI.Items, v.DefaultMode))
		default:
			err = fmt.Errorf("unsupported projected source")
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// serviceAccountToken asks the API server for a token bound to the pod,
// as the kubelet does for projected service account tokens.
func (p *Provider) serviceAccountToken(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection, def *int32) (map[string]volumeFile, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	tok, err := p.kube.node.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("service account token for %q: %v", sa, err)
	}
	return map[string]volumeFile{src.Path: {[]byte(tok.Status.Token), fileMode(nil, def)}}, nil
}

// writeVolume replaces dir's files with files.
func writeVolume(dir string, files map[string]volumeFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, f := range files {
		clean := filepath.Clean("/" + name)[1:]
		if clean == "" {
			return fmt.Errorf("invalid path %q", name)
		}
		p := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(tmp, f.mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	return nil
}

// mounts returns a container's CRI mounts.
func mounts(c *corev1.Container, vols map[string]string) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	for _, m := range c.VolumeMounts {
		host, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("container %q mounts volume %q, which the pod does not define", c.Name, m.Name)
		}
		if m.SubPath != "" {
			sub := filepath.Clean("/" + m.SubPath)[1:]
			host = filepath.Join(host, sub)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				if err := os.MkdirAll(host, 0o755); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: m.ReadOnly, SelinuxRelabel: false})
	}
	return out, nil
}
