package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The ceilings: what the machine can do for a push and a pull with the least
// work any registry must do, measured in a second process (the drydock
// binary's hidden "bench sink" command) over the same TLS as the
// registries, so that the comparison with them is fair: the client and the
// server each have their own process and the bytes cross the same loopback
// and the same cipher.
//
//   - PUT /blob?digest=sha256:… streams the body through SHA-256 into a
//     temporary file (reading, hashing and writing overlapped, as drydock
//     does them), checks the digest, fsyncs the file, renames it into
//     place and fsyncs the directory: a blob is visible only once durable,
//     as the registry's contract requires.
//   - GET /blob serves the file given at start with http.ServeFile.

// SinkOptions configure the sink process.
type SinkOptions struct {
	CertFile, KeyFile string // the registries' TLS certificate
	Dir               string // where pushed blobs land
	ServeFile         string // the file GET /blob serves
	Out               io.Writer
}

// Sink serves the ceilings until ctx ends. It writes "listening on ADDR"
// to opts.Out once it accepts connections.
func Sink(ctx context.Context, opts SinkOptions) error {
	cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /blob", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, opts.ServeFile) })
	mux.HandleFunc("PUT /blob", func(w http.ResponseWriter, r *http.Request) {
		if err := sinkBlob(opts.Dir, r.URL.Query().Get("digest"), r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(opts.Out, "listening on %s\n", ln.Addr())
	if err := srv.ServeTLS(ln, "", ""); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// sinkBlob is the least work of a durable push: hash while writing, check,
// fsync, rename, fsync the directory.
func sinkBlob(dir, digest string, body io.Reader) error {
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	h := sha256.New()
	err = sinkCopy(f, h, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("digest %s, want %s", got, digest)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, strings.TrimPrefix(digest, "sha256:"))); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// sinkCopy streams body into h and f in three overlapped stages (read,
// hash, write), as a registry that pipelines them does, so that the sink
// stays the ceiling of one push rather than the sum of its steps' times.
// It writes 64 KiB at a time, the size the filesystem driver writes (on a
// VM whose free memory the host reclaims, writes of 1 MiB make the kernel
// fault larger page-cache folios in from the host).
func sinkCopy(f io.Writer, h hash.Hash, body io.Reader) error {
	const chunk, depth, piece = 1 << 20, 4, 64 << 10
	free := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, chunk)
	}
	hashing, writing := make(chan []byte, depth), make(chan []byte, depth)
	var readErr, writeErr error
	go func() {
		defer close(hashing)
		for {
			buf := <-free
			n, err := io.ReadFull(body, buf)
			if n > 0 {
				hashing <- buf[:n]
			} else {
				free <- buf
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					readErr = err
				}
				return
			}
		}
	}()
	go func() {
		defer close(writing)
		for b := range hashing {
			h.Write(b)
			writing <- b
		}
	}()
	// After a failed write the rest is drained, so the stages end.
	for b := range writing {
		for p := b; writeErr == nil && len(p) > 0; {
			n := min(len(p), piece)
			_, writeErr = f.Write(p[:n])
			p = p[n:]
		}
		free <- b[:cap(b)]
	}
	if readErr != nil { // written before hashing, then writing, closed
		return readErr
	}
	return writeErr
}

// sinkProc is a running sink and a client for it.
type sinkProc struct {
	proc
}

// startSink runs `drydock bench sink` with the registries' certificate.
func startSink(ctx context.Context, bin, dir, serveFile string, dd *proc) (*sinkProc, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "bench", "sink", "--cert", dd.certFile, "--key", dd.keyFile, "--dir", dir, "--serve-file", serveFile)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &sinkProc{proc: proc{cmd: cmd, pool: dd.pool}}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		s.stop()
		return nil, fmt.Errorf("the sink did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	s.client = &regClient{base: "https://" + addr, http: &http.Client{Transport: transport(&tls.Config{RootCAs: dd.pool, ServerName: "127.0.0.1"})}}
	return s, nil
}

// push measures one PUT of data into the sink, in MB/s.
func (s *sinkProc) push(ctx context.Context, data []byte, digest string) (float64, error) {
	return s.client.timedPut(ctx, "/blob?digest="+digest, data)
}

// pull measures one GET of the served file, in MB/s.
func (s *sinkProc) pull(ctx context.Context, n int64) (float64, error) {
	return s.client.timedGet(ctx, "/blob", n)
}
