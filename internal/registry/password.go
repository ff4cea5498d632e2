package registry

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
)

// newAdminPassword returns a 52-character password of letters, digits and
// '+', like ACR's admin passwords.
func newAdminPassword() string {
	b := make([]byte, 39)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.NewReplacer("/", "+", "=", "").Replace(base64.StdEncoding.EncodeToString(b))
}
