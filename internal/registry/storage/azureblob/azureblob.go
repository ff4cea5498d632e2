// Package azureblob is the storage.Driver that keeps registry content in one
// container of Azure Blob Storage (or Azurite), through the Azure SDK for
// Go's azblob.
//
// A key is the name of a block blob (after an optional name prefix), so the
// container holds the same tree as the filesystem driver's directory:
// blobs/<alg>/<hh>/<hex>/data and uploads/<id>/{data,state}. Directories
// exist only as name prefixes: Stat, List and Walk derive them from the blob
// names, and Writer and Move refuse a file below a file or over a directory,
// as a filesystem would.
//
// Writing: a FileWriter cuts what it is given into blocks and stages them
// (Put Block, a few in flight) as the bytes stream in. Staged blocks are
// invisible: nothing at the key changes until the writer commits its block
// list (Put Block List), on Commit or Close. A writer opened with resume
// keeps the blob's committed blocks and commits them followed by its own,
// on condition that the blob's ETag has not changed since it was opened, so
// two writers appending to one upload from two replicas cannot lose each
// other's acknowledged bytes: the second one's commit fails instead.
//
// Move is the step that makes a verified upload a blob. Blob Storage has no
// rename, so Move has the service copy the source to the destination, on
// condition that the source is unchanged, reading it through a short-lived
// read-only SAS (so the driver needs the account key), then deletes the
// source. Up to 256 MiB the copy is one synchronous Copy Blob From URL;
// beyond, the source's bytes are staged as blocks of the destination (Put
// Block From URL) and the destination's block list is committed in one Put
// Block List. Either way the destination appears whole or not at all. A
// crash between the copy and the delete leaves both: a whole blob and an
// upload that BlobStore.PurgeUploads removes. A directory is moved file by
// file, and not atomically (BlobStore never moves one).
//
// Because all upload state (data blocks and the state blob beside them)
// lives in the container, an upload started through one drydock replica
// can be continued and committed through any other replica that uses the
// same container.
//
// Walk lists the names under its directory in one flat listing, which it
// holds in memory (names and sizes only), to report them in the order the
// storage.Driver contract asks for; entries that this driver deletes while
// the walk runs are not reported.
package azureblob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/storage"
)

// Defaults for Options.
const (
	DefaultBlockSize   = 4 << 20
	DefaultConcurrency = 4
	// DefaultSyncCopyMax is the service's limit for Copy Blob From URL.
	DefaultSyncCopyMax = 256 << 20
	// copyRangeSize is how many bytes one Put Block From URL copies.
	copyRangeSize = 64 << 20
	// sasLifetime bounds the read-only SAS a Move hands the service.
	sasLifetime = time.Hour
)

// Options configure a Driver. Either ConnectionString, or AccountURL with
// AccountName and AccountKey, must be set; the driver needs the account key
// (shared key) because Move signs a SAS for its source.
type Options struct {
	// ConnectionString is an Azure Storage connection string with an
	// AccountKey (DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;BlobEndpoint=...).
	ConnectionString string
	// AccountURL is the blob service endpoint, e.g.
	// https://myaccount.blob.core.windows.net or, for Azurite,
	// http://127.0.0.1:10000/devstoreaccount1.
	AccountURL string
	// AccountName and AccountKey are the shared key credential.
	AccountName, AccountKey string
	// Container holds the content; it is created if missing.
	Container string
	// Prefix, if set, is put before every key ("drydock/" keeps the
	// registry's content under drydock/ in a shared container). It ends
	// in a slash.
	Prefix string
	// BlockSize is the size of the blocks a FileWriter stages
	// (DefaultBlockSize if 0); Concurrency is how many it stages at once
	// (DefaultConcurrency if 0). A writer holds at most
	// (Concurrency+1)*BlockSize bytes.
	BlockSize   int
	Concurrency int
	// SyncCopyMax is the largest blob Move copies with one synchronous Copy
	// Blob From URL (DefaultSyncCopyMax, the service's limit, if 0); larger
	// blobs are copied block by block. Negative: always block by block.
	SyncCopyMax int64
	// HTTPClient, if set, carries the SDK's requests.
	HTTPClient policy.Transporter
}

