package storage

import (
	"context"
	"errors"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// Streaming parameters: content moves in chunks of chunkSize bytes, and at
// most chunkCount chunks are in flight per stream, so a stream holds
// chunkCount*chunkSize bytes whatever the blob size.
const (
	chunkSize  = 1 << 20
	chunkCount = 4
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func getChunk() *[]byte  { return chunkPool.Get().(*[]byte) }
func putChunk(b *[]byte) { chunkPool.Put(b) }

// hashCopy copies r to w until EOF and feeds the same bytes to h, in one pass
// over each chunk, with the three stages overlapped: while this goroutine
// reads (and, over TLS, decrypts) chunk i+1, one goroutine writes chunk i
// and another hashes it, so the copy runs at about the speed of the slowest
// stage rather than their sum. It reads whole chunks (io.ReadFull) so that w
// sees few, large writes.
//
// n counts the bytes w accepted. hashOK reports that h has seen exactly those
// n bytes; it is false only when w failed, and then h must be discarded.
// err is the first read, write or context error; a clean EOF is not an
// error.
func hashCopy(ctx context.Context, w io.Writer, h hash.Hash, r io.Reader) (n int64, hashOK bool, err error) {
	first := getChunk()
	defer putChunk(first)
	m, rerr := io.ReadFull(r, *first)
	if rerr == io.EOF || rerr == io.ErrUnexpectedEOF || (rerr != nil && m > 0) {
		// The whole stream fit in one chunk (or failed within it): no
		// pipeline is worth starting.
		b := (*first)[:m]
		h.Write(b)
		k, werr := w.Write(b)
		if werr == nil && k < m {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return int64(k), false, werr
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			rerr = nil
		}
		return int64(k), true, rerr
	}
	if rerr != nil {
		return 0, true, rerr
	}

	// Pipeline: every chunk read goes to the writer and to the hasher; it
	// returns to the free list once both are done with it, so a chunk in
	// the free list is neither being hashed nor written.
	var extra [chunkCount - 1]*[]byte
	free := make(chan []byte, chunkCount)
	for i := range extra {
		extra[i] = getChunk()
		free <- *extra[i]
	}
	defer func() {
		for _, b := range extra {
			putChunk(b)
		}
	}()
	type piece struct {
		b    []byte
		refs *atomic.Int32
	}
	release := func(p piece) {
		if p.refs.Add(-1) == 0 {
			free <- p.b[:cap(p.b)]
		}
	}
	toWrite := make(chan piece, chunkCount)
	toHash := make(chan piece, chunkCount)
	var werr error
	var failed atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for p := range toHash {
			h.Write(p.b)
			release(p)
		}
	}()
	go func() {
		defer wg.Done()
		for p := range toWrite {
			if werr == nil {
				k, err := w.Write(p.b)
				n += int64(k)
				if err == nil && k < len(p.b) {
					err = io.ErrShortWrite
				}
				if err != nil {
					werr = err
					failed.Store(true)
				}
			}
			release(p)
		}
	}()

	b := (*first)[:m]
	for {
		p := piece{b: b, refs: new(atomic.Int32)}
		p.refs.Store(2)
		toHash <- p
		toWrite <- p
		if rerr != nil { // EOF (or an error) came with the chunk just queued
			if rerr != io.ErrUnexpectedEOF {
				err = rerr
			}
			break
		}
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
			break
		}
		if failed.Load() {
			break
		}
		b = <-free
		m, rerr = io.ReadFull(r, b)
		if m == 0 {
			if rerr != io.EOF {
				err = rerr
			}
			free <- b
			break
		}
		b = b[:m]
		if rerr == io.EOF {
			rerr = io.ErrUnexpectedEOF // a short final chunk, see above
		}
	}
	close(toWrite)
	close(toHash)
	wg.Wait()
	if werr != nil {
		return n, false, werr
	}
	return n, true, err
}

// readerOnly hides any WriterTo of the wrapped reader so that io.CopyBuffer
// uses the given (large) buffer.
type readerOnly struct{ io.Reader }

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// hashStream feeds r to h with one chunk-sized buffer and counts the bytes.
func hashStream(ctx context.Context, h hash.Hash, r io.Reader) (int64, error) {
	buf := getChunk()
	defer putChunk(buf)
	n, err := io.CopyBuffer(h, readerOnly{ctxReader{ctx, r}}, *buf)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
