package controlplane

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/drydock-dev/drydock/internal/atomicfile"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drydock-dev/drydock/internal/pki"
)

// Files in the data directory.
const (
	PKIDir          = "pki"
	CACertFile      = "pki/ca.crt" // the cluster CA: trust it to reach the apiserver
	AdminKubeconfig = "admin.kubeconfig"
	UserKubeconfig  = "user.kubeconfig"
	StateDB         = "state.db"
	LogFile         = "controlplane.log"
)

// AKS's names for the local accounts' credentials.
const (
	masterClientCN = "masterclient"
	mastersGroup   = "system:masters"
)

// renewClientBefore is how close to expiry a client certificate is re-issued
// at start.
const renewClientBefore = 30 * 24 * time.Hour

// certs are the paths of everything in pki/ the components read.
type certs struct {
	dir                            string
	caCert, caKey                  string
	frontProxyCACert               string
	saKey, saPub                   string
	apiserverCert, apiserverKey    string
	kubeletClientCert, kubeletKey  string
	frontProxyCert, frontProxyKey  string
	controllerManagerKubeconfig    string
	schedulerKubeconfig            string
	masterClientCert, masterClient string // cert, key
}

// ensurePKI creates what is missing in pki/ (CAs, keys, certificates),
// re-issues certificates that expire soon or lack a name, and writes the
// kubeconfigs.
func ensurePKI(s *settings) (*certs, error) {
	dir := s.path(PKIDir)
	c := &certs{
		dir:                         dir,
		caCert:                      filepath.Join(dir, pki.CACertFile),
		caKey:                       filepath.Join(dir, pki.CAKeyFile),
		frontProxyCACert:            filepath.Join(dir, "front-proxy", pki.CACertFile),
		saKey:                       filepath.Join(dir, "sa.key"),
		saPub:                       filepath.Join(dir, "sa.pub"),
		apiserverCert:               filepath.Join(dir, "apiserver.crt"),
		apiserverKey:                filepath.Join(dir, "apiserver.key"),
		kubeletClientCert:           filepath.Join(dir, "apiserver-kubelet-client.crt"),
		kubeletKey:                  filepath.Join(dir, "apiserver-kubelet-client.key"),
		frontProxyCert:              filepath.Join(dir, "front-proxy-client.crt"),
		frontProxyKey:               filepath.Join(dir, "front-proxy-client.key"),
		controllerManagerKubeconfig: filepath.Join(dir, "controller-manager.kubeconfig"),
		schedulerKubeconfig:         filepath.Join(dir, "scheduler.kubeconfig"),
		masterClientCert:            filepath.Join(dir, "masterclient.crt"),
		masterClient:                filepath.Join(dir, "masterclient.key"),
	}
	ca, err := pki.LoadOrCreateCA(dir, "ca")
	if err != nil {
		return nil, err
	}
	frontProxyCA, err := pki.LoadOrCreateCA(filepath.Dir(c.frontProxyCACert), "front-proxy-ca")
	if err != nil {
		return nil, err
	}
	if err := ensureServiceAccountKey(c.saKey, c.saPub); err != nil {
		return nil, err
	}

	dnsNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", s.FQDN}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), s.apiServerIP}
	if !s.bindIP.IsUnspecified() {
		ips = append(ips, s.bindIP)
	}
	if _, err := ca.LoadOrIssueServer(c.apiserverCert, c.apiserverKey, "kube-apiserver", dnsNames, ips); err != nil {
		return nil, err
	}

	type client struct {
		ca         *pki.CA
		cert, key  string
		cn         string
		orgs       []string
		kubeconfig string // written referring to cert and key, if set
	}
	cmCert, cmKey := filepath.Join(dir, "controller-manager.crt"), filepath.Join(dir, "controller-manager.key")
	schedCert, schedKey := filepath.Join(dir, "scheduler.crt"), filepath.Join(dir, "scheduler.key")
	for _, cl := range []client{
		{ca: ca, cert: c.kubeletClientCert, key: c.kubeletKey, cn: "kube-apiserver-kubelet-client", orgs: []string{mastersGroup}},
		{ca: frontProxyCA, cert: c.frontProxyCert, key: c.frontProxyKey, cn: "front-proxy-client"},
		{ca: ca, cert: cmCert, key: cmKey, cn: "system:kube-controller-manager", kubeconfig: c.controllerManagerKubeconfig},
		{ca: ca, cert: schedCert, key: schedKey, cn: "system:kube-scheduler", kubeconfig: c.schedulerKubeconfig},
		{ca: ca, cert: c.masterClientCert, key: c.masterClient, cn: masterClientCN, orgs: []string{mastersGroup}},
	} {
		if err := loadOrIssueClient(cl.ca, cl.cert, cl.key, cl.cn, cl.orgs); err != nil {
			return nil, err
		}
		if cl.kubeconfig != "" {
			kc := kubeconfig(s.Name, s.serverURL(), c.caCert, cl.cn)
			kc.AuthInfos[cl.cn] = &clientcmdapi.AuthInfo{ClientCertificate: cl.cert, ClientKey: cl.key}
			kc.Clusters[s.Name].CertificateAuthority = c.caCert
			if err := writeKubeconfig(cl.kubeconfig, kc); err != nil {
				return nil, err
			}
		}
	}

	// The local accounts: both hold the masterclient certificate, as on AKS.
	certPEM, err := os.ReadFile(c.masterClientCert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(c.masterClient)
	if err != nil {
		return nil, err
	}
	for file, user := range map[string]string{
		AdminKubeconfig: "clusterAdmin_" + s.Name,
		UserKubeconfig:  "clusterUser_" + s.Name,
	} {
		kc := kubeconfig(s.Name, s.serverURL(), "", user)
		kc.Clusters[s.Name].CertificateAuthorityData = ca.CertPEM
		kc.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
		if err := writeKubeconfig(s.path(file), kc); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// kubeconfig returns a kubeconfig with one cluster, one user and one
// context named after the cluster, without credentials.
func kubeconfig(cluster, server, caFile, user string) *clientcmdapi.Config {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{}
	kc.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: user}
	kc.CurrentContext = cluster
	return kc
}

// writeKubeconfig writes kc (mode 0600) unless the file already holds it.
func writeKubeconfig(path string, kc *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return atomicfile.Write(path, data, 0o600)
}

// ensureServiceAccountKey keeps the RSA key that signs service-account
// tokens (RS256, as AKS) and its public key.
func ensureServiceAccountKey(keyPath, pubPath string) error {
	var key *rsa.PrivateKey
	data, err := os.ReadFile(keyPath)
	switch {
	case err == nil:
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "RSA PRIVATE KEY" {
			return fmt.Errorf("%s holds no RSA private key", keyPath)
		}
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return fmt.Errorf("%s: %w", keyPath, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return err
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
			return err
		}
	default:
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if old, err := os.ReadFile(pubPath); err == nil && bytes.Equal(old, pubPEM) {
		return nil
	}
	return atomicfile.Write(pubPath, pubPEM, 0o644)
}

// loadOrIssueClient keeps a client certificate for cn and orgs signed by ca
// at certPath and keyPath, issuing a new one when it is missing, does not
// match, is not signed by ca or expires within 30 days.
func loadOrIssueClient(ca *pki.CA, certPath, keyPath, cn string, orgs []string) error {
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err == nil && leaf.Subject.CommonName == cn && slices.Equal(leaf.Subject.Organization, orgs) &&
			time.Now().Add(renewClientBefore).Before(leaf.NotAfter) {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				return nil
			}
		}
	}
	certPEM, keyPEM, err := ca.IssueClient(cn, orgs, 0)
	if err != nil {
		return err
	}
	// The key first: if writing the certificate fails, the pair no longer
	// matches and the next start issues again.
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certPath, certPEM, 0o644)
}