// Driver is a storage.Driver over one Blob Storage container.
type Driver struct {
	c        *container.Client
	prefix   string
	block    int
	conc     int
	syncCopy int64

	walksMu sync.Mutex
	walks   map[*walkState]struct{}
}

var _ storage.Driver = (*Driver)(nil)

// New connects to the container named in o, creating it if it does not
// exist, and returns a driver over it.
func New(ctx context.Context, o Options) (*Driver, error) {
	if o.Container == "" {
		return nil, errors.New("azureblob: no container named")
	}
	if o.Prefix != "" && (!strings.HasSuffix(o.Prefix, "/") || storage.CheckPath(strings.TrimSuffix(o.Prefix, "/")) != nil) {
		return nil, fmt.Errorf("azureblob: prefix %q must be a relative path ending in /, such as drydock/", o.Prefix)
	}
	copts := &container.ClientOptions{}
	copts.Retry = policy.RetryOptions{MaxRetries: 3, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 2 * time.Second}
	if o.HTTPClient != nil {
		copts.Transport = o.HTTPClient
	}
	var c *container.Client
	var err error
	switch {
	case o.ConnectionString != "":
		c, err = container.NewClientFromConnectionString(o.ConnectionString, o.Container, copts)
	case o.AccountURL != "" && o.AccountName != "" && o.AccountKey != "":
		var cred *container.SharedKeyCredential
		if cred, err = container.NewSharedKeyCredential(o.AccountName, o.AccountKey); err == nil {
			c, err = container.NewClientWithSharedKeyCredential(strings.TrimSuffix(o.AccountURL, "/")+"/"+o.Container, cred, copts)
		}
	default:
		return nil, errors.New("azureblob: set a connection string, or an account URL with an account name and key")
	}
	if err != nil {
		return nil, fmt.Errorf("azureblob: %w", err)
	}
	// Move signs SASs: make sure it can before anything is stored.
	if _, err := c.NewBlockBlobClient("probe").GetSASURL(sas.BlobPermissions{Read: true}, time.Now().Add(time.Minute), nil); err != nil {
		return nil, fmt.Errorf("azureblob: the credential cannot sign a SAS (an account key is needed): %w", err)
	}
	if _, err := c.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil, fmt.Errorf("azureblob: creating container %s: %w", o.Container, err)
	}
	d := &Driver{c: c, prefix: o.Prefix, block: o.BlockSize, conc: o.Concurrency, syncCopy: o.SyncCopyMax, walks: map[*walkState]struct{}{}}
	if d.block <= 0 {
		d.block = DefaultBlockSize
	}
	if d.conc <= 0 {
		d.conc = DefaultConcurrency
	}
	if d.syncCopy == 0 {
		d.syncCopy = DefaultSyncCopyMax
	}
	return d, nil
}

// Close releases nothing; it is there so that callers can treat drivers
// alike.
func (d *Driver) Close() error { return nil }

func (d *Driver) name(p string) string { return d.prefix + p }

// dirPrefix is the name prefix of what is below dir ("" for the root).
func (d *Driver) dirPrefix(dir string) string {
	if dir == "" {
		return d.prefix
	}
	return d.name(dir) + "/"
}

func (d *Driver) bb(p string) *blockblob.Client { return d.c.NewBlockBlobClient(d.name(p)) }

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

func isNotFound(err error) bool { return isStatus(err, http.StatusNotFound) }

func check(ctx context.Context, paths ...string) error {
	for _, p := range paths {
		if err := storage.CheckPath(p); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// props returns the properties of the blob at p; found is false if there is
// none.
func (d *Driver) props(ctx context.Context, p string) (r blob.GetPropertiesResponse, found bool, err error) {
	r, err = d.bb(p).GetProperties(ctx, nil)
	if isNotFound(err) {
		return r, false, nil
	}
	return r, err == nil, err
}

// isDir reports whether some blob's name starts with p + "/".
func (d *Driver) isDir(ctx context.Context, p string) (bool, error) {
	pager := d.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr(d.name(p) + "/"), MaxResults: to.Ptr[int32](1)})
	page, err := pager.NextPage(ctx)
	if err != nil {
		return false, err
	}
	return len(page.Segment.BlobItems) > 0, nil
}

