package nodeagent

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/pki"
)

// Files of the control plane's data directory the agent reads.
const (
	clusterPKIDir   = "pki"
	adminKubeconfig = "admin.kubeconfig"
)

// nodeAgentRole lets nodes list and watch what virtual-kubelet's informers
// need to resolve pods' environment (config maps, secrets, services). A
// kubelet gets these one object at a time through the Node authorizer;
// the informers list them, so the agents need this on top.
const nodeAgentRole = "drydock:node-agent"

// kubeClients are the agent's identities: the node's own (system:node:<name>
// in system:nodes, as a kubelet), and the cluster admin, used only to set
// up nodeAgentRole.
type kubeClients struct {
	node      kubernetes.Interface
	nodeREST  *rest.Config
	admin     kubernetes.Interface
	serving   tls.Certificate
	clusterCA *pki.CA
}

func newKubeClients(cfg *agentconfig.Node) (*kubeClients, error) {
	ca, err := pki.LoadOrCreateCA(filepath.Join(cfg.ControlPlaneDir, clusterPKIDir), "ca")
	if err != nil {
		return nil, fmt.Errorf("reading the cluster CA: %v", err)
	}
	certPEM, keyPEM, err := ca.IssueClient("system:node:"+cfg.Name, []string{"system:nodes"}, 0)
	if err != nil {
		return nil, err
	}
	serving, err := ca.IssueServer(cfg.Name, []string{cfg.Name, "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	nodeREST := &rest.Config{
		Host:            cfg.APIServer,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertData: certPEM, KeyData: keyPEM},
		UserAgent:       "drydock-node/" + cfg.Name,
		QPS:             50, Burst: 100,
	}
	node, err := kubernetes.NewForConfig(nodeREST)
	if err != nil {
		return nil, err
	}
	adminREST, err := clientcmd.BuildConfigFromFlags("", filepath.Join(cfg.ControlPlaneDir, adminKubeconfig))
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's admin kubeconfig: %v", err)
	}
	admin, err := kubernetes.NewForConfig(adminREST)
	if err != nil {
		return nil, err
	}
	return &kubeClients{node: node, nodeREST: nodeREST, admin: admin, serving: serving, clusterCA: ca}, nil
}

// ensureRBAC creates nodeAgentRole and binds it to system:nodes, retrying
// while the API server starts.
func (k *kubeClients) ensureRBAC(ctx context.Context) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: nodeAgentRole, Labels: map[string]string{"app.kubernetes.io/managed-by": "drydock"}},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"configmaps", "secrets", "services"}, Verbs: []string{"get", "list", "watch"},
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: nodeAgentRole, Labels: role.Labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: nodeAgentRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:nodes"}},
	}
	var last error
	for attempt := 0; attempt < 60; attempt++ {
		_, err := k.admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			_, err = k.admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("setting up the node's permissions: %v", last)
}

// deleteNode removes the Node object, best effort (the control plane may be
// gone already).
func (k *kubeClients) deleteNode(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	k.admin.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
}
