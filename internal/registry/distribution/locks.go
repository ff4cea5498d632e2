package distribution

import "sync"

// keyedLocks holds a read-write lock per blob digest, only while someone
// uses it. Pushes and mounts hold a digest's read lock from the moment they
// read its generation until its link is committed; garbage collection
// holds the write lock from marking the blob deleting until the mark is
// cleared. So within one process a push never has to start again because
// of a deletion; across processes the database's generations (linkStored)
// keep a blob from being deleted under a link being made.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	sync.RWMutex
	refs int
}

func (k *keyedLocks) get(key string) *keyedLock {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.m[key]
	if l == nil {
		l = &keyedLock{}
		k.m[key] = l
	}
	l.refs++
	return l
}

func (k *keyedLocks) put(key string, l *keyedLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(k.m, key)
	}
}

// RLock takes key's read lock and returns its release.
func (k *keyedLocks) RLock(key string) func() {
	l := k.get(key)
	l.RLock()
	return func() { l.RUnlock(); k.put(key, l) }
}

// Lock takes key's write lock and returns its release.
func (k *keyedLocks) Lock(key string) func() {
	l := k.get(key)
	l.Lock()
	return func() { l.Unlock(); k.put(key, l) }
}