// checkPlace fails if a file could not be created at p on a filesystem: an
// ancestor of p is a file, or p is a directory. The checks run at once.
func (d *Driver) checkPlace(ctx context.Context, p string) error {
	var anc []string
	for q := parent(p); q != ""; q = parent(q) {
		anc = append(anc, q)
	}
	errs := make([]error, len(anc)+1)
	var wg sync.WaitGroup
	for i, q := range anc {
		wg.Go(func() {
			if _, found, err := d.props(ctx, q); err != nil {
				errs[i] = err
			} else if found {
				errs[i] = fmt.Errorf("azureblob: %s: %s is a file", p, q)
			}
		})
	}
	wg.Go(func() {
		if dir, err := d.isDir(ctx, p); err != nil {
			errs[len(anc)] = err
		} else if dir {
			errs[len(anc)] = fmt.Errorf("azureblob: %s is a directory", p)
		}
	})
	wg.Wait()
	return errors.Join(errs...)
}

// Stat implements storage.Driver. A directory's ModTime is zero.
func (d *Driver) Stat(ctx context.Context, p string) (storage.FileInfo, error) {
	if err := check(ctx, p); err != nil {
		return storage.FileInfo{}, err
	}
	r, found, err := d.props(ctx, p)
	if err != nil {
		return storage.FileInfo{}, err
	}
	if found {
		return storage.FileInfo{Path: p, Size: *r.ContentLength, ModTime: *r.LastModified}, nil
	}
	dir, err := d.isDir(ctx, p)
	if err != nil {
		return storage.FileInfo{}, err
	}
	if !dir {
		return storage.FileInfo{}, storage.PathNotFoundError{Path: p}
	}
	return storage.FileInfo{Path: p, IsDir: true}, nil
}

// Reader implements storage.Driver. The stream reissues its request from
// where it broke off if the connection fails, on condition that the blob
// is unchanged.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	if err := check(ctx, p); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: %d for %s", storage.ErrInvalidOffset, offset, p)
	}
	bb := d.bb(p)
	resp, err := bb.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: offset}})
	switch {
	case err == nil:
		return resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 3}), nil
	case isNotFound(err):
		return nil, storage.PathNotFoundError{Path: p}
	case isStatus(err, http.StatusRequestedRangeNotSatisfiable):
		// At or beyond the end: an empty stream at the end, else an error.
		r, found, perr := d.props(ctx, p)
		if perr != nil {
			return nil, perr
		}
		if !found {
			return nil, storage.PathNotFoundError{Path: p}
		}
		if offset == *r.ContentLength {
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, fmt.Errorf("%w: %d (size %d) for %s", storage.ErrInvalidOffset, offset, *r.ContentLength, p)
	default:
		return nil, err
	}
}

// List implements storage.Driver.
func (d *Driver) List(ctx context.Context, dir string) ([]string, error) {
	if err := storage.CheckDir(dir); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pre := d.dirPrefix(dir)
	pager := d.c.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Prefix: &pre})
	var out []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range page.Segment.BlobItems {
			out = append(out, strings.TrimPrefix(*b.Name, d.prefix))
		}
		for _, b := range page.Segment.BlobPrefixes {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(*b.Name, d.prefix), "/"))
		}
	}
	if len(out) == 0 && dir != "" {
		return nil, storage.PathNotFoundError{Path: dir}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Delete implements storage.Driver: the blob at p, or else every blob
// below p.
func (d *Driver) Delete(ctx context.Context, p string) error {
	if err := check(ctx, p); err != nil {
		return err
	}
	_, err := d.bb(p).Delete(ctx, nil)
	if err == nil {
		d.deleted(p)
		return nil
	}
	if !isNotFound(err) {
		return err
	}
	files, err := d.listFiles(ctx, p)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return storage.PathNotFoundError{Path: p}
	}
	err = d.forEach(len(files), func(i int) error {
		if _, err := d.bb(files[i].path).Delete(ctx, nil); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	})
	d.deleted(p)
	return err
}

