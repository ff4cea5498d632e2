// Package bench measures drydock's registry against a peer run on the same
// machine in the same run (Debian's docker-registry, CNCF Distribution),
// over the same transport (TLS with the same certificate), and reports
// ratios: blob push and pull throughput, manifest GETs per second, token
// issuance per second, and server memory growth while streaming; plus the
// machine's limits measured in the same run: Go's SHA-256 speed, and the
// ceilings of a push (a TLS sink in a second process that hashes, writes,
// fsyncs and renames; sink.go) and of a pull (http.ServeFile of the same
// file in that process), of which both registries are reported as a
// percentage.
package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Options configure a run.
type Options struct {
	BlobSize       int64  // bytes of the push/pull blob
	ManifestGETs   int    // requests in the manifest GET test
	TokenRequests  int    // requests in the token test
	Assignments    int    // role assignments in the directory for the token-at-scale line (0: skip it)
	Rounds         int    // alternating rounds of the at-scale lines, reported as medians
	Repositories   int    // repositories (of 10 tags) of the many-repositories lines (0: skip them)
	Concurrency    int    // parallel clients for request-rate tests
	Drydock        string // path of the drydock binary
	DockerRegistry string // path of docker-registry
	Out            io.Writer
}

// Result is one measured metric for both registries.
type Result struct {
	Name          string
	Unit          string
	Drydock, Peer float64
	Note          string
}

