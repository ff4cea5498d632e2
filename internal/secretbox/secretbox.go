// Package secretbox encrypts the few secrets drydock must show again
// (registry admin passwords, which ACR's listCredentials returns) with a
// key kept in the data dir, so the metadata database never holds them in
// clear. Secrets that are only checked are hashed instead, never sealed.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/drydock-dev/drydock/internal/atomicfile"
)

// Box seals and opens values with AES-256-GCM.
type Box struct{ aead cipher.AEAD }

// LoadOrCreate reads dir/secrets.key or creates it (32 random bytes, 0600).
func LoadOrCreate(dir string) (*Box, error) {
	path := filepath.Join(dir, "secrets.key")
	key, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := atomicfile.Write(path, key, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s: want 32 bytes, found %d", path, len(key))
	}
	return New(key)
}

// New builds a box from a 32-byte key.
func New(key []byte) (*Box, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext; context binds the ciphertext to its owner so it
// cannot be moved to another record.
func (b *Box) Seal(plaintext, context string) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return base64.RawStdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context)))
}

// Open decrypts a value produced by Seal with the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("sealed value is malformed")
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", errors.New("sealed value does not open with this key")
	}
	return string(pt), nil
}