// forEach runs fn for 0 to n-1, d.conc at a time, and returns the errors.
func (d *Driver) forEach(n int, fn func(i int) error) error {
	sem := make(chan struct{}, d.conc)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

type file struct {
	path    string // key
	size    int64
	modTime time.Time
}

// listFiles lists every blob below dir ("" for all), in name order.
func (d *Driver) listFiles(ctx context.Context, dir string) ([]file, error) {
	pre := d.dirPrefix(dir)
	pager := d.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &pre})
	var out []file
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range page.Segment.BlobItems {
			f := file{path: strings.TrimPrefix(*b.Name, d.prefix)}
			if b.Properties != nil {
				f.size = *b.Properties.ContentLength
				f.modTime = *b.Properties.LastModified
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// walkState is a running Walk: Delete records what it removed, so that the
// walk does not report it.
type walkState struct {
	mu      sync.Mutex
	deleted []string
}

func (d *Driver) deleted(p string) {
	d.walksMu.Lock()
	defer d.walksMu.Unlock()
	for w := range d.walks {
		w.mu.Lock()
		w.deleted = append(w.deleted, p)
		w.mu.Unlock()
	}
}

func (w *walkState) gone(p string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.deleted {
		if p == x || strings.HasPrefix(p, x+"/") {
			return true
		}
	}
	return false
}

// walkLess orders keys as a depth-first walk meets them: segment by
// segment, so that a/b and what is below it come before a/b.c.
func walkLess(a, b string) int {
	for {
		as, arest, amore := strings.Cut(a, "/")
		bs, brest, bmore := strings.Cut(b, "/")
		if c := strings.Compare(as, bs); c != 0 {
			return c
		}
		switch {
		case !amore && !bmore:
			return 0
		case !amore:
			return -1
		case !bmore:
			return 1
		}
		a, b = arest, brest
	}
}

// Walk implements storage.Driver.
func (d *Driver) Walk(ctx context.Context, dir string, fn storage.WalkFunc) error {
	if err := storage.CheckDir(dir); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &walkState{}
	d.walksMu.Lock()
	d.walks[w] = struct{}{}
	d.walksMu.Unlock()
	defer func() {
		d.walksMu.Lock()
		delete(d.walks, w)
		d.walksMu.Unlock()
	}()

	files, err := d.listFiles(ctx, dir)
	if err != nil {
		return err
	}
	if len(files) == 0 && dir != "" {
		return storage.PathNotFoundError{Path: dir}
	}
	// Every file and every directory between dir and it.
	entries := make([]storage.FileInfo, 0, len(files))
	dirs := map[string]bool{}
	for _, f := range files {
		entries = append(entries, storage.FileInfo{Path: f.path, Size: f.size, ModTime: f.modTime})
		for q := parent(f.path); q != dir && q != "" && !dirs[q]; q = parent(q) {
			dirs[q] = true
			entries = append(entries, storage.FileInfo{Path: q, IsDir: true})
		}
	}
	slices.SortFunc(entries, func(a, b storage.FileInfo) int { return walkLess(a.Path, b.Path) })
	skip := ""
	for _, e := range entries {
		if skip != "" && strings.HasPrefix(e.Path, skip) {
			continue
		}
		skip = ""
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.gone(e.Path) {
			continue
		}
		switch err := fn(e); {
		case err == nil:
		case errors.Is(err, storage.ErrSkipDir) && e.IsDir:
			skip = e.Path + "/"
		case errors.Is(err, storage.ErrSkipAll):
			return nil
		default:
			return err
		}
	}
	return nil
}

// blockID makes the id of a writer's n-th block: its random nonce and n.
// All ids have the same length, as a blob's blocks must.
func blockID(nonce *[16]byte, n uint64) string {
	var b [24]byte
	copy(b[:16], nonce[:])
	binary.BigEndian.PutUint64(b[16:], n)
	return base64.StdEncoding.EncodeToString(b[:])
}

func newNonce() *[16]byte {
	var n [16]byte
	rand.Read(n[:])
	return &n
}

// Move implements storage.Driver; see the package documentation.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	if err := check(ctx, src, dst); err != nil {
		return err
	}
	r, found, err := d.props(ctx, src)
	if err != nil {
		return err
	}
	if !found {
		files, err := d.listFiles(ctx, src)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return storage.PathNotFoundError{Path: src}
		}
		for _, f := range files {
			if err := d.Move(ctx, f.path, dst+strings.TrimPrefix(f.path, src)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := d.checkPlace(ctx, dst); err != nil {
		return err
	}
	if err := d.copyBlob(ctx, src, dst, *r.ContentLength, *r.ETag); err != nil {
		return err
	}
	// The copy is made: finish the move even if the caller gives up now.
	_, err = d.bb(src).Delete(context.WithoutCancel(ctx), &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: r.ETag},
	}})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("azureblob: %s copied to %s but not removed: %w", src, dst, err)
	}
	d.deleted(src)
	return nil
}

