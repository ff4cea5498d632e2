package output

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unsafe"

	jmespath "github.com/jmespath-community/go-jmespath"
	"github.com/jmespath-community/go-jmespath/pkg/parsing"
)

// QueryError is returned for a --query that does not compile. Its message
// is the one az prints; Err holds the parser's explanation.
type QueryError struct {
	Query string
	Err   error
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("argument --query: invalid jmespath_type value: '%s'", e.Query)
}

func (e *QueryError) Unwrap() error { return e.Err }

type compiledQuery struct {
	jp jmespath.JMESPath
	// hashes holds the keys of every multi-select hash ({a: x, b: y}) in
	// the expression, in the order written. The Go evaluator builds plain
	// maps for them; the order is put back afterwards.
	hashes [][]string
}

func compileQuery(q string) (cq *compiledQuery, err error) {
	defer func() {
		if r := recover(); r != nil {
			cq, err = nil, &QueryError{Query: q, Err: fmt.Errorf("%v", r)}
		}
	}()
	ast, err := parsing.NewParser().Parse(q)
	if err != nil {
		return nil, &QueryError{Query: q, Err: err}
	}
	jp, err := jmespath.Compile(q)
	if err != nil {
		return nil, &QueryError{Query: q, Err: err}
	}
	cq = &compiledQuery{jp: jp}
	collectHashes(ast, &cq.hashes)
	return cq, nil
}

func collectHashes(n parsing.ASTNode, out *[][]string) {
	if n.NodeType == parsing.ASTMultiSelectHash {
		var keys []string
		for _, c := range n.Children {
			if k, ok := c.Value.(string); ok && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		*out = append(*out, keys)
	}
	for _, c := range n.Children {
		collectHashes(c, out)
	}
}

// apply evaluates the query on a decoded document and returns a decoded
// document. Objects the query passes through unchanged come back as the
// very same *object, so they keep their key order and number literals.
func (q *compiledQuery) apply(doc any) (result any, err error) {
	c := &converter{origin: map[unsafe.Pointer]*object{}, literals: map[float64]string{}, hashes: q.hashes}
	plain := c.toPlain(doc)
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("query failed: %v", r)
		}
	}()
	out, err := q.jp.Search(plain)
	if err != nil {
		return nil, err
	}
	return c.fromPlain(out), nil
}

// converter turns a decoded document into the plain form the JMESPath
// evaluator wants (map[string]any, []any, float64) and back.
type converter struct {
	origin map[unsafe.Pointer]*object
	// literals maps a number to the literal it was decoded from, or to ""
	// when different literals share the float64.
	literals map[float64]string
	hashes   [][]string
}

func mapPointer(m map[string]any) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }

// each is f of every element of s.
func each(s []any, f func(any) any) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}

func (c *converter) toPlain(v any) any {
	switch t := v.(type) {
	case *object:
		m := make(map[string]any, len(t.keys))
		for _, k := range t.keys {
			m[k] = c.toPlain(t.vals[k])
		}
		c.origin[mapPointer(m)] = t
		return m
	case []any:
		return each(t, c.toPlain)
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !math.IsInf(f, 0) {
			return string(t)
		}
		if lit, seen := c.literals[f]; !seen {
			c.literals[f] = string(t)
		} else if lit != string(t) {
			c.literals[f] = ""
		}
		return f
	}
	return v
}

func (c *converter) fromPlain(v any) any {
	switch t := v.(type) {
	case nil, string, bool:
		return t
	case float64:
		if lit := c.literals[t]; lit != "" {
			return json.Number(lit)
		}
		return json.Number(formatFloat(t))
	case int:
		return json.Number(strconv.Itoa(t))
	case map[string]any:
		if o, ok := c.origin[mapPointer(t)]; ok {
			return o
		}
		obj := &object{vals: make(map[string]any, len(t))}
		for k, x := range t {
			obj.vals[k] = c.fromPlain(x)
		}
		if order := c.hashOrder(t); order != nil {
			obj.keys, obj.ordered = order, true
		} else {
			for k := range t {
				obj.keys = append(obj.keys, k)
			}
			slices.Sort(obj.keys)
		}
		return obj
	case []any:
		return each(t, c.fromPlain)
	}
	// Anything else a function might produce: go through encoding/json.
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	doc, err := decodeOrdered(data)
	if err != nil {
		return fmt.Sprint(v)
	}
	return doc
}

// hashOrder returns the key order of the first multi-select hash in the
// query whose keys are exactly those of m.
func (c *converter) hashOrder(m map[string]any) []string {
	for _, keys := range c.hashes {
		if len(keys) != len(m) {
			continue
		}
		all := true
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				all = false
				break
			}
		}
		if all {
			return keys
		}
	}
	return nil
}

// formatFloat prints a number the way Python prints the int or float the
// query produced: whole numbers without a fraction or exponent.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	case f == math.Trunc(f) && math.Abs(f) < 1e21:
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