// Run performs the benchmark and writes a report to opts.Out.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	dir, err := os.MkdirTemp("", "drydock-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(opts.Out, "preparing a %s blob in %s\n", size(opts.BlobSize), dir)
	blobPath := filepath.Join(dir, "blob")
	digest, err := writeRandom(blobPath, opts.BlobSize)
	if err != nil {
		return nil, err
	}

	dd, err := startDrydock(ctx, opts.Drydock, filepath.Join(dir, "drydock"))
	if err != nil {
		return nil, fmt.Errorf("starting drydock: %w", err)
	}
	defer dd.stop()
	peer, err := startPeer(ctx, opts.DockerRegistry, filepath.Join(dir, "peer"), dd.certFile, dd.keyFile)
	if err != nil {
		return nil, fmt.Errorf("starting docker-registry: %w", err)
	}
	defer peer.stop()

	var results []Result
	add := func(r Result) {
		results = append(results, r)
		fmt.Fprintf(opts.Out, "  %-34s drydock %10.1f  peer %10.1f %s\n", r.Name, r.Drydock, r.Peer, r.Unit)
	}

	shaMBs, err := sha256Speed(blobPath)
	if err != nil {
		return nil, err
	}
	sink, err := startSink(ctx, opts.Drydock, filepath.Join(dir, "sink"), blobPath, dd)
	if err != nil {
		return nil, fmt.Errorf("starting the sink: %w", err)
	}
	defer sink.stop()

	// Push. The clients stream the blob from memory, so that reading the
	// file on this machine does not cap both registries at the client.
	data, err := os.ReadFile(blobPath)
	if err != nil {
		return nil, err
	}

	// Each round pushes a blob of its own (the first byte differs), so no
	// registry can skip work it did in an earlier round, to the sink, then
	// drydock, then docker-registry; then pulls the first one from the
	// ServeFile ceiling, drydock and docker-registry. Medians are reported,
	// of the rates and of each round's ratio to its ceiling: the ceilings
	// are measured beside the registries, under the same load.
	var pushes, pulls [][]float64
	var rssGrowth float64
	first := data[0]
	for r := range max(1, opts.Rounds) {
		d := digest
		if r > 0 {
			data[0] = first ^ byte(r)
			sum := sha256.Sum256(data)
			d = "sha256:" + hex.EncodeToString(sum[:])
		}
		sinkPush, err := sink.push(ctx, data, d)
		if err != nil {
			return nil, fmt.Errorf("sink push: %w", err)
		}
		os.Remove(filepath.Join(dir, "sink", strings.TrimPrefix(d, "sha256:")))
		rssBefore := dd.rss()
		ddPush, err := dd.client.push(ctx, data, d)
		if err != nil {
			return nil, fmt.Errorf("drydock push: %w", err)
		}
		rssGrowth = max(rssGrowth, float64(dd.peakRSS()-rssBefore)/(1<<20))
		peerPush, err := peer.client.push(ctx, data, d)
		if err != nil {
			return nil, fmt.Errorf("docker-registry push: %w", err)
		}
		pushes = append(pushes, []float64{sinkPush, ddPush, peerPush, ddPush / sinkPush, peerPush / sinkPush})
	}
	data[0] = first
	for range max(1, opts.Rounds) {
		serveMBs, err := sink.pull(ctx, opts.BlobSize)
		if err != nil {
			return nil, fmt.Errorf("ServeFile pull: %w", err)
		}
		ddPull, err := dd.client.pull(ctx, digest, opts.BlobSize)
		if err != nil {
			return nil, fmt.Errorf("drydock pull: %w", err)
		}
		peerPull, err := peer.client.pull(ctx, digest, opts.BlobSize)
		if err != nil {
			return nil, fmt.Errorf("docker-registry pull: %w", err)
		}
		pulls = append(pulls, []float64{serveMBs, ddPull, peerPull, ddPull / serveMBs, peerPull / serveMBs})
	}
	push, pull := medians(pushes), medians(pulls)
	sinkPush, ddPush, peerPush := push[0], push[1], push[2]
	serveMBs, ddPull, peerPull := pull[0], pull[1], pull[2]
	add(Result{Name: "blob push (monolithic PUT)", Unit: "MB/s", Drydock: ddPush, Peer: peerPush})
	add(Result{Name: "blob pull", Unit: "MB/s", Drydock: ddPull, Peer: peerPull})

	// Manifest GETs.
	for _, c := range []*regClient{dd.client, peer.client} {
		if err := c.putManifest(ctx, digest, opts.BlobSize); err != nil {
			return nil, fmt.Errorf("manifest put: %w", err)
		}
	}
	ddMan, err := rate(ctx, opts.ManifestGETs, opts.Concurrency, dd.client.getManifest)
	if err != nil {
		return nil, fmt.Errorf("drydock manifest GET: %w", err)
	}
	peerMan, err := rate(ctx, opts.ManifestGETs, opts.Concurrency, peer.client.getManifest)
	if err != nil {
		return nil, fmt.Errorf("docker-registry manifest GET: %w", err)
	}
	add(Result{Name: "manifest GET (drydock with bearer)", Unit: "req/s", Drydock: ddMan, Peer: peerMan})

	tokens, err := rate(ctx, opts.TokenRequests, opts.Concurrency, dd.client.fetchToken)
	if err != nil {
		return nil, fmt.Errorf("token issuance: %w", err)
	}
	add(Result{Name: "/oauth2/token issuance", Unit: "tokens/s", Drydock: tokens, Note: "docker-registry has no token service"})

	var tokensFew, tokensScale, cpuFew, cpuScale, scaleRSS float64
	if opts.Assignments > 0 {
		fmt.Fprintf(opts.Out, "seeding %d role assignments for a second drydock\n", opts.Assignments)
		big, took, err := startWithAssignments(ctx, opts.Drydock, filepath.Join(dir, "assignments"), opts.Assignments)
		if err != nil {
			return nil, err
		}
		defer big.stop()
		fmt.Fprintf(opts.Out, "  seeded in %.1fs; drydock's RSS with them %.0f MiB, without %.0f MiB\n", took.Seconds(), float64(big.rss())/(1<<20), float64(dd.rss())/(1<<20))
		n := max(1, opts.TokenRequests/max(1, opts.Rounds))
		few, scaled, err := alternate(max(1, opts.Rounds),
			measureWithCPU(ctx, dd, n, opts.Concurrency, dd.client.fetchToken),
			measureWithCPU(ctx, big, n, opts.Concurrency, big.client.fetchToken))
		if err != nil {
			return nil, fmt.Errorf("token issuance at scale: %w", err)
		}
		tokensFew, cpuFew, tokensScale, cpuScale = few[0], few[1], scaled[0], scaled[1]
		scaleRSS = float64(big.rss()) / (1 << 20)
		add(Result{Name: fmt.Sprintf("/oauth2/token, %dk assignments", opts.Assignments/1000), Unit: "tokens/s", Drydock: tokensScale,
			Note: fmt.Sprintf("median of %d rounds alternating with the few-assignment drydock (%.0f/s)", max(1, opts.Rounds), tokensFew)})
	}

	var repos *repoScale
	if opts.Repositories > 0 {
		fmt.Fprintf(opts.Out, "seeding %d repositories of %d tags in a third drydock\n", opts.Repositories, tagsPerRepo)
		if repos, err = manyRepositories(ctx, opts, filepath.Join(dir, "repositories"), dd, filepath.Join(dir, "drydock")); err != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Out, "  seeded in %.1fs\n", repos.seedSecs)
		for i, l := range repos.lines {
			add(Result{Name: fmt.Sprintf("%s, %dk repos", l.name, opts.Repositories/1000), Unit: "req/s", Drydock: repos.large[i][0],
				Note: fmt.Sprintf("small registry, same rounds: %.0f/s", repos.empty[i][0])})
		}
	}

	w := tabwriter.NewWriter(opts.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nmetric\tdrydock\tdocker-registry\tratio\ttarget")
	fmt.Fprintf(w, "blob push (MB/s)\t%.0f\t%.0f\t%.2fx\t>= 1x peer, >= 90%% of sink\n", ddPush, peerPush, ddPush/peerPush)
	fmt.Fprintf(w, "  %% of push ceiling (sink), medians of %d rounds\t%.0f%%\t%.0f%%\t\t\n", len(pushes), 100*push[3], 100*push[4])
	fmt.Fprintf(w, "blob pull (MB/s)\t%.0f\t%.0f\t%.2fx\t>= 1x peer, >= 95%% of ServeFile\n", ddPull, peerPull, ddPull/peerPull)
	fmt.Fprintf(w, "  %% of pull ceiling (ServeFile), medians of %d rounds\t%.0f%%\t%.0f%%\t\t\n", len(pulls), 100*pull[3], 100*pull[4])
	fmt.Fprintf(w, "manifest GET (req/s)\t%.0f\t%.0f\t%.2fx\t>= 10x peer\n", ddMan, peerMan, ddMan/peerMan)
	fmt.Fprintf(w, "token issuance (tokens/s)\t%.0f\t-\t-\t>= 5000\n", tokens)
	if opts.Assignments > 0 {
		fmt.Fprintf(w, "token issuance, %d assignments (tokens/s)\t%.0f\t-\t%.2fx of few\t>= 10000\n", opts.Assignments, tokensScale, tokensScale/tokensFew)
		fmt.Fprintf(w, "  same rounds, few assignments (tokens/s)\t%.0f\t\t\t\n", tokensFew)
		fmt.Fprintf(w, "  server CPU per token, %d / few (µs)\t%.0f / %.0f\t\t\t=> %.0f / %.0f tokens per CPU-second\n",
			opts.Assignments, cpuScale, cpuFew, 1e6/max(1, cpuScale), 1e6/max(1, cpuFew))
		fmt.Fprintf(w, "  RSS with %d assignments (MiB)\t%.0f\t\t\t\n", opts.Assignments, scaleRSS)
	}
	if repos != nil {
		for i, l := range repos.lines {
			fmt.Fprintf(w, "%s, %d repos x %d tags (req/s)\t%.0f\t-\t%.2fx of small\t>= 0.90x of small\n", l.name, opts.Repositories, tagsPerRepo, repos.large[i][0], repos.large[i][0]/repos.empty[i][0])
			fmt.Fprintf(w, "  same rounds, small registry: 2 repos (req/s)\t%.0f\t\t\t\n", repos.empty[i][0])
			fmt.Fprintf(w, "  server CPU per request, large / small (µs)\t%.0f / %.0f\t\t%.2fx of small\t\n", repos.large[i][1], repos.empty[i][1], repos.large[i][1]/repos.empty[i][1])
		}
		fmt.Fprintf(w, "  RSS growth with %d repos (MiB)\t%.1f\t\t\t\n", opts.Repositories, repos.rssGrowthMiB)
	}
	fmt.Fprintf(w, "RSS growth during push (MiB)\t%.1f\t-\t-\t< 64\n", rssGrowth)
	fmt.Fprintf(w, "machine: SHA-256 (MB/s)\t%.0f\t\t\t\n", shaMBs)
	fmt.Fprintf(w, "ceiling: push sink, TLS+SHA-256+fsync+rename (MB/s)\t%.0f\t\t\t\n", sinkPush)
	fmt.Fprintf(w, "ceiling: pull http.ServeFile, TLS (MB/s)\t%.0f\t\t\t\n", serveMBs)

	w.Flush()
	results = append(results,
		Result{Name: "rss growth during push", Unit: "MiB", Drydock: rssGrowth},
		Result{Name: "sha256", Unit: "MB/s", Drydock: shaMBs},
		Result{Name: "sink push", Unit: "MB/s", Drydock: sinkPush},
		Result{Name: "servefile", Unit: "MB/s", Drydock: serveMBs})
	return results, nil
}