// copyBlob makes dst a copy of the size bytes of src (at etag), on
// condition that src is unchanged. Up to d.syncCopy bytes, with one Copy
// Blob From URL, which the service completes before it answers and which
// replaces dst whole; beyond, it stages them as dst's blocks (Put Block
// From URL, d.conc at a time), then commits dst's block list.
//
// A commit of dst discards the blocks others have staged for it, so moves
// racing to one destination (the same blob pushed twice at once) can
// make each other's commit fail with InvalidBlockList; each round lets at
// least one of them through, and the others stage again.
func (d *Driver) copyBlob(ctx context.Context, src, dst string, size int64, etag azcore.ETag) error {
	srcURL, err := d.bb(src).GetSASURL(sas.BlobPermissions{Read: true}, time.Now().Add(sasLifetime), nil)
	if err != nil {
		return err
	}
	dstc := d.bb(dst)
	srcCond := &blob.SourceModifiedAccessConditions{SourceIfMatch: &etag}
	if size <= d.syncCopy {
		_, err := dstc.CopyFromURL(ctx, srcURL, &blob.CopyFromURLOptions{SourceModifiedAccessConditions: srcCond})
		return d.copyErr(src, dst, err)
	}
	for attempt := 0; ; attempt++ {
		nonce := newNonce()
		ids := make([]string, (size+copyRangeSize-1)/copyRangeSize)
		for i := range ids {
			ids[i] = blockID(nonce, uint64(i))
		}
		err = d.forEach(len(ids), func(i int) error {
			off := int64(i) * copyRangeSize
			_, err := dstc.StageBlockFromURL(ctx, ids[i], srcURL, &blockblob.StageBlockFromURLOptions{
				Range:                          blob.HTTPRange{Offset: off, Count: min(copyRangeSize, size-off)},
				SourceModifiedAccessConditions: srcCond,
			})
			return err
		})
		if err != nil {
			return d.copyErr(src, dst, err)
		}
		_, err = dstc.CommitBlockList(ctx, ids, nil)
		if err == nil || !bloberror.HasCode(err, bloberror.InvalidBlockList) || attempt >= maxCopyAttempts {
			return err
		}
	}
}

// copyErr explains a failed copy whose source changed or went away.
func (d *Driver) copyErr(src, dst string, err error) error {
	if err != nil && (isNotFound(err) || bloberror.HasCode(err, bloberror.SourceConditionNotMet, bloberror.CannotVerifyCopySource)) {
		return fmt.Errorf("azureblob: %s changed or vanished while it was moved to %s: %w", src, dst, err)
	}
	return err
}

// maxCopyAttempts bounds copyBlob's rounds against racing moves.
const maxCopyAttempts = 16

// Writer implements storage.Driver; see the package documentation.
func (d *Driver) Writer(ctx context.Context, p string, resume bool) (storage.FileWriter, error) {
	if err := check(ctx, p); err != nil {
		return nil, err
	}
	w := &writer{d: d, ctx: ctx, path: p, bb: d.bb(p), nonce: newNonce(), resume: resume, sem: make(chan struct{}, d.conc)}
	if resume {
		bl, err := w.bb.GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
		if isNotFound(err) {
			return nil, storage.PathNotFoundError{Path: p}
		}
		if err != nil {
			return nil, err
		}
		for _, b := range bl.BlockList.CommittedBlocks {
			w.ids = append(w.ids, *b.Name)
			w.size += *b.Size
		}
		if bl.BlobContentLength != nil && *bl.BlobContentLength != w.size {
			return nil, fmt.Errorf("azureblob: %s was not written in blocks (%d bytes, %d in blocks); it cannot be appended to", p, *bl.BlobContentLength, w.size)
		}
		w.etag = bl.ETag
		w.committed = len(w.ids)
	} else if err := d.checkPlace(ctx, p); err != nil {
		return nil, err
	}
	return w, nil
}

type writerState int

