package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
)

// ANSI colours for jsonc: keys blue, strings green, numbers cyan, and
// true/false/null magenta.
const (
	colorKey    = "\x1b[34m"
	colorString = "\x1b[32m"
	colorNumber = "\x1b[36m"
	colorConst  = "\x1b[35m"
	colorReset  = "\x1b[0m"
)

// sortKeys makes json, jsonc and yaml print object keys sorted, as az does
// (knack calls json.dumps with sort_keys=True, and PyYAML sorts by default).
// Table and tsv output have their own ordering rules and ignore it.
const sortKeys = true

// writeJSON writes doc as knack does: json.dumps(result, indent=2,
// sort_keys=True, ensure_ascii=False) and a newline.
func writeJSON(w *bufio.Writer, doc any, color bool) {
	j := jsonWriter{w: w, color: color}
	j.value(doc, 0)
	w.WriteByte('\n')
}

type jsonWriter struct {
	w     *bufio.Writer
	color bool
}

func (j jsonWriter) paint(code, text string) {
	if j.color {
		j.w.WriteString(code)
		j.w.WriteString(text)
		j.w.WriteString(colorReset)
		return
	}
	j.w.WriteString(text)
}

func (j jsonWriter) newline(depth int) {
	j.w.WriteByte('\n')
	for range depth {
		j.w.WriteString("  ")
	}
}

func (j jsonWriter) value(v any, depth int) {
	switch t := v.(type) {
	case nil:
		j.paint(colorConst, "null")
	case bool:
		if t {
			j.paint(colorConst, "true")
		} else {
			j.paint(colorConst, "false")
		}
	case json.Number:
		j.paint(colorNumber, string(t))
	case string:
		j.paint(colorString, quote(t))
	case []any:
		if len(t) == 0 {
			j.w.WriteString("[]")
			return
		}
		j.w.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				j.w.WriteByte(',')
			}
			j.newline(depth + 1)
			j.value(x, depth+1)
		}
		j.newline(depth)
		j.w.WriteByte(']')
	case *object:
		if len(t.keys) == 0 {
			j.w.WriteString("{}")
			return
		}
		j.w.WriteByte('{')
		keys := t.keys
		if sortKeys {
			keys = t.sortedKeys()
		}
		for i, k := range keys {
			if i > 0 {
				j.w.WriteByte(',')
			}
			j.newline(depth + 1)
			j.paint(colorKey, quote(k))
			j.w.WriteString(": ")
			j.value(t.vals[k], depth+1)
		}
		j.newline(depth)
		j.w.WriteByte('}')
	default:
		j.paint(colorString, quote(fmt.Sprint(t)))
	}
}

// quote writes s as a JSON string the way Python's json module does with
// ensure_ascii=False: only '"', '\\' and control characters are escaped, so
// '<', '&' and non-ASCII text print as they are.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