// transport is the clients' HTTP transport, the same for every server
// measured: 1 MiB read and write buffers, so that streaming a blob is not
// dominated by 4 KiB reads of the file and 4 KiB TLS records (net/http's
// defaults), which would cap both registries at the client's speed.
func transport(tc *tls.Config) *http.Transport {
	return &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 64, WriteBufferSize: 1 << 20, ReadBufferSize: 1 << 20}
}

func size(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// writeRandom writes n pseudo-random bytes and returns their digest.
func writeRandom(path string, n int64) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := n; left > 0; {
		chunk := buf
		if left < int64(len(chunk)) {
			chunk = chunk[:left]
		}
		r.Read(chunk)
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			return "", err
		}
		left -= int64(len(chunk))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), f.Sync()
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func sha256Speed(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	n, err := io.CopyBuffer(sha256.New(), f, make([]byte, 1<<20))
	return mbps(n, time.Since(start)), err
}

// rate runs n calls of f over conc workers and returns calls per second.
func rate(ctx context.Context, n, conc int, f func(context.Context) error) (float64, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := f(ctx); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), firstErr
}

// ---- registry client ----

type regClient struct {
	base    string // https://host:port
	host    string // Host header (login server) when it differs from base
	http    *http.Client
	bearer  string
	token   func(ctx context.Context) (string, error)               // for drydock
	scoped  func(ctx context.Context, scope string) (string, error) // drydock: a token for scope (space-separated scopes)
	manDgst string
}

