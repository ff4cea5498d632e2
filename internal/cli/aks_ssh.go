package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// sshPublicKey is az's validate_ssh_key: --ssh-key-value is a public key
// file (default ~/.ssh/id_rsa.pub) or a key itself; with --generate-ssh-keys
// a missing key file is created. It returns "" with --no-ssh-key.
func (a *app) sshPublicKey(value string, generate, none bool) (string, error) {
	if none {
		return "", nil
	}
	path := value
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot locate ~/.ssh: %w (pass --ssh-key-value or --no-ssh-key)", err)
		}
		path = filepath.Join(home, ".ssh", "id_rsa.pub")
	}
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if isSSHPublicKey(path) {
		return strings.TrimSpace(path), nil
	}
	if !generate {
		return "", usageErrorf("An RSA key file or key value must be supplied to SSH Key Value. You can use --generate-ssh-keys to let CLI generate one for you")
	}
	private := path + ".private"
	if strings.EqualFold(filepath.Ext(path), ".pub") {
		private = strings.TrimSuffix(path, filepath.Ext(path))
	}
	key, err := generateSSHKeys(private, path)
	if err != nil {
		return "", err
	}
	a.warn("SSH key files '%s' and '%s' have been generated under ~/.ssh to allow SSH access to the VM. "+
		"If using machines without permanent storage like Azure Cloud Shell without an attached file share, back up your keys to a safe location", private, path)
	return key, nil
}

// isSSHPublicKey is az's is_valid_ssh_rsa_public_key: "<type> <base64>"
// whose decoded blob starts with the same type name.
func isSSHPublicKey(s string) bool {
	parts := strings.Fields(s)
	if len(parts) < 2 {
		return false
	}
	blob, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil || len(blob) < 4 {
		return false
	}
	n := binary.BigEndian.Uint32(blob)
	return uint64(len(blob)-4) >= uint64(n) && string(blob[4:4+n]) == parts[0]
}

// generateSSHKeys writes a new 2048-bit RSA key pair, as az does: the
// private key (PKCS #1 PEM, mode 0600) and its OpenSSH public key (0644). It
// never overwrites an existing private key.
func generateSSHKeys(privatePath, publicPath string) (string, error) {
	if _, err := os.Stat(privatePath); err == nil {
		return "", fmt.Errorf("The private SSH key file '%s' exists but its public key '%s' does not; pass --ssh-key-value with a public key, or --no-ssh-key.", privatePath, publicPath)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(privatePath), 0o700); err != nil {
		return "", err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	f, err := os.OpenFile(privatePath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	pub := sshRSAPublicKey(&key.PublicKey)
	if err := os.WriteFile(publicPath, []byte(pub+"\n"), 0o644); err != nil {
		return "", err
	}
	return pub, nil
}

// sshRSAPublicKey formats an RSA public key as an OpenSSH authorized key
// ("ssh-rsa <base64 of string type, mpint e, mpint n>", RFC 4253 §6.6).
func sshRSAPublicKey(pub *rsa.PublicKey) string {
	var b bytes.Buffer
	put := func(p []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(p)))
		b.Write(p)
	}
	mpint := func(x *big.Int) []byte {
		p := x.Bytes()
		if len(p) > 0 && p[0]&0x80 != 0 {
			p = append([]byte{0}, p...)
		}
		return p
	}
	put([]byte("ssh-rsa"))
	put(mpint(big.NewInt(int64(pub.E))))
	put(mpint(pub.N))
	return "ssh-rsa " + base64.StdEncoding.EncodeToString(b.Bytes())
}
