package e2e

// Replicas: three drydock servers sharing one PostgreSQL database, one
// Azure Blob Storage container (Azurite) and one configuration, behind
// Debian's haproxy for both the API listener and the registry listener,
// all on loopback and started by the test. haproxy passes TLS through
// (mode tcp): the replicas share one CA (kept in the database), so clients
// trust one CA whichever replica answers.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock-dev/drydock/internal/localengine"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob/azuritetest"
	"github.com/drydock-dev/drydock/internal/store/storetest"
)

// replicaSet is TestReplicas' servers and their load balancer.
type replicaSet struct {
	root     string
	env      []string // every replica's configuration
	replicas []*replica
	apiFront string // haproxy's API frontend, host:port
	regFront string // haproxy's registry frontend, host:port
	caPool   *x509.CertPool
	caFile   string
	database string // the PostgreSQL database's URL
}

// replica is one `drydock server` of the set, with its own listeners and
// data directory.
type replica struct {
	*server
	name              string
	listen, regListen string
}

// launchReplica starts (or restarts, on its data directory) a replica and
// waits until it answers /readyz on its own listener.
func (rs *replicaSet) launchReplica(r *replica) error {
	dir := filepath.Join(rs.root, r.name)
	s := &server{dataDir: filepath.Join(dir, "data"), home: filepath.Join(dir, "home"),
		logFile: filepath.Join(dir, fmt.Sprintf("server.log.%d", time.Now().UnixNano()))}
	if r.server != nil {
		s.adminPassword = r.adminPassword
	}
	for _, d := range []string{s.dataDir, s.home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	log, err := os.Create(s.logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	s.cmd = exec.Command(bin, "server", "--data-dir", s.dataDir, "--listen", r.listen)
	s.cmd.Env = baseEnv(s.home, append(rs.env, "DRYDOCK_REGISTRY_LISTEN="+r.regListen)...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	r.server = s
	if err := s.waitReadyAt(func(serverState) string { return "https://" + r.listen }); err != nil {
		s.kill9()
		return fmt.Errorf("replica %s: %w\n%s", r.name, err, s.log())
	}
	return nil
}

// startHAProxy runs haproxy (localengine.HAProxy) with one TCP frontend
// and backend for each listener, round robin over the replicas, checking
// them every 200ms and sending a connection a dead replica refuses to
// another.
func (rs *replicaSet) startHAProxy(t *testing.T, haproxy string) {
	t.Helper()
	h := localengine.HAProxy{Bin: haproxy, Dir: rs.root, Check: "inter 200ms fall 1 rise 1",
		Frontends: []localengine.Frontend{{Name: "api", Bind: rs.apiFront}, {Name: "registry", Bind: rs.regFront}}}
	for _, r := range rs.replicas {
		h.Frontends[0].Servers = append(h.Frontends[0].Servers, r.listen)
		h.Frontends[1].Servers = append(h.Frontends[1].Servers, r.regListen)
	}
	ctx, cancel := context.WithTimeout(t.Context(), readinessTimeout) // a safety net
	defer cancel()
	stop, err := h.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
}

// transport dials addr (a replica's registry listener, or haproxy's
// frontend) whatever the host, trusting the set's CA.
func (rs *replicaSet) transport(addr string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: rs.caPool},
	}
}

// opts are go-containerregistry's options to reach addr as auth, with no
// retries: a request cut by a kill fails.
func (rs *replicaSet) opts(ctx context.Context, addr string, auth authn.Authenticator) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(rs.transport(addr)), remote.WithAuth(auth),
		remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Steps: 1})}
}

