package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps the statements that transactions run, prepared once for
// the pool, so that a query run again is not parsed and planned again: on
// SQLite, parsing is about a third of the CPU of a small read such as a
// tag list. PostgreSQL needs none (pgx caches prepared statements on each
// connection itself).
//
// A statement is prepared in the background after its first run, never
// while the transaction that ran it holds its connection and waits: the
// preparation takes a connection of the pool, and a transaction waiting
// for it while holding one could wait for ever once every connection is
// held the same way. Until it is ready, the statement runs unprepared.
//
// Only statements that finish before the accessor returns use the cache
// (Exec, QueryRow, QueryAll): a prepared statement is one cursor per
// connection, so a statement whose rows stay open (Tx.Query) while the
// same text runs again in the same transaction would share it.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	// stmts maps a statement's text to its prepared statement, or to nil
	// while it is being prepared.
	stmts map[string]*sql.Stmt
	// preparing counts background preparations, for tests and Close.
	preparing sync.WaitGroup
	closed    bool
}

// stmtCacheSize bounds the cached statements. The accessors' statements
// are constants and number fewer; statements built from arguments (such as
// lists of several values) beyond the bound run unprepared.
const stmtCacheSize = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// stmt returns q prepared for tx, or nil when it is not prepared yet (and
// then starts preparing it) or cannot be cached. c may be nil: no cache.
func (c *stmtCache) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st, seen := c.stmts[q]
	c.mu.RUnlock()
	if st != nil {
		return tx.StmtContext(ctx, st)
	}
	if !seen {
		c.prepare(q)
	}
	return nil
}

// prepare prepares q in the background, once, unless the cache is full
// or closed.
func (c *stmtCache) prepare(q string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.stmts[q]; seen || c.closed || len(c.stmts) >= stmtCacheSize {
		return
	}
	c.stmts[q] = nil
	c.preparing.Add(1)
	go func() {
		defer c.preparing.Done()
		st, err := c.db.Prepare(q)
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case err != nil:
			// The statement ran (and failed or will fail) unprepared;
			// a later run tries again.
			delete(c.stmts, q)
		case c.closed:
			st.Close()
		default:
			c.stmts[q] = st
		}
	}()
}

// close closes the cached statements once the background preparations
// have ended; the cache prepares no more.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.preparing.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		if st != nil {
			st.Close()
		}
		delete(c.stmts, q)
	}
}
