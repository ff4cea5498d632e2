package cluster

import (
	"bytes"
	"net/http"
	"os"
	"strings"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/cluster/agentconfig"
	"github.com/drydock-dev/drydock/internal/cluster/checkacr"
)

// checkAcr (drydock's own action, behind `aks check-acr`) runs the
// canipull-style checks from one of the cluster's nodes: with that node's
// host credential and the kubelet identity, as a pull would.
func (p *Provider) checkAcr(r *arm.Request) (int, any, error) {
	if err := p.kit.Authorize(r, clusterType+"/listClusterUserCredential/action"); err != nil {
		return 0, nil, err
	}
	var b struct {
		ACR        string `json:"acr"`
		NodeName   string `json:"nodeName"`
		Repository string `json:"repository"`
	}
	if err := arm.Decode(r, &b); err != nil {
		return 0, nil, err
	}
	if b.ACR == "" {
		return 0, nil, arm.BadRequest("InvalidParameter", "The request must name the registry's login server in 'acr'.")
	}
	if _, _, err := p.load(r.Context(), r.ID.String()); err != nil {
		return 0, nil, err
	}
	st, err := p.viewState(r.Context(), r.ID.String())
	if err != nil {
		return 0, nil, err
	}
	var node *Node
	for i := range st.Nodes {
		if b.NodeName == "" || strings.EqualFold(st.Nodes[i].Name, b.NodeName) {
			node = &st.Nodes[i]
			break
		}
	}
	if node == nil {
		if b.NodeName != "" {
			return 0, nil, arm.BadRequest("InvalidParameter", "The cluster has no node named '%s'.", b.NodeName)
		}
		return 0, nil, arm.BadRequest("InvalidParameter", "The cluster has no nodes to check from; add one with 'az aks nodepool scale'.")
	}
	if _, err := os.Stat(agentconfig.AzureJSON(node.Dir)); err != nil && p.leases != nil {
		return 0, nil, arm.Errorf(http.StatusConflict, "NodeNotOnThisReplica",
			"The nodes of %s run on another replica of this drydock set; run the check again (the load balancer may send it to that replica), or ask that replica directly.", r.ID.Name())
	}
	if err := upgradeNodeFiles(node.Dir, r.ID); err != nil {
		p.log.Warn("giving a node its /etc/kubernetes", "node", node.Name, "err", err)
	}
	var out bytes.Buffer
	res := checkacr.Run(r.Context(), checkacr.Params{
		AzureJSON: agentconfig.AzureJSON(node.Dir), LoginServer: b.ACR, Repository: b.Repository,
		ClusterName: r.ID.Name(), ResourceGroup: r.ID.ResourceGroup,
	}, &out)
	return http.StatusOK, map[string]any{"output": out.String(), "succeeded": res.OK, "exitCode": res.ExitCode, "nodeName": node.Name}, nil
}