func (c *regClient) do(ctx context.Context, method, path string, body io.Reader, n int64, hdr map[string]string) (*http.Response, error) {
	u := path
	if !strings.HasPrefix(path, "https://") {
		u = c.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if c.host != "" {
		req.Host = c.host
	}
	if n > 0 {
		req.ContentLength = n
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.http.Do(req)
}

func drain(resp *http.Response, want ...int) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	return fmt.Errorf("%s %s: %s %s", resp.Request.Method, resp.Request.URL.Path, resp.Status, b)
}

func (c *regClient) location(resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if strings.HasPrefix(loc, "/") {
		return c.base + loc
	}
	if u, err := url.Parse(loc); err == nil && c.host != "" {
		return c.base + u.RequestURI()
	}
	return loc
}

func (c *regClient) push(ctx context.Context, data []byte, digest string) (float64, error) {
	resp, err := c.do(ctx, "POST", "/v2/bench/blobs/uploads/", nil, 0, nil)
	if err != nil {
		return 0, err
	}
	loc := c.location(resp)
	if err := drain(resp, 202); err != nil {
		return 0, err
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return c.timedPut(ctx, loc+sep+"digest="+url.QueryEscape(digest), data)
}

// timedPut measures one PUT of data answered 201 Created, in MB/s.
func (c *regClient) timedPut(ctx context.Context, path string, data []byte) (float64, error) {
	n := int64(len(data))
	start := time.Now()
	resp, err := c.do(ctx, "PUT", path, bytes.NewReader(data), n, map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil {
		return 0, err
	}
	if err := drain(resp, 201); err != nil {
		return 0, err
	}
	return mbps(n, time.Since(start)), nil
}

func (c *regClient) pull(ctx context.Context, digest string, n int64) (float64, error) {
	return c.timedGet(ctx, "/v2/bench/blobs/"+digest, n)
}

// timedGet measures one GET of n bytes, in MB/s.
func (c *regClient) timedGet(ctx context.Context, path string, n int64) (float64, error) {
	start := time.Now()
	resp, err := c.do(ctx, "GET", path, nil, 0, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, drain(resp, 200)
	}
	got, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
	if err == nil && got != n {
		err = fmt.Errorf("pulled %d bytes, want %d", got, n)
	}
	return mbps(got, time.Since(start)), err
}

func (c *regClient) putBlob(ctx context.Context, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	d := "sha256:" + hex.EncodeToString(sum[:])
	resp, err := c.do(ctx, "POST", "/v2/bench/blobs/uploads/", nil, 0, nil)
	if err != nil {
		return "", err
	}
	loc := c.location(resp)
	if err := drain(resp, 202); err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	resp, err = c.do(ctx, "PUT", loc+sep+"digest="+url.QueryEscape(d), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		return "", err
	}
	return d, drain(resp, 201)
}

// benchConfig is the config blob of the benchmark's image manifest.
var benchConfig = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)

// imageManifest is the benchmark's image manifest: benchConfig and one
// layer of n bytes.
func imageManifest(layer string, n int64) []byte {
	sum := sha256.Sum256(benchConfig)
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + hex.EncodeToString(sum[:]), "size": len(benchConfig)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": n}},
	})
	return m
}