const (
	writerOpen writerState = iota
	writerCommitted
	writerClosed
)

// writer stages blocks in the background, at most cap(sem) at a time. ids
// holds the blob's block list: the committed blocks it was opened with,
// then one id per staged block, in order. If staging fails, only the blocks
// before the first failure are committed.
type writer struct {
	d      *Driver
	ctx    context.Context
	path   string
	bb     *blockblob.Client
	nonce  *[16]byte
	resume bool
	etag   *azcore.ETag // the blob's ETag when opened for resume

	ids       []string
	committed int // ids[:committed] are in the blob
	size      int64
	buf       []byte
	state     writerState

	sem     chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	failed  int // index in ids of the first block that failed to stage, or -1
	failErr error
}

func (w *writer) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failErr
}

func (w *writer) Write(b []byte) (int, error) {
	if w.state != writerOpen {
		return 0, storage.ErrWriterClosed
	}
	if err := w.firstErr(); err != nil {
		return 0, err
	}
	n := 0
	for len(b) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, w.d.block)
		}
		m := min(len(b), w.d.block-len(w.buf))
		w.buf = append(w.buf, b[:m]...)
		b, n, w.size = b[m:], n+m, w.size+int64(m)
		if len(w.buf) == w.d.block {
			if err := w.stage(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// stage hands the buffer to a goroutine that stages it as the next block.
func (w *writer) stage() error {
	if len(w.buf) == 0 {
		return nil
	}
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
	buf, i := w.buf, len(w.ids)
	id := blockID(w.nonce, uint64(i))
	w.ids = append(w.ids, id)
	w.buf = nil
	w.wg.Go(func() {
		defer func() { <-w.sem }()
		_, err := w.bb.StageBlock(w.ctx, id, streaming.NopCloser(bytes.NewReader(buf)), nil)
		if err != nil {
			w.mu.Lock()
			if w.failErr == nil || i < w.failed {
				w.failed, w.failErr = i, err
			}
			w.mu.Unlock()
		}
	})
	return nil
}

// flush stages what is buffered, waits for every block and commits the
// block list if it changed (or, for a new file, if it was never
// committed). After a staging failure it commits the blocks staged before
// it and returns the failure.
func (w *writer) flush() error {
	serr := w.stage()
	w.wg.Wait()
	ids := w.ids
	w.mu.Lock()
	err := w.failErr
	if err != nil {
		ids = ids[:w.failed]
	}
	w.mu.Unlock()
	// A buffer that could not be staged (the context ended) is dropped;
	// the blocks staged before it are still committed.
	err = errors.Join(err, serr)
	if len(ids) == w.committed && (w.resume || w.committed > 0) {
		return err
	}
	opts := &blockblob.CommitBlockListOptions{}
	if w.etag != nil {
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: w.etag}}
	}
	// Committing what was staged is kept even if the request's context
	// ended while the last blocks were staged.
	resp, cerr := w.bb.CommitBlockList(context.WithoutCancel(w.ctx), ids, opts)
	if cerr != nil {
		if isStatus(cerr, http.StatusPreconditionFailed) || isNotFound(cerr) {
			cerr = fmt.Errorf("azureblob: %s changed since it was opened (another writer appended to it, perhaps through another replica): %w: %w", w.path, errdefs.ErrConflict, cerr)
		}
		return errors.Join(err, cerr)
	}
	w.committed, w.etag, w.resume = len(ids), resp.ETag, true
	return err
}

func (w *writer) Size() int64 { return w.size }

func (w *writer) Commit() error {
	if w.state != writerOpen {
		return storage.ErrWriterClosed
	}
	w.state = writerCommitted
	return w.flush()
}

func (w *writer) Close() error {
	switch w.state {
	case writerClosed:
		return storage.ErrWriterClosed
	case writerCommitted:
		w.state = writerClosed
		return nil
	}
	w.state = writerClosed
	return w.flush()
}

func (w *writer) Cancel() error {
	if w.state == writerClosed {
		return storage.ErrWriterClosed
	}
	w.state = writerClosed
	w.wg.Wait()
	_, err := w.bb.Delete(context.WithoutCancel(w.ctx), nil)
	if err != nil && !isNotFound(err) {
		return err
	}
	w.d.deleted(w.path)
	return nil
}
