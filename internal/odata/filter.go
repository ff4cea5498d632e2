// Package odata parses the subset of OData $filter expressions that Azure's
// APIs take from clients — Microsoft Graph's directory lists and ARM's
// resource lists: clauses `prop eq 'value'` and `startswith(prop,'value')`
// joined by `and`, plus `prop/any(c:c eq 'value')` — and matches objects
// against them.
package odata

import (
	"fmt"
	"strings"
)

// Filter is a parsed $filter. Comparisons ignore case, as Graph's and
// ARM's do for the properties they are used on.
type Filter struct {
	clauses []clause
}

type clause struct {
	prop, value string
	op          string // "eq", "startswith", "any"
}

// ParseFilter parses a $filter expression; an empty one matches everything.
func ParseFilter(s string) (Filter, error) {
	var f Filter
	s = strings.TrimSpace(s)
	if s == "" {
		return f, nil
	}
	for _, part := range splitAnd(s) {
		c, err := parseClause(strings.TrimSpace(part))
		if err != nil {
			return Filter{}, err
		}
		f.clauses = append(f.clauses, c)
	}
	return f, nil
}

// splitAnd splits on " and " outside quotes.
func splitAnd(s string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			inQuote = !inQuote
			continue
		}
		if !inQuote && i+5 <= len(s) && strings.EqualFold(s[i:i+5], " and ") {
			parts = append(parts, s[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(parts, s[start:])
}

func parseQuoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, "'") {
		return "", "", fmt.Errorf("expected a quoted string at %q", s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' { // '' escapes a quote
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), s[i+1:], nil
		}
		b.WriteByte(s[i])
	}
	return "", "", fmt.Errorf("unterminated string in %q", s)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '/' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// asciiLower lower-cases the ASCII letters of s and nothing else, so that
// an index into it is an index into s (strings.ToLower may change the
// length: invalid UTF-8 becomes U+FFFD, and some letters lower-case to
// longer ones). The keywords it finds are ASCII.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func parseClause(s string) (clause, error) {
	low := asciiLower(s)
	if strings.HasPrefix(low, "startswith(") && strings.HasSuffix(s, ")") {
		inner := s[len("startswith(") : len(s)-1]
		prop, rest, ok := strings.Cut(inner, ",")
		prop = strings.TrimSpace(prop)
		if !ok || !isIdent(prop) {
			return clause{}, fmt.Errorf("bad startswith clause %q", s)
		}
		v, tail, err := parseQuoted(strings.TrimSpace(rest))
		if err != nil || strings.TrimSpace(tail) != "" {
			return clause{}, fmt.Errorf("bad startswith clause %q", s)
		}
		return clause{prop: prop, value: v, op: "startswith"}, nil
	}
	if i := strings.Index(low, "/any("); i > 0 && strings.HasSuffix(s, ")") {
		prop := s[:i]
		_, expr, ok := strings.Cut(s[i+5:len(s)-1], ":") // "c:c eq 'v'"
		j := strings.Index(asciiLower(expr), " eq ")
		if !isIdent(prop) || !ok || j < 0 {
			return clause{}, fmt.Errorf("bad any() clause %q", s)
		}
		val, tail, err := parseQuoted(strings.TrimSpace(expr[j+4:]))
		if err != nil || strings.TrimSpace(tail) != "" {
			return clause{}, fmt.Errorf("bad any() clause %q", s)
		}
		return clause{prop: prop, value: val, op: "any"}, nil
	}
	prop, rest, ok := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	if !ok || !isIdent(prop) || !strings.HasPrefix(asciiLower(rest), "eq ") {
		return clause{}, fmt.Errorf("unsupported clause %q (supported: prop eq 'v', startswith(prop,'v'), prop/any(c:c eq 'v'))", s)
	}
	v, tail, err := parseQuoted(strings.TrimSpace(rest[3:]))
	if err != nil {
		return clause{}, err
	}
	if strings.TrimSpace(tail) != "" {
		return clause{}, fmt.Errorf("unexpected %q after the value", tail)
	}
	return clause{prop: prop, value: v, op: "eq"}, nil
}

// Match reports whether a Graph object satisfies every clause.
func (f Filter) Match(obj map[string]any) bool {
	for _, c := range f.clauses {
		if !c.match(obj) {
			return false
		}
	}
	return true
}

func (c clause) match(obj map[string]any) bool {
	var v any
	for k, val := range obj {
		if strings.EqualFold(k, c.prop) {
			v = val
		}
	}
	switch c.op {
	case "any":
		list, _ := v.([]string)
		for _, s := range list {
			if strings.EqualFold(s, c.value) {
				return true
			}
		}
		return false
	case "startswith":
		s, _ := v.(string)
		return len(s) >= len(c.value) && strings.EqualFold(s[:len(c.value)], c.value)
	}
	s, _ := v.(string)
	return strings.EqualFold(s, c.value)
}