func (c *regClient) putManifest(ctx context.Context, layer string, n int64) error {
	if _, err := c.putBlob(ctx, benchConfig); err != nil {
		return err
	}
	m := imageManifest(layer, n)
	resp, err := c.do(ctx, "PUT", "/v2/bench/manifests/v1", bytes.NewReader(m), int64(len(m)), map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	if err != nil {
		return err
	}
	return drain(resp, 201)
}

func (c *regClient) getManifest(ctx context.Context) error {
	resp, err := c.do(ctx, "GET", "/v2/bench/manifests/v1", nil, 0, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("manifest GET: %s", resp.Status)
	}
	return nil
}

func (c *regClient) fetchToken(ctx context.Context) error {
	_, err := c.token(ctx)
	return err
}

// ---- processes ----

type proc struct {
	registryID string // drydock: the benchmark registry's ARM resource ID
	cmd        *exec.Cmd
	client     *regClient
	pool       *x509.CertPool
	certFile   string
	keyFile    string
}

func (p *proc) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
		}
	}
}

func (p *proc) status(field string) int64 {
	return statusField(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid), field)
}

func (p *proc) rss() int64     { return p.status("VmRSS") }
func (p *proc) peakRSS() int64 { return p.status("VmHWM") }

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// freePorts returns n free loopback addresses.
func freePorts(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		var err error
		if out[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func waitFor(ctx context.Context, check func() error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errNotReady = errors.New("not ready")
