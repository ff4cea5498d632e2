package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func openCacheTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "drydock.db"), Migrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Update(context.Background(), func(tx *Tx) error {
		if _, err := tx.Exec(`CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER)`); err != nil {
			return err
		}
		for i := range 5 {
			if _, err := tx.Exec(`INSERT INTO kv(k, v) VALUES(?, ?)`, fmt.Sprint("k", i), i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.stmts.preparing.Wait()
	return s
}

// cached reports whether q is prepared in s's cache.
func cached(s *Store, q string) bool {
	s.stmts.mu.RLock()
	defer s.stmts.mu.RUnlock()
	return s.stmts.stmts[q] != nil
}

// A statement runs the same, by its results, before it is prepared, once
// it is, and when the same text runs again while its rows are open.
func TestStmtCacheRuns(t *testing.T) {
	ctx := context.Background()
	const one = `SELECT v FROM kv WHERE k = ?`
	const all = `SELECT k FROM kv WHERE v >= ? ORDER BY k`
	cases := []struct {
		name string
		run  func(tx *Tx) (string, error)
		want string
	}{
		{"query row", func(tx *Tx) (string, error) {
			var v int
			err := tx.QueryRow(one, "k3").Scan(&v)
			return fmt.Sprint(v), err
		}, "3"},
		{"query all", func(tx *Tx) (string, error) {
			ks, err := QueryAll(tx, ScanString, all, 3)
			return fmt.Sprint(ks), err
		}, "[k3 k4]"},
		{"exec", func(tx *Tx) (string, error) {
			res, err := tx.Exec(`UPDATE kv SET v = v WHERE v < ?`, 2)
			if err != nil {
				return "", err
			}
			n, err := res.RowsAffected()
			return fmt.Sprint(n), err
		}, "2"},
		{"same text while its rows are open", func(tx *Tx) (string, error) {
			rows, err := tx.Query(all, 0)
			if err != nil {
				return "", err
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return "", err
				}
				inner, err := QueryAll(tx, ScanString, all, 4)
				if err != nil {
					return "", err
				}
				out = append(out, k+fmt.Sprint(inner))
			}
			return fmt.Sprint(out), rows.Err()
		}, "[k0[k4] k1[k4] k2[k4] k3[k4] k4[k4]]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openCacheTest(t)
			for round := range 3 { // unprepared, then prepared
				var got string
				err := s.Update(ctx, func(tx *Tx) (err error) {
					got, err = c.run(tx)
					return err
				})
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if got != c.want {
					t.Fatalf("round %d: got %s, want %s", round, got, c.want)
				}
				s.stmts.preparing.Wait()
			}
			if c.name == "query row" && !cached(s, one) {
				t.Errorf("%q is not cached after it ran", one)
			}
		})
	}
}

// Transactions holding every connection of the pool, each running a
// statement the cache has not seen, and none finishing before all have
// run it, do not wait for one another: the cache prepares in the
// background, not on a connection a transaction waits for.
func TestStmtCacheFullPool(t *testing.T) {
	s := openCacheTest(t)
	var ran sync.WaitGroup
	ran.Add(sqliteConns)
	errs := make(chan error, sqliteConns)
	for i := range sqliteConns {
		go func() {
			errs <- s.View(context.Background(), func(tx *Tx) error {
				var v int
				if err := tx.QueryRow(fmt.Sprintf(`SELECT v + %d FROM kv WHERE k = ?`, i), "k1").Scan(&v); err != nil {
					return err
				}
				ran.Done()
				ran.Wait()
				return nil
			})
		}()
	}
	for range sqliteConns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// The cache holds at most stmtCacheSize statements; others run unprepared.
func TestStmtCacheBound(t *testing.T) {
	s := openCacheTest(t)
	ctx := context.Background()
	for i := range stmtCacheSize + 10 {
		got, err := Read(ctx, s, func(tx *Tx) (int, error) {
			var v int
			err := tx.QueryRow(fmt.Sprintf(`SELECT v + %d FROM kv WHERE k = ?`, i), "k2").Scan(&v)
			return v, err
		})
		if err != nil || got != i+2 {
			t.Fatalf("statement %d: %d, %v", i, got, err)
		}
	}
	s.stmts.preparing.Wait()
	if n := len(s.stmts.stmts); n != stmtCacheSize {
		t.Errorf("%d statements cached, want %d", n, stmtCacheSize)
	}
}