// pullTokenStatus asks the replica whose registry listener is addr for a
// pull token for repo as the service principal (Basic credentials), and
// returns the status.
func (rs *replicaSet) pullTokenStatus(ctx context.Context, addr, login, repo string, sp servicePrincipal) (int, error) {
	u := "https://" + login + "/oauth2/token?" + url.Values{"service": {login}, "scope": {"repository:" + repo + ":pull"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(sp.AppID, sp.Password)
	resp, err := (&http.Client{Transport: rs.transport(addr)}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// startReplicaSet starts PostgreSQL, Azurite, three replicas sharing them
// (stopped gracefully, and checked for it, when the test ends) and
// haproxy in front of them.
func startReplicaSet(t *testing.T) *replicaSet {
	t.Helper()
	haproxy, err := localengine.HAProxyPath()
	if err != nil {
		haproxy = needCommand(t, "haproxy", "haproxy")
	}
	pg := storetest.StartPostgres(t)
	blob := azuritetest.Start(t)
	key := make([]byte, 32)
	rand.Read(key)
	rs := &replicaSet{root: t.TempDir()}
	if rs.apiFront, err = freeAddr(); err != nil {
		t.Fatal(err)
	}
	if rs.regFront, err = freeAddr(); err != nil {
		t.Fatal(err)
	}
	_, regPort, _ := net.SplitHostPort(rs.regFront)
	rs.database = pg.NewDatabase(t)
	rs.env = []string{
		"DRYDOCK_DATABASE=" + rs.database,
		"DRYDOCK_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
		"DRYDOCK_PUBLIC_URL=https://" + rs.apiFront,
		"DRYDOCK_REGISTRY_PUBLIC_PORT=" + regPort,
		"DRYDOCK_MANAGE_HOSTS_FILE=false",
		"DRYDOCK_HOSTS_FILE=" + filepath.Join(rs.root, "hosts"),
		"DRYDOCK_REGISTRY_ACCESS_TOKEN_LIFETIME=10s",
		"DRYDOCK_STORAGE_TYPE=azureblob",
		"DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_URL=" + blob.AccountURL,
		"DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_NAME=" + azuritetest.Account,
		"DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_KEY=" + azuritetest.Key,
		"DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER=" + azuritetest.NewContainerName(),
	}
	// The first replica bootstraps the tenant and creates the set's
	// identity; the others join it.
	for i := range 3 {
		r := &replica{name: fmt.Sprintf("r%d", i)}
		if r.listen, err = freeAddr(); err != nil {
			t.Fatal(err)
		}
		if r.regListen, err = freeAddr(); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			r.server = &server{adminPassword: rs.replicas[0].adminPassword}
		}
		if err := rs.launchReplica(r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			pw, err := os.ReadFile(filepath.Join(r.dataDir, "admin-password"))
			if err != nil {
				t.Fatal(err)
			}
			r.adminPassword = strings.TrimSpace(string(pw))
		}
		rs.replicas = append(rs.replicas, r)
		t.Cleanup(func() {
			if err := r.stop(); err != nil {
				t.Error(err)
			}
		})
	}
	rs.caFile = rs.replicas[0].CAFile
	pem, err := os.ReadFile(rs.caFile)
	if err != nil {
		t.Fatal(err)
	}
	rs.caPool = x509.NewCertPool()
	rs.caPool.AppendCertsFromPEM(pem)
	for _, r := range rs.replicas[1:] {
		if other, err := os.ReadFile(r.CAFile); err != nil || string(other) != string(pem) {
			t.Fatalf("replica %s has another CA than r0 (%v)", r.name, err)
		}
	}
	rs.startHAProxy(t, haproxy)
	return rs
}

func TestReplicas(t *testing.T) {
	rs := startReplicaSet(t)
	_, regPort, _ := net.SplitHostPort(rs.regFront)

	// Every client goes through haproxy; the admin's token, issued by
	// whichever replica answered, works on every replica.
	az := rs.replicas[0].admin(t)
	token := az.tsv("account", "get-access-token", "--query", "accessToken")
	sub := az.tsv("account", "show", "--query", "id")
	for _, r := range rs.replicas {
		status, body, err := r.get(t.Context(), "https://"+r.listen+"/subscriptions/"+sub+"?api-version="+apiResources,
			map[string]string{"Authorization": "Bearer " + token})
		if err != nil || status != http.StatusOK {
			t.Fatalf("the admin's token on replica %s: %d %v %s", r.name, status, err, body)
		}
	}
	az.ok("group", "create", "-n", "replicas", "-l", "eastus", "-o", "none")
	az.ok("acr", "create", "-n", "replicasacr", "-g", "replicas", "--sku", "Basic", "-o", "none")
	login, admin := acrAdmin(t, az, "replicasacr")
	if want := "replicasacr.azurecr.io:" + regPort; login != want {
		t.Fatalf("login server %q, want %s (haproxy's port)", login, want)
	}

	t.Run("push through one replica, pull through another", func(t *testing.T) {
		img := blobImage(t, 3, 256<<10)
		ref := mustTag(t, login+"/across/app:v1")
		if err := remote.Write(ref, img, rs.opts(t.Context(), rs.replicas[0].regListen, admin)...); err != nil {
			t.Fatalf("push through r0: %v", err)
		}
		for _, r := range rs.replicas[1:] {
			if err := verifyImage(ref, mustDigest(t, img), rs.opts(t.Context(), r.regListen, admin)); err != nil {
				t.Errorf("pull through %s: %v", r.name, err)
			}
		}
	})

	t.Run("kill -9 a replica during 20 concurrent pushes", func(t *testing.T) { replicaPushes(t, rs, login, admin) })

	t.Run("revoke AcrPull through one replica", func(t *testing.T) {
		acrID := az.tsv("acr", "show", "-n", "replicasacr", "--query", "id")
		sp := createSP(t, az, "replicas-puller", "--role", "AcrPull", "--scopes", acrID)
		ctx := t.Context()
		a, others := rs.replicas[0], rs.replicas[1:]
		// Granted: every replica issues a pull token (poll: the grant
		// reaches them the same way as the revocation).
		for _, r := range others {
			for {
				status, err := rs.pullTokenStatus(ctx, r.regListen, login, "across/app", sp)
				if err == nil && status == http.StatusOK {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("replica %s never issued a pull token: %d %v", r.name, status, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		id := az.tsv("role", "assignment", "list", "--assignee", sp.AppID, "--scope", acrID, "--query", "[0].id")
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, "https://"+a.listen+id+"?api-version="+apiAuthorization, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := a.http.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE %s through %s: %v %v", id, a.name, resp, err)
		}
		resp.Body.Close()
		revoked := time.Now()
		var wg sync.WaitGroup
		for _, r := range others {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					status, err := rs.pullTokenStatus(ctx, r.regListen, login, "across/app", sp)
					if err == nil && status == http.StatusUnauthorized {
						took := time.Since(revoked)
						t.Logf("replica %s refuses new pull tokens %v after the revocation through %s", r.name, took, a.name)
						if took > time.Second {
							t.Errorf("replica %s refused new pull tokens only after %v; the bound is 1s", r.name, took)
						}
						return
					}
					if ctx.Err() != nil {
						t.Errorf("replica %s still issues pull tokens after the revocation: %d %v", r.name, status, err)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
	})

	t.Run("a restarted replica rejoins", func(t *testing.T) {
		r := rs.replicas[len(rs.replicas)-1]
		r.kill9()
		// Written while it is down ...
		img := blobImage(t, 2, 64<<10)
		ref := mustTag(t, login+"/rejoin/app:v1")
		if err := remote.Write(ref, img, rs.opts(t.Context(), rs.replicas[0].regListen, admin)...); err != nil {
			t.Fatalf("push through r0: %v", err)
		}
		if err := rs.launchReplica(r); err != nil {
			t.Fatal(err)
		}
		// ... it serves after its restart, with the set's identity: the
		// set's CA verifies it, the admin's token is good there.
		if err := verifyImage(ref, mustDigest(t, img), rs.opts(t.Context(), r.regListen, admin)); err != nil {
			t.Errorf("pull through the restarted %s: %v", r.name, err)
		}
		status, body, err := r.get(t.Context(), "https://"+r.listen+"/subscriptions/"+sub+"?api-version="+apiResources,
			map[string]string{"Authorization": "Bearer " + token})
		if err != nil || status != http.StatusOK {
			t.Errorf("the admin's token on the restarted %s: %d %v %s", r.name, status, err, body)
		}
		// A change through it is seen through another.
		group := "/subscriptions/" + sub + "/resourceGroups/replicas-rejoined?api-version=" + apiResources
		auth := map[string]string{"Authorization": "Bearer " + token}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "https://"+r.listen+group, strings.NewReader(`{"location":"eastus"}`))
		req.Header.Set("Authorization", auth["Authorization"])
		req.Header.Set("Content-Type", "application/json")
		if resp, err := r.http.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT a resource group through the restarted %s: %v %v", r.name, resp, err)
		} else {
			resp.Body.Close()
		}
		r0 := rs.replicas[0]
		if status, body, err := r0.get(t.Context(), "https://"+r0.listen+group, auth); err != nil || status != http.StatusOK {
			t.Errorf("the resource group made through %s, read through %s: %d %v %s", r.name, r0.name, status, err, body)
		}
		// A long-running operation started through it (the group's
		// deletion) is polled through another to its end: it reads as
		// running there while it runs, never as interrupted.
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodDelete, "https://"+r.listen+group, nil)
		req.Header.Set("Authorization", auth["Authorization"])
		resp, err := r.http.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("DELETE the resource group through %s: %v %v", r.name, resp, err)
		}
		resp.Body.Close()
		op, err := url.Parse(resp.Header.Get("Azure-AsyncOperation"))
		if err != nil || op.Host != rs.apiFront {
			t.Fatalf("Azure-AsyncOperation %q (%v), want a URL of the load balancer %s", resp.Header.Get("Azure-AsyncOperation"), err, rs.apiFront)
		}
		op.Host = r0.listen
		for running := 0; ; running++ {
			status, body, err := r0.get(t.Context(), op.String(), auth)
			if err != nil || status != http.StatusOK {
				t.Fatalf("polling %s through %s: %d %v %s", op, r0.name, status, err, body)
			}
			if strings.Contains(string(body), `"Succeeded"`) {
				t.Logf("%s read the operation %s ran as InProgress %d times, then Succeeded", r0.name, r.name, running)
				break
			}
			if !strings.Contains(string(body), `"InProgress"`) {
				t.Fatalf("the operation %s read through %s: %s, want InProgress then Succeeded", op, r0.name, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// replicaPushes: 20 concurrent pushes of distinct images through haproxy;
// one replica is killed with SIGKILL once 5 have been acknowledged. Every
// acknowledged push is then pullable, with its digest, through each
// surviving replica; an unacknowledged one is there entirely or not at all.
func replicaPushes(t *testing.T, rs *replicaSet, login string, auth authn.Authenticator) {
	victim := rs.replicas[1]
	const n = 20
	pushes, atKill := pushesWithKill(t, login, rs.opts(t.Context(), rs.regFront, auth), n, 5, victim.kill9)
	acked := 0
	for _, p := range pushes {
		if p.err == nil {
			acked++
		}
	}
	t.Logf("killed %s with %d of %d pushes acknowledged; %d acknowledged in all", victim.name, atKill, n, acked)
	for _, r := range rs.replicas {
		if r == victim {
			continue
		}
		for _, p := range pushes {
			err := verifyImage(p.tag, p.digest, rs.opts(t.Context(), r.regListen, auth))
			switch {
			case p.err == nil && err != nil:
				t.Errorf("acknowledged push %s through %s: %v", p.tag, r.name, err)
			case p.err != nil && err != nil && transportStatus(err) != http.StatusNotFound:
				t.Errorf("interrupted push %s (%v) through %s: %v, want it intact or absent (404)", p.tag, p.err, r.name, err)
			}
		}
	}
	if err := rs.launchReplica(victim); err != nil {
		t.Fatal(err)
	}
}
