package acrtoken

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Challenge is a parsed WWW-Authenticate header, such as
// `Bearer realm="https://r.io/oauth2/token",service="r.io",scope="a:b:pull"`.
type Challenge struct {
	// Scheme is "bearer" or "basic" (lower case).
	Scheme string
	// Params are the auth-params, by lower-case name.
	Params map[string]string
}

// Realm, Service and Scope are the Bearer challenge's parameters.
func (c *Challenge) Realm() string   { return c.Params["realm"] }
func (c *Challenge) Service() string { return c.Params["service"] }
func (c *Challenge) Scope() string   { return c.Params["scope"] }

// IsBearer reports whether the challenge asks for a Bearer token and names
// the realm and the service.
func (c *Challenge) IsBearer() bool {
	return c.Scheme == "bearer" && c.Realm() != "" && c.Service() != ""
}

// Origin is the scheme://host[:port] of the realm, where /oauth2/exchange
// and /oauth2/token live.
func (c *Challenge) Origin() (string, error) {
	u, err := url.Parse(c.Realm())
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("Www-Authenticate: invalid realm %s", c.Realm())
	}
	return u.Scheme + "://" + u.Host, nil
}

// ParseChallenge parses one challenge: a scheme, then name=value
// parameters separated by commas, values bare or quoted (a backslash
// escapes the next character in a quoted value). A header it cannot read
// entirely, or one without parameters (ACR's challenges always carry
// them), yields an error, together with what was read up to the fault.
func ParseChallenge(h string) (*Challenge, error) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	ch := &Challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
	bad := func() (*Challenge, error) {
		return ch, fmt.Errorf("unable to understand the contents of Www-Authenticate header %s", rest)
	}
	s := rest
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return bad()
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		if key == "" || strings.ContainsAny(key, ` ,"`) {
			return bad()
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			v, n, err := unquote(s)
			ch.Params[key] = v
			if err != nil {
				return bad()
			}
			s = strings.TrimLeft(s[n:], " \t")
			val = v
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			if val == "" {
				return bad()
			}
			s = s[end:]
		}
		ch.Params[key] = val
		if s == "" {
			break
		}
		if s[0] != ',' {
			return bad()
		}
		s = s[1:]
	}
	if len(ch.Params) == 0 {
		return bad()
	}
	return ch, nil
}

// unquote reads the quoted string s starts with, returning its value and
// the bytes it took.
func unquote(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), len(s), errors.New("unterminated quoted string")
}
