package storage

import (
	"context"
	"errors"
	"hash"
	"io"
	"sync"
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
// over each chunk: while w writes chunk i, another goroutine hashes it, so
// the copy runs at about the speed of the slower of the two rather than their
// sum. It reads whole chunks (io.ReadFull) so that w sees few, large writes.
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

	// Pipeline: the free list holds the chunks nobody uses; the hasher
	// returns each chunk to it once hashed, and this goroutine writes a
	// chunk before it takes the next one, so a chunk in the free list is
	// neither being hashed nor written.
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
	work := make(chan []byte, chunkCount)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range work {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()

	hashOK = true
	b := (*first)[:m]
	for {
		work <- b
		k, werr := w.Write(b)
		n += int64(k)
		if werr == nil && k < len(b) {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			err, hashOK = werr, false
			break
		}
		if rerr != nil { // EOF (or an error) came with the chunk just written
			if rerr != io.ErrUnexpectedEOF {
				err = rerr
			}
			break
		}
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
			break
		}
		b = <-free
		m, rerr = io.ReadFull(r, b)
		if m == 0 {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
		b = b[:m]
		if rerr == io.EOF {
			rerr = io.ErrUnexpectedEOF // a short final chunk, see above
		}
	}
	close(work)
	<-done
	return n, hashOK, err
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
